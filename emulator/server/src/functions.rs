//! Turns the config's `functions` section into the Lambda emulator's function specs.
//!
//! A function without a `command` runs the handler linked into this binary: the emulator
//! starts itself as `emulator function <name>`, a child process speaking the Runtime API like
//! any other runtime, so the default needs no separate build step.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use emulator_lambda::{FunctionSpec, SqsTrigger};
use pipeline_core::config::{Config, Function};

/// Handlers linked into the emulator binary (see `cli::Command::Function`).
pub const LINKED_HANDLERS: &[&str] = &["file-processor"];

/// The specs for every configured function, each fed by the pipeline queue.
///
/// `config_path` is handed to the functions as `PIPELINE_CONFIG` so they read the same config
/// as the emulator; `AWS_ACCOUNT_ID` is passed too, as Terraform does in AWS, because the
/// function process starts from a clean environment.
pub fn specs(config: &Config, config_path: Option<&Path>) -> anyhow::Result<Vec<FunctionSpec>> {
    let current_exe = std::env::current_exe().context("locating the emulator executable")?;
    config
        .functions
        .values()
        .map(|function| spec(config, function, config_path, &current_exe))
        .collect()
}

fn spec(
    config: &Config,
    f: &Function,
    config_path: Option<&Path>,
    exe: &Path,
) -> anyhow::Result<FunctionSpec> {
    let command = match &f.command {
        Some(command) => command.clone(),
        None if LINKED_HANDLERS.contains(&f.name.as_str()) => {
            vec![exe.display().to_string(), "function".to_owned(), f.name.clone()]
        }
        None => bail!(
            "function {} has no `command` and is not linked into the emulator (linked: {}); set functions.{}.command",
            f.name,
            LINKED_HANDLERS.join(", "),
            f.name
        ),
    };
    let mut environment = f.environment.clone();
    environment.insert("AWS_ACCOUNT_ID".to_owned(), config.aws.account_id.clone());
    if let Some(path) = config_path {
        let absolute: PathBuf =
            std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
        environment.insert("PIPELINE_CONFIG".to_owned(), absolute.display().to_string());
    }
    Ok(FunctionSpec {
        name: f.name.clone(),
        command,
        handler: None,
        timeout_seconds: f.timeout_seconds,
        memory_size_mb: f.memory_mb,
        environment,
        working_dir: None,
        sqs_trigger: Some(SqsTrigger {
            queue: config.resources.sqs_queue.clone(),
            batch_size: f.batch_size,
            maximum_batching_window_seconds: f.maximum_batching_window_seconds,
            maximum_concurrency: f.maximum_concurrency,
            report_batch_item_failures: f.report_batch_item_failures,
            enabled: true,
        }),
    })
}
