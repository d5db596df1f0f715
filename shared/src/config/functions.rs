//! The `functions` section: which Lambda functions the queue feeds and how they run. The
//! emulator's event source mapping and Terraform's `aws_lambda_function` and
//! `aws_lambda_event_source_mapping` both read these values, so local runs and AWS agree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Default `functions.<name>.memory_mb`: 1,769 MB, where Lambda gives a function the equivalent
/// of one full vCPU ("Lambda allocates CPU power in proportion to the amount of memory
/// configured... At 1,769 MB, a function has the equivalent of one vCPU",
/// <https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html>). The handler is
/// CPU-bound (validation, checksums, Parquet encoding), so less memory means proportionally
/// slower files, at about the same cost per file.
pub const DEFAULT_MEMORY_MB: u32 = 1769;
/// Default `functions.<name>.timeout_seconds`: 120 s. A 1 GiB file takes 15 s locally and an
/// estimated ~30 s on one Lambda vCPU (README "Function defaults"), so files several times larger
/// fit. The queue's visibility timeout
/// must be at least six times this (Lambda guidance for SQS event sources), which the default
/// 720 s is.
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 120;
/// Default `functions.<name>.batch_size` (Lambda's own default for SQS).
pub const DEFAULT_BATCH_SIZE: u32 = 10;
/// Default `functions.<name>.maximum_concurrency`.
pub const DEFAULT_MAXIMUM_CONCURRENCY: u32 = 5;
/// The handler every config gets when it has no `functions` section.
pub const DEFAULT_FUNCTION_NAME: &str = "file-processor";

/// A Lambda function fed by the pipeline queue through an SQS event source mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    /// Emulator only: the program and arguments of a Runtime API client to start for each
    /// instance. `None` runs the handler linked into the emulator binary under this name.
    pub command: Option<Vec<String>>,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    /// The function's own environment (Lambda adds its reserved variables on top).
    pub environment: BTreeMap<String, String>,
    pub batch_size: u32,
    pub maximum_batching_window_seconds: u32,
    /// ScalingConfig.MaximumConcurrency of the event source mapping.
    pub maximum_concurrency: u32,
    /// FunctionResponseTypes = ["ReportBatchItemFailures"].
    pub report_batch_item_failures: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFunction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_batching_window_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_concurrency: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_batch_item_failures: Option<bool>,
}

impl Function {
    pub(crate) fn to_raw(&self) -> RawFunction {
        RawFunction {
            command: self.command.clone(),
            memory_mb: Some(self.memory_mb),
            timeout_seconds: Some(self.timeout_seconds),
            environment: Some(self.environment.clone()),
            batch_size: Some(self.batch_size),
            maximum_batching_window_seconds: Some(self.maximum_batching_window_seconds),
            maximum_concurrency: Some(self.maximum_concurrency),
            report_batch_item_failures: Some(self.report_batch_item_failures),
        }
    }
}

/// Validates the section; `None` (no `functions` key) means the default `file-processor`.
pub(crate) fn build(
    raw: Option<BTreeMap<String, RawFunction>>,
    visibility_timeout_seconds: u32,
) -> Result<BTreeMap<String, Function>, ConfigError> {
    let raw = raw.unwrap_or_else(|| {
        BTreeMap::from([(DEFAULT_FUNCTION_NAME.to_string(), RawFunction::default())])
    });
    let mut functions = BTreeMap::new();
    for (name, f) in raw {
        let function = build_function(name, f, visibility_timeout_seconds)?;
        functions.insert(function.name.clone(), function);
    }
    Ok(functions)
}

/// One function: its name, sizing, event source mapping, environment and command, checked in
/// that order (the first broken rule is the one reported).
fn build_function(
    name: String,
    f: RawFunction,
    visibility_timeout_seconds: u32,
) -> Result<Function, ConfigError> {
    check_function_name(&name)?;
    let memory_mb = in_range(
        &at(&name, "memory_mb"),
        f.memory_mb.unwrap_or(DEFAULT_MEMORY_MB),
        128,
        10_240,
    )?;
    let timeout_seconds = in_range(
        &at(&name, "timeout_seconds"),
        f.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS),
        1,
        900,
    )?;
    let mapping = build_mapping(&name, &f)?;
    check_visibility_covers_timeout(&name, timeout_seconds, visibility_timeout_seconds)?;
    let environment = f.environment.unwrap_or_default();
    check_environment(&name, &environment)?;
    if let Some(command) = &f.command {
        if command.first().is_none_or(|program| program.is_empty()) {
            return Err(ConfigError::invalid(
                at(&name, "command"),
                "needs a program as its first element",
            ));
        }
    }
    Ok(Function {
        name,
        command: f.command,
        memory_mb,
        timeout_seconds,
        environment,
        batch_size: mapping.batch_size,
        maximum_batching_window_seconds: mapping.window_seconds,
        maximum_concurrency: mapping.maximum_concurrency,
        report_batch_item_failures: f.report_batch_item_failures.unwrap_or(true),
    })
}

/// The JSON path of one field of function `name`.
fn at(name: &str, field: &str) -> String {
    format!("functions.{name}.{field}")
}

/// Lambda function names: 1-64 letters, digits, hyphens, underscores (CreateFunction API).
fn check_function_name(name: &str) -> Result<(), ConfigError> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ConfigError::invalid(
            format!("functions.{name}"),
            "function names are 1 to 64 letters, digits, `-` or `_` (Lambda CreateFunction)",
        ));
    }
    Ok(())
}

/// The event source mapping's settings of one function.
struct Mapping {
    batch_size: u32,
    window_seconds: u32,
    maximum_concurrency: u32,
}

fn build_mapping(name: &str, f: &RawFunction) -> Result<Mapping, ConfigError> {
    let batch_size = in_range(
        &at(name, "batch_size"),
        f.batch_size.unwrap_or(DEFAULT_BATCH_SIZE),
        1,
        10_000,
    )?;
    let window_seconds = in_range(
        &at(name, "maximum_batching_window_seconds"),
        f.maximum_batching_window_seconds.unwrap_or(0),
        0,
        300,
    )?;
    // Lambda rejects a batch size above 10 without a batching window
    // (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
    if batch_size > 10 && window_seconds == 0 {
        return Err(ConfigError::invalid(
            at(name, "batch_size"),
            "a batch size above 10 needs maximum_batching_window_seconds of at least 1 (Lambda rule)",
        ));
    }
    let maximum_concurrency = in_range(
        &at(name, "maximum_concurrency"),
        f.maximum_concurrency.unwrap_or(DEFAULT_MAXIMUM_CONCURRENCY),
        2,
        1_000,
    )?;
    Ok(Mapping {
        batch_size,
        window_seconds,
        maximum_concurrency,
    })
}

/// Lambda guidance: the queue's visibility timeout at least 6x the function timeout, so a slow
/// invocation and Lambda's own retries finish before the message reappears
/// (<https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html>).
fn check_visibility_covers_timeout(
    name: &str,
    timeout_seconds: u32,
    visibility_timeout_seconds: u32,
) -> Result<(), ConfigError> {
    if u64::from(visibility_timeout_seconds) < 6 * u64::from(timeout_seconds) {
        return Err(ConfigError::invalid(
            at(name, "timeout_seconds"),
            format!(
                "timeout {timeout_seconds} s needs resources.visibility_timeout_seconds of at least {} (6 x the function timeout, Lambda guidance for SQS); it is {visibility_timeout_seconds}",
                6 * timeout_seconds
            ),
        ));
    }
    Ok(())
}

/// Variable names Lambda accepts and does not reserve for itself.
fn check_environment(
    name: &str,
    environment: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    for key in environment.keys() {
        let valid = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(ConfigError::invalid(
                format!("functions.{name}.environment.{key}"),
                "environment variable names start with a letter and hold letters, digits and `_`",
            ));
        }
        if crate::names::LAMBDA_RESERVED_ENVIRONMENT.contains(&key.as_str()) {
            return Err(ConfigError::invalid(
                format!("functions.{name}.environment.{key}"),
                "this variable is reserved: Lambda sets it itself",
            ));
        }
    }
    Ok(())
}

fn in_range(path: &str, value: u32, min: u32, max: u32) -> Result<u32, ConfigError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::invalid(
            path,
            format!("must be between {min} and {max}; got {value}"),
        ))
    }
}
