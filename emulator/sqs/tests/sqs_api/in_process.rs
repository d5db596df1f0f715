//! The in-process API used by S3 notifications, the bootstrap and the Lambda event source
//! mapping, checked against what SDK clients see on the same service.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use emulator_sqs::ErrorCode;

use crate::common::{start, ACCOUNT};

#[tokio::test]
async fn create_send_receive_delete_in_process() {
    let server = start().await;
    let sqs = &server.sqs;
    let attrs = HashMap::from([("VisibilityTimeout".to_string(), "1".to_string())]);
    assert_eq!(
        sqs.create_queue("jobs", &attrs).unwrap(),
        format!("/{ACCOUNT}/jobs")
    );
    // Idempotent with the same attributes; a different value conflicts.
    assert!(sqs.create_queue("jobs", &attrs).is_ok());
    let other = HashMap::from([("VisibilityTimeout".to_string(), "2".to_string())]);
    assert_eq!(
        sqs.create_queue("jobs", &other).unwrap_err().code,
        ErrorCode::QueueNameExists
    );
    let arn = sqs.queue_arn("jobs");
    assert_eq!(arn, format!("arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"));
    assert!(sqs.queue_exists_arn(&arn));
    assert!(!sqs.queue_exists_arn("arn:aws:sqs:us-east-1:000000000000:none"));
    assert_eq!(
        sqs.send_to_arn("arn:aws:sqs:us-east-1:000000000000:none", "x".into())
            .unwrap_err()
            .code,
        ErrorCode::QueueDoesNotExist
    );

    // Long poll in process wakes on a send through the SDK.
    let poller = sqs.clone();
    let poll = tokio::spawn(async move {
        let got = poller
            .receive("jobs", 10, Duration::from_secs(5), None)
            .await
            .unwrap();
        (Instant::now(), got)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let url = server.queue("jobs").await;
    let sent_at = Instant::now();
    server
        .client
        .send_message()
        .queue_url(&url)
        .message_body("from sdk")
        .send()
        .await
        .unwrap();
    let (at, got) = poll.await.unwrap();
    assert!(at.duration_since(sent_at) < Duration::from_millis(100));
    assert_eq!(got.len(), 1);
    let message = &got[0];
    assert_eq!(message.body, "from sdk");
    assert_eq!(message.attributes["ApproximateReceiveCount"], "1");
    assert_eq!(message.attributes["SenderId"], "test");
    assert!(message.attributes.contains_key("SentTimestamp"));
    assert!(message
        .attributes
        .contains_key("ApproximateFirstReceiveTimestamp"));

    // change_visibility(0) makes it receivable at once, with count 2 and a new handle.
    sqs.change_visibility("jobs", &message.receipt_handle, 0)
        .unwrap();
    let again = sqs
        .receive("jobs", 1, Duration::ZERO, Some(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(again[0].message_id, message.message_id);
    assert_eq!(again[0].attributes["ApproximateReceiveCount"], "2");
    assert_ne!(again[0].receipt_handle, message.receipt_handle);
    assert_eq!(
        sqs.delete("jobs", "garbage").unwrap_err().code,
        ErrorCode::ReceiptHandleIsInvalid
    );
    sqs.delete("jobs", &again[0].receipt_handle).unwrap();
    assert_eq!(
        server
            .count(&url, "ApproximateNumberOfMessagesNotVisible")
            .await,
        0
    );

    // send_to_arn messages are seen by SDK consumers, MD5 included.
    let id = sqs.send_to_arn(&arn, "{\"Records\":[]}".into()).unwrap();
    let out = server
        .client
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(out.messages()[0].message_id(), Some(id.as_str()));
    assert_eq!(
        out.messages()[0].md5_of_body(),
        Some(hex::encode(<md5::Md5 as md5::Digest>::digest(b"{\"Records\":[]}")).as_str())
    );
    assert_eq!(
        sqs.receive("none", 1, Duration::ZERO, None)
            .await
            .unwrap_err()
            .code,
        ErrorCode::QueueDoesNotExist
    );
}

#[tokio::test]
async fn in_process_receive_applies_redrive() {
    let server = start().await;
    let sqs = &server.sqs;
    sqs.create_queue("work-dlq", &HashMap::new()).unwrap();
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":1}}"#,
        sqs.queue_arn("work-dlq")
    );
    sqs.create_queue(
        "work",
        &HashMap::from([("RedrivePolicy".to_string(), policy)]),
    )
    .unwrap();
    sqs.send_to_arn(&sqs.queue_arn("work"), "fails".into())
        .unwrap();
    let first = sqs.receive("work", 1, Duration::ZERO, None).await.unwrap();
    assert_eq!(first.len(), 1);
    sqs.change_visibility("work", &first[0].receipt_handle, 0)
        .unwrap();
    let second = sqs.receive("work", 1, Duration::ZERO, None).await.unwrap();
    assert!(
        second.is_empty(),
        "moved to the DLQ instead of a second delivery"
    );
    let dead = sqs
        .receive("work-dlq", 1, Duration::from_secs(1), None)
        .await
        .unwrap();
    assert_eq!(dead[0].body, "fails");
    // Deleting the queue ends a pending long poll with QueueDoesNotExist.
    let poller = sqs.clone();
    let poll = tokio::spawn(async move {
        poller
            .receive("work", 1, Duration::from_secs(5), None)
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let url = server
        .client
        .get_queue_url()
        .queue_name("work")
        .send()
        .await
        .unwrap();
    server
        .client
        .delete_queue()
        .queue_url(url.queue_url().unwrap())
        .send()
        .await
        .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(1), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result.unwrap_err().code, ErrorCode::QueueDoesNotExist);
}
