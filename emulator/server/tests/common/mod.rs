//! Test support: start the emulator in-process on a free port and build real SDK clients for it.

#![allow(dead_code)]

use aws_config::BehaviorVersion;
use emulator::{EmulatorServer, ServeOptions};
use pipeline_core::config::Config;

pub async fn start_pipeline() -> EmulatorServer {
    let config = Config::embedded_default().expect("embedded config loads");
    EmulatorServer::start(ServeOptions {
        bind: "127.0.0.1:0".parse().unwrap(),
        config: Some(config),
        config_path: None,
        run_functions: false,
        data_dir: None,
    })
    .await
    .expect("emulator starts")
}

pub fn config() -> Config {
    Config::embedded_default().expect("embedded config loads")
}

pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await
}

pub async fn s3(endpoint: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&sdk_config(endpoint).await)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

pub async fn sqs(endpoint: &str) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk_config(endpoint).await)
}

pub async fn glue(endpoint: &str) -> aws_sdk_glue::Client {
    aws_sdk_glue::Client::new(&sdk_config(endpoint).await)
}

/// Whether a missing test tool must fail the test: under `scripts/test.sh` (the README's test
/// command, which installs every tool: `SKIPDB_TEST_TOOLS=required`) and in CI (`CI` set).
pub fn tools_required() -> bool {
    std::env::var("SKIPDB_TEST_TOOLS").is_ok_and(|v| v == "required")
        || std::env::var_os("CI").is_some()
}

/// Finds a CLI tool, or explains how to get it. Under the test command or in CI a missing tool
/// is a failure, never a silent skip; a bare `cargo test` says what it skipped.
pub fn require_tool(program: &str, install_hint: &str) -> bool {
    let found = std::process::Command::new(program)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if tools_required() {
            panic!("{program} is required here: {install_hint} (scripts/test.sh installs it)");
        }
        eprintln!("SKIPPED: {program} not found ({install_hint})");
    }
    found
}
