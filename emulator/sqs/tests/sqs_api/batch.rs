//! Batch operations and their request-level errors through the SDK.

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry,
};
use md5::{Digest, Md5};

use crate::common::{code, start};

fn entry(id: &str, body: &str) -> SendMessageBatchRequestEntry {
    SendMessageBatchRequestEntry::builder()
        .id(id)
        .message_body(body)
        .build()
        .unwrap()
}

#[tokio::test]
async fn send_delete_change_batches() {
    let server = start().await;
    let client = &server.client;
    let url = server.queue("batch").await;
    let with_attr = SendMessageBatchRequestEntry::builder()
        .id("attr")
        .message_body("with attribute")
        .message_attributes(
            "attribName1",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("attribValue 1")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let sent = client
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("a", "one"))
        .entries(entry("b", "bad \u{2} body"))
        .entries(with_attr)
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("c")
                .message_body("delayed")
                .delay_seconds(2)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(sent.successful().len(), 3);
    let [failed] = sent.failed() else {
        panic!("one failure expected: {sent:?}")
    };
    assert_eq!(failed.id(), "b");
    assert_eq!(failed.code(), "InvalidMessageContents");
    assert!(failed.sender_fault());
    let one = sent.successful().iter().find(|s| s.id() == "a").unwrap();
    assert_eq!(one.md5_of_message_body(), hex::encode(Md5::digest(b"one")));
    let attr = sent.successful().iter().find(|s| s.id() == "attr").unwrap();
    assert_eq!(
        attr.md5_of_message_attributes(),
        Some("19e27d4e946b072f3f58da80d94fd778")
    );
    assert_eq!(
        server
            .count(&url, "ApproximateNumberOfMessagesDelayed")
            .await,
        1
    );

    let received = client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let messages = received.messages();
    assert_eq!(messages.len(), 2);

    let changed = client
        .change_message_visibility_batch()
        .queue_url(&url)
        .entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("ok")
                .receipt_handle(messages[0].receipt_handle().unwrap())
                .visibility_timeout(0)
                .build()
                .unwrap(),
        )
        .entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("bad")
                .receipt_handle("garbage")
                .visibility_timeout(0)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(changed.successful().len(), 1);
    assert_eq!(changed.successful()[0].id(), "ok");
    assert_eq!(changed.failed()[0].id(), "bad");
    assert_eq!(changed.failed()[0].code(), "ReceiptHandleIsInvalid");
    assert_eq!(server.count(&url, "ApproximateNumberOfMessages").await, 1);

    let deleted = client
        .delete_message_batch()
        .queue_url(&url)
        .entries(
            DeleteMessageBatchRequestEntry::builder()
                .id("d1")
                .receipt_handle(messages[1].receipt_handle().unwrap())
                .build()
                .unwrap(),
        )
        .entries(
            DeleteMessageBatchRequestEntry::builder()
                .id("d2")
                .receipt_handle("garbage")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.successful()[0].id(), "d1");
    assert_eq!(deleted.failed()[0].id(), "d2");
    assert_eq!(deleted.failed()[0].code(), "ReceiptHandleIsInvalid");
    assert_eq!(
        server
            .count(&url, "ApproximateNumberOfMessagesNotVisible")
            .await,
        0
    );
}

#[tokio::test]
async fn batch_request_errors() {
    let server = start().await;
    let client = &server.client;
    let url = server.queue("batch-errors").await;

    let result = client.send_message_batch().queue_url(&url).send().await;
    assert!(result
        .as_ref()
        .unwrap_err()
        .as_service_error()
        .unwrap()
        .is_empty_batch_request());
    assert_eq!(code(result), "AWS.SimpleQueueService.EmptyBatchRequest");

    let mut eleven = client.send_message_batch().queue_url(&url);
    for i in 0..11 {
        eleven = eleven.entries(entry(&format!("e{i}"), "x"));
    }
    let result = eleven.send().await;
    assert!(result
        .as_ref()
        .unwrap_err()
        .as_service_error()
        .unwrap()
        .is_too_many_entries_in_batch_request());
    assert_eq!(
        code(result),
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    );

    let result = client
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("same", "x"))
        .entries(entry("same", "y"))
        .send()
        .await;
    assert_eq!(
        code(result),
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    );

    let result = client
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("not valid!", "x"))
        .send()
        .await;
    assert_eq!(code(result), "AWS.SimpleQueueService.InvalidBatchEntryId");

    // Each entry fits the queue limit but the batch passes 1 MiB in total.
    let big = "x".repeat(300_000);
    let mut too_long = client.send_message_batch().queue_url(&url);
    for i in 0..4 {
        too_long = too_long.entries(entry(&format!("big{i}"), &big));
    }
    let result = too_long.send().await;
    assert!(result
        .as_ref()
        .unwrap_err()
        .as_service_error()
        .unwrap()
        .is_batch_request_too_long());
    assert_eq!(code(result), "AWS.SimpleQueueService.BatchRequestTooLong");

    // A per-entry size failure is reported in Failed, not raised.
    client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::MaximumMessageSize, "1024")
        .send()
        .await
        .unwrap();
    let sent = client
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("small", "x"))
        .entries(entry("large", &"y".repeat(2000)))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.successful()[0].id(), "small");
    assert_eq!(sent.failed()[0].id(), "large");
    assert_eq!(sent.failed()[0].code(), "InvalidParameterValue");

    let result = client.delete_message_batch().queue_url(&url).send().await;
    assert_eq!(code(result), "AWS.SimpleQueueService.EmptyBatchRequest");
    let result = client
        .change_message_visibility_batch()
        .queue_url(&url)
        .entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("x")
                .receipt_handle("h")
                .build()
                .unwrap(),
        )
        .entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("x")
                .receipt_handle("h")
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_eq!(
        code(result),
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    );
    let missing = format!("http://{}/000000000000/missing", server.addr);
    let result = client
        .send_message_batch()
        .queue_url(missing)
        .entries(entry("a", "x"))
        .send()
        .await;
    assert_eq!(code(result), "AWS.SimpleQueueService.NonExistentQueue");
}
