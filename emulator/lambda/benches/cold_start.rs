//! Cold start of a function under the emulator: process spawn to its first `/next` (Lambda's
//! Init Duration), plus the first and a warm invocation's round trip, over several fresh
//! execution environments.
//!
//! `cargo bench -p emulator-lambda --bench cold_start` measures this crate's Rust test function
//! (`examples/test_function.rs`, built in release first). To measure another function, give
//! its command: `COLD_START_COMMAND="target/release/emulator function file-processor"`
//! (whitespace-separated; `COLD_START_RUNS` sets the number of runs, default 10).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use emulator_lambda::{FunctionSpec, Lambda};
use emulator_sqs::Sqs;

fn test_function_command() -> Vec<String> {
    if let Ok(command) = std::env::var("COLD_START_COMMAND") {
        return command.split_whitespace().map(str::to_owned).collect();
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "emulator-lambda", "--example", "test_function"])
        .status()
        .expect("running cargo build for the test function");
    assert!(status.success(), "building the test function failed");
    // The bench runs as target/release/deps/cold_start-<hash>.
    let exe = std::env::current_exe().expect("bench path");
    let profile_dir: PathBuf = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .to_path_buf();
    vec![profile_dir
        .join("examples/test_function")
        .display()
        .to_string()]
}

fn stats(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = samples[samples.len() / 2];
    println!(
        "{label:<28} min {:>8.2} ms   median {:>8.2} ms   max {:>8.2} ms   (n={})",
        ms(samples[0]),
        ms(median),
        ms(samples[samples.len() - 1]),
        samples.len()
    );
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let command = test_function_command();
    let runs: usize = std::env::var("COLD_START_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .max(1);
    println!("cold start of: {}", command.join(" "));
    let mut init = Vec::new();
    let mut first = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..runs {
        let lambda = Lambda::new("us-east-1", "000000000000", Sqs::new("us-east-1", "000000000000"));
        let mut spec = FunctionSpec::new("cold-start-bench", command.clone());
        spec.timeout_seconds = 30;
        spec.environment.insert("TEST_MODE".into(), "echo".into());
        lambda.add_function(spec).expect("valid spec");
        let started = Instant::now();
        let result = lambda
            .invoke("cold-start-bench", Bytes::from_static(b"{}"))
            .await
            .expect("function exists");
        first.push(started.elapsed());
        init.push(result.init_duration.expect("first invocation is a cold start"));
        let started = Instant::now();
        let again = lambda
            .invoke("cold-start-bench", Bytes::from_static(b"{}"))
            .await
            .expect("function exists");
        assert!(again.init_duration.is_none(), "second invocation must be warm");
        warm.push(started.elapsed());
        lambda.shutdown().await;
    }
    stats("init (spawn -> first /next)", init);
    stats("first invocation (cold)", first);
    stats("warm invocation", warm);
}
