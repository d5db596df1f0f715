//! The whole pipeline, started as the README starts it: CSVs uploaded with aws-sdk-s3 become
//! partitioned (Parquet, for the shipped sales entity) objects and Glue partitions; bad files land in the DLQ with a reason; a file
//! uploaded twice gives one output; the queue is empty at the end; a poison message too large for
//! the DLQ with its reason is kept in S3 and referenced.

mod chaos;
mod console;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::QueueAttributeName;
use e2e_tests::{eventually, Pipeline};
use pipeline_core::config::Config;

const GOOD: &str = "transaction_id,customer_id,amount,transaction_date\nt1,c1,10.50,2024-03-15\nt2,c2,99.99,2024-03-15\n";
const BAD_ROW: &str = "transaction_id,customer_id,amount,transaction_date\nt1,c1,10.50,2024-03-15\nt2,c2,ten,2024-03-15\n";
const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread")]
async fn csv_files_become_partitions_and_bad_files_reach_the_dlq() {
    let pipeline = Pipeline::start().await;
    let config = Config::embedded_default().unwrap();
    let r = &config.resources;
    let table = &config.entities["sales"].table_name;
    let (s3, sqs, glue) = (
        pipeline.s3().await,
        pipeline.sqs().await,
        pipeline.glue().await,
    );

    let put = |key: &'static str, body: &'static str| {
        let s3 = s3.clone();
        let bucket = r.source_bucket.clone();
        async move {
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from_static(body.as_bytes()))
                .send()
                .await
                .unwrap();
        }
    };
    put("sales_data_2024_03_15.csv", GOOD).await;
    put("unknown_file.csv", GOOD).await;
    put("sales_data_2024_03_16.csv", BAD_ROW).await;
    // A name that matches the sales pattern but is no date: no month=13/day=45 partition.
    put("sales_data_2024_13_45.csv", GOOD).await;
    // The same file twice: at-least-once delivery and a re-upload must give one output.
    put("drops/sales_data_2024_03_17.csv", GOOD).await;
    put("drops/sales_data_2024_03_17.csv", GOOD).await;

    for (day, expected_key) in [
        (
            "15",
            format!("{table}/year=2024/month=03/day=15/sales_data_2024_03_15.parquet"),
        ),
        (
            "17",
            format!("{table}/year=2024/month=03/day=17/sales_data_2024_03_17.parquet"),
        ),
    ] {
        let body = eventually(WAIT, &format!("output {expected_key}"), || {
            let s3 = s3.clone();
            let (bucket, key) = (r.analytics_bucket.clone(), expected_key.clone());
            async move {
                let got = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
                Some(got.body.collect().await.ok()?.into_bytes())
            }
        })
        .await;
        // The shipped sales entity writes Parquet (the file-processor tests check its content).
        assert!(
            body.starts_with(b"PAR1") && body.ends_with(b"PAR1"),
            "a Parquet file"
        );

        let partition = eventually(WAIT, &format!("partition day={day}"), || {
            let glue = glue.clone();
            let (db, table, day) = (r.glue_database.clone(), table.clone(), day.to_owned());
            async move {
                let values = vec!["2024".to_owned(), "03".to_owned(), day];
                glue.get_partition()
                    .database_name(db)
                    .table_name(table)
                    .set_partition_values(Some(values))
                    .send()
                    .await
                    .ok()
            }
        })
        .await;
        let location = partition
            .partition()
            .unwrap()
            .storage_descriptor()
            .unwrap()
            .location()
            .unwrap()
            .to_owned();
        assert_eq!(
            location,
            format!(
                "s3://{}/{table}/year=2024/month=03/day={day}/",
                r.analytics_bucket
            )
        );
    }

    // Three permanent failures reach the DLQ, each with a reason naming its file.
    let dlq_url = sqs
        .get_queue_url()
        .queue_name(&r.dead_letter_queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let reasons: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    eventually(WAIT, "three DLQ entries", || {
        let (sqs, dlq_url, reasons) = (sqs.clone(), dlq_url.clone(), reasons.clone());
        async move {
            let got = sqs
                .receive_message()
                .queue_url(&dlq_url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .send()
                .await
                .ok()?;
            for m in got.messages() {
                let attrs = m.message_attributes()?;
                let reason = attrs.get("error_reason")?.string_value()?.to_owned();
                let class = attrs.get("error_class")?.string_value()?.to_owned();
                assert_eq!(class, "permanent");
                reasons
                    .lock()
                    .unwrap()
                    .insert(m.message_id()?.to_owned(), reason);
                sqs.delete_message()
                    .queue_url(&dlq_url)
                    .receipt_handle(m.receipt_handle()?)
                    .send()
                    .await
                    .ok()?;
            }
            let count = reasons.lock().unwrap().len();
            (count >= 3).then_some(())
        }
    })
    .await;
    let reasons = reasons.lock().unwrap().clone();
    let all = reasons.values().cloned().collect::<Vec<_>>().join("\n");
    assert!(all.contains("unknown_file.csv"), "{all}");
    assert!(
        all.contains("sales_data_2024_03_16.csv") && all.contains("line 3"),
        "{all}"
    );
    assert!(
        all.contains("sales_data_2024_13_45.csv") && all.contains("month=13: out of range"),
        "{all}"
    );
    assert_eq!(reasons.len(), 3, "exactly three rejected files: {all}");

    // Exactly one output per good file: the duplicate upload did not create a second object.
    let listed = s3
        .list_objects_v2()
        .bucket(&r.analytics_bucket)
        .prefix(format!("{table}/"))
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let partitions = glue
        .get_partitions()
        .database_name(&r.glue_database)
        .table_name(table)
        .send()
        .await
        .unwrap();
    assert_eq!(partitions.partitions().len(), 2);

    // Nothing left behind: visible + in flight = 0 on the pipeline queue.
    let queue_url = sqs
        .get_queue_url()
        .queue_name(&r.sqs_queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    queue_drained(&sqs, &queue_url, "an empty queue").await;
}

/// A file that cannot be processed within the function's timeout (1 GiB-class drops on a small
/// timeout): the handler stops cleanly before the deadline each time (never a sandbox timeout),
/// aborts its multipart upload, and on the last receive the queue allows it sends the file to the
/// DLQ itself with a reason naming the size, the progress and the fix.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_too_big_for_the_timeout_reaches_the_dlq_with_a_reason_and_nothing_behind() {
    let dir = std::env::temp_dir().join(format!("skipdb-deadline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(pipeline_core::config::EMBEDDED_PIPELINE_JSON).unwrap();
    // 2 s timeout, two receives: the whole drill takes seconds, not the 15 minutes of defaults.
    config["aws"]["account_id"] = "000000000000".into();
    config["resources"]["max_receive_count"] = 2.into();
    config["resources"]["visibility_timeout_seconds"] = 12.into();
    // Row groups of 128 Ki rows (~5 MiB of these CSV rows) instead of 1 Mi: the Parquet writer
    // fills its first 5 MiB part, and so starts the multipart upload this test expects to see
    // aborted, well within the 2 s even on a loaded machine (with 1 Mi rows that took ~80 MiB of
    // input, which a busy dev build does not always reach).
    config["entities"]["sales"]["parquet"] = serde_json::json!({"row_group_rows": 131_072});
    let function = &mut config["functions"]["file-processor"];
    function["timeout_seconds"] = 2.into();
    function["environment"]["PART_SIZE_MIB"] = "5".into();
    function["environment"]["RUST_LOG"] = "info".into();
    let config_path = dir.join("pipeline.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let log_path = dir.join("emulator.log");
    let pipeline = e2e_tests::Pipeline::start_with(e2e_tests::StartOptions {
        config: Some(config_path),
        log_file: Some(log_path.clone()),
        ..Default::default()
    })
    .await;
    let config = Config::embedded_default().unwrap();
    let r = &config.resources;
    let (s3, sqs) = (pipeline.s3().await, pipeline.sqs().await);

    // 256 MiB of valid sales rows: far more than 2 s of work for the handler in any profile.
    let mut csv = String::from("transaction_id,customer_id,amount,transaction_date\n");
    let mut n = 0u64;
    while csv.len() < 256 << 20 {
        csv.push_str(&format!(
            "T{n:09},C{:06},{}.{:02},2024-04-01\n",
            n % 99_991,
            n % 9_973,
            n % 100
        ));
        n += 1;
    }
    s3.put_object()
        .bucket(&r.source_bucket)
        .key("sales_data_2024_04_01.csv")
        .body(ByteStream::from(csv.into_bytes()))
        .send()
        .await
        .unwrap();

    let dlq_url = sqs
        .get_queue_url()
        .queue_name(&r.dead_letter_queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let (class, reason) = eventually(Duration::from_secs(90), "the DLQ entry", || {
        let (sqs, dlq_url) = (sqs.clone(), dlq_url.clone());
        async move {
            let got = sqs
                .receive_message()
                .queue_url(&dlq_url)
                .message_attribute_names("All")
                .wait_time_seconds(1)
                .send()
                .await
                .ok()?;
            let attrs = got.messages().first()?.message_attributes()?.clone();
            let text = |name: &str| {
                attrs
                    .get(name)
                    .and_then(|a| a.string_value())
                    .map(str::to_owned)
            };
            Some((text("error_class")?, text("error_reason")?))
        }
    })
    .await;
    assert_eq!(class, "transient", "{reason}");
    for part in [
        "sales_data_2024_04_01.csv: stopped after processing ",
        " of 256 MiB in ",
        "before the function's 2 s timeout",
        "the upload was aborted and nothing was written",
        "timeout_seconds",
        "(gave up on receive 2 of the queue's maxReceiveCount 2)",
    ] {
        assert!(reason.contains(part), "{part:?} not in {reason}");
    }

    let table = &config.entities["sales"].table_name;
    let listed = s3
        .list_objects_v2()
        .bucket(&r.analytics_bucket)
        .prefix(format!("{table}/"))
        .send()
        .await
        .unwrap();
    assert!(listed.contents().is_empty(), "no output: {listed:?}");
    // The emulator relays the function's output asynchronously: wait for the last invocation's
    // lines (the DLQ send and its REPORT) before reading the whole log.
    let log = eventually(WAIT, "the last invocation's log lines", || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let settled = log.contains("message sent to the DLQ")
            && log.matches("REPORT RequestId").count() == log.matches("START RequestId").count();
        async move { settled.then_some(log) }
    })
    .await;
    assert!(
        !log.contains("Sandbox.Timedout") && !log.contains("Task timed out"),
        "{log}"
    );
    // A browser's requests on the emulator's port (the console's favicon, an unsigned S3 GET) are
    // refused, and are the client's errors, not the emulator's: no ERROR line for them (s3s logs
    // one for every request it refuses before routing).
    for path in ["/favicon.ico", "/my-company-analytics?list-type=2"] {
        let status = unsigned_get_status(&pipeline.url, path);
        assert!((400..500).contains(&status), "{path}: {status}");
    }
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(!log.contains("s3s::ops"), "{log}");
    // Both receives ended in a clean stop (a file line with outcome retry), and every
    // invocation has its REPORT line: the function returned before its deadline each time.
    assert_eq!(log.matches(r#""outcome":"retry""#).count(), 2, "{log}");
    assert_eq!(
        log.matches("REPORT RequestId").count(),
        log.matches("START RequestId").count(),
        "{log}"
    );
    // Every multipart upload the handler started was aborted: a part sent to it now is refused.
    let upload_ids: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("multipart upload aborted"))
        .filter_map(|line| line.split("upload_id=").nth(1)?.split_whitespace().next())
        .collect();
    // An attempt that stops before its first part is complete never starts an upload (under
    // load an attempt may not get that far), so 0 to 2; and no upload is left in progress,
    // which is the point.
    assert!(
        upload_ids.len() <= 2,
        "at most one aborted upload per attempt: {log}"
    );
    let in_progress = s3
        .list_multipart_uploads()
        .bucket(&r.analytics_bucket)
        .send()
        .await
        .unwrap();
    assert!(in_progress.uploads().is_empty(), "{in_progress:?}");
    for upload_id in upload_ids {
        let refused = s3
            .upload_part()
            .bucket(&r.analytics_bucket)
            .key(format!(
                "{table}/year=2024/month=04/day=01/sales_data_2024_04_01.csv"
            ))
            .upload_id(upload_id)
            .part_number(1)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            aws_sdk_s3::error::ProvideErrorMetadata::code(&refused),
            Some("NoSuchUpload"),
            "{refused:?}"
        );
    }
}

/// A source uploaded in parts (what `aws s3 cp` does above 8 MiB) carries a composite checksum
/// the SDK cannot validate; the handler must process it without logging any warning.
#[tokio::test(flavor = "multi_thread")]
async fn a_multipart_source_is_processed_without_a_warning() {
    use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
    let dir = std::env::temp_dir().join(format!("skipdb-multipart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log_path = dir.join("emulator.log");
    let pipeline = e2e_tests::Pipeline::start_with(e2e_tests::StartOptions {
        config: None,
        log_file: Some(log_path.clone()),
        ..Default::default()
    })
    .await;
    let config = Config::embedded_default().unwrap();
    let r = &config.resources;
    let s3 = pipeline.s3().await;
    let mut csv = String::from("transaction_id,customer_id,amount,transaction_date\n");
    let mut n = 0u64;
    while csv.len() < 12 << 20 {
        csv.push_str(&format!(
            "T{n:09},C{:06},{}.{:02},2024-04-02\n",
            n % 99_991,
            n % 9_973,
            n % 100
        ));
        n += 1;
    }
    let key = "sales_data_2024_04_02.csv";
    let created = s3
        .create_multipart_upload()
        .bucket(&r.source_bucket)
        .key(key)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap();
    let upload_id = created.upload_id().unwrap();
    let mut parts = Vec::new();
    for (index, chunk) in csv.as_bytes().chunks(8 << 20).enumerate() {
        let number = index as i32 + 1;
        let part = s3
            .upload_part()
            .bucket(&r.source_bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(part.e_tag().map(str::to_owned))
                .set_checksum_crc32(part.checksum_crc32().map(str::to_owned))
                .build(),
        );
    }
    let completed = s3
        .complete_multipart_upload()
        .bucket(&r.source_bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        completed
            .checksum_crc32()
            .is_some_and(|c| c.ends_with("-2")),
        "{completed:?}"
    );

    let table = &config.entities["sales"].table_name;
    // The shipped `sales` entity writes Parquet: `<stem>.parquet`.
    let output = format!("{table}/year=2024/month=04/day=02/sales_data_2024_04_02.parquet");
    let body = eventually(WAIT, "the output", || {
        let (s3, bucket, output) = (s3.clone(), r.analytics_bucket.clone(), output.clone());
        async move {
            let got = s3
                .get_object()
                .bucket(bucket)
                .key(output)
                .send()
                .await
                .ok()?;
            Some(got.body.collect().await.ok()?.into_bytes())
        }
    })
    .await;
    assert!(
        body.starts_with(b"PAR1") && body.ends_with(b"PAR1"),
        "a Parquet file"
    );
    // The function's lines reach the emulator's log asynchronously: wait for its file line.
    let log = eventually(WAIT, "the file line", || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let done = log.contains(r#""outcome":"processed""#);
        async move { done.then_some(log) }
    })
    .await;
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(" WARN ") || line.contains("part-level checksum"))
        .collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert!(log.contains(r#""outcome":"processed""#), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A poison message near the 1 MiB SQS limit (here: not an S3 event at all) cannot be copied to
/// the DLQ with its error attributes, which count against the size. The function keeps the body
/// in S3 and dead-letters a reference with the reason; the work queue ends empty, so the queue's
/// own redrive never moves the message without a reason.
#[tokio::test(flavor = "multi_thread")]
async fn a_poison_message_near_the_size_limit_reaches_the_dlq_with_its_reason() {
    let pipeline = Pipeline::start().await;
    let config = Config::embedded_default().unwrap();
    let r = &config.resources;
    let (s3, sqs) = (pipeline.s3().await, pipeline.sqs().await);
    let url_of = |name: String| {
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_url()
                .queue_name(name)
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap()
        }
    };
    let (queue_url, dlq_url) = (
        url_of(r.sqs_queue.clone()).await,
        url_of(r.dead_letter_queue.clone()).await,
    );
    let body = format!("poison {}", "p".repeat(1_048_576 - 64));
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body(&body)
        .send()
        .await
        .expect("the work queue takes a message under 1 MiB");

    let (reference, class, reason) = eventually(WAIT, "the DLQ entry", || {
        let (sqs, dlq_url) = (sqs.clone(), dlq_url.clone());
        async move {
            let got = sqs
                .receive_message()
                .queue_url(&dlq_url)
                .message_attribute_names("All")
                .wait_time_seconds(1)
                .send()
                .await
                .ok()?;
            let message = got.messages().first()?;
            let attrs = message.message_attributes()?;
            let text = |name: &str| attrs.get(name)?.string_value().map(str::to_owned);
            let reference: serde_json::Value = serde_json::from_str(message.body()?).ok()?;
            Some((reference, text("error_class")?, text("error_reason")?))
        }
    })
    .await;
    assert_eq!(class, "permanent");
    assert!(reason.contains("not a usable S3 event"), "{reason}");
    let stored = &reference["dead_letter_body"];
    assert_eq!(stored["bytes"], body.len(), "{reference}");
    let prefix = format!("s3://{}/", r.analytics_bucket);
    let key = stored["s3_uri"]
        .as_str()
        .and_then(|uri| uri.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{reference}"));
    assert!(key.starts_with("dead-letter-bodies/"), "{key}");
    let kept = s3
        .get_object()
        .bucket(&r.analytics_bucket)
        .key(key)
        .send()
        .await
        .expect("the stored body");
    let kept = kept.body.collect().await.unwrap().into_bytes();
    assert!(kept == body.as_bytes(), "the stored body is the original");

    queue_drained(&sqs, &queue_url, "an empty work queue").await;
}

/// Waits until the queue has no visible and no in-flight message.
async fn queue_drained(sqs: &aws_sdk_sqs::Client, queue_url: &str, what: &str) {
    eventually(WAIT, what, || {
        let (sqs, queue_url) = (sqs.clone(), queue_url.to_owned());
        async move {
            let attrs = sqs
                .get_queue_attributes()
                .queue_url(queue_url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
                .ok()?;
            let attrs = attrs.attributes()?;
            let visible = attrs.get(&QueueAttributeName::ApproximateNumberOfMessages)?;
            let in_flight =
                attrs.get(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?;
            (visible == "0" && in_flight == "0").then_some(())
        }
    })
    .await;
}

/// The status of an unsigned `GET path` on the emulator at `url` (`http://host:port`), as a
/// browser sends it.
fn unsigned_get_status(url: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or(0)
}
