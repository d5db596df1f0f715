//! Cold start of a function under the emulator: process spawn to its first `/next` (Lambda's
//! Init Duration), plus the cold and a warm invocation's round trip, over fresh environments.
//!
//! `cargo bench -p emulator-lambda --bench cold_start` measures a release-built Rust function
//! on the official runtime (`lambda_runtime`): this bench binary itself, started again with
//! `COLD_START_AS_FUNCTION=1`, is that function (building the example from here would need a
//! nested cargo, which waits forever on the target directory lock cargo bench holds).
//! To measure another function, give its command:
//! `COLD_START_COMMAND="target/release/emulator function file-processor" cargo bench -p emulator-lambda --bench cold_start`
//! (whitespace-separated; `COLD_START_RUNS` sets the number of runs, default 10).

use std::time::{Duration, Instant};

use bytes::Bytes;
use emulator_lambda::{FunctionSpec, Lambda};
use emulator_sqs::Sqs;

const AS_FUNCTION: &str = "COLD_START_AS_FUNCTION";

/// The measured function: echoes its event.
async fn run_as_function() {
    let handler = lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            Ok::<_, lambda_runtime::Error>(event.payload)
        },
    );
    if let Err(err) = lambda_runtime::run(handler).await {
        eprintln!("runtime stopped: {err}");
        std::process::exit(1);
    }
}

fn function_command() -> (Vec<String>, Vec<(String, String)>) {
    if let Ok(command) = std::env::var("COLD_START_COMMAND") {
        return (
            command.split_whitespace().map(str::to_owned).collect(),
            Vec::new(),
        );
    }
    let exe = std::env::current_exe().expect("bench path");
    (
        vec![exe.display().to_string()],
        vec![(AS_FUNCTION.to_owned(), "1".to_owned())],
    )
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(samples[samples.len() / 2]);
    println!(
        "{label:<30} min {:>8.2} ms   median {median:>8.2} ms   max {:>8.2} ms   (n={})",
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
        samples.len()
    );
    // The summary line scripts/bench.sh collects (convention at the top of that script).
    println!("BENCH|cold_start|{label} median|emulator|{median:.2}|ms");
}

#[tokio::main]
async fn main() {
    if std::env::var_os(AS_FUNCTION).is_some() {
        return run_as_function().await;
    }
    let (command, environment) = function_command();
    let runs: usize = std::env::var("COLD_START_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .max(1);
    println!("cold start of: {}", command.join(" "));
    let (mut init, mut cold, mut warm) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let sqs = Sqs::new("us-east-1", "000000000000");
        let lambda = Lambda::new("us-east-1", "000000000000", sqs);
        let mut spec = FunctionSpec::new("cold-start-bench", command.clone());
        spec.environment.extend(environment.iter().cloned());
        lambda.add_function(spec).expect("valid spec");
        let started = Instant::now();
        let first = lambda
            .invoke("cold-start-bench", Bytes::from_static(b"{}"))
            .await
            .expect("function exists");
        cold.push(started.elapsed());
        match first.init_duration {
            Some(duration) => init.push(duration),
            None => panic!("no cold start measured: {:?}", first.failure),
        }
        let started = Instant::now();
        let second = lambda
            .invoke("cold-start-bench", Bytes::from_static(b"{}"))
            .await
            .expect("function exists");
        assert!(
            second.init_duration.is_none(),
            "second invocation must be warm"
        );
        warm.push(started.elapsed());
        lambda.shutdown().await;
    }
    report("init (spawn -> first /next)", init);
    report("cold invocation round trip", cold);
    report("warm invocation round trip", warm);
}
