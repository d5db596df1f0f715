//! The AWS clients, built from the standard config loader so the same binary runs in AWS and
//! against the emulator (`AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>`), with timeouts and
//! retries set on purpose instead of left at the defaults.
//!
//! Budget per call; the function's own deadline is handled by [`crate::budget`] (streaming stops
//! cleanly before it), so these bound single calls, not the whole file:
//! - connect timeout 2 s (default 3.1 s): a connection to S3/SQS/Glue inside a region takes
//!   milliseconds; failing fast leaves time for a retry;
//! - attempt timeout 10 s: the largest request is one 8 MiB UploadPart, well under a second at
//!   Lambda's bandwidth to S3; an attempt that takes 10 s is stuck and is better retried;
//! - operation timeout 25 s (all attempts and backoff): a call that cannot finish fails as a
//!   per-message transient error well before the default 120 s function timeout, and the
//!   handler still returns its partial batch response;
//! - retries: standard mode, 3 attempts, backoff from 100 ms up to 2 s. Quick retries absorb
//!   blips inside one invocation; anything longer is handed to the SQS-level backoff
//!   (ChangeMessageVisibility, minutes), which costs no Lambda time. Adaptive mode is not used:
//!   its client-side rate limiter only helps a long-lived client sending steadily, and a
//!   throttled Glue call already becomes a delayed message.
//!   (<https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html>,
//!   <https://docs.aws.amazon.com/sdk-for-rust/latest/dg/timeouts.html>).
//!
//! S3 uses path-style addressing when an endpoint URL is configured: the emulator (and other
//! local endpoints such as `http://localhost:4566`) cannot serve virtual-hosted bucket names, and
//! there is no environment variable for it.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const OPERATION_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(25);
pub const MAX_ATTEMPTS: u32 = 3;
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The three clients the handler uses.
#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub glue: aws_sdk_glue::Client,
}

pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(OPERATION_ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}

/// The standard loader (environment, profile, IMDS/container credentials) with the handler's
/// timeouts and retries.
pub fn config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeout_config())
        .retry_config(retry_config())
}

impl Clients {
    /// Clients from the environment, as in Lambda.
    pub async fn from_env() -> Clients {
        let sdk_config = config_loader().load().await;
        let path_style = s3_endpoint_configured(&sdk_config, &|name| std::env::var(name).ok());
        Clients::from_sdk_config(&sdk_config, path_style)
    }

    /// Clients from a loaded config. `force_path_style` for local endpoints.
    pub fn from_sdk_config(sdk_config: &SdkConfig, force_path_style: bool) -> Clients {
        // The handler never sets ChecksumMode on GetObject and verifies full-object checksums
        // itself (see `object`): the SDK cannot validate the composite checksums of multipart
        // objects and would warn once per such file.
        let s3_config = aws_sdk_s3::config::Builder::from(sdk_config)
            .force_path_style(force_path_style)
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
            )
            .build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            sqs: aws_sdk_sqs::Client::new(sdk_config),
            glue: aws_sdk_glue::Client::new(sdk_config),
        }
    }
}

/// Whether S3 requests go to a configured endpoint (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL` or
/// an endpoint set on the loader), unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true
/// (<https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html>).
pub fn s3_endpoint_configured(
    sdk_config: &SdkConfig,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> bool {
    let ignored = lookup("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let set = |name: &str| lookup(name).is_some_and(|v| !v.trim().is_empty());
    // An endpoint on the loaded config is either explicit in code or already came from the
    // environment; the service-specific variable is read by the S3 client builder itself.
    sdk_config.endpoint_url().is_some()
        || (!ignored && (set("AWS_ENDPOINT_URL_S3") || set("AWS_ENDPOINT_URL")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_config() -> SdkConfig {
        SdkConfig::builder().build()
    }

    #[test]
    fn path_style_follows_the_endpoint_variables() {
        let config = empty_config();
        assert!(!s3_endpoint_configured(&config, &|_| None));
        assert!(s3_endpoint_configured(&config, &|n| {
            (n == "AWS_ENDPOINT_URL").then(|| "http://127.0.0.1:4566".into())
        }));
        assert!(s3_endpoint_configured(&config, &|n| {
            (n == "AWS_ENDPOINT_URL_S3").then(|| "http://localhost:4566".into())
        }));
        assert!(!s3_endpoint_configured(&config, &|n| match n {
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:4566".into()),
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS" => Some("true".into()),
            _ => None,
        }));
        let with_endpoint = SdkConfig::builder()
            .endpoint_url("http://127.0.0.1:1")
            .build();
        assert!(s3_endpoint_configured(&with_endpoint, &|_| None));
    }

    #[test]
    fn timeouts_fit_the_function_timeout() {
        let timeouts = timeout_config();
        assert_eq!(timeouts.operation_timeout(), Some(OPERATION_TIMEOUT));
        assert!(OPERATION_TIMEOUT < Duration::from_secs(30));
        assert!(OPERATION_ATTEMPT_TIMEOUT * MAX_ATTEMPTS + MAX_BACKOFF >= OPERATION_TIMEOUT);
        assert_eq!(retry_config().max_attempts(), MAX_ATTEMPTS);
    }
}
