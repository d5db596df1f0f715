//! `FunctionSpec`: what the emulator needs to run one Lambda function and its SQS trigger.
//!
//! It is serde-deserializable in the snake_case style of `shared/pipeline.json`, so the server can
//! embed a `functions` section there. Defaults are the pipeline's file-processor values (timeout
//! 30 s, 256 MB, batch size 10, window 0, maximum concurrency 2, ReportBatchItemFailures on), not
//! AWS's console defaults (3 s, 128 MB, partial batch responses off).
//!
//! Limits are AWS's, checked by [`FunctionSpec::validate`]:
//! - timeout 1..=900 s, memory 128..=10,240 MB
//!   (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html);
//! - BatchSize 1..=10,000 and above 10 only with MaximumBatchingWindowInSeconds >= 1; window
//!   0..=300; ScalingConfig.MaximumConcurrency 2..=1,000
//!   (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html,
//!   https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html);
//! - reserved environment variables cannot be set by the function's configuration
//!   (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One function: the process to start for each execution environment, and its configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    /// Function name (`FunctionName`), e.g. `file-processor`.
    pub name: String,
    /// Program and arguments of the runtime process (a custom runtime's `bootstrap`, or e.g.
    /// `[current_exe, "function", "file-processor"]`, or `["python3", "-m", "awslambdaric",
    /// "module.handler"]`). May be left out of the JSON for the server to fill in (e.g. with its
    /// own executable); an empty command is refused by [`FunctionSpec::validate`].
    #[serde(default)]
    pub command: Vec<String>,
    /// Value of `_HANDLER`; defaults to the file name of the last word of `command` (what a
    /// `provided` runtime would call its handler).
    #[serde(default)]
    pub handler: Option<String>,
    /// Invocation timeout in seconds; past it the process is killed and the invocation fails.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u32,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` in MB (reported, not enforced).
    #[serde(default = "default_memory_size_mb")]
    pub memory_size_mb: u32,
    /// The function's own environment variables.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Working directory and `LAMBDA_TASK_ROOT`; defaults to the emulator's working directory.
    #[serde(default)]
    pub working_dir: Option<PathBuf>,
    /// The SQS event source mapping that feeds this function, if any.
    #[serde(default)]
    pub sqs_trigger: Option<SqsTrigger>,
}

/// An SQS event source mapping (CreateEventSourceMapping's settings that apply to SQS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqsTrigger {
    /// Queue name, or its ARN.
    pub queue: String,
    #[serde(default = "default_batch_size")]
    pub batch_size: u32,
    #[serde(default)]
    pub maximum_batching_window_seconds: u32,
    /// ScalingConfig.MaximumConcurrency: invocations of this mapping running at once.
    #[serde(default = "default_maximum_concurrency")]
    pub maximum_concurrency: u32,
    /// FunctionResponseTypes = [ReportBatchItemFailures].
    #[serde(default = "default_true")]
    pub report_batch_item_failures: bool,
    /// A disabled mapping is defined but does not poll.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_timeout_seconds() -> u32 {
    30
}
fn default_memory_size_mb() -> u32 {
    256
}
fn default_batch_size() -> u32 {
    10
}
fn default_maximum_concurrency() -> u32 {
    2
}
fn default_true() -> bool {
    true
}

/// Variables Lambda sets itself and rejects in a function's configuration (one list, kept with
/// the other AWS naming rules in the core).
pub use pipeline_core::names::LAMBDA_RESERVED_ENVIRONMENT as RESERVED_ENVIRONMENT;
/// A configuration AWS would reject, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("function {function}: {message}")]
pub struct SpecError {
    pub function: String,
    pub message: String,
}

impl FunctionSpec {
    /// A spec with the defaults above and no trigger.
    pub fn new(name: impl Into<String>, command: Vec<String>) -> Self {
        Self {
            name: name.into(),
            command,
            handler: None,
            timeout_seconds: default_timeout_seconds(),
            memory_size_mb: default_memory_size_mb(),
            environment: BTreeMap::new(),
            working_dir: None,
            sqs_trigger: None,
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout_seconds))
    }

    /// `_HANDLER`: the configured handler, else the file name of the command's last word.
    pub fn handler_name(&self) -> String {
        self.handler
            .clone()
            .or_else(|| {
                let last = self.command.last()?;
                Some(last.rsplit('/').next().unwrap_or(last).to_owned())
            })
            .unwrap_or_else(|| "bootstrap".to_owned())
    }

    /// Checks every limit AWS enforces on CreateFunction / CreateEventSourceMapping.
    pub fn validate(&self) -> Result<(), SpecError> {
        let fail = |message: String| {
            Err(SpecError {
                function: self.name.clone(),
                message,
            })
        };
        // Function names: letters, digits, hyphens, underscores, 1..=64 characters.
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return fail("name must be 1-64 letters, digits, hyphens or underscores".into());
        }
        if self
            .command
            .first()
            .is_none_or(|program| program.is_empty())
        {
            return fail("command must name a program to run".into());
        }
        if !(1..=900).contains(&self.timeout_seconds) {
            return fail(format!(
                "timeout_seconds {} is outside 1..=900",
                self.timeout_seconds
            ));
        }
        if !(128..=10_240).contains(&self.memory_size_mb) {
            return fail(format!(
                "memory_size_mb {} is outside 128..=10240",
                self.memory_size_mb
            ));
        }
        if let Some(key) = self
            .environment
            .keys()
            .find(|k| RESERVED_ENVIRONMENT.contains(&k.as_str()))
        {
            return fail(format!("environment variable {key} is reserved by Lambda"));
        }
        if let Some(trigger) = &self.sqs_trigger {
            if let Err(message) = trigger.validate() {
                return fail(message);
            }
        }
        Ok(())
    }
}

impl SqsTrigger {
    /// A trigger on `queue` with the defaults above.
    pub fn new(queue: impl Into<String>) -> Self {
        Self {
            queue: queue.into(),
            batch_size: default_batch_size(),
            maximum_batching_window_seconds: 0,
            maximum_concurrency: default_maximum_concurrency(),
            report_batch_item_failures: true,
            enabled: true,
        }
    }

    /// The queue's name, whether the trigger names it or gives its ARN.
    pub fn queue_name(&self) -> &str {
        if self.queue.starts_with("arn:") {
            self.queue.rsplit(':').next().unwrap_or(&self.queue)
        } else {
            &self.queue
        }
    }

    pub fn batching_window(&self) -> Duration {
        Duration::from_secs(u64::from(self.maximum_batching_window_seconds))
    }

    fn validate(&self) -> Result<(), String> {
        if self.queue_name().is_empty() {
            return Err("sqs_trigger.queue is empty".into());
        }
        if !(1..=10_000).contains(&self.batch_size) {
            return Err(format!(
                "sqs_trigger.batch_size {} is outside 1..=10000",
                self.batch_size
            ));
        }
        if self.maximum_batching_window_seconds > 300 {
            return Err(format!(
                "sqs_trigger.maximum_batching_window_seconds {} is above 300",
                self.maximum_batching_window_seconds
            ));
        }
        if self.batch_size > 10 && self.maximum_batching_window_seconds == 0 {
            return Err(
                "sqs_trigger.batch_size above 10 needs maximum_batching_window_seconds >= 1".into(),
            );
        }
        if !(2..=1_000).contains(&self.maximum_concurrency) {
            return Err(format!(
                "sqs_trigger.maximum_concurrency {} is outside 2..=1000",
                self.maximum_concurrency
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_json_with_defaults() {
        let spec: FunctionSpec = serde_json::from_str(
            r#"{"name":"file-processor","command":["/bin/emulator","function","file-processor"],
                "environment":{"RUST_LOG":"info"},"sqs_trigger":{"queue":"uploads"}}"#,
        )
        .unwrap();
        assert_eq!(spec.timeout_seconds, 30);
        assert_eq!(spec.memory_size_mb, 256);
        assert_eq!(spec.handler_name(), "file-processor");
        let trigger = spec.sqs_trigger.as_ref().unwrap();
        assert_eq!(trigger.batch_size, 10);
        assert_eq!(trigger.maximum_batching_window_seconds, 0);
        assert_eq!(trigger.maximum_concurrency, 2);
        assert!(trigger.report_batch_item_failures);
        assert!(trigger.enabled);
        spec.validate().unwrap();
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err =
            serde_json::from_str::<FunctionSpec>(r#"{"name":"f","command":["x"],"timeout":3}"#)
                .unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn aws_limits_are_enforced() {
        let base = FunctionSpec::new("f", vec!["x".into()]);
        let mut spec = base.clone();
        spec.timeout_seconds = 901;
        assert!(spec.validate().is_err());
        let mut spec = base.clone();
        spec.environment.insert("AWS_REGION".into(), "x".into());
        assert!(spec.validate().unwrap_err().message.contains("reserved"));
        let mut spec = base.clone();
        spec.command.clear();
        assert!(spec.validate().is_err());
        let mut spec = base.clone();
        let mut trigger = SqsTrigger::new("arn:aws:sqs:us-east-1:000000000000:q");
        assert_eq!(trigger.queue_name(), "q");
        trigger.batch_size = 11;
        spec.sqs_trigger = Some(trigger.clone());
        assert!(spec.validate().unwrap_err().message.contains("window"));
        trigger.maximum_batching_window_seconds = 1;
        trigger.maximum_concurrency = 1;
        spec.sqs_trigger = Some(trigger.clone());
        assert!(spec.validate().unwrap_err().message.contains("concurrency"));
        trigger.maximum_concurrency = 2;
        spec.sqs_trigger = Some(trigger);
        spec.validate().unwrap();
        let mut spec = base;
        spec.name = "bad name".into();
        assert!(spec.validate().is_err());
    }
}
