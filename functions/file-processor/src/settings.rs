//! Handler settings: what the pipeline config decides (buckets, DLQ name) plus a few tuning knobs
//! read from the function's environment. Invalid values fail the cold start with a message naming
//! the variable, instead of surfacing later as odd behaviour.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `DLQ_URL` | - | dead-letter queue URL, used as is |
//! | `DLQ_NAME` | config `resources.dead_letter_queue` | DLQ name, resolved with GetQueueUrl |
//! | `PART_SIZE_MIB` | 8 | multipart part size (5..=5120) |
//! | `PARTS_IN_FLIGHT` | 2 | parts uploading at once per file (1..=16) |
//! | `RECORD_CONCURRENCY` | 4 | SQS records processed at once (1..=64) |
//! | `MIN_RETRY_DELAY_SECONDS` | 1 | floor of the jittered retry delay |
//! | `METRICS_NAMESPACE` | `SkipTheDatabase/FileProcessor` | CloudWatch namespace of the EMF metrics |
//!
//! The Parquet output stages its parts in `/tmp` ([`crate::staged_part`]): up to
//! `RECORD_CONCURRENCY x (PARTS_IN_FLIGHT + 2) x PART_SIZE_MIB` MiB, 128 MiB with the defaults.
//! Raising them past Lambda's default 512 MB of ephemeral storage needs a larger
//! `ephemeral_storage` on the function; a full `/tmp` fails the file as a transient error
//! (retried), never as a rejected file.

use std::time::Duration;

use pipeline_core::config::Config;
use pipeline_core::failure::RetryPolicy;

use crate::failures::DlqTarget;
use crate::object::UploadTuning;

pub const DEFAULT_METRICS_NAMESPACE: &str = "SkipTheDatabase/FileProcessor";

#[derive(Debug, Clone)]
pub struct Settings {
    /// Only events for this bucket are processed (config `resources.source_bucket`).
    pub source_bucket: String,
    /// Where copies go (config `resources.analytics_bucket`).
    pub analytics_bucket: String,
    pub dlq: DlqTarget,
    pub upload: UploadTuning,
    pub record_concurrency: usize,
    /// Backoff of transient failures (the core's full-jitter policy).
    pub retry_policy: RetryPolicy,
    pub min_retry_delay_seconds: u32,
    pub metrics_namespace: String,
    /// Streaming copies stop this long before the invocation deadline (at most a fifth of the
    /// time left; see [`crate::budget`]) and are reported as transient failures, so the partial
    /// batch response is returned in time.
    pub deadline_margin: Duration,
    /// The queue's `maxReceiveCount` (config `resources.max_receive_count`): on that receive a
    /// transient failure is dead-lettered with its reason instead of retried.
    pub max_receive_count: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?}: {message}")]
pub struct SettingsError {
    pub name: String,
    pub value: String,
    pub message: String,
}

impl Settings {
    /// Defaults from the config alone.
    pub fn from_config(config: &Config) -> Settings {
        Settings {
            source_bucket: config.resources.source_bucket.clone(),
            analytics_bucket: config.resources.analytics_bucket.clone(),
            dlq: DlqTarget::Name(config.resources.dead_letter_queue.clone()),
            upload: UploadTuning::default(),
            record_concurrency: 4,
            retry_policy: RetryPolicy::default(),
            min_retry_delay_seconds: 1,
            metrics_namespace: DEFAULT_METRICS_NAMESPACE.to_string(),
            deadline_margin: crate::budget::MAX_MARGIN,
            max_receive_count: config.resources.max_receive_count,
        }
    }

    /// The config's defaults, overridden by the variables in the table above.
    pub fn from_env(
        config: &Config,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        let mut settings = Settings::from_config(config);
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(url) = get("DLQ_URL") {
            settings.dlq = DlqTarget::Url(url.trim().to_string());
        } else if let Some(name) = get("DLQ_NAME") {
            settings.dlq = DlqTarget::Name(name.trim().to_string());
        }
        if let Some(mib) = number(&get, "PART_SIZE_MIB", 5, 5120)? {
            settings.upload.part_size = mib as usize * 1024 * 1024;
        }
        if let Some(n) = number(&get, "PARTS_IN_FLIGHT", 1, 16)? {
            settings.upload.parts_in_flight = n as usize;
        }
        if let Some(n) = number(&get, "RECORD_CONCURRENCY", 1, 64)? {
            settings.record_concurrency = n as usize;
        }
        if let Some(n) = number(&get, "MIN_RETRY_DELAY_SECONDS", 0, 900)? {
            settings.min_retry_delay_seconds = n as u32;
        }
        if let Some(namespace) = get("METRICS_NAMESPACE") {
            settings.metrics_namespace = namespace;
        }
        Ok(settings)
    }
}

fn number(
    get: &dyn Fn(&str) -> Option<String>,
    name: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, SettingsError> {
    let Some(value) = get(name) else {
        return Ok(None);
    };
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(SettingsError {
            name: name.to_string(),
            value,
            message: format!("expected a whole number in {min}..={max}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::embedded_default().unwrap()
    }

    #[test]
    fn defaults_come_from_the_config() {
        let settings = Settings::from_env(&config(), &|_| None).unwrap();
        assert_eq!(settings.analytics_bucket, "my-company-analytics");
        assert_eq!(settings.source_bucket, "my-company-data-source");
        assert_eq!(
            settings.dlq,
            DlqTarget::Name("file_processing_queue-dlq".into())
        );
        assert_eq!(settings.upload.part_size, 8 * 1024 * 1024);
    }

    #[test]
    fn environment_overrides() {
        let settings = Settings::from_env(&config(), &|name| match name {
            "DLQ_URL" => Some("http://q/1/dlq".into()),
            "DLQ_NAME" => Some("ignored".into()),
            "PART_SIZE_MIB" => Some("16".into()),
            "RECORD_CONCURRENCY" => Some(" 2 ".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(settings.dlq, DlqTarget::Url("http://q/1/dlq".into()));
        assert_eq!(settings.upload.part_size, 16 * 1024 * 1024);
        assert_eq!(settings.record_concurrency, 2);
        let named = Settings::from_env(&config(), &|name| {
            (name == "DLQ_NAME").then(|| "other-dlq".into())
        })
        .unwrap();
        assert_eq!(named.dlq, DlqTarget::Name("other-dlq".into()));
    }

    #[test]
    fn bad_numbers_name_the_variable() {
        let error = Settings::from_env(&config(), &|name| {
            (name == "PART_SIZE_MIB").then(|| "4".into())
        })
        .unwrap_err();
        assert!(error.to_string().contains("PART_SIZE_MIB"), "{error}");
        assert!(
            Settings::from_env(&config(), &|n| (n == "PARTS_IN_FLIGHT").then(|| "x".into()))
                .is_err()
        );
    }
}
