//! The whole pipeline, started as the README starts it: CSVs uploaded with aws-sdk-s3 become
//! partitioned (Parquet, for the shipped sales entity) objects and Glue partitions; bad files land in the DLQ with a reason; a file
//! uploaded twice gives one output; the queue is empty at the end.

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

    // Two permanent failures reach the DLQ, each with a reason naming its file.
    let dlq_url = sqs
        .get_queue_url()
        .queue_name(&r.dead_letter_queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let reasons: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    eventually(WAIT, "two DLQ entries", || {
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
            (count >= 2).then_some(())
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
    assert_eq!(reasons.len(), 2, "exactly two rejected files: {all}");

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
    eventually(WAIT, "an empty queue", || {
        let (sqs, queue_url) = (sqs.clone(), queue_url.clone());
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
