//! Latency bench of the whole local pipeline, run with `cargo bench -p e2e-tests --bench latency`.
//!
//! Starts the RELEASE `emulator serve` (as the README's `cargo run --release -p emulator -- serve`,
//! embedded default config, `file-processor` fed by the queue) on a free port, then measures:
//! - cold start of `file-processor`: the `INIT Duration: X ms ... (spawn to first /next)` line the
//!   emulator prints for each function instance, read from the emulator's piped output;
//! - upload-to-partition latency: 200 distinct valid `sales` files, one per day from 2024-01-01,
//!   uploaded with aws-sdk-s3 one every 25 ms (each PutObject in its own task, so a slow request
//!   does not delay the next tick), against the instant a GetPartitions poller (paged, a round
//!   every 5 ms) first sees each file's partition.
//!
//! Then it checks that every file produced exactly one output object and that the pipeline queue
//! and its DLQ are empty, and exits non-zero (panics) otherwise.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{Datelike, Days, NaiveDate};
use e2e_tests::eventually;
use pipeline_core::config::Config;

const FILES: usize = 200;
const ROWS_PER_FILE: usize = 5;
const UPLOAD_EVERY: Duration = Duration::from_millis(25);
const POLL_EVERY: Duration = Duration::from_millis(5);
/// Generous: 200 files at 25 ms take 5 s to upload; the pipeline should keep up.
const ALL_PARTITIONS_WITHIN: Duration = Duration::from_secs(120);
const HEALTHY_WITHIN: Duration = Duration::from_secs(30);
const QUEUES_EMPTY_WITHIN: Duration = Duration::from_secs(30);

/// What the parser thread has read from the emulator's output so far.
#[derive(Default)]
struct EmulatorOutput {
    init_durations_ms: Vec<f64>,
    /// Lines at WARN/ERROR level (the emulator runs with RUST_LOG=warn, the function at info).
    problems: Vec<String>,
}

/// The release `emulator serve` process with its output piped to a parser thread.
struct ReleasePipeline {
    url: String,
    child: Child,
    output: Arc<Mutex<EmulatorOutput>>,
}

impl Drop for ReleasePipeline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `INIT Duration` of a line like
/// `[file-processor] [-] INIT Duration: 12.34 ms\tInstance: ...\t(spawn to first /next)`.
fn init_duration_ms(line: &str) -> Option<f64> {
    let rest = line.split_once("INIT Duration: ")?.1;
    rest.split_once(" ms")?.0.trim().parse().ok()
}

/// Forwards every line of `pipe` to the parser thread.
fn forward_lines(pipe: impl Read + Send + 'static, lines: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
}

/// One HTTP/1.1 GET of the health endpoint; hand-written because this crate has no HTTP client
/// besides the AWS SDKs, and this is one fixed request.
fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request).is_err() {
        return false;
    }
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200")
}

impl ReleasePipeline {
    /// `emulator serve --port <free>` (release build, RUST_LOG=warn); waits for the health check.
    fn start() -> ReleasePipeline {
        let binary = e2e_tests::emulator_binary();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(&binary)
            .args(["serve", "--port", &port.to_string()])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("emulator starts");
        let (tx, rx) = mpsc::channel::<String>();
        forward_lines(child.stdout.take().expect("piped stdout"), tx.clone());
        forward_lines(child.stderr.take().expect("piped stderr"), tx);
        let output = Arc::new(Mutex::new(EmulatorOutput::default()));
        let parsed = output.clone();
        std::thread::spawn(move || {
            for line in rx {
                let mut out = parsed.lock().unwrap();
                if let Some(ms) = init_duration_ms(&line) {
                    out.init_durations_ms.push(ms);
                } else if line.contains("WARN") || line.contains("ERROR") {
                    out.problems.push(line);
                }
            }
        });

        let deadline = Instant::now() + HEALTHY_WITHIN;
        while !healthy(port) {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("emulator exited before becoming healthy: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "emulator not healthy within {HEALTHY_WITHIN:?}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        ReleasePipeline {
            url: format!("http://127.0.0.1:{port}"),
            child,
            output,
        }
    }

    async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "static",
            ))
            .load()
            .await
    }
}

/// One uploaded file: its day, key and expected output key.
struct BenchFile {
    key: String,
    partition: Vec<String>,
    output_key: String,
    body: String,
}

fn bench_files(table: &str) -> Vec<BenchFile> {
    let first = NaiveDate::from_ymd_opt(2024, 1, 1).expect("valid date");
    (0..FILES)
        .map(|i| {
            let day = first
                .checked_add_days(Days::new(i as u64))
                .expect("date in range");
            let (y, m, d) = (
                format!("{:04}", day.year()),
                format!("{:02}", day.month()),
                format!("{:02}", day.day()),
            );
            let key = format!("sales_data_{y}_{m}_{d}.csv");
            let mut body = String::from("transaction_id,customer_id,amount,transaction_date\n");
            for row in 0..ROWS_PER_FILE {
                body.push_str(&format!(
                    "t{i}-{row},c{row},{}.{:02},{day}\n",
                    10 + row * 7,
                    (i + row) % 100
                ));
            }
            BenchFile {
                // The shipped sales entity writes `<stem>.parquet`.
                output_key: format!(
                    "{table}/year={y}/month={m}/day={d}/{}",
                    key.replace(".csv", ".parquet")
                ),
                partition: vec![y, m, d],
                key,
                body,
            }
        })
        .collect()
}

/// Nearest-rank percentile of sorted values (`p` in 0..=100).
fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Visible and in-flight message counts of a queue.
async fn queue_depth(sqs: &aws_sdk_sqs::Client, queue: &str) -> Option<(u64, u64)> {
    let url = sqs
        .get_queue_url()
        .queue_name(queue)
        .send()
        .await
        .ok()?
        .queue_url?;
    let got = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .ok()?;
    let attrs = got.attributes()?;
    let visible = attrs
        .get(&QueueAttributeName::ApproximateNumberOfMessages)?
        .parse()
        .ok()?;
    let in_flight = attrs
        .get(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?
        .parse()
        .ok()?;
    Some((visible, in_flight))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let pipeline = ReleasePipeline::start();
    let config = Config::embedded_default().expect("embedded config");
    let resources = config.resources.clone();
    let table = config.entities["sales"].table_name.clone();
    let sdk = pipeline.sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let glue = aws_sdk_glue::Client::new(&sdk);

    let files = Arc::new(bench_files(&table));
    let index_of: HashMap<Vec<String>, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.partition.clone(), i))
        .collect();

    // Poller: a paged GetPartitions round every 5 ms; records when each partition is first seen.
    let first_seen: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; FILES]));
    let poller = {
        let (glue, db, table, first_seen) = (
            glue.clone(),
            resources.glue_database.clone(),
            table.clone(),
            first_seen.clone(),
        );
        tokio::spawn(async move {
            let deadline = Instant::now() + ALL_PARTITIONS_WITHIN;
            let mut poll_errors = 0usize;
            loop {
                let mut pages = glue
                    .get_partitions()
                    .database_name(&db)
                    .table_name(&table)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let seen_at = Instant::now();
                    let page = match page {
                        Ok(page) => page,
                        Err(_) => {
                            poll_errors += 1;
                            break;
                        }
                    };
                    let mut seen = first_seen.lock().unwrap();
                    for partition in page.partitions() {
                        if let Some(&i) = index_of.get(partition.values()) {
                            seen[i].get_or_insert(seen_at);
                        }
                    }
                }
                if first_seen.lock().unwrap().iter().all(Option::is_some)
                    || Instant::now() > deadline
                {
                    return poll_errors;
                }
                tokio::time::sleep(POLL_EVERY).await;
            }
        })
    };

    // Uploads: one PutObject started every 25 ms, each in its own task.
    let put_returned: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; FILES]));
    let started = Instant::now();
    let mut ticks = tokio::time::interval(UPLOAD_EVERY);
    let mut uploads = Vec::with_capacity(FILES);
    for i in 0..FILES {
        ticks.tick().await;
        let (s3, bucket, files, put_returned) = (
            s3.clone(),
            resources.source_bucket.clone(),
            files.clone(),
            put_returned.clone(),
        );
        uploads.push(tokio::spawn(async move {
            let file = &files[i];
            s3.put_object()
                .bucket(bucket)
                .key(&file.key)
                .body(ByteStream::from(file.body.clone().into_bytes()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("PutObject {}: {e:?}", file.key));
            put_returned.lock().unwrap()[i] = Some(Instant::now());
        }));
    }
    for upload in uploads {
        upload.await.expect("upload task");
    }
    let uploads_done = started.elapsed();
    let poll_errors = poller.await.expect("poller task");

    let put_returned = put_returned.lock().unwrap().clone();
    let first_seen = first_seen.lock().unwrap().clone();
    let missing: Vec<&str> = (0..FILES)
        .filter(|&i| first_seen[i].is_none())
        .map(|i| files[i].key.as_str())
        .collect();
    let mut latencies: Vec<Duration> = (0..FILES)
        .filter_map(|i| Some(first_seen[i]?.saturating_duration_since(put_returned[i]?)))
        .collect();
    latencies.sort();
    let last_seen = first_seen
        .iter()
        .flatten()
        .max()
        .map(|t| t.duration_since(started));

    // Exactly one output object per file, and nothing else under the table prefix.
    let mut output_keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(&resources.analytics_bucket)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.expect("ListObjectsV2 of the analytics bucket");
        output_keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    let mut by_key: HashMap<&str, usize> = HashMap::new();
    for key in &output_keys {
        *by_key.entry(key.as_str()).or_default() += 1;
    }
    let without_output: Vec<&str> = files
        .iter()
        .filter(|f| by_key.get(f.output_key.as_str()) != Some(&1))
        .map(|f| f.key.as_str())
        .collect();

    // The queue drains once the event source mapping deletes the last batch; then both are empty.
    let queue_empty = eventually(QUEUES_EMPTY_WITHIN, "an empty pipeline queue", || {
        let sqs = sqs.clone();
        let queue = resources.sqs_queue.clone();
        async move {
            let depth = queue_depth(&sqs, &queue).await?;
            (depth == (0, 0)).then_some(depth)
        }
    })
    .await;
    let dlq_depth = queue_depth(&sqs, &resources.dead_letter_queue)
        .await
        .expect("DLQ attributes");
    // Give the parser thread a moment to take in the last lines before reading its figures.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (mut inits, problems) = {
        let out = pipeline.output.lock().unwrap();
        (out.init_durations_ms.clone(), out.problems.clone())
    };
    inits.sort_by(f64::total_cmp);

    println!();
    println!("==================== pipeline latency (release emulator) ====================");
    println!("files uploaded             {FILES} ({ROWS_PER_FILE} rows each, one PutObject every {UPLOAD_EVERY:?})");
    println!("upload phase               {:.1} ms", ms(uploads_done));
    if inits.is_empty() {
        println!("file-processor cold start  no INIT Duration line seen");
    } else {
        println!(
            "file-processor cold start  instances {}  min {:.2} ms  median {:.2} ms  max {:.2} ms",
            inits.len(),
            inits[0],
            percentile(&inits, 50.0),
            inits[inits.len() - 1]
        );
    }
    if !latencies.is_empty() {
        println!(
            "PutObject -> partition     n {}  p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
            latencies.len(),
            ms(percentile(&latencies, 50.0)),
            ms(percentile(&latencies, 90.0)),
            ms(percentile(&latencies, 99.0)),
            ms(latencies[latencies.len() - 1])
        );
    }
    if let Some(wall) = last_seen {
        println!(
            "total wall time            {:.1} ms (first PutObject start -> last partition seen)",
            ms(wall)
        );
    }
    println!(
        "output objects             {} in {}",
        output_keys.len(),
        resources.analytics_bucket
    );
    println!("queue (visible, in flight) {queue_empty:?}   DLQ {dlq_depth:?}");
    println!(
        "GetPartitions poll errors  {poll_errors}   WARN/ERROR log lines {}",
        problems.len()
    );
    println!(
        "(percentiles: nearest rank; poll round every {POLL_EVERY:?}, first-seen = response time)"
    );
    println!("==============================================================================");
    // The summary lines scripts/bench.sh collects (convention at the top of that script).
    if !inits.is_empty() {
        let median = percentile(&inits, 50.0);
        println!("BENCH|latency|file-processor cold start median|emulator|{median:.2}|ms");
    }
    if !latencies.is_empty() {
        for p in [50.0, 99.0] {
            let value = ms(percentile(&latencies, p));
            println!("BENCH|latency|PutObject -> partition p{p:.0}|emulator|{value:.1}|ms");
        }
    }
    for line in problems.iter().take(10) {
        println!("log: {line}");
    }

    assert!(
        missing.is_empty(),
        "{} partitions never appeared within {ALL_PARTITIONS_WITHIN:?}: {missing:?}",
        missing.len()
    );
    assert!(
        without_output.is_empty(),
        "files without exactly one output object: {without_output:?}"
    );
    assert_eq!(
        output_keys.len(),
        FILES,
        "unexpected objects in the analytics bucket: {output_keys:?}"
    );
    assert_eq!(dlq_depth, (0, 0), "messages in the DLQ");
}
