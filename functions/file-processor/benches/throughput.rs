//! End-to-end throughput and memory of the handler: a generated CSV of the `sales` entity is
//! uploaded to the emulator, its notification is received and the handler processes it
//! (GetObject stream -> validation -> multipart upload -> Glue partition).
//!
//! Run: `cargo bench -p file-processor --bench throughput`.
//!
//! - The emulator runs as a separate process with `--no-functions` (its own Lambda functions would
//!   consume the notification the bench hands to the handler), the `emulator` binary of the
//!   bench's own profile (`e2e_tests::emulator_binary()`, which builds it when needed).
//! - Each file size is handled in a fresh process (this bench re-executes itself with
//!   `--child`), which runs only the handler, so its peak RSS (`VmHWM`) is the handler's. A
//!   64 MiB and a 256 MiB file show whether the peak grows with the file size (it must not).
//! - For comparison, the same 256 MiB file is copied with `aws s3 cp` through the emulator (an
//!   upload only, no download or validation), timed from the outside (`AWS_CLI=/path/to/aws`
//!   picks the executable; default `aws` on PATH).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::MessageSystemAttributeName;
use file_processor::{Clients, Invocation, Processor, Settings, Telemetry};
use serde_json::json;

use common::{vm_hwm_kib, MIB};
const REGION: &str = "us-east-1";

/// The file processor's `environment` in the embedded config.
fn function_environment() -> std::collections::BTreeMap<String, String> {
    let config = pipeline_core::Config::embedded_default().unwrap();
    config
        .functions
        .get(pipeline_core::config::DEFAULT_FUNCTION_NAME)
        .map(|f| f.environment.clone())
        .unwrap_or_default()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // cargo bench passes `--bench`; the child mode is `--child <endpoint> <key>`.
    if let Some(index) = args.iter().position(|a| a == "--child") {
        let endpoint = args.get(index + 1).expect("endpoint").clone();
        let key = args.get(index + 2).expect("key").clone();
        child(&endpoint, &key);
        return;
    }
    parent();
}

struct Emulator {
    process: Child,
    endpoint: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn start_emulator() -> Emulator {
    let mut process = Command::new(e2e_tests::emulator_binary())
        .args(["serve", "--port", "0", "--no-functions"])
        .env_remove("PIPELINE_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the emulator");
    let stdout = process.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let endpoint = loop {
        let line = lines.next().expect("emulator banner").expect("read banner");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().expect("url").to_string();
        }
    };
    // Keep draining the banner so the emulator never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Emulator { process, endpoint }
}

/// A valid `sales` CSV of about `size` bytes.
fn generate(path: &Path, size: u64, date: &str) -> u64 {
    common::generate_sales_csv(path, size, date).0
}

async fn clients(endpoint: &str) -> Clients {
    let sdk = file_processor::clients::config_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await;
    Clients::from_sdk_config(&sdk, true)
}

fn parent() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = start_emulator();
    let config = pipeline_core::Config::embedded_default().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (64 * MIB, "2024_01_01", "2024-01-01"),
        (256 * MIB, "2024_01_02", "2024-01-02"),
    ];
    println!(
        "emulator: {} (release binary, separate process)",
        emulator.endpoint
    );
    let mut results = Vec::new();
    let mut big_file = None;
    for (size, day, date) in cases {
        let path = dir.path().join(format!("sales_data_{day}.csv"));
        let bytes = generate(&path, size, date);
        let key = format!("bench/sales_data_{day}.csv");
        let upload = runtime.block_on(async {
            let clients = clients(&emulator.endpoint).await;
            let started = Instant::now();
            clients
                .s3
                .put_object()
                .bucket(&config.resources.source_bucket)
                .key(&key)
                .body(
                    aws_sdk_s3::primitives::ByteStream::from_path(&path)
                        .await
                        .unwrap(),
                )
                .send()
                .await
                .expect("upload the source file");
            started.elapsed()
        });
        // The child runs with the function's configured environment (MALLOC_MMAP_THRESHOLD_,
        // ...), as the emulator and Lambda run the handler.
        let output = Command::new(std::env::current_exe().unwrap())
            .envs(function_environment())
            .args(["--child", &emulator.endpoint, &key])
            .output()
            .expect("run the child");
        assert!(
            output.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value = String::from_utf8_lossy(&output.stdout)
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .expect("child report");
        results.push((bytes, upload, report));
        if size == 256 * MIB {
            big_file = Some(path);
        }
    }

    println!();
    println!("| file | rows | handler time | handler MB/s | peak RSS before | peak RSS after | SDK PutObject of the source |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (bytes, upload, report) in &results {
        println!(
            "| {} MiB | {} | {:.2} s | {:.1} | {} MiB | {} MiB | {:.2} s ({:.1} MB/s) |",
            bytes / MIB,
            report["rows"],
            report["seconds"].as_f64().unwrap_or_default(),
            report["mb_per_s"].as_f64().unwrap_or_default(),
            report["vm_hwm_before_kib"].as_u64().unwrap_or_default() / 1024,
            report["vm_hwm_after_kib"].as_u64().unwrap_or_default() / 1024,
            upload.as_secs_f64(),
            *bytes as f64 / 1e6 / upload.as_secs_f64(),
        );
    }
    if let [(_, _, small), (_, _, large)] = results.as_slice() {
        let small = small["vm_hwm_after_kib"].as_f64().unwrap_or(1.0);
        let large = large["vm_hwm_after_kib"].as_f64().unwrap_or(1.0);
        println!(
            "\npeak RSS 256 MiB / 64 MiB file: {:.2}x (constant memory: the file is 4x larger)",
            large / small
        );
        println!(
            "BENCH|throughput|handler peak RSS, 64 MiB file|file-processor|{:.0}|MiB",
            small / 1024.0
        );
        println!(
            "BENCH|throughput|handler peak RSS, 256 MiB file|file-processor|{:.0}|MiB",
            large / 1024.0
        );
    }
    if let Some(path) = big_file {
        let handler_mb_s = results.last().and_then(|(_, _, r)| r["mb_per_s"].as_f64());
        aws_cli_copy(
            &emulator.endpoint,
            &path,
            &config.resources.analytics_bucket,
            handler_mb_s,
        );
    }
}

/// Times `aws s3 cp` of the file into the analytics bucket (no notification there).
fn aws_cli_copy(endpoint: &str, path: &Path, bucket: &str, handler_mb_s: Option<f64>) {
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or_default();
    let started = Instant::now();
    // `AWS_CLI` names the executable when `aws` on PATH is not a working aws CLI.
    let program = std::env::var("AWS_CLI").unwrap_or_else(|_| "aws".to_string());
    let output = Command::new(program)
        .args(["--endpoint-url", endpoint, "s3", "cp", "--only-show-errors"])
        .arg(path)
        .arg(format!("s3://{bucket}/aws-cli-copy/sales.csv"))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", REGION)
        .output();
    let elapsed = started.elapsed();
    match output {
        Ok(out) if out.status.success() => {
            let cli_mb_s = bytes as f64 / 1e6 / elapsed.as_secs_f64();
            println!(
                "aws s3 cp of the {} MiB file through the emulator: {:.2} s ({cli_mb_s:.1} MB/s; upload only)",
                bytes / MIB,
                elapsed.as_secs_f64(),
            );
            if let Some(handler_mb_s) = handler_mb_s {
                let figure = "256 MiB CSV: handler copy vs aws s3 cp upload";
                println!("BENCH|throughput|{figure}|file-processor|{handler_mb_s:.1}|MB/s");
                println!("BENCH|throughput|{figure}|aws-cli|{cli_mb_s:.1}|MB/s");
            }
        }
        Ok(out) => println!(
            "aws s3 cp failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        ),
        Err(error) => println!("aws s3 cp not run: {error} (pip install awscli)"),
    }
}

fn child(endpoint: &str, key: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let config = pipeline_core::Config::embedded_default().unwrap();
        let clients = clients(endpoint).await;
        let queue_url = clients
            .sqs
            .get_queue_url()
            .queue_name(&config.resources.sqs_queue)
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        let deadline = Instant::now() + Duration::from_secs(30);
        let message = loop {
            assert!(Instant::now() < deadline, "no notification for {key}");
            let received = clients
                .sqs
                .receive_message()
                .queue_url(&queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap();
            let announces_key = |m: &&aws_sdk_sqs::types::Message| {
                matches!(
                    pipeline_core::event::parse_sqs_body(m.body().unwrap_or_default()),
                    Ok(pipeline_core::event::ParsedBody::Objects(objects))
                        if objects.iter().any(|o| o.key == key)
                )
            };
            if let Some(m) = received.messages().iter().find(announces_key) {
                break m.clone();
            }
        };
        let event =
            e2e_tests::sqs_event(std::slice::from_ref(&message), &config.queue_arn(), REGION);

        let settings = Settings::from_config(&config);
        let (telemetry, lines) = Telemetry::captured(settings.metrics_namespace.clone());
        let processor = Processor::new(clients, config, settings).with_telemetry(telemetry);
        let before = vm_hwm_kib();
        let started = Instant::now();
        let response = processor.handle_batch(event, &Invocation::default()).await;
        let seconds = started.elapsed().as_secs_f64();
        let after = vm_hwm_kib();
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        let line = lines.lines().pop().expect("a file line");
        assert_eq!(line["outcome"], "processed", "{line}");
        let bytes = line["bytes"].as_u64().unwrap_or_default();
        println!(
            "{}",
            json!({
                "rows": line["rows"],
                "bytes": bytes,
                "seconds": seconds,
                "mb_per_s": bytes as f64 / 1e6 / seconds,
                "vm_hwm_before_kib": before,
                "vm_hwm_after_kib": after,
            })
        );
    });
}
