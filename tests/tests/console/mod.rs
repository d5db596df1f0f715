//! The pipeline console against the emulator binary with the real file-processor: journeys,
//! Prometheus metrics (parsed by the Prometheus project's parser), the SSE stream's resume and
//! 410, and the web page in headless Chromium (`browser`).

mod browser;
mod http;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use e2e_tests::{eventually, Pipeline, StartOptions};
use pipeline_core::config::Config;
use serde_json::Value;

use http::{get, get_json, open_sse};

const GOOD: &str = "transaction_id,customer_id,amount,transaction_date\nt1,c1,10.50,2024-03-15\nt2,c2,99.99,2024-03-15\n";
const BAD_ROW: &str = "transaction_id,customer_id,amount,transaction_date\nt1,c1,10.50,2024-03-15\nt2,c2,ten,2024-03-15\n";
const WAIT: Duration = Duration::from_secs(20);

/// Whether missing tools must fail (the README's test command and CI) rather than skip.
pub fn tools_required() -> bool {
    std::env::var("SKIPDB_TEST_TOOLS").is_ok_and(|v| v == "required")
        || std::env::var_os("CI").is_some()
}

/// Whether `python3` can import `module`; a missing one fails under the test command.
pub fn python_has(module: &str) -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !tools_required(),
            "python3 with {module} is required (scripts/test-requirements.txt; scripts/test.sh installs it)"
        );
        eprintln!("SKIPPED: python3 cannot import {module}");
    }
    ok
}

type Sample = (String, BTreeMap<String, String>, f64);

/// `/metrics`, parsed by prometheus_client's OpenMetrics parser.
fn metrics(url: &str) -> Vec<Sample> {
    let reply = get(url, "/metrics", &[]);
    assert_eq!(reply.status, 200);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/console/parse_metrics.py"
    );
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(reply.body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused /metrics: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        reply.body
    );
    serde_json::from_slice(&out.stdout).expect("parser output")
}

/// The sum of the samples named `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

fn status_counts(url: &str) -> Value {
    get_json(url, "/_emulator/files?limit=1000")["counts"].clone()
}

fn count(counts: &Value, status: &str) -> u64 {
    counts[status].as_u64().unwrap_or(0)
}

/// The S3 event body S3 sends for this object version (to re-deliver an event by hand).
fn s3_event(bucket: &str, key: &str, size: u64, etag: &str, sequencer: &str) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2024-03-15T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "test"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "manual", "x-amz-id-2": "manual"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "manual",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "test"}, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": key, "size": size, "eTag": etag, "sequencer": sequencer}}
    }]})
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn journeys_and_metrics_follow_good_bad_and_duplicate_files() {
    if !python_has("prometheus_client") {
        return;
    }
    let pipeline = Pipeline::start().await;
    let url = pipeline.url.clone();
    let config = Config::embedded_default().unwrap();
    let r = &config.resources;
    let (s3, sqs) = (pipeline.s3().await, pipeline.sqs().await);
    let before = metrics(&url);
    assert_eq!(value(&before, "pipeline_files_processed_total", &[]), 0.0);

    let good = [
        "sales_data_2024_03_01.csv",
        "sales_data_2024_03_02.csv",
        "sales_data_2024_03_03.csv",
    ];
    let bad = ["sales_data_2024_03_04.csv", "sales_data_2024_03_05.csv"];
    for (key, body) in good
        .iter()
        .map(|k| (k, GOOD))
        .chain(bad.iter().map(|k| (k, BAD_ROW)))
    {
        s3.put_object()
            .bucket(&r.source_bucket)
            .key(*key)
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await
            .unwrap();
    }
    eventually(WAIT, "3 processed and 2 dead-lettered journeys", || {
        let counts = status_counts(&url);
        let done = count(&counts, "processed") == 3 && count(&counts, "dead_lettered") == 2;
        async move { done.then_some(()) }
    })
    .await;

    // Counters moved by exactly the workload.
    let after = metrics(&url);
    let sales = [("entity", "sales")];
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert_eq!(delta("pipeline_files_processed_total", &sales), 3.0);
    assert_eq!(delta("pipeline_files_rejected_total", &sales), 2.0);
    assert_eq!(delta("pipeline_rows_processed_total", &sales), 6.0);
    assert_eq!(
        delta("console_events_total", &[("type", "file.received")]),
        5.0
    );
    assert_eq!(
        delta("console_events_total", &[("type", "file.processed")]),
        3.0
    );
    assert_eq!(
        delta("console_events_total", &[("type", "file.dead_lettered")]),
        2.0
    );
    // The handler dead-letters each bad file with one SendMessage (the only sends on this port).
    let sends = [("service", "sqs"), ("operation", "SendMessage")];
    assert_eq!(delta("emulator_requests_total", &sends), 2.0);
    assert_eq!(
        delta("emulator_request_duration_seconds_count", &sends),
        2.0
    );
    assert_eq!(
        value(
            &after,
            "sqs_dead_letter_queue_depth",
            &[("queue", &r.dead_letter_queue)]
        ),
        2.0
    );
    let invocations = value(
        &after,
        "lambda_invocations_total",
        &[("function", "file-processor")],
    );
    assert!(invocations >= 1.0, "invocations counted");
    assert_eq!(
        value(
            &after,
            "lambda_duration_seconds_count",
            &[("function", "file-processor")]
        ),
        invocations,
        "every invocation timed"
    );
    assert!(
        value(
            &after,
            "lambda_cold_starts_total",
            &[("function", "file-processor")]
        ) >= 1.0
    );
    assert_eq!(value(&after, "lambda_concurrent_executions", &[]), 0.0);

    // Errors are counted by their AWS code, whichever protocol carries it: S3's XML body, SQS
    // JSON's x-amzn-query-error header.
    let missing = s3
        .get_object()
        .bucket(&r.analytics_bucket)
        .key("no/such/key.csv")
        .send()
        .await;
    assert!(missing.is_err());
    assert!(sqs
        .get_queue_url()
        .queue_name("no-such-queue")
        .send()
        .await
        .is_err());
    let errors = metrics(&url);
    let code_count = |service: &str, code: &str| {
        value(
            &errors,
            "emulator_request_errors_total",
            &[("service", service), ("code", code)],
        ) - value(
            &after,
            "emulator_request_errors_total",
            &[("service", service), ("code", code)],
        )
    };
    assert_eq!(code_count("s3", "NoSuchKey"), 1.0);
    assert_eq!(
        code_count("sqs", "AWS.SimpleQueueService.NonExistentQueue"),
        1.0
    );

    // A bad file's journey: its receive, its invocation with its log, the DLQ with the reason.
    let journey = get_json(
        &url,
        &format!("/_emulator/files/{}/{}", r.source_bucket, bad[0]),
    );
    assert_eq!(journey["status"], "dead_lettered");
    let reason = journey["error_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("amount"),
        "the reason names the column: {reason}"
    );
    let types: Vec<&str> = journey["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for expected in [
        "file.received",
        "file.queued",
        "file.processing",
        "file.dead_lettered",
        "invocation.finished",
    ] {
        assert!(types.contains(&expected), "{expected} in {types:?}");
    }
    let receive = journey["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "file.processing")
        .unwrap();
    assert_eq!(receive["receive_count"], 1);
    let invocation = &journey["invocation_details"][0];
    let request_id = invocation["request_id"].as_str().unwrap();
    assert_eq!(journey["invocations"][0], request_id);
    assert!(
        invocation["log"].as_array().unwrap().iter().any(|l| l
            .as_str()
            .unwrap()
            .contains(&format!("START RequestId: {request_id}"))),
        "the invocation's log lines: {invocation}"
    );

    // The same event delivered again: the journey of that version ends skipped.
    let processed = get_json(
        &url,
        &format!("/_emulator/files/{}/{}", r.source_bucket, good[0]),
    );
    assert_eq!(processed["status"], "processed");
    let version = processed["file"]["version"].as_str().unwrap().to_owned();
    let (etag, sequencer) = version.split_once(':').unwrap();
    let queue_url = sqs
        .get_queue_url()
        .queue_name(&r.sqs_queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body(s3_event(
            &r.source_bucket,
            good[0],
            GOOD.len() as u64,
            etag,
            sequencer,
        ))
        .send()
        .await
        .unwrap();
    let path = format!("/_emulator/files/{}/{}", r.source_bucket, good[0]);
    let skipped = eventually(WAIT, "the duplicate's journey ends skipped", || {
        let journey = get_json(&url, &path);
        async move { (journey["status"] == "skipped").then_some(journey) }
    })
    .await;
    assert_eq!(
        skipped["file"]["version"],
        version.as_str(),
        "the same version's journey"
    );
    assert_eq!(skipped["versions"].as_array().unwrap().len(), 1);
    let last = skipped["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["type"] == "file.skipped")
        .unwrap();
    assert_eq!(last["reason"], "duplicate");
    let filtered = get_json(&url, "/_emulator/files?status=skipped");
    assert_eq!(filtered["files"].as_array().unwrap().len(), 1);
    assert_eq!(get(&url, "/_emulator/files?status=lost", &[]).status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn sse_resume_replays_exactly_the_missed_events_and_an_evicted_cursor_is_gone() {
    if !python_has("prometheus_client") {
        return;
    }
    let pipeline = Pipeline::start_with(StartOptions {
        // No functions: their start-up invocation (the s3:TestEvent) would add events at
        // unpredictable ids.
        args: vec![
            "--event-buffer".into(),
            "20".into(),
            "--no-functions".into(),
        ],
        ..StartOptions::default()
    })
    .await;
    let url = pipeline.url.clone();
    let sqs = pipeline.sqs().await;
    // A queue no function reads: each S3 event sent to it is exactly file.received + file.queued.
    let queue_url = sqs
        .create_queue()
        .queue_name("console-sse")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let send = |n: usize| {
        let (sqs, queue_url) = (sqs.clone(), queue_url.clone());
        async move {
            let body = s3_event(
                "my-company-data-source",
                &format!("sse/file_{n}.csv"),
                10,
                "e",
                &format!("{n:018X}"),
            );
            sqs.send_message()
                .queue_url(queue_url)
                .message_body(body)
                .send()
                .await
                .unwrap();
        }
    };
    let start = get_json(&url, "/_emulator/files")["last_event_id"]
        .as_u64()
        .unwrap();
    for n in 0..3 {
        send(n).await;
    }
    // Resume after the second event: exactly the four after it, in order, then live ones.
    let cursor = (start + 2).to_string();
    let mut stream = open_sse(&url, &[("Last-Event-ID", &cursor)]);
    assert_eq!(stream.status, 200);
    let mut got = Vec::new();
    while let Some(event) = stream.next(Duration::from_secs(3)) {
        got.push(event);
        if got.len() == 4 {
            break;
        }
    }
    let ids: Vec<u64> = got.iter().map(|e| e.id).collect();
    assert_eq!(ids, (start + 3..=start + 6).collect::<Vec<_>>());
    let names: Vec<&str> = got.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        names,
        [
            "file.received",
            "file.queued",
            "file.received",
            "file.queued"
        ]
    );
    assert_eq!(got[0].data["file"]["key"], "sse/file_1.csv");
    assert_eq!(got[0].data["id"], start + 3);
    assert!(
        stream.next(Duration::from_millis(300)).is_none(),
        "nothing more was missed"
    );
    send(3).await;
    let live: Vec<u64> = (0..2)
        .filter_map(|_| stream.next(Duration::from_secs(3)))
        .map(|e| e.id)
        .collect();
    assert_eq!(
        live,
        vec![start + 7, start + 8],
        "live events follow the replay"
    );

    // 12 more files: 24 events, so the 20-event buffer no longer holds what follows the cursor.
    for n in 4..16 {
        send(n).await;
    }
    let last = start + 32;
    let gone = get(
        &url,
        &format!("/_emulator/events?last_event_id={cursor}"),
        &[],
    );
    assert_eq!(gone.status, 410, "{}", gone.body);
    let body: Value = serde_json::from_str(&gone.body).unwrap();
    assert_eq!(body["oldest_available_id"], last - 19);
    assert_eq!(body["last_event_id"], start + 2);
    // The oldest held cursor still resumes, with every event after it.
    let mut resumed = open_sse(&url, &[("Last-Event-ID", &(last - 20).to_string())]);
    assert_eq!(resumed.status, 200);
    let replayed: Vec<u64> = (0..20)
        .filter_map(|_| resumed.next(Duration::from_secs(3)))
        .map(|e| e.id)
        .collect();
    assert_eq!(replayed, (last - 19..=last).collect::<Vec<_>>());
    let samples = metrics(&url);
    assert_eq!(value(&samples, "console_sse_gone_total", &[]), 1.0);
    assert_eq!(value(&samples, "console_sse_replays_total", &[]), 2.0);
    assert_eq!(
        value(&samples, "console_sse_replayed_events_total", &[]),
        24.0
    );
}
