//! Support for the end-to-end tests: starts the `emulator` binary exactly as the README's run
//! command does (`emulator serve`, embedded default config, functions included) on a free port,
//! and builds real SDK clients for it. Stops the process when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;

pub mod chaos;
pub mod crash;

/// A running `emulator serve` process.
pub struct Pipeline {
    pub url: String,
    child: Child,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `emulator` binary of this workspace: `$EMULATOR_BIN` when set (the test command sets it
/// to the binary `cargo test --workspace` itself built, so no second build with another feature
/// selection recompiles the query engine), else the binary in the profile of the running test or
/// bench executable (`target/<profile>/deps/<exe>` -> `target/<profile>/emulator`), built first
/// if needed (cargo does nothing when it is up to date). Integration tests of another package
/// cannot name it with CARGO_BIN_EXE_. `cargo bench` releases the build lock before it runs the
/// bench executable, so this nested build does not deadlock.
pub fn emulator_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("EMULATOR_BIN").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "EMULATOR_BIN={} is not a file",
            path.display()
        );
        return path;
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir layout")
        .to_path_buf();
    let mut args = vec!["build", "--quiet", "-p", "emulator", "--bin", "emulator"];
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        args.push("--release");
    }
    let status = Command::new(env!("CARGO"))
        .args(&args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the emulator binary failed");
    let emulator = profile_dir.join("emulator");
    assert!(
        emulator.is_file(),
        "no emulator binary at {}",
        emulator.display()
    );
    emulator
}

/// How to start the emulator, beyond the README's plain `emulator serve`.
#[derive(Debug, Default)]
pub struct StartOptions {
    /// `--config PATH` instead of the embedded config.
    pub config: Option<PathBuf>,
    /// Where the emulator's output (its log and its functions' logs) goes; inherited if `None`.
    pub log_file: Option<PathBuf>,
    /// More `emulator serve` arguments (e.g. `--event-buffer 20`, `--fault ...`).
    pub args: Vec<String>,
    /// The port (a restart on the same `--data-dir` keeps its clients' endpoint); free if `None`.
    pub port: Option<u16>,
}

impl Pipeline {
    /// `emulator serve --port <free>` with the embedded config; waits for /_emulator/health.
    pub async fn start() -> Pipeline {
        Pipeline::start_with(StartOptions::default()).await
    }

    /// `emulator serve` as [`Pipeline::start`], with `options`.
    pub async fn start_with(options: StartOptions) -> Pipeline {
        let port = options.port.unwrap_or_else(|| {
            TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        });
        let mut command = Command::new(emulator_binary());
        command.args(["serve", "--port", &port.to_string()]);
        if let Some(config) = &options.config {
            command.arg("--config").arg(config);
        }
        command.args(&options.args);
        let (stdout, stderr) = match &options.log_file {
            Some(path) => {
                // Appended to, so a restarted emulator's log follows the killed one's.
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("log file");
                (
                    Stdio::from(file.try_clone().expect("log file")),
                    Stdio::from(file),
                )
            }
            None => (Stdio::inherit(), Stdio::inherit()),
        };
        let mut child = command
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("emulator starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                use std::io::{Read, Write};
                let _ = stream.write_all(
                    b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                );
                let mut reply = String::new();
                let _ = stream.read_to_string(&mut reply);
                if reply.starts_with("HTTP/1.1 200") {
                    break;
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log = options.log_file.as_ref().map(std::fs::read_to_string);
                panic!("the emulator exited ({status}) before it was healthy: {log:?}");
            }
            assert!(
                Instant::now() < deadline,
                "emulator did not become healthy in 20 s"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Pipeline { url, child }
    }

    /// The process id of `emulator serve`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no shutdown, no flush; its function processes die with it (PR_SET_PDEATHSIG).
    pub fn kill_9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "static",
            ))
            .load()
            .await
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk_config().await)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk_config().await)
    }

    pub async fn glue(&self) -> aws_sdk_glue::Client {
        aws_sdk_glue::Client::new(&self.sdk_config().await)
    }
}

/// Polls `check` every 50 ms until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The SQS event the Lambda event source mapping delivers for `messages` received from the queue
/// `queue_arn`, built as JSON and deserialized as the runtime does (system attributes included,
/// so the handler sees `ApproximateReceiveCount` and `SentTimestamp`). The handler's and the
/// ops tool's tests, and the throughput bench, drive the handler directly with it.
pub fn sqs_event(
    messages: &[aws_sdk_sqs::types::Message],
    queue_arn: &str,
    region: &str,
) -> aws_lambda_events::event::sqs::SqsEvent {
    let records: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, serde_json::Value> = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_string(), v.clone().into()))
                        .collect()
                })
                .unwrap_or_default();
            // String attributes as the event source mapping gives them (the handler reads a
            // redriven message's earlier `error_reason`); binary ones are not used by the tests.
            let message_attributes: serde_json::Map<String, serde_json::Value> = m
                .message_attributes()
                .map(|a| {
                    a.iter()
                        .filter_map(|(name, value)| {
                            let text = value.string_value()?;
                            let attribute = serde_json::json!({
                                "stringValue": text, "stringListValues": [],
                                "binaryListValues": [], "dataType": value.data_type(),
                            });
                            Some((name.clone(), attribute))
                        })
                        .collect()
                })
                .unwrap_or_default();
            serde_json::json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).expect("an SqsEvent")
}
