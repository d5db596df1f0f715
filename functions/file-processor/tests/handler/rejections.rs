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
