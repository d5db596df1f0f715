//! A small Lambda function on the official Rust runtime (`lambda_runtime`), used by this crate's
//! tests and cold-start bench. Its behaviour is chosen by environment variables:
//!
//! - `TEST_MODE=echo`: returns the event, the invocation context and Lambda's environment.
//! - `TEST_FAIL_ALWAYS=1`: every invocation returns an error (a function error).
//! - `TEST_FAIL_BODIES=a,b`: SQS records with these bodies are reported in `batchItemFailures`.
//! - `TEST_RESPONSE=<json>`: returns this JSON as it is (for malformed batch responses).
//! - `TEST_SLEEP_MS=n`: sleeps n ms in each invocation.
//! - `TEST_SLEEP_ONCE_FILE=path` + `TEST_SLEEP_ONCE_MS=n`: the first invocation (the one that
//!   creates `path`) sleeps n ms.
//! - `TEST_CRASH_ONCE_FILE=path`: the first invocation (creating `path`) exits the process with 1.
//! - `TEST_CONCURRENCY_DIR=dir`: records how many invocations run at once across processes: a
//!   marker file per invocation (atomic `create_new`), the count of markers appended to
//!   `dir/observed.log` at start and end of the (sleeping) invocation.
//! - `TEST_RECORD_FILE=path`: appends one JSON line per invocation (request id, pid, bodies;
//!   the whole event too with `TEST_RECORD_EVENTS=1`).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// True for the one caller that creates `path` (atomic across processes).
fn first_time(path: &str) -> bool {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .is_ok()
}

/// Appends one line in a single write (O_APPEND keeps concurrent small writes whole).
fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(format!("{line}\n").as_bytes())
}

fn count_markers(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("inflight-"))
                .count()
        })
        .unwrap_or(0)
}

fn bodies(event: &Value) -> Vec<(String, String)> {
    event["Records"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .map(|r| {
                    (
                        r["messageId"].as_str().unwrap_or_default().to_owned(),
                        r["body"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    let records = bodies(&payload);
    if let Some(path) = env("TEST_RECORD_FILE") {
        let bodies: Vec<&str> = records.iter().map(|(_, b)| b.as_str()).collect();
        let mut line =
            json!({"request_id": context.request_id, "pid": std::process::id(), "bodies": bodies});
        if env("TEST_RECORD_EVENTS").is_some() {
            line["event"] = payload.clone();
        }
        append_line(Path::new(&path), &line.to_string())?;
    }
    if let Some(path) = env("TEST_CRASH_ONCE_FILE") {
        if first_time(&path) {
            eprintln!("crashing on purpose");
            std::process::exit(1);
        }
    }
    if let Some(path) = env("TEST_SLEEP_ONCE_FILE") {
        if first_time(&path) {
            let ms = env("TEST_SLEEP_ONCE_MS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(60_000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
    let sleep = Duration::from_millis(
        env("TEST_SLEEP_MS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    );
    if let Some(dir) = env("TEST_CONCURRENCY_DIR").map(PathBuf::from) {
        let marker = dir.join(format!("inflight-{}", context.request_id));
        std::fs::File::create(&marker)?;
        append_line(&dir.join("observed.log"), &count_markers(&dir).to_string())?;
        tokio::time::sleep(sleep).await;
        append_line(&dir.join("observed.log"), &count_markers(&dir).to_string())?;
        std::fs::remove_file(&marker)?;
    } else {
        tokio::time::sleep(sleep).await;
    }
    if env("TEST_FAIL_ALWAYS").is_some() {
        return Err("failing on purpose".into());
    }
    if let Some(raw) = env("TEST_RESPONSE") {
        return Ok(serde_json::from_str(&raw)?);
    }
    if env("TEST_MODE").as_deref() == Some("echo") {
        let lambda_env: serde_json::Map<String, Value> = std::env::vars()
            .filter(|(k, _)| {
                k.starts_with("AWS_")
                    || k.starts_with("LAMBDA_")
                    || k.starts_with('_')
                    || k.starts_with("MY_")
            })
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        return Ok(json!({
            "event": payload,
            "request_id": context.request_id,
            "deadline_ms": context.deadline,
            "invoked_function_arn": context.invoked_function_arn,
            "env": lambda_env,
        }));
    }
    let failing: Vec<String> = env("TEST_FAIL_BODIES")
        .map(|v| v.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    let failures: Vec<Value> = records
        .iter()
        .filter(|(_, body)| failing.contains(body))
        .map(|(id, _)| json!({"itemIdentifier": id}))
        .collect();
    Ok(json!({"batchItemFailures": failures}))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
