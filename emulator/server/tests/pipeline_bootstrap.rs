//! The emulator started from the shipped config has the pipeline's resources, visible through
//! the real SDK clients, and an S3 upload reaches the queue as an S3 event notification.

mod common;
mod faults;
// `serve --data-dir`: restarts keep state, kill -9 loses no acknowledged write (issue 11).
mod durability;

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::QueueAttributeName;

#[tokio::test]
async fn bootstrap_creates_buckets_queues_notification_and_tables() {
    let server = common::start_pipeline().await;
    let url = server.endpoint_url();
    let config = common::config();
    let r = &config.resources;

    let s3 = common::s3(&url).await;
    let buckets = s3.list_buckets().send().await.unwrap();
    let names: Vec<_> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    assert!(names.contains(&r.source_bucket.as_str()), "{names:?}");
    assert!(names.contains(&r.analytics_bucket.as_str()), "{names:?}");

    let notif = s3
        .get_bucket_notification_configuration()
        .bucket(&r.source_bucket)
        .send()
        .await
        .unwrap();
    assert!(!notif.queue_configurations().is_empty());
    for qc in notif.queue_configurations() {
        assert!(
            qc.queue_arn().ends_with(&format!(":{}", r.sqs_queue)),
            "{}",
            qc.queue_arn()
        );
    }

    let sqs = common::sqs(&url).await;
    let queue_url = sqs
        .get_queue_url()
        .queue_name(&r.sqs_queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attrs = attrs.attributes().unwrap();
    let redrive: serde_json::Value =
        serde_json::from_str(attrs.get(&QueueAttributeName::RedrivePolicy).unwrap()).unwrap();
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        r.max_receive_count.to_string()
    );
    assert!(redrive["deadLetterTargetArn"]
        .as_str()
        .unwrap()
        .ends_with(&r.dead_letter_queue));
    assert_eq!(
        attrs.get(&QueueAttributeName::VisibilityTimeout).unwrap(),
        &r.visibility_timeout_seconds.to_string()
    );

    let glue = common::glue(&url).await;
    for entity in config.entities.values() {
        let table = glue
            .get_table()
            .database_name(&r.glue_database)
            .name(&entity.table_name)
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        let keys: Vec<_> = table
            .partition_keys()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        assert_eq!(keys, entity.partition_keys);
        let columns: Vec<_> = table
            .storage_descriptor()
            .unwrap()
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        let expected: Vec<_> = entity.schema.iter().map(|c| c.name.clone()).collect();
        assert_eq!(columns, expected);
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bootstrap_twice_on_the_same_state_is_harmless() {
    let server = common::start_pipeline().await;
    emulator::bootstrap::apply(&server.services, &common::config())
        .expect("second bootstrap succeeds");
    let glue = common::glue(&server.endpoint_url()).await;
    let tables = glue
        .get_tables()
        .database_name(common::config().resources.glue_database)
        .send()
        .await
        .unwrap();
    assert_eq!(tables.table_list().len(), common::config().entities.len());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn upload_to_source_bucket_notifies_the_queue() {
    let server = common::start_pipeline().await;
    let url = server.endpoint_url();
    let r = common::config().resources;
    let sqs = common::sqs(&url).await;
    let queue_url = sqs
        .get_queue_url()
        .queue_name(&r.sqs_queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();

    // Bootstrap sent S3's test event when it configured the notification; drain it first.
    let first = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    for m in first.messages() {
        assert!(m.body().unwrap().contains("s3:TestEvent"), "{:?}", m.body());
        sqs.delete_message()
            .queue_url(&queue_url)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
    }

    let s3 = common::s3(&url).await;
    let key = "incoming/sales data 2024 ü.csv";
    s3.put_object()
        .bucket(&r.source_bucket)
        .key(key)
        .body(ByteStream::from_static(b"a,b\n1,2\n"))
        .send()
        .await
        .unwrap();
    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap();
    let message = received.messages().first().expect("a notification arrives");
    let body: serde_json::Value = serde_json::from_str(message.body().unwrap()).unwrap();
    let record = &body["Records"][0];
    assert_eq!(record["eventSource"], "aws:s3");
    assert_eq!(record["eventName"], "ObjectCreated:Put");
    assert_eq!(record["s3"]["bucket"]["name"], r.source_bucket.as_str());
    assert_eq!(
        record["s3"]["object"]["key"],
        "incoming/sales+data+2024+%C3%BC.csv"
    );
    assert_eq!(record["s3"]["object"]["size"], 8);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn health_reports_ready_and_oversized_rpc_bodies_get_the_services_error() {
    let server = common::start_pipeline().await;
    let addr = server.addr;
    let health = raw_http(
        addr,
        "GET /_emulator/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        &[],
    )
    .await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"status\":\"ready\""), "{health}");

    let big = vec![b'a'; 9 * 1024 * 1024];
    let head = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AmazonSQS.SendMessage\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        big.len()
    );
    let reply = raw_http(addr, &head, &big).await;
    // SQS's own error shape (see the `faults` module for each service's), not a bare 413.
    assert!(
        reply.starts_with("HTTP/1.1 400") && reply.contains("InvalidParameterValue;Sender"),
        "{}",
        &reply[..reply.len().min(400)]
    );
    server.shutdown().await.unwrap();
}

async fn raw_http(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer 413 and close before reading everything; ignore write errors.
    let _ = stream.write_all(body).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Issue 11: garbage POSTed to `/` got s3s's 501. A request that is no known operation gets a
/// 4xx in the error shape of the service it was aimed at, and the server keeps serving.
#[tokio::test]
async fn requests_that_are_no_operation_get_4xx_in_their_service_shape() {
    let server = common::start_pipeline().await;
    let addr = server.addr;
    let post = |headers: &str, body: &[u8]| {
        let head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let body = body.to_vec();
        async move { raw_http(addr, &head, &body).await }
    };
    let garbage: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    // No header says which service: S3 is the fallback, and POST / is none of its operations.
    let reply = post("", &garbage).await;
    assert!(reply.starts_with("HTTP/1.1 405"), "{reply}");
    assert!(reply.contains("<Code>MethodNotAllowed</Code>"), "{reply}");
    assert!(
        reply.contains("X-Amz-Target"),
        "says what is missing: {reply}"
    );
    // A JSON-protocol request for a service this server does not have.
    let reply = post(
        "X-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Type: application/x-amz-json-1.0\r\n",
        b"{}",
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("UnknownOperationException"), "{reply}");
    // A JSON-protocol body with no X-Amz-Target at all.
    let reply = post("Content-Type: application/x-amz-json-1.1\r\n", &garbage).await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("UnknownOperationException"), "{reply}");
    // Known services, unknown operations: each in its own shape.
    let reply = post(
        "X-Amz-Target: AWSGlue.DropEverything\r\nContent-Type: application/x-amz-json-1.1\r\n",
        b"{}",
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("UnknownOperationException"), "{reply}");
    // A query-protocol form with no Action is SQS's, answered in SQS's query XML.
    let reply = post(
        "Content-Type: application/x-www-form-urlencoded\r\n",
        b"QueueName=x&garbage=%FF",
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("<ErrorResponse"), "{reply}");
    assert!(reply.contains("Action"), "{reply}");
    let health = raw_http(
        addr,
        "GET /_emulator/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        &[],
    )
    .await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    server.shutdown().await.unwrap();
}
