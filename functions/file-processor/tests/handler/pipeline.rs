//! The handler in-process against the emulator, fed with the emulator's own notifications:
//! copies, partitions, the partition cache, idempotency, collisions, partial batch failures and
//! retries with backoff.

use std::time::{Duration, Instant};

use crate::common::*;
use aws_sdk_sqs::types::QueueAttributeName;

const OUTPUT_0315: &str = "sales_data/year=2024/month=03/day=15/sales_data_2024_03_15.csv";
const LOCATION_0315: &str = "s3://my-company-analytics/sales_data/year=2024/month=03/day=15/";

#[tokio::test]
async fn copies_the_file_and_registers_its_partition() {
    let h = Harness::start().await;
    let csv = sales_csv(&[
        "T1,C1,10.50,2024-03-15",
        "\"T2, quoted\",C2,1000.00,2024-03-15",
    ]);
    let event = h
        .upload_and_receive("incoming/sales_data_2024_03_15.csv", csv.clone())
        .await;
    let response = h.handle(event).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    let (bytes, metadata) = h.output(OUTPUT_0315).await.expect("output exists");
    assert_eq!(bytes, csv.as_bytes());
    assert_eq!(
        metadata.get("source-key").map(String::as_str),
        Some("incoming%2Fsales_data_2024_03_15.csv")
    );
    assert_eq!(
        metadata.get("source-bucket").map(String::as_str),
        Some(h.source_bucket())
    );
    assert!(metadata.contains_key("source-sequencer"), "{metadata:?}");
    assert_eq!(
        h.partitions("sales_data").await,
        vec![(
            vec!["2024".to_string(), "03".to_string(), "15".to_string()],
            LOCATION_0315.to_string()
        )]
    );
    let lines = h.file_lines();
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(line["outcome"], "processed");
    assert_eq!(line["rows"], 2);
    assert_eq!(line["bytes"], csv.len());
    assert_eq!(line["partition"], LOCATION_0315);
    assert_eq!(line["trace_id"], "Root=1-00000000-000000000000000000000000");
    assert_eq!(line["FilesProcessed"], 1);
    assert!(line["_aws"]["CloudWatchMetrics"].is_array());
    assert!(h.dead_letters().await.is_empty());
}

#[tokio::test]
async fn a_second_file_of_the_same_day_costs_no_glue_call() {
    let h = Harness::start().await;
    let first = h
        .upload_and_receive("orders_2024-03-15_morning.csv", "order_id,quantity\nA,1\n")
        .await;
    assert!(h.handle(first).await.batch_item_failures.is_empty());
    assert_eq!(h.glue_log.operations(), vec!["BatchCreatePartition"]);
    assert_eq!(h.processor.partition_cache().len(), 1);

    let second = h
        .upload_and_receive("orders_2024-03-15_evening.csv", "order_id,quantity\nB,2\n")
        .await;
    assert!(h.handle(second).await.batch_item_failures.is_empty());
    assert_eq!(
        h.glue_log.count(),
        1,
        "the cache answered: {:?}",
        h.glue_log.operations()
    );
    assert_eq!(h.partitions("orders").await.len(), 1);
    let mut keys = h.output_keys().await;
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "orders/year=2024/month=03/day=15/orders_2024-03-15_evening.csv",
            "orders/year=2024/month=03/day=15/orders_2024-03-15_morning.csv"
        ]
    );
}

#[tokio::test]
async fn a_cold_processor_treats_an_existing_partition_as_success() {
    let h = Harness::start().await;
    let event = h
        .upload_and_receive("orders_2024-03-16_a.csv", "order_id,quantity\nA,1\n")
        .await;
    assert!(h.handle(event.clone()).await.batch_item_failures.is_empty());
    // A fresh processor (a cold start) has an empty cache: BatchCreatePartition reports
    // AlreadyExistsException for the partition, GetPartition confirms its Location.
    let cold = file_processor::Processor::new(
        h.clients.clone(),
        h.config.clone(),
        file_processor::Settings::from_config(&h.config),
    );
    let before = h.glue_log.count();
    let response = cold.handle_batch(event, &Default::default()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(
        h.glue_log.operations()[before..].to_vec(),
        vec!["BatchCreatePartition", "GetPartition"]
    );
    assert_eq!(h.partitions("orders").await.len(), 1);
}

#[tokio::test]
async fn duplicated_events_change_nothing() {
    let h = Harness::start().await;
    let csv = sales_csv(&["T1,C1,10.50,2024-03-15"]);
    let event = h
        .upload_and_receive("incoming/sales_data_2024_03_15.csv", csv.clone())
        .await;
    assert!(h.handle(event.clone()).await.batch_item_failures.is_empty());
    let head = |h: &Harness| {
        let s3 = h.clients.s3.clone();
        let bucket = h.analytics_bucket().to_string();
        async move {
            let head = s3
                .head_object()
                .bucket(bucket)
                .key(OUTPUT_0315)
                .send()
                .await
                .unwrap();
            (
                head.e_tag().unwrap().to_string(),
                head.last_modified().cloned(),
            )
        }
    };
    let before = head(&h).await;

    // The same message again (a redelivery), and the same body twice in one batch.
    assert!(h.handle(event.clone()).await.batch_item_failures.is_empty());
    let mut twice = event.clone();
    let mut copy = twice.records[0].clone();
    copy.message_id = Some("another-message-id".into());
    twice.records.push(copy);
    assert!(h.handle(twice).await.batch_item_failures.is_empty());

    assert_eq!(head(&h).await, before, "the output was not rewritten");
    assert_eq!(h.output_keys().await, vec![OUTPUT_0315]);
    assert_eq!(h.partitions("sales_data").await.len(), 1);
    assert_eq!(
        h.outcomes(),
        vec!["processed", "duplicate", "duplicate", "duplicate"]
    );
}

#[tokio::test]
async fn a_replayed_older_event_never_overwrites_a_newer_file() {
    let h = Harness::start().await;
    let key = "incoming/sales_data_2024_03_15.csv";
    let old_csv = sales_csv(&["T1,C1,1.00,2024-03-15"]);
    let new_csv = sales_csv(&["T1,C1,2.00,2024-03-15", "T2,C2,3.00,2024-03-15"]);
    let old_event = h.upload_and_receive(key, old_csv.clone()).await;
    let new_event = h.upload_and_receive(key, new_csv.clone()).await;

    // Reordered: the newer event first, then the older one.
    assert!(h.handle(new_event).await.batch_item_failures.is_empty());
    assert!(h
        .handle(old_event.clone())
        .await
        .batch_item_failures
        .is_empty());
    assert_eq!(h.output(OUTPUT_0315).await.unwrap().0, new_csv.as_bytes());
    assert_eq!(h.outcomes(), vec!["processed", "stale"]);

    // In order on a fresh output: the older event's object has since been overwritten, so it
    // is superseded (nothing written); the newer one is then processed.
    let h2 = Harness::start().await;
    let old_event = h2.upload_and_receive(key, old_csv).await;
    let new_event = h2.upload_and_receive(key, new_csv.clone()).await;
    assert!(h2.handle(old_event).await.batch_item_failures.is_empty());
    assert!(h2.output(OUTPUT_0315).await.is_none());
    assert!(h2.handle(new_event).await.batch_item_failures.is_empty());
    assert_eq!(h2.output(OUTPUT_0315).await.unwrap().0, new_csv.as_bytes());
    assert_eq!(h2.outcomes(), vec!["superseded", "processed"]);
}

#[tokio::test]
async fn two_sources_for_one_output_key_are_a_permanent_error() {
    let h = Harness::start().await;
    let a = sales_csv(&["T1,C1,1.00,2024-03-15"]);
    let b = sales_csv(&["T9,C9,9.00,2024-03-15"]);
    let first = h
        .upload_and_receive("a/sales_data_2024_03_15.csv", a.clone())
        .await;
    assert!(h.handle(first).await.batch_item_failures.is_empty());
    let second = h.upload_and_receive("b/sales_data_2024_03_15.csv", b).await;
    let body = second.records[0].body.clone().unwrap();
    let response = h.handle(second).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "sent to the DLQ, so deleted"
    );
    assert_eq!(
        h.output(OUTPUT_0315).await.unwrap().0,
        a.as_bytes(),
        "first file kept"
    );
    let dead = h.dead_letters().await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0, body);
    assert_eq!(dead[0].1, "permanent");
    assert!(
        dead[0].2.contains("b/sales_data_2024_03_15.csv"),
        "{}",
        dead[0].2
    );
    assert!(
        dead[0].2.contains("a/sales_data_2024_03_15.csv"),
        "{}",
        dead[0].2
    );
}

#[tokio::test]
async fn the_test_event_is_a_no_op() {
    let h = Harness::start().await;
    assert!(
        h.startup_messages
            .iter()
            .any(|m| m.body().unwrap_or_default().contains("s3:TestEvent")),
        "the bootstrap's notification configuration sends a TestEvent"
    );
    let event = h.event_of(&h.startup_messages);
    let response = h.handle(event).await;
    assert!(response.batch_item_failures.is_empty());
    assert!(h.output_keys().await.is_empty());
    assert!(h.file_lines().is_empty());
    assert_eq!(h.glue_log.count(), 0);
    assert!(h.dead_letters().await.is_empty());
}

#[tokio::test]
async fn one_poison_message_does_not_fail_the_batch() {
    let h = Harness::start().await;
    h.upload(
        "incoming/sales_data_2024_03_15.csv",
        sales_csv(&["T1,C1,1.00,2024-03-15"]),
    )
    .await;
    h.upload(
        "incoming/sales_data_2024_03_16.csv",
        sales_csv(&["T1,C1,abc,2024-03-16"]),
    )
    .await;
    let messages = h.receive_messages(2).await;
    let response = h.handle(h.event_of(&messages)).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(h.output_keys().await, vec![OUTPUT_0315]);
    let dead = h.dead_letters().await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].1, "permanent");
    assert!(
        dead[0].2.contains("sales_data_2024_03_16.csv"),
        "{}",
        dead[0].2
    );
    let mut outcomes = h.outcomes();
    outcomes.sort();
    assert_eq!(outcomes, vec!["processed", "rejected"]);
    assert_eq!(h.message_events(), vec!["MessagesDeadLettered"]);
}

#[tokio::test]
async fn unicode_and_spaces_in_keys_are_processed() {
    let h = Harness::start().await;
    let csv = sales_csv(&["T1,C1,1.00,2024-03-15"]);
    let key = "incoming ü/daily exports/sales_data_2024_03_15.csv";
    let event = h.upload_and_receive(key, csv.clone()).await;
    // S3 form-encodes keys in notifications: space as `+`, UTF-8 bytes as %XX.
    let body = event.records[0].body.as_deref().unwrap();
    assert!(body.contains("incoming+%C3%BC"), "{body}");
    assert!(h.handle(event).await.batch_item_failures.is_empty());
    let (bytes, metadata) = h.output(OUTPUT_0315).await.unwrap();
    assert_eq!(bytes, csv.as_bytes());
    assert_eq!(
        pipeline_core::event::decode_s3_key(&metadata["source-key"]).unwrap(),
        key
    );

    // A file name with spaces and a non-ASCII letter, through an entity that allows them.
    let name = "orders_2024-03-15_größe 2.csv";
    let event = h
        .upload_and_receive(&format!("exports ü/{name}"), "order_id,quantity\nA,1\n")
        .await;
    assert!(h.handle(event).await.batch_item_failures.is_empty());
    let output = format!("orders/year=2024/month=03/day=15/{name}");
    assert_eq!(
        h.output(&output).await.unwrap().0,
        b"order_id,quantity\nA,1\n"
    );
}

#[tokio::test]
async fn a_large_file_is_streamed_in_parts_and_an_invalid_one_leaves_nothing() {
    let logs = file_processor::telemetry::Captured::default();
    let writer = logs.clone();
    let _logging = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish(),
    );
    let h = Harness::start_with(|s| s.upload.part_size = 5 * 1024 * 1024, None).await;
    let mut csv = String::from(SALES_HEADER);
    let mut n = 0;
    while csv.len() < 12 * 1024 * 1024 {
        csv.push_str(&format!(
            "T{n},C{n},{}.{:02},2024-03-15\n",
            n % 1000,
            n % 100
        ));
        n += 1;
    }
    let event = h
        .upload_and_receive("incoming/sales_data_2024_03_15.csv", csv.clone())
        .await;
    assert!(h.handle(event).await.batch_item_failures.is_empty());
    assert_eq!(h.output(OUTPUT_0315).await.unwrap().0, csv.as_bytes());
    assert_eq!(h.file_lines()[0]["rows"], n);

    // Invalid in the last part, after two 5 MiB parts were uploaded: the upload is aborted.
    let mut bad = csv.replace("2024-03-15", "2024-03-17");
    bad.push_str("TX,CX,oops,2024-03-17\n");
    let event = h
        .upload_and_receive("incoming/sales_data_2024_03_17.csv", bad)
        .await;
    assert!(h.handle(event).await.batch_item_failures.is_empty());
    assert!(h
        .output("sales_data/year=2024/month=03/day=17/sales_data_2024_03_17.csv")
        .await
        .is_none());
    // The emulator does not implement ListMultipartUploads yet, so the aborted upload is found
    // in the handler's log and checked over the wire: UploadPart on it must be NoSuchUpload.
    let aborted: Vec<String> = logs
        .lines()
        .iter()
        .filter(|l| {
            l["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("aborted")
        })
        .filter_map(|l| l["fields"]["upload_id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(aborted.len(), 1, "one aborted upload: {:?}", logs.lines());
    let reused = h
        .clients
        .s3
        .upload_part()
        .bucket(h.analytics_bucket())
        .key("sales_data/year=2024/month=03/day=17/sales_data_2024_03_17.csv")
        .upload_id(&aborted[0])
        .part_number(3)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&reused),
        Some("NoSuchUpload"),
        "{reused:?}"
    );
    let dead = h.dead_letters().await;
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].2.contains(&format!("line {}", n + 2)),
        "{}",
        dead[0].2
    );
}

/// A Glue endpoint that always fails: 500 InternalServiceException, or 400 ThrottlingException.
async fn failing_glue(status: u16, code: &'static str) -> String {
    let app = axum::Router::new().fallback(move || async move {
        (
            axum::http::StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/x-amz-json-1.1")],
            format!("{{\"__type\":\"{code}\",\"message\":\"injected by the test\"}}"),
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn a_glue_fault_is_retried_later_with_backoff() {
    for (status, code) in [
        (500, "InternalServiceException"),
        (400, "ThrottlingException"),
    ] {
        let glue = failing_glue(status, code).await;
        // A 30 s floor makes the delay observable: without ChangeMessageVisibility the message
        // would be visible again after the 2 s visibility timeout of the receive below.
        let h = Harness::start_with(|s| s.min_retry_delay_seconds = 30, Some(&glue)).await;
        h.upload(
            "incoming/sales_data_2024_03_15.csv",
            sales_csv(&["T1,C1,1.00,2024-03-15"]),
        )
        .await;
        let received = h
            .clients
            .sqs
            .receive_message()
            .queue_url(&h.queue_url)
            .wait_time_seconds(2)
            .visibility_timeout(2)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap()
            .messages()
            .to_vec();
        let received_at = Instant::now();
        let event = h.event_of(&received);
        let message_id = event.records[0].message_id.clone().unwrap();
        let response = h.handle(event).await;
        assert_eq!(failed_ids(&response), vec![message_id], "{code}");
        assert!(
            h.glue_log.count() >= 3,
            "SDK retries: {:?}",
            h.glue_log.operations()
        );
        let line = &h.file_lines()[0];
        assert_eq!(line["outcome"], "retry");
        assert!(line["reason"].as_str().unwrap().contains(code), "{line}");
        // The object was written; the retry will find it and only redo the partition.
        assert!(h.output(OUTPUT_0315).await.is_some());

        tokio::time::sleep(Duration::from_secs(3).saturating_sub(received_at.elapsed())).await;
        assert_eq!(
            h.queue_count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .await,
            // The bootstrap's TestEvent, received by the harness, is in flight too.
            1 + h.startup_messages.len() as u64,
            "{code}: still invisible after the receive's 2 s visibility timeout"
        );
        assert!(receive(&h.clients.sqs, &h.queue_url, Duration::ZERO)
            .await
            .is_empty());
        assert!(h.dead_letters().await.is_empty());
    }
}
