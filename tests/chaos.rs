//! The chaos drill, shared by the chaos test (CI size) and the chaos bench (full size).
//!
//! One run starts `emulator serve` with the shipped config (shorter function timeout and
//! visibility timeout so a killed batch returns in seconds, more receives before the DLQ), uploads
//! valid CSVs of all three entities over many days plus a few files that are bad by construction,
//! waits until the pipeline has drained, and collects what it made: every output object's bytes,
//! every Glue partition, the rows of every output, the DLQ entries with their reasons.
//!
//! A chaos run does the same under fire: fault rules (`POST /_emulator/faults`) fail a share of
//! the S3 reads and writes and Glue partition calls the handler makes; the source bucket notifies
//! a staging queue, from which a relay forwards each S3 event to the pipeline queue in reversed
//! order, sending some twice and late (duplicated, reordered events, as SQS's at-least-once
//! delivery allows); and the function's processes are SIGKILLed mid-batch
//! (`POST /_emulator/functions/file-processor/kill`). Comparing a chaos run with a clean run of
//! the same files shows whether anything was lost, duplicated or changed.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use chrono::{Days, NaiveDate};
use pipeline_core::config::Config;
use serde_json::{json, Value};

use crate::{Pipeline, StartOptions};

/// The S3 and Glue operations the handler calls that the chaos run fails.
pub const FAULTED: &[(&str, &str)] = &[
    ("s3", "GetObject"),
    ("s3", "HeadObject"),
    ("s3", "PutObject"),
    ("s3", "UploadPart"),
    ("s3", "CompleteMultipartUpload"),
    ("glue", "GetPartition"),
    ("glue", "BatchCreatePartition"),
];

/// The function the pipeline runs.
const FUNCTION: &str = "file-processor";

/// How big a drill is.
#[derive(Debug, Clone)]
pub struct ChaosPlan {
    /// Valid files (the bad-by-construction ones come on top).
    pub files: usize,
    /// Days the files are spread over; per day one sales file, five inventory regions and the
    /// rest hourly events, so `files / days` must be 7..=30.
    pub days: usize,
    /// Probability of each faulted call failing.
    pub fault_probability: f64,
    /// Function kills while a batch runs.
    pub kills: usize,
    /// Seed of the fault dice.
    pub seed: u64,
    /// Upper bound for the pipeline to drain.
    pub drain_within: Duration,
}

/// One file to upload.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub key: String,
    pub body: String,
    /// Data rows (header excluded).
    pub rows: u64,
    /// `Some(why)` for a file that must end in the DLQ.
    pub bad: Option<&'static str>,
}

const REGIONS: [&str; 5] = ["north", "south", "east", "west", "central"];

/// The drill's files: valid ones of every entity of the shipped config, then three bad ones.
pub fn source_files(plan: &ChaosPlan) -> Vec<SourceFile> {
    let per_day = plan.files / plan.days;
    assert!(
        (1 + REGIONS.len() + 1..=1 + REGIONS.len() + 24).contains(&per_day),
        "{} files over {} days does not fit one sales, five inventory and up to 24 event files a day",
        plan.files,
        plan.days
    );
    let first = NaiveDate::from_ymd_opt(2024, 3, 1).expect("valid date");
    let mut files = Vec::with_capacity(plan.files + 3);
    for day in 0..plan.days {
        let date = first
            .checked_add_days(Days::new(day as u64))
            .expect("date in range");
        let (ymd, compact) = (date.format("%Y_%m_%d"), date.format("%Y%m%d"));
        let iso = date.format("%Y-%m-%d").to_string();
        let seed = day * 31;
        files.push(sales(format!("sales_data_{ymd}.csv"), &iso, seed));
        for (r, region) in REGIONS.iter().enumerate() {
            files.push(inventory(
                format!("inventory_{region}_{ymd}.csv"),
                &iso,
                seed + r,
            ));
        }
        let hours = per_day - 1 - REGIONS.len() + usize::from(day < plan.files % plan.days);
        for hour in 0..hours {
            let key = format!("events_{compact}T{hour:02}.csv");
            files.push(events(key, &iso, hour, seed + hour));
        }
    }
    assert_eq!(files.len(), plan.files, "file plan");
    files.extend(bad_files());
    files
}

/// Data rows of the valid files (what the outputs must hold, each once).
pub fn input_rows(files: &[SourceFile]) -> u64 {
    files
        .iter()
        .filter(|f| f.bad.is_none())
        .map(|f| f.rows)
        .sum()
}

/// Output keys whose bytes differ between a reference run and another, or that only one has.
pub fn differing_outputs<'a>(reference: &'a RunOutcome, other: &'a RunOutcome) -> Vec<&'a String> {
    let changed = reference
        .outputs
        .iter()
        .filter(|(key, bytes)| other.outputs.get(*key) != Some(*bytes))
        .map(|(key, _)| key);
    let added = other
        .outputs
        .keys()
        .filter(|key| !reference.outputs.contains_key(*key));
    changed.chain(added).collect()
}

fn rows_for(seed: usize) -> usize {
    3 + (seed * 7919) % 37
}

fn sales(key: String, iso: &str, seed: usize) -> SourceFile {
    let rows = rows_for(seed);
    let mut body = String::from("transaction_id,customer_id,amount,transaction_date\n");
    for row in 0..rows {
        let cents = (seed * 131 + row * 17) % 100_000;
        body.push_str(&format!(
            "t{seed}-{row},c{},{}.{:02},{iso}\n",
            row % 7,
            cents / 100,
            cents % 100
        ));
    }
    SourceFile {
        key,
        body,
        rows: rows as u64,
        bad: None,
    }
}

fn inventory(key: String, iso: &str, seed: usize) -> SourceFile {
    let rows = rows_for(seed);
    let mut body = String::from("sku,warehouse,quantity,unit_cost,weight_kg,last_counted\n");
    for row in 0..rows {
        body.push_str(&format!(
            "SKU-{seed}-{row},\"wh {}, dock {}\",{},{}.{:04},{}.{},{iso}\n",
            row % 3,
            row % 5,
            (seed + row) % 500,
            row % 90,
            (seed * 13 + row) % 10_000,
            row % 40,
            row % 10
        ));
    }
    SourceFile {
        key,
        body,
        rows: rows as u64,
        bad: None,
    }
}

fn events(key: String, iso: &str, hour: usize, seed: usize) -> SourceFile {
    let rows = rows_for(seed);
    let mut body = String::from("event_id,occurred_at,user_id,event_type,is_mobile,duration_ms\n");
    for row in 0..rows {
        let kind = ["page_view", "purchase", "search"][row % 3];
        body.push_str(&format!(
            "e{seed}-{hour}-{row},{iso} {hour:02}:{:02}:{:02}.{:03},{},{kind},{},{}\n",
            row % 60,
            (row * 7) % 60,
            row % 1000,
            1_000_000 + seed * 100 + row,
            row % 2 == 0,
            (row * 37) % 5000
        ));
    }
    SourceFile {
        key,
        body,
        rows: rows as u64,
        bad: None,
    }
}

/// Files the pipeline must reject, each for a different reason.
fn bad_files() -> Vec<SourceFile> {
    let bad = |key: &str, body: &str, why: &'static str| SourceFile {
        key: key.to_owned(),
        body: body.to_owned(),
        rows: 0,
        bad: Some(why),
    };
    vec![
        bad(
            "sales_data_2024_02_30.csv",
            "transaction_id,customer_id,amount,transaction_date\nt1,c1,1.00,2024-02-28\n",
            "does not give a real date",
        ),
        bad(
            "events_20240301T24.csv",
            "event_id,occurred_at,user_id,event_type,is_mobile,duration_ms\ne1,2024-03-01 00:00:00,1,x,true,1\n",
            "hour=24",
        ),
        bad(
            "inventory_north_2099_01_01.csv",
            "sku,warehouse,quantity,unit_cost,weight_kg,last_counted\nS1,w,many,1.0,1.0,2099-01-01\n",
            "line 2",
        ),
    ]
}

/// What one run made and how it went.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// Output key -> bytes, for every object under a table prefix of the analytics bucket.
    pub outputs: BTreeMap<String, Vec<u8>>,
    /// `table/values... -> location` of every Glue partition.
    pub partitions: BTreeSet<String>,
    /// Rows of all outputs (Parquet footers' row counts, CSV lines minus the header).
    pub output_rows: u64,
    /// (source key, error_class, error_reason) of every DLQ entry.
    pub dead_letters: Vec<(String, String, String)>,
    /// Main queue (visible, in flight) at the end.
    pub queue_depth: (u64, u64),
    /// First upload to drained.
    pub drain_time: Duration,
    /// Faults the emulator injected (each one an SDK retry or a failed file attempt).
    pub faults_injected: u64,
    /// Kill drills that caught a batch running.
    pub kills: usize,
    /// Function invocations and failed ones (killed batches, mostly).
    pub invocations: u64,
    pub failed_invocations: u64,
    /// Events relayed more than once.
    pub duplicated_events: usize,
    /// Why whole batches failed (the emulator's `batch failed` log lines), by reason.
    pub failed_batches: BTreeMap<String, usize>,
}

/// The config both runs use: the shipped one, with a short function timeout (4 s here) and a
/// visibility timeout of 6x that (Lambda's guidance) so a batch whose process was killed comes
/// back within seconds, and 10 receives before the queue's redrive (a message can be caught by
/// several kills).
pub(crate) fn drill_config(dir: &std::path::Path, function_timeout: u64) -> PathBuf {
    let mut config: Value = serde_json::from_str(pipeline_core::config::EMBEDDED_PIPELINE_JSON)
        .expect("shipped config");
    config["aws"]["account_id"] = "000000000000".into();
    config["resources"]["max_receive_count"] = 10.into();
    config["resources"]["visibility_timeout_seconds"] = (6 * function_timeout).into();
    config["functions"][FUNCTION]["timeout_seconds"] = function_timeout.into();
    let path = dir.join("pipeline.json");
    std::fs::write(&path, config.to_string()).expect("config written");
    path
}

/// Runs the drill once, with chaos or clean, in its own emulator process.
pub async fn run(
    plan: &ChaosPlan,
    files: &[SourceFile],
    chaos: bool,
    dir: &std::path::Path,
) -> RunOutcome {
    std::fs::create_dir_all(dir).expect("run dir");
    let pipeline = Pipeline::start_with(StartOptions {
        config: Some(drill_config(dir, 4)),
        log_file: Some(dir.join("emulator.log")),
        ..Default::default()
    })
    .await;
    let config = Config::embedded_default().expect("embedded config");
    let r = config.resources.clone();
    let sdk = patient_sdk_config(&pipeline).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = url_of_queue(&sqs, &r.sqs_queue).await;
    let relay = match chaos {
        true => Some(arm(plan, files, &pipeline, &s3, &sqs, &queue_url).await),
        false => None,
    };

    let started = Instant::now();
    let killer = chaos.then(|| tokio::spawn(kill_mid_batch(pipeline.url.clone(), plan.kills)));
    upload(&s3, &r.source_bucket, files).await;
    let duplicated_events = match relay {
        Some(relay) => relay.finish().await,
        None => 0,
    };
    let kills = match killer {
        Some(killer) => killer.await.expect("kill task"),
        None => 0,
    };
    let good = files.iter().filter(|f| f.bad.is_none()).count();
    let bad = files.len() - good;
    let queue_depth = drained(&s3, &sqs, &r, &queue_url, good, bad, plan.drain_within).await;
    let drain_time = started.elapsed();
    let outcome = collect(dir, &pipeline, &config, &s3, &sqs).await;
    RunOutcome {
        drain_time,
        queue_depth,
        kills,
        duplicated_events,
        ..outcome
    }
}

/// Chaos on: the bucket notifies a staging queue the relay forwards from, and the fault rules
/// are in force. Returns the running relay.
async fn arm(
    plan: &ChaosPlan,
    files: &[SourceFile],
    pipeline: &Pipeline,
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Relay {
    let r = Config::embedded_default()
        .expect("embedded config")
        .resources;
    let staging = divert_notifications(s3, sqs, &r.source_bucket).await;
    let rules: Vec<Value> = FAULTED
        .iter()
        .map(|(service, operation)| {
            let error = match *service {
                "s3" => "SlowDown",
                _ => "ThrottlingException",
            };
            json!({"service": service, "operation": operation, "error": error,
                   "probability": plan.fault_probability})
        })
        .collect();
    let body = json!({"rules": rules, "seed": plan.seed}).to_string();
    let (status, reply) = emulator_request(&pipeline.url, "POST", "/_emulator/faults", &body).await;
    assert_eq!(status, 200, "fault rules: {reply}");
    Relay::start(sqs.clone(), staging, queue_url.to_owned(), files.len())
}

/// After the drain: the faults' hit counts (then the rules are removed, so reading the
/// outputs is not faulted), the function's counters, and everything the run made.
pub(crate) async fn collect(
    dir: &std::path::Path,
    pipeline: &Pipeline,
    config: &Config,
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
) -> RunOutcome {
    let (_, faults) = emulator_request(&pipeline.url, "GET", "/_emulator/faults", "").await;
    let faults: Value = serde_json::from_str(&faults).unwrap_or_default();
    let faults_injected = faults["rules"]
        .as_array()
        .map(|rules| rules.iter().filter_map(|r| r["hits"].as_u64()).sum())
        .unwrap_or(0);
    emulator_request(&pipeline.url, "DELETE", "/_emulator/faults", "").await;
    let (_, health) = emulator_request(&pipeline.url, "GET", "/_emulator/health", "").await;
    let health: Value = serde_json::from_str(&health).unwrap_or_default();
    let stats = &health["services"]["lambda"][FUNCTION];
    let r = &config.resources;
    let outputs = outputs(s3, &r.analytics_bucket).await;
    let log = std::fs::read_to_string(dir.join("emulator.log")).unwrap_or_default();
    let output_rows = outputs.iter().map(|(key, bytes)| rows_of(key, bytes)).sum();
    RunOutcome {
        output_rows,
        outputs,
        partitions: partitions(pipeline, config).await,
        dead_letters: dead_letters(sqs, &r.dead_letter_queue).await,
        faults_injected,
        invocations: stats["invocations"].as_u64().unwrap_or(0),
        failed_invocations: stats["failures"].as_u64().unwrap_or(0),
        failed_batches: failed_batches(&log),
        ..RunOutcome::default()
    }
}

/// Tally of the `reason` of the emulator's "batch failed" lines (at most 60 characters, e.g.
/// `invocation failed: Runtime.ExitError`).
fn failed_batches(log: &str) -> BTreeMap<String, usize> {
    let mut tally = BTreeMap::new();
    for line in log.lines().filter(|l| l.contains("batch failed")) {
        let reason = line.split_once("reason=").map_or("", |(_, r)| r);
        let reason: String = reason.trim().chars().take(60).collect();
        *tally.entry(reason).or_default() += 1;
    }
    tally
}

/// Clients that outlast the injected faults (the drill's own uploads are faulted too): 10
/// attempts with short backoffs.
pub(crate) async fn patient_sdk_config(pipeline: &Pipeline) -> aws_config::SdkConfig {
    let base = pipeline.sdk_config().await;
    base.into_builder()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(10)
                .with_initial_backoff(Duration::from_millis(10))
                .with_max_backoff(Duration::from_millis(200)),
        )
        .build()
}

pub(crate) async fn url_of_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.get_queue_url()
        .queue_name(name)
        .send()
        .await
        .expect("GetQueueUrl")
        .queue_url
        .expect("queue URL")
}

/// Points the source bucket's notifications at a new staging queue; returns its URL.
async fn divert_notifications(
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
    bucket: &str,
) -> String {
    let staging = sqs
        .create_queue()
        .queue_name("chaos-staging")
        .send()
        .await
        .expect("staging queue")
        .queue_url
        .expect("staging URL");
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&staging)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("staging ARN")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("QueueArn");
    let current = s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
        .expect("notification configuration");
    let diverted: Vec<_> = current
        .queue_configurations()
        .iter()
        .map(|q| {
            let mut q = q.clone();
            q.queue_arn = arn.clone();
            q
        })
        .collect();
    assert!(!diverted.is_empty(), "the bucket notifies a queue");
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            aws_sdk_s3::types::NotificationConfiguration::builder()
                .set_queue_configurations(Some(diverted))
                .build(),
        )
        .send()
        .await
        .expect("notification diverted");
    staging
}

/// Uploads every file, eight at a time, in an order unlike the files' own.
async fn upload(s3: &aws_sdk_s3::Client, bucket: &str, files: &[SourceFile]) {
    let n = files.len();
    let order: Vec<usize> = (0..n).map(|i| (i * 7919 + 13) % n).collect();
    let unique: BTreeSet<_> = order.iter().collect();
    let order: Vec<usize> = if unique.len() == n {
        order
    } else {
        (0..n).rev().collect()
    };
    let permits = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = tokio::task::JoinSet::new();
    for i in order {
        let permit = permits.clone().acquire_owned().await.expect("semaphore");
        let (s3, bucket, file) = (s3.clone(), bucket.to_owned(), files[i].clone());
        tasks.spawn(async move {
            s3.put_object()
                .bucket(bucket)
                .key(&file.key)
                .body(ByteStream::from(file.body.into_bytes()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("PutObject {}: {e:?}", file.key));
            drop(permit);
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("upload task");
    }
}

/// Forwards S3 events from the staging queue to the pipeline queue: each received batch in
/// reverse order, and every third event a second time two rounds later.
struct Relay {
    task: tokio::task::JoinHandle<usize>,
}

impl Relay {
    fn start(sqs: aws_sdk_sqs::Client, staging: String, queue: String, expected: usize) -> Relay {
        let task = tokio::spawn(async move {
            let mut relayed = 0usize;
            let mut duplicates = 0usize;
            let mut late: VecDeque<(usize, String)> = VecDeque::new();
            let mut round = 0usize;
            let deadline = Instant::now() + Duration::from_secs(600);
            while (relayed < expected || !late.is_empty()) && Instant::now() < deadline {
                round += 1;
                let got = match sqs
                    .receive_message()
                    .queue_url(&staging)
                    .max_number_of_messages(10)
                    .wait_time_seconds(1)
                    .send()
                    .await
                {
                    Ok(got) => got,
                    Err(_) => continue,
                };
                let mut bodies = Vec::new();
                for message in got.messages() {
                    let body = message.body().unwrap_or_default().to_owned();
                    if body.contains("\"Records\"") {
                        relayed += 1;
                        if relayed.is_multiple_of(3) {
                            late.push_back((round + 2, body.clone()));
                        }
                        bodies.push(body);
                    }
                    if let Some(handle) = message.receipt_handle() {
                        let _ = sqs
                            .delete_message()
                            .queue_url(&staging)
                            .receipt_handle(handle)
                            .send()
                            .await;
                    }
                }
                while late
                    .front()
                    .is_some_and(|(due, _)| *due <= round || relayed >= expected)
                {
                    let (_, body) = late.pop_front().expect("front");
                    duplicates += 1;
                    bodies.push(body);
                }
                for body in bodies.into_iter().rev() {
                    sqs.send_message()
                        .queue_url(&queue)
                        .message_body(body)
                        .send()
                        .await
                        .expect("relay SendMessage");
                }
            }
            assert!(
                relayed >= expected,
                "relayed {relayed} of {expected} events"
            );
            duplicates
        });
        Relay { task }
    }

    /// Waits until every event was relayed; returns how many were sent twice.
    async fn finish(self) -> usize {
        self.task.await.expect("relay task")
    }
}

/// Kills the function's busy processes `kills` times, each time while a batch runs (a kill that
/// finds no busy process does not count and is retried), about a second apart.
async fn kill_mid_batch(url: String, kills: usize) -> usize {
    let path = format!("/_emulator/functions/{FUNCTION}/kill?only=busy");
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut done = 0;
    while done < kills && Instant::now() < deadline {
        let (status, reply) = emulator_request(&url, "POST", &path, "").await;
        assert_eq!(status, 200, "kill: {reply}");
        let reply: Value = serde_json::from_str(&reply).expect("kill reply");
        let busy = reply["killed"]
            .as_array()
            .is_some_and(|killed| killed.iter().any(|p| p["busy"] == true));
        if busy {
            done += 1;
            tokio::time::sleep(Duration::from_millis(1000)).await;
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    done
}

/// Waits until every good file has its output, the DLQ holds at least one entry per bad file
/// and the pipeline queue is empty; returns the queue's final (visible, in flight).
pub(crate) async fn drained(
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
    r: &pipeline_core::config::Resources,
    queue_url: &str,
    good: usize,
    bad: usize,
    within: Duration,
) -> (u64, u64) {
    let dlq_url = url_of_queue(sqs, &r.dead_letter_queue).await;
    crate::eventually(within, "the pipeline to drain", || {
        let (s3, sqs, bucket, queue_url, dlq_url) = (
            s3.clone(),
            sqs.clone(),
            r.analytics_bucket.clone(),
            queue_url.to_owned(),
            dlq_url.clone(),
        );
        async move {
            let outputs = list_table_keys(&s3, &bucket).await?.len();
            let depth = queue_depth(&sqs, &queue_url).await?;
            let dlq = queue_depth(&sqs, &dlq_url).await?;
            (outputs >= good && depth == (0, 0) && dlq.0 + dlq.1 >= bad as u64).then_some(depth)
        }
    })
    .await
}

pub(crate) async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> Option<(u64, u64)> {
    let got = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .ok()?;
    let attrs = got.attributes()?;
    let number = |name| attrs.get(&name)?.parse::<u64>().ok();
    Some((
        number(QueueAttributeName::ApproximateNumberOfMessages)?,
        number(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?,
    ))
}

/// Objects under table prefixes (`<table>/k=v/...`), leaving out query results and kept
/// dead-letter bodies.
async fn list_table_keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Option<Vec<String>> {
    let mut keys = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.ok()?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key())
                .filter(|k| k.contains("/") && k.split('/').nth(1).is_some_and(|p| p.contains('=')))
                .map(str::to_owned),
        );
    }
    Some(keys)
}

async fn outputs(s3: &aws_sdk_s3::Client, bucket: &str) -> BTreeMap<String, Vec<u8>> {
    let mut outputs = BTreeMap::new();
    for key in list_table_keys(s3, bucket).await.expect("ListObjectsV2") {
        let got = s3
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .expect("GetObject output");
        let bytes = got
            .body
            .collect()
            .await
            .expect("output body")
            .into_bytes()
            .to_vec();
        outputs.insert(key, bytes);
    }
    outputs
}

/// Rows of one output: a Parquet footer's row count, or a CSV's lines after the header.
pub fn rows_of(key: &str, bytes: &[u8]) -> u64 {
    if key.ends_with(".parquet") {
        use parquet::file::reader::FileReader;
        let reader = parquet::file::serialized_reader::SerializedFileReader::new(
            bytes::Bytes::from(bytes.to_vec()),
        )
        .unwrap_or_else(|e| panic!("{key} is not a Parquet file: {e}"));
        u64::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0)
    } else {
        let text = String::from_utf8_lossy(bytes);
        text.lines()
            .filter(|l| !l.is_empty())
            .count()
            .saturating_sub(1) as u64
    }
}

async fn partitions(pipeline: &Pipeline, config: &Config) -> BTreeSet<String> {
    let glue = pipeline.glue().await;
    let mut all = BTreeSet::new();
    for entity in config.entities.values() {
        let mut pages = glue
            .get_partitions()
            .database_name(&config.resources.glue_database)
            .table_name(&entity.table_name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for p in page.expect("GetPartitions").partitions() {
                let location = p
                    .storage_descriptor()
                    .and_then(|sd| sd.location())
                    .unwrap_or_default();
                all.insert(format!(
                    "{}/{} -> {location}",
                    entity.table_name,
                    p.values().join("/")
                ));
            }
        }
    }
    all
}

/// Every DLQ entry: the source key of its S3 event, its error class and reason.
async fn dead_letters(sqs: &aws_sdk_sqs::Client, dlq: &str) -> Vec<(String, String, String)> {
    let url = url_of_queue(sqs, dlq).await;
    let mut entries = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .visibility_timeout(600)
            .send()
            .await
            .expect("DLQ receive");
        if got.messages().is_empty() {
            return entries;
        }
        for m in got.messages() {
            let text = |name: &str| {
                m.message_attributes()
                    .and_then(|a| a.get(name))
                    .and_then(|v| v.string_value())
                    .unwrap_or_default()
                    .to_owned()
            };
            let body: Value =
                serde_json::from_str(m.body().unwrap_or_default()).unwrap_or_default();
            let key = body["Records"][0]["s3"]["object"]["key"]
                .as_str()
                .unwrap_or("(not an S3 event)");
            entries.push((key.to_owned(), text("error_class"), text("error_reason")));
        }
    }
}

/// One request to the emulator's own API over a fresh connection (`/_emulator/...`); returns
/// status and body. Hand-written: this crate's only HTTP clients are the AWS SDKs.
pub async fn emulator_request(url: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .expect("connect to the emulator");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request written");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.expect("reply read");
    let reply = String::from_utf8_lossy(&reply);
    let (head, rest) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    (status, body)
}

/// Joins an HTTP/1.1 chunked body.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || tail.len() < size {
            break;
        }
        body.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    body
}
