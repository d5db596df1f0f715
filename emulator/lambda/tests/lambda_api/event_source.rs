//! SQS event source mapping semantics, end to end: a real SQS emulator, the real Runtime API, and
//! a real Rust Lambda function process (examples/test_function.rs on `lambda_runtime`).
//!
//! AWS behaviour under test: "Using Lambda with Amazon SQS" and "Handling errors for an SQS event
//! source in Lambda" (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html,
//! https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).

use std::time::Duration;

use crate::common::{eventually, records, spec, times_seen, Harness, ACCOUNT, REGION};
use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::MessageAttributeValue;
use emulator_lambda::SqsTrigger;
use serde_json::Value;

fn trigger(queue: &str) -> SqsTrigger {
    SqsTrigger::new(queue)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_batch_response_deletes_only_the_successes() {
    let h = Harness::start().await;
    h.queue("partial", &[("VisibilityTimeout", "1".into())]);
    for body in ["m1", "m2", "m3", "m4", "m5"] {
        h.send("partial", body);
    }
    let record_file = h.path("records.jsonl");
    let mut f = spec(
        "partial",
        &[
            ("TEST_FAIL_BODIES", "m2,m4".into()),
            ("TEST_RECORD_FILE", record_file.display().to_string()),
        ],
    );
    f.timeout_seconds = 1; // AWS refuses a mapping whose queue visibility is below the timeout
    f.sqs_trigger = Some(trigger("partial"));
    h.lambda.add_function(f).unwrap();
    assert_eq!(h.lambda.start_event_source_mappings().await.unwrap(), 1);

    // The failures come back after the 1 s visibility timeout and fail again; successes never do.
    eventually(
        Duration::from_secs(15),
        "m2 and m4 to be retried twice",
        || async {
            let seen = records(&record_file);
            (times_seen(&seen, "m2") >= 3 && times_seen(&seen, "m4") >= 3).then_some(())
        },
    )
    .await;
    let seen = records(&record_file);
    for body in ["m1", "m3", "m5"] {
        assert_eq!(
            times_seen(&seen, body),
            1,
            "{body} was deleted after its success"
        );
    }
    assert_eq!(h.messages_left("partial").await, 2, "only m2 and m4 remain");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_function_leaves_the_message_to_the_redrive_policy() {
    let h = Harness::start().await;
    h.queue("poison-dlq", &[]);
    let redrive = serde_json::json!({
        "deadLetterTargetArn": h.sqs.queue_arn("poison-dlq"),
        "maxReceiveCount": 2,
    });
    h.queue(
        "poison",
        &[
            ("VisibilityTimeout", "1".into()),
            ("RedrivePolicy", redrive.to_string()),
        ],
    );
    h.send("poison", "poison-pill");
    let record_file = h.path("records.jsonl");
    let mut f = spec(
        "always-fails",
        &[
            ("TEST_FAIL_ALWAYS", "1".into()),
            ("TEST_RECORD_FILE", record_file.display().to_string()),
        ],
    );
    f.timeout_seconds = 1;
    f.sqs_trigger = Some(trigger("poison"));
    h.lambda.add_function(f).unwrap();
    h.lambda.start_event_source_mappings().await.unwrap();

    let client = h.sqs_client().await;
    let dlq_url = format!("{}/{ACCOUNT}/poison-dlq", h.endpoint);
    let moved = eventually(
        Duration::from_secs(15),
        "the message in the DLQ",
        || async {
            let out = client
                .receive_message()
                .queue_url(&dlq_url)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            out.messages().first().cloned()
        },
    )
    .await;
    assert_eq!(moved.body(), Some("poison-pill"));
    let seen = records(&record_file);
    assert_eq!(
        times_seen(&seen, "poison-pill"),
        2,
        "invoked exactly maxReceiveCount times before the redrive: {seen:?}"
    );
    assert_eq!(h.messages_left("poison").await, 0);
    let stats = h.lambda.stats("always-fails").unwrap();
    assert_eq!(stats.failures, 2);
    assert_eq!(
        stats.cold_starts, 1,
        "a function error keeps the environment"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_invocation_is_killed_and_retried() {
    let h = Harness::start().await;
    h.queue("slow", &[("VisibilityTimeout", "2".into())]);
    h.send("slow", "slow-one");
    let record_file = h.path("records.jsonl");
    let mut f = spec(
        "sleeper",
        &[
            (
                "TEST_SLEEP_ONCE_FILE",
                h.path("slept").display().to_string(),
            ),
            ("TEST_SLEEP_ONCE_MS", "30000".into()),
            ("TEST_RECORD_FILE", record_file.display().to_string()),
        ],
    );
    f.timeout_seconds = 1;
    f.sqs_trigger = Some(trigger("slow"));
    h.lambda.add_function(f).unwrap();
    h.lambda.start_event_source_mappings().await.unwrap();

    eventually(
        Duration::from_secs(15),
        "the retried message deleted",
        || async {
            let processed = times_seen(&records(&record_file), "slow-one") == 2;
            (processed && h.messages_left("slow").await == 0).then_some(())
        },
    )
    .await;
    let seen = records(&record_file);
    let first_pid = seen[0]["pid"].as_u64().unwrap();
    assert_ne!(
        first_pid,
        seen[1]["pid"].as_u64().unwrap(),
        "a new process served the retry"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{first_pid}")).exists(),
        "the timed-out process was killed"
    );
    let stats = h.lambda.stats("sleeper").unwrap();
    assert_eq!((stats.failures, stats.cold_starts), (1, 2));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_process_is_restarted_and_the_message_is_not_lost() {
    let h = Harness::start().await;
    h.queue("crashy", &[("VisibilityTimeout", "1".into())]);
    h.send("crashy", "boom");
    let record_file = h.path("records.jsonl");
    let mut f = spec(
        "crasher",
        &[
            (
                "TEST_CRASH_ONCE_FILE",
                h.path("crashed").display().to_string(),
            ),
            ("TEST_RECORD_FILE", record_file.display().to_string()),
        ],
    );
    f.timeout_seconds = 1;
    f.sqs_trigger = Some(trigger("crashy"));
    h.lambda.add_function(f).unwrap();
    h.lambda.start_event_source_mappings().await.unwrap();

    eventually(
        Duration::from_secs(15),
        "the message processed after the crash",
        || async {
            let processed = times_seen(&records(&record_file), "boom") == 2;
            (processed && h.messages_left("crashy").await == 0).then_some(())
        },
    )
    .await;
    let seen = records(&record_file);
    assert_ne!(seen[0]["pid"], seen[1]["pid"]);
    let stats = h.lambda.stats("crasher").unwrap();
    assert_eq!((stats.failures, stats.cold_starts), (1, 2));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maximum_concurrency_is_never_exceeded() {
    let h = Harness::start().await;
    h.queue("busy", &[]);
    for i in 0..8 {
        h.send("busy", &format!("job-{i}"));
    }
    let dir = h.path("concurrency");
    std::fs::create_dir(&dir).unwrap();
    let mut f = spec(
        "parallel",
        &[
            ("TEST_CONCURRENCY_DIR", dir.display().to_string()),
            ("TEST_SLEEP_MS", "300".into()),
        ],
    );
    let mut t = trigger("busy");
    t.batch_size = 1;
    t.maximum_concurrency = 2;
    f.sqs_trigger = Some(t);
    h.lambda.add_function(f).unwrap();
    h.lambda.start_event_source_mappings().await.unwrap();

    eventually(Duration::from_secs(20), "all jobs done", || async {
        (h.messages_left("busy").await == 0).then_some(())
    })
    .await;
    let observed: Vec<usize> = std::fs::read_to_string(dir.join("observed.log"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(observed.len(), 16, "two observations per invocation");
    let max = observed.iter().copied().max().unwrap();
    assert_eq!(
        max, 2,
        "concurrency reached but never passed MaximumConcurrency: {observed:?}"
    );
    let stats = h.lambda.stats("parallel").unwrap();
    assert_eq!(stats.invocations, 8);
    assert!(
        stats.cold_starts <= 2,
        "at most two environments were needed"
    );
    h.stop().await;
}

/// The keys and JSON types of `ours` match the documented example, recursively.
fn assert_same_shape(documented: &Value, ours: &Value, path: &str) {
    match (documented, ours) {
        (Value::Object(d), Value::Object(o)) => {
            for (key, value) in d {
                let theirs = o
                    .get(key)
                    .unwrap_or_else(|| panic!("{path}.{key} is missing in {ours}"));
                assert_same_shape(value, theirs, &format!("{path}.{key}"));
            }
        }
        (Value::Array(d), Value::Array(o)) => {
            if let (Some(d0), Some(o0)) = (d.first(), o.first()) {
                assert_same_shape(d0, o0, &format!("{path}[0]"));
            }
        }
        (d, o) => assert_eq!(
            std::mem::discriminant(d),
            std::mem::discriminant(o),
            "{path}: documented {d}, ours {o}"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_event_matches_the_documented_shape() {
    let h = Harness::start().await;
    h.queue("shape", &[]);
    let client = h.sqs_client().await;
    let url = format!("{}/{ACCOUNT}/shape", h.endpoint);
    client
        .send_message()
        .queue_url(&url)
        .message_body("Test message.")
        .message_attributes(
            "myAttribute",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("myValue")
                .build()
                .unwrap(),
        )
        .message_attributes(
            "blob",
            MessageAttributeValue::builder()
                .data_type("Binary")
                .binary_value(Blob::new(b"1100".to_vec()))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let record_file = h.path("records.jsonl");
    let mut f = spec(
        "shape",
        &[
            ("TEST_RECORD_FILE", record_file.display().to_string()),
            ("TEST_RECORD_EVENTS", "1".into()),
        ],
    );
    f.sqs_trigger = Some(trigger("shape"));
    h.lambda.add_function(f).unwrap();
    h.lambda.start_event_source_mappings().await.unwrap();
    let event = eventually(Duration::from_secs(10), "the event", || async {
        records(&record_file).first().map(|r| r["event"].clone())
    })
    .await;

    // Example standard queue message event, https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
    let documented: Value =
        serde_json::from_str(include_str!("../fixtures/aws-doc-sqs-event.json")).unwrap();
    assert_same_shape(&documented, &event, "event");
    let record = &event["Records"][0];
    let allowed = [
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ];
    for key in record.as_object().unwrap().keys() {
        assert!(
            allowed.contains(&key.as_str()),
            "unexpected record key {key}"
        );
    }
    assert_eq!(record["body"], "Test message.");
    assert_eq!(
        record["md5OfBody"], "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "same body, same MD5 as the doc"
    );
    assert_eq!(record["eventSource"], "aws:sqs");
    assert_eq!(record["eventSourceARN"], h.sqs.queue_arn("shape"));
    assert_eq!(record["awsRegion"], REGION);
    assert_eq!(record["attributes"]["ApproximateReceiveCount"], "1");
    assert_eq!(
        record["messageAttributes"]["myAttribute"],
        documented["Records"][0]["messageAttributes"]["myAttribute"]
    );
    assert_eq!(
        record["messageAttributes"]["blob"],
        serde_json::json!({"binaryValue": "MTEwMA==", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"})
    );
    assert_eq!(
        record["md5OfMessageAttributes"].as_str().map(str::len),
        Some(32)
    );
    // What a Rust handler deserializes the event into.
    let parsed: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(event.clone()).unwrap();
    assert_eq!(parsed.records[0].body.as_deref(), Some("Test message."));
    h.stop().await;
}
