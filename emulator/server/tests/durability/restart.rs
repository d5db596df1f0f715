//! A server restarted on the same data dir has every object, bucket configuration, queue,
//! message (with its in-flight state and receipt handle) and partition of the first run.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::QueueAttributeName;

use super::start_on;
use crate::common;

/// Bigger than the in-memory spill threshold and split into two multipart parts.
const BIG: usize = 9 * 1024 * 1024;

fn big_body() -> Vec<u8> {
    (0..BIG).map(|i| (i % 251) as u8).collect()
}

/// One long scenario on purpose (over 80 lines): the second run checks exactly what the first
/// wrote, so both halves share their values; the halves and the services are marked.
#[tokio::test]
async fn restart_on_the_same_data_dir_keeps_objects_queues_messages_and_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config();
    let r = &config.resources;
    let entity = config.entities.values().next().expect("an entity");

    let server = start_on(dir.path()).await.unwrap();
    let url = server.endpoint_url();
    let (s3, sqs, glue) = (
        common::s3(&url).await,
        common::sqs(&url).await,
        common::glue(&url).await,
    );
    let bucket = &r.analytics_bucket;
    s3.put_object()
        .bucket(bucket)
        .key("small.txt")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
    let big = big_body();
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key("dir/big.bin")
        .send()
        .await
        .unwrap();
    let upload_id = created.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, chunk) in [(1, &big[..5 * 1024 * 1024]), (2, &big[5 * 1024 * 1024..])] {
        let part = s3
            .upload_part()
            .bucket(bucket)
            .key("dir/big.bin")
            .upload_id(upload_id)
            .part_number(n)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        // No checksum: this upload was created without an algorithm.
        parts.push((n, part.e_tag().unwrap().to_owned(), String::new()));
    }
    let big_etag = complete_upload(&s3, bucket, "dir/big.bin", upload_id, &parts).await;
    s3.put_object()
        .bucket(bucket)
        .key("replaced.txt")
        .body(ByteStream::from_static(b"first"))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(bucket)
        .key("replaced.txt")
        .body(ByteStream::from_static(b"second"))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(bucket)
        .key("deleted.txt")
        .body(ByteStream::from_static(b"gone"))
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket(bucket)
        .key("deleted.txt")
        .send()
        .await
        .unwrap();
    // A file in the source bucket: its event message must survive with it.
    s3.put_object()
        .bucket(&r.source_bucket)
        .key("sales_data_2024_03_15.csv")
        .body(ByteStream::from_static(b"a,b\n1,2\n"))
        .send()
        .await
        .unwrap();

    let queue_url = sqs
        .create_queue()
        .queue_name("durable-q")
        .attributes(QueueAttributeName::VisibilityTimeout, "600")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    for body in ["in-flight", "visible", "deleted", "delayed"] {
        let mut send = sqs.send_message().queue_url(&queue_url).message_body(body);
        if body == "delayed" {
            send = send.delay_seconds(900);
        }
        send.send().await.unwrap();
    }
    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(3)
        .send()
        .await
        .unwrap();
    let mut in_flight_handle = None;
    for m in received.messages() {
        match m.body().unwrap() {
            "deleted" => {
                sqs.delete_message()
                    .queue_url(&queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            "in-flight" => in_flight_handle = Some(m.receipt_handle().unwrap().to_owned()),
            // Made visible again, with its receive count kept.
            _ => {
                sqs.change_message_visibility()
                    .queue_url(&queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .visibility_timeout(0)
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
    let in_flight_handle = in_flight_handle.expect("the first message was received");

    let keys = partition_key_count(&glue, &r.glue_database, &entity.table_name).await;
    let partitions: Vec<Vec<String>> = (0..3)
        .map(|i| (0..keys).map(|k| format!("{}", 10 + i + k)).collect())
        .collect();
    let inputs = partitions.iter().map(|values| {
        aws_sdk_glue::types::PartitionInput::builder()
            .set_values(Some(values.clone()))
            .build()
    });
    let batch = glue
        .batch_create_partition()
        .database_name(&r.glue_database)
        .table_name(&entity.table_name)
        .set_partition_input_list(Some(inputs.collect()))
        .send()
        .await
        .unwrap();
    assert!(batch.errors().is_empty(), "{:?}", batch.errors());
    server.shutdown().await.unwrap();

    // ---- second run on the same directory ----
    let server = start_on(dir.path()).await.unwrap();
    let url = server.endpoint_url();
    let (s3, sqs, glue) = (
        common::s3(&url).await,
        common::sqs(&url).await,
        common::glue(&url).await,
    );
    assert_eq!(get(&s3, bucket, "small.txt").await, b"hello");
    assert_eq!(get(&s3, bucket, "replaced.txt").await, b"second");
    let big_again = s3
        .get_object()
        .bucket(bucket)
        .key("dir/big.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(big_again.e_tag(), Some(big_etag.as_str()));
    let body = big_again.body.collect().await.unwrap().into_bytes();
    assert!(
        body[..] == big[..],
        "the multipart object reads back byte for byte"
    );
    let range = s3
        .get_object()
        .bucket(bucket)
        .key("dir/big.bin")
        .range("bytes=5242878-5242881")
        .send()
        .await
        .unwrap();
    let range = range.body.collect().await.unwrap().into_bytes();
    assert_eq!(&range[..], &big[5242878..5242882]);
    let missing = s3
        .get_object()
        .bucket(bucket)
        .key("deleted.txt")
        .send()
        .await;
    assert!(missing.is_err(), "a deleted object stays deleted");
    let notification = s3
        .get_bucket_notification_configuration()
        .bucket(&r.source_bucket)
        .send()
        .await
        .unwrap();
    assert!(!notification.queue_configurations().is_empty());

    // The in-flight message is still in flight, and its handle from the first run deletes it.
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attr = |name: QueueAttributeName| attrs.attributes().unwrap()[&name].clone();
    assert_eq!(attr(QueueAttributeName::VisibilityTimeout), "600");
    assert_eq!(attr(QueueAttributeName::ApproximateNumberOfMessages), "1");
    assert_eq!(
        attr(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        "1"
    );
    assert_eq!(
        attr(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        "1"
    );
    let visible = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .message_system_attribute_names(
            aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
        )
        .send()
        .await
        .unwrap();
    let bodies: Vec<_> = visible.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, ["visible"]);
    let count = visible.messages()[0].attributes().unwrap()
        [&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount]
        .clone();
    assert_eq!(count, "2", "the receive before the restart counts");
    sqs.delete_message()
        .queue_url(&queue_url)
        .receipt_handle(&in_flight_handle)
        .send()
        .await
        .unwrap();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attrs.attributes().unwrap()[&QueueAttributeName::ApproximateNumberOfMessagesNotVisible],
        "1",
        "the pre-restart handle deleted the in-flight message (left: the one just received)"
    );

    // The source-bucket event is in the pipeline's queue.
    let main_url = sqs
        .get_queue_url()
        .queue_name(&r.sqs_queue)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let events = sqs
        .receive_message()
        .queue_url(&main_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    assert!(
        events.messages().iter().any(|m| m
            .body()
            .unwrap_or_default()
            .contains("sales_data_2024_03_15.csv")),
        "the object's event message survived the restart"
    );

    for values in &partitions {
        glue.get_partition()
            .database_name(&r.glue_database)
            .table_name(&entity.table_name)
            .set_partition_values(Some(values.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("partition {values:?} after restart: {e:?}"));
    }
    server.shutdown().await.unwrap();
}

/// Uploads in progress survive a restart with their parts (a replaced part number keeps only
/// its last upload, checksums included); once completed or aborted, no upload or part file is
/// left in the data dir.
#[tokio::test]
async fn multipart_uploads_in_progress_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = common::config().resources.analytics_bucket;
    let big = big_body();
    let (first, last) = big.split_at(5 * 1024 * 1024);

    let (server, s3) = serve_s3(dir.path()).await;
    let kept = create_upload(&s3, &bucket, "mp/kept.bin").await;
    let mut sent = Vec::new();
    for (number, body) in [(1, first), (2, &b"replaced later"[..]), (2, last)] {
        sent.push(upload_part(&s3, &bucket, "mp/kept.bin", &kept, number, body).await);
    }
    let aborted = create_upload(&s3, &bucket, "mp/aborted.bin").await;
    upload_part(&s3, &bucket, "mp/aborted.bin", &aborted, 1, first).await;
    server.shutdown().await.unwrap();

    // ---- second run: both uploads are there; finish one, abort the other ----
    let (server, s3) = serve_s3(dir.path()).await;
    assert_eq!(
        uploads_in_progress(&s3, &bucket).await,
        [
            ("mp/aborted.bin".to_owned(), aborted.clone()),
            ("mp/kept.bin".to_owned(), kept.clone())
        ]
    );
    let parts = s3
        .list_parts()
        .bucket(&bucket)
        .key("mp/kept.bin")
        .upload_id(&kept)
        .send()
        .await
        .unwrap();
    let found: Vec<(i32, String, String)> = parts
        .parts()
        .iter()
        .map(|p| {
            let etag = p.e_tag().unwrap().to_owned();
            (
                p.part_number().unwrap(),
                etag,
                p.checksum_crc32().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(found, [sent[0].clone(), sent[2].clone()]);
    complete_upload(&s3, &bucket, "mp/kept.bin", &kept, &found).await;
    assert_eq!(get(&s3, &bucket, "mp/kept.bin").await, big);
    s3.abort_multipart_upload()
        .bucket(&bucket)
        .key("mp/aborted.bin")
        .upload_id(&aborted)
        .send()
        .await
        .unwrap();
    server.shutdown().await.unwrap();

    let s3_dir = dir.path().join("s3");
    assert_no_upload_files(&s3_dir);
    let (server, s3) = serve_s3(dir.path()).await;
    assert_eq!(uploads_in_progress(&s3, &bucket).await, []);
    assert_eq!(get(&s3, &bucket, "mp/kept.bin").await, big);
    server.shutdown().await.unwrap();
}

/// A crash after CompleteMultipartUpload committed the object but before the upload's record
/// and parts were removed: at the next start the upload is over (S3 would answer NoSuchUpload),
/// its files are gone, and the object is intact. The crash is reproduced by putting back the
/// upload's and parts' files as they were before the completion.
#[tokio::test]
async fn an_upload_completed_just_before_a_crash_does_not_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = common::config().resources.analytics_bucket;
    let big = big_body();
    let (first, last) = big.split_at(5 * 1024 * 1024);
    let (server, s3) = serve_s3(dir.path()).await;
    let id = create_upload(&s3, &bucket, "mp/done.bin").await;
    let mut sent = Vec::new();
    for (number, body) in [(1, first), (2, last)] {
        sent.push(upload_part(&s3, &bucket, "mp/done.bin", &id, number, body).await);
    }
    server.shutdown().await.unwrap();
    let s3_dir = dir.path().join("s3");
    let before_completion = tempfile::tempdir().unwrap();
    for sub in ["uploads", "parts"] {
        copy_dir(&s3_dir.join(sub), &before_completion.path().join(sub));
    }

    let (server, s3) = serve_s3(dir.path()).await;
    complete_upload(&s3, &bucket, "mp/done.bin", &id, &sent).await;
    server.shutdown().await.unwrap();
    for sub in ["uploads", "parts"] {
        copy_dir(&before_completion.path().join(sub), &s3_dir.join(sub));
    }

    let (server, s3) = serve_s3(dir.path()).await;
    assert_eq!(uploads_in_progress(&s3, &bucket).await, []);
    assert_eq!(get(&s3, &bucket, "mp/done.bin").await, big);
    server.shutdown().await.unwrap();
    assert_no_upload_files(&s3_dir);
}

/// DeleteBucket with an upload in progress (S3 allows it for general purpose buckets) ends the
/// upload: its record and part files leave the data dir at once, and a bucket re-created
/// under the name has no uploads, before and after a restart.
#[tokio::test]
async fn deleting_a_bucket_ends_its_uploads_and_removes_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = "scratch-uploads";
    let (server, s3) = serve_s3(dir.path()).await;
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let id = create_upload(&s3, bucket, "mp/left.bin").await;
    upload_part(&s3, bucket, "mp/left.bin", &id, 1, b"a part").await;
    let s3_dir = dir.path().join("s3");
    assert_eq!(
        walk(&s3_dir.join("parts")).len(),
        2,
        "the part's body and record"
    );
    s3.delete_bucket().bucket(bucket).send().await.unwrap();
    assert_no_upload_files(&s3_dir);
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    assert_eq!(uploads_in_progress(&s3, bucket).await, []);
    server.shutdown().await.unwrap();

    let (server, s3) = serve_s3(dir.path()).await;
    assert_eq!(uploads_in_progress(&s3, bucket).await, []);
    server.shutdown().await.unwrap();
}

/// Copies the files of `from` into `to` (created), one level deep: the layout's directories.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

/// CompleteMultipartUpload with `parts` as UploadPart answered them (number, ETag, checksum);
/// returns the object's ETag.
async fn complete_upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    parts: &[(i32, String, String)],
) -> String {
    let parts = parts
        .iter()
        .map(|(n, etag, _)| {
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(*n)
                .e_tag(etag)
                .build()
        })
        .collect();
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned()
}

/// No upload record and no part file is left in the data dir's `s3` directory.
fn assert_no_upload_files(s3_dir: &std::path::Path) {
    for sub in ["uploads", "parts"] {
        assert_eq!(
            walk(&s3_dir.join(sub)),
            Vec::<std::path::PathBuf>::new(),
            "{sub}"
        );
    }
}

/// The server on `dir` and an S3 client of it.
async fn serve_s3(dir: &std::path::Path) -> (emulator::EmulatorServer, aws_sdk_s3::Client) {
    let server = start_on(dir).await.unwrap();
    let s3 = common::s3(&server.endpoint_url()).await;
    (server, s3)
}

/// ListMultipartUploads: (key, upload id) of each, in S3's order.
async fn uploads_in_progress(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<(String, String)> {
    let listed = s3
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    listed
        .uploads()
        .iter()
        .map(|u| {
            (
                u.key().unwrap().to_owned(),
                u.upload_id().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn create_upload(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    s3.create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned()
}

/// Uploads one part; its number, ETag and CRC32 as S3 answered them.
async fn upload_part(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    number: i32,
    body: &[u8],
) -> (i32, String, String) {
    let out = s3
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(number)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap();
    let checksum = out.checksum_crc32().unwrap().to_owned();
    (number, out.e_tag().unwrap().to_owned(), checksum)
}

#[tokio::test]
async fn an_unknown_layout_version_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let layout = br#"{"format":"skip-the-database-emulator","version":99}"#;
    std::fs::write(dir.path().join("layout.json"), layout).unwrap();
    let err = match start_on(dir.path()).await {
        Ok(_) => panic!("a data dir of layout version 99 must be refused"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("version 99"), "{err}");
    assert!(err.contains("version 1"), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("layout.json")).unwrap(),
        layout
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn keys_with_dot_dot_stay_inside_the_data_dir() {
    let outer = tempfile::tempdir().unwrap();
    let dir = outer.path().join("data");
    let server = start_on(&dir).await.unwrap();
    let s3 = common::s3(&server.endpoint_url()).await;
    let bucket = common::config().resources.analytics_bucket;
    let keys = [
        "../../escape.txt",
        "../outside",
        "/etc/../../../tmp/x",
        "a/../../b",
    ];
    for key in keys {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(ByteStream::from(key.as_bytes().to_vec()))
            .send()
            .await
            .unwrap();
    }
    server.shutdown().await.unwrap();
    // Nothing but the data dir was created next to it, and no file name carries a key.
    let siblings: Vec<_> = std::fs::read_dir(outer.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings, ["data"]);
    for entry in walk(&dir) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.contains("escape") && !name.contains("outside"),
            "{}",
            entry.display()
        );
    }
    let server = start_on(&dir).await.unwrap();
    let s3 = common::s3(&server.endpoint_url()).await;
    for key in keys {
        assert_eq!(get(&s3, &bucket, key).await, key.as_bytes());
    }
    server.shutdown().await.unwrap();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {key}: {e:?}"));
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

/// How many partition keys the pipeline's table has (its partitions need one value each).
pub async fn partition_key_count(glue: &aws_sdk_glue::Client, db: &str, table: &str) -> usize {
    let table = glue
        .get_table()
        .database_name(db)
        .name(table)
        .send()
        .await
        .unwrap();
    table.table().unwrap().partition_keys().len()
}
