//! Every kind of poison input ends in the DLQ at once (no retries), with the original body and an
//! `error_reason` that names the file and, for CSV errors, the line and column; the message is
//! then reported as a success so the event source mapping deletes it.

use crate::common::*;

/// Uploads `bytes` at `key`, processes its notification, and returns the DLQ's error_reason.
async fn rejected_reason(key: &str, bytes: impl Into<Vec<u8>>) -> String {
    let h = Harness::start().await;
    let event = h.upload_and_receive(key, bytes).await;
    let body = event.records[0].body.clone().unwrap();
    let response = h.handle(event).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert!(
        h.output_keys().await.is_empty(),
        "nothing written for {key}"
    );
    let dead = h.dead_letters().await;
    assert_eq!(dead.len(), 1, "{key}");
    assert_eq!(dead[0].0, body, "the original body");
    assert_eq!(dead[0].1, "permanent");
    assert_eq!(h.outcomes(), vec!["rejected"]);
    assert_eq!(h.file_lines()[0]["FilesRejected"], 1);
    eprintln!("{key}: error_reason = {}", dead[0].2);
    dead[0].2.clone()
}

fn assert_mentions(reason: &str, parts: &[&str]) {
    for part in parts {
        assert!(reason.contains(part), "{part:?} missing from: {reason}");
    }
}

#[tokio::test]
async fn unknown_file_name() {
    let reason = rejected_reason("incoming/customers_2024_03_15.csv", "a,b\n1,2\n").await;
    assert_mentions(
        &reason,
        &["incoming/customers_2024_03_15.csv", "matches no entity"],
    );
}

#[tokio::test]
async fn wrong_header() {
    let csv = "transaction_id,customer,amount,transaction_date\nT1,C1,1.00,2024-03-15\n";
    let reason = rejected_reason("in/sales_data_2024_03_15.csv", csv).await;
    assert_mentions(
        &reason,
        &[
            "in/sales_data_2024_03_15.csv",
            "line 1",
            "header",
            "customer_id",
        ],
    );
}

#[tokio::test]
async fn bad_decimal() {
    let csv = sales_csv(&["T1,C1,1.00,2024-03-15", "T2,C2,12.345,2024-03-15"]);
    let reason = rejected_reason("in/sales_data_2024_03_15.csv", csv).await;
    assert_mentions(
        &reason,
        &[
            "sales_data_2024_03_15.csv",
            "line 3",
            "column 3 (amount)",
            "12.345",
        ],
    );
}

#[tokio::test]
async fn bad_date() {
    let csv = sales_csv(&["T1,C1,1.00,2024-02-30"]);
    let reason = rejected_reason("in/sales_data_2024_03_15.csv", csv).await;
    assert_mentions(
        &reason,
        &["line 2", "column 4 (transaction_date)", "2024-02-30"],
    );
}

#[tokio::test]
async fn ragged_row() {
    let csv = sales_csv(&["T1,C1,1.00,2024-03-15", "T2,C2,2.00"]);
    let reason = rejected_reason("in/sales_data_2024_03_15.csv", csv).await;
    assert_mentions(
        &reason,
        &[
            "sales_data_2024_03_15.csv",
            "line 3",
            "3 field(s)",
            "4 column(s)",
        ],
    );
}

#[tokio::test]
async fn empty_file() {
    let reason = rejected_reason("in/sales_data_2024_03_15.csv", Vec::new()).await;
    assert_mentions(&reason, &["in/sales_data_2024_03_15.csv", "empty"]);
}

#[tokio::test]
async fn non_utf8_bytes() {
    let mut csv = SALES_HEADER.as_bytes().to_vec();
    csv.extend_from_slice(b"T1,C\xff\xfe1,1.00,2024-03-15\n");
    let reason = rejected_reason("in/sales_data_2024_03_15.csv", csv).await;
    assert_mentions(&reason, &["line 2", "column 2 (customer_id)", "UTF-8"]);
}

#[tokio::test]
async fn garbage_sqs_body() {
    let h = Harness::start().await;
    let arn = format!(
        "arn:aws:sqs:us-east-1:000000000000:{}",
        h.config.resources.sqs_queue
    );
    let garbage = "this is not an S3 event {";
    let response = h.handle(raw_event("m-garbage", garbage, &arn)).await;
    assert!(response.batch_item_failures.is_empty());
    let dead = h.dead_letters().await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0, garbage);
    assert_eq!(dead[0].1, "permanent");
    assert_mentions(
        &dead[0].2,
        &["m-garbage", "not a usable S3 event", "not JSON"],
    );
    assert_eq!(h.outcomes(), vec!["rejected"]);
}

#[tokio::test]
async fn object_deleted_before_processing() {
    let h = Harness::start().await;
    let key = "in/sales_data_2024_03_15.csv";
    let event = h
        .upload_and_receive(key, sales_csv(&["T1,C1,1.00,2024-03-15"]))
        .await;
    h.clients
        .s3
        .delete_object()
        .bucket(h.source_bucket())
        .key(key)
        .send()
        .await
        .unwrap();
    let response = h.handle(event).await;
    assert!(response.batch_item_failures.is_empty());
    let dead = h.dead_letters().await;
    assert_eq!(dead.len(), 1);
    assert_mentions(&dead[0].2, &[key, "NoSuchKey", "deleted before"]);
    assert!(h.output_keys().await.is_empty());
}

#[tokio::test]
async fn a_failed_dlq_send_reports_the_message_as_failed() {
    // The DLQ does not exist: the permanent failure cannot be parked, so the message must stay
    // in the queue (reported failed) rather than be deleted.
    let h = Harness::start_with(
        |s| s.dlq = file_processor::DlqTarget::Name("no-such-queue".into()),
        None,
    )
    .await;
    let event = h.upload_and_receive("in/unknown_file.csv", "x\n").await;
    let id = event.records[0].message_id.clone().unwrap();
    let response = h.handle(event).await;
    assert_eq!(failed_ids(&response), vec![id]);
    // ... and backs off like any transient failure instead of coming back at the plain
    // visibility timeout.
    assert_eq!(
        h.message_events(),
        vec!["DeadLetterSendFailures", "RetriesDelayed"]
    );
}

/// Sends `body` to the work queue and handles it as the event source mapping would; returns
/// the DLQ entry, whose body must be a reference to the original body in S3, and that body.
async fn dead_letter_of_large_body(
    h: &Harness,
    body: &str,
) -> (serde_json::Value, String, Vec<u8>) {
    h.clients
        .sqs
        .send_message()
        .queue_url(&h.queue_url)
        .message_body(body)
        .send()
        .await
        .expect("the work queue takes the message");
    let event = h.event_of(&h.receive_messages(1).await);
    let message_id = event.records[0].message_id.clone().unwrap();
    let response = h.handle(event).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let dead = h.dead_letters().await;
    assert_eq!(dead.len(), 1);
    let (reference, class, reason) = &dead[0];
    assert_eq!(class, "permanent");
    assert_mentions(reason, &[&message_id, "not a usable S3 event"]);
    let reference: serde_json::Value = serde_json::from_str(reference).expect("a JSON reference");
    let stored = &reference["dead_letter_body"];
    assert_eq!(stored["source_message_id"], message_id.as_str());
    let uri = stored["s3_uri"].as_str().unwrap();
    let key = uri
        .strip_prefix(&format!(
            "s3://{}/dead-letter-bodies/",
            h.analytics_bucket()
        ))
        .unwrap_or_else(|| panic!("{uri}"));
    let (bytes, _) = h
        .output(&format!("dead-letter-bodies/{key}"))
        .await
        .expect("the stored body");
    (reference, reason.clone(), bytes)
}

fn sha256_hex(bytes: &[u8]) -> String {
    let mut hasher = aws_smithy_checksums::ChecksumAlgorithm::Sha256.into_impl();
    hasher.update(bytes);
    hex::encode(hasher.finalize())
}

#[tokio::test]
async fn a_poison_message_near_the_size_limit_reaches_the_dlq_with_its_reason() {
    // The work queue takes up to 1 MiB; the DLQ (also 1 MiB) cannot take the same body plus
    // error_class/error_reason, since attributes count against the size.
    let h = Harness::start().await;
    let body = format!("not an S3 event {}", "x".repeat(1_048_576 - 100));
    let (reference, _, stored) = dead_letter_of_large_body(&h, &body).await;
    assert_eq!(stored, body.as_bytes(), "the whole body is kept");
    let stored_meta = &reference["dead_letter_body"];
    assert_eq!(stored_meta["bytes"], body.len());
    assert_eq!(stored_meta["sha256"], sha256_hex(body.as_bytes()));
    // Only the stored body was written: nothing under the tables' folders.
    assert_eq!(h.output_keys().await.len(), 1);
    assert_eq!(h.outcomes(), vec!["rejected"]);
}

#[tokio::test]
async fn a_dlq_with_a_small_size_limit_gets_references_to_ordinary_poison_bodies() {
    let h = Harness::start().await;
    h.clients
        .sqs
        .set_queue_attributes()
        .queue_url(&h.dlq_url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::MaximumMessageSize,
            "1024",
        )
        .send()
        .await
        .unwrap();
    let body = format!(
        "{{\"not\": \"an S3 event\", \"pad\": \"{}\"}}",
        "é".repeat(600)
    );
    let (reference, reason, stored) = dead_letter_of_large_body(&h, &body).await;
    assert_eq!(stored, body.as_bytes());
    assert_eq!(reference["dead_letter_body"]["bytes"], body.len());
    assert!(
        reason.len() + reference.to_string().len() < 1024,
        "{reason}"
    );
}

#[tokio::test]
async fn impossible_partition_date() {
    // The name matches the sales pattern, but 2024-13-45 is no date: no month=13/day=45 folder.
    let csv = sales_csv(&["T1,C1,1.00,2024-03-15"]);
    let reason = rejected_reason("in/sales_data_2024_13_45.csv", csv).await;
    assert_mentions(
        &reason,
        &[
            "in/sales_data_2024_13_45.csv",
            "does not give a real date",
            "month=13: out of range 1..=12",
        ],
    );
}

#[tokio::test]
async fn a_dlq_size_limit_lowered_after_it_was_read_costs_one_retry_not_the_reason() {
    let h = Harness::start().await;
    let arn = format!(
        "arn:aws:sqs:us-east-1:000000000000:{}",
        h.config.resources.sqs_queue
    );
    // The first dead letter reads (and keeps) the DLQ's 1 MiB limit.
    h.handle(raw_event("m-first", "not an event", &arn)).await;
    assert_eq!(h.dead_letters().await.len(), 1);
    h.clients
        .sqs
        .set_queue_attributes()
        .queue_url(&h.dlq_url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::MaximumMessageSize,
            "1024",
        )
        .send()
        .await
        .unwrap();
    let body = format!("not an event {}", "z".repeat(2000));
    let event = raw_event("m-second", &body, &arn);
    // Sent whole against the stale limit: refused, so retried (never dropped) ...
    let response = h.handle(event.clone()).await;
    assert_eq!(failed_ids(&response), vec!["m-second".to_string()]);
    // ... and the next attempt reads the limit again and sends a reference.
    let response = h.handle(event).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let dead = h.dead_letters().await;
    assert_eq!(dead.len(), 1);
    let reference: serde_json::Value = serde_json::from_str(&dead[0].0).unwrap();
    assert_eq!(reference["dead_letter_body"]["bytes"], body.len());
    assert_mentions(&dead[0].2, &["m-second", "not a usable S3 event"]);
}
