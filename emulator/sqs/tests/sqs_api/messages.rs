//! Send/receive/delete/visibility semantics through the SDK.

use std::time::Duration;

use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, MessageSystemAttributeNameForSends,
    MessageSystemAttributeValue, QueueAttributeName,
};
use md5::{Digest, Md5};

use crate::common::{code, start, TestServer};

fn string_attr(data_type: &str, value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
        .unwrap()
}

pub async fn queue_with(
    server: &TestServer,
    name: &str,
    attrs: &[(QueueAttributeName, &str)],
) -> String {
    let mut request = server.client.create_queue().queue_name(name);
    for (k, v) in attrs {
        request = request.attributes(k.clone(), *v);
    }
    request.send().await.unwrap().queue_url.unwrap()
}

#[tokio::test]
async fn send_receive_delete_with_attributes_and_md5() {
    let server = start().await;
    let client = &server.client;
    let url = server.queue("attrs").await;
    let body = "héllo\r\nworld 😀";
    let sent = client
        .send_message()
        .queue_url(&url)
        .message_body(body)
        .message_attributes("attribName1", string_attr("String", "attribValue 1"))
        .message_system_attributes(
            MessageSystemAttributeNameForSends::AwsTraceHeader,
            MessageSystemAttributeValue::builder()
                .data_type("String")
                .string_value("Root=1-5759e988-bd862e3fe1be46a994272793")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let body_md5 = hex::encode(Md5::digest(body.as_bytes()));
    assert_eq!(sent.md5_of_message_body(), Some(body_md5.as_str()));
    // Reference digest for this attribute from the documented algorithm.
    assert_eq!(
        sent.md5_of_message_attributes(),
        Some("19e27d4e946b072f3f58da80d94fd778")
    );
    assert!(sent.md5_of_message_system_attributes().is_some());
    let message_id = sent.message_id().unwrap().to_string();

    let received = client
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap();
    let [message] = received.messages() else {
        panic!("expected one message: {received:?}")
    };
    assert_eq!(message.message_id(), Some(message_id.as_str()));
    assert_eq!(message.body(), Some(body));
    assert_eq!(message.md5_of_body(), Some(body_md5.as_str()));
    assert_eq!(
        message.md5_of_message_attributes(),
        Some("19e27d4e946b072f3f58da80d94fd778")
    );
    let attrs = message.attributes().unwrap();
    assert_eq!(
        attrs[&MessageSystemAttributeName::ApproximateReceiveCount],
        "1"
    );
    assert_eq!(attrs[&MessageSystemAttributeName::SenderId], "test");
    assert_eq!(
        attrs[&MessageSystemAttributeName::AwsTraceHeader],
        "Root=1-5759e988-bd862e3fe1be46a994272793"
    );
    let sent_ts: u64 = attrs[&MessageSystemAttributeName::SentTimestamp]
        .parse()
        .unwrap();
    let first_ts: u64 = attrs[&MessageSystemAttributeName::ApproximateFirstReceiveTimestamp]
        .parse()
        .unwrap();
    assert!(first_ts >= sent_ts && sent_ts > 1_600_000_000_000);
    assert_eq!(
        message.message_attributes().unwrap()["attribName1"].string_value(),
        Some("attribValue 1")
    );

    client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(message.receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(server.count(&url, "ApproximateNumberOfMessages").await, 0);
    assert_eq!(
        server
            .count(&url, "ApproximateNumberOfMessagesNotVisible")
            .await,
        0
    );
}

#[tokio::test]
async fn message_attribute_selection() {
    let server = start().await;
    let client = &server.client;
    let url = server.queue("select").await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("b")
        .message_attributes("order.id", string_attr("Number", "42"))
        .message_attributes("order.kind", string_attr("String.custom", "x"))
        .message_attributes(
            "binaryAttribute",
            MessageAttributeValue::builder()
                .data_type("Binary")
                .binary_value(Blob::new(b"Hello binary world!".to_vec()))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let received = client
        .receive_message()
        .queue_url(&url)
        .message_attribute_names("order.*")
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let message = &received.messages()[0];
    let attrs = message.message_attributes().unwrap();
    assert_eq!(attrs.len(), 2);
    assert!(attrs.contains_key("order.id") && attrs.contains_key("order.kind"));
    // No attribute names requested: neither attributes nor their digest come back.
    let received = client
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let message = &received.messages()[0];
    assert!(message.message_attributes().is_none());
    assert!(message.md5_of_message_attributes().is_none());
    assert!(message.attributes().is_none());
    let received = client
        .receive_message()
        .queue_url(&url)
        .message_attribute_names("binaryAttribute")
        .send()
        .await
        .unwrap();
    let message = &received.messages()[0];
    let blob = &message.message_attributes().unwrap()["binaryAttribute"];
    assert_eq!(
        blob.binary_value().unwrap().as_ref(),
        b"Hello binary world!"
    );
    assert_eq!(
        message.md5_of_message_attributes(),
        Some("31a92b15d92f8db860eda32aceb656c3")
    );
}

#[tokio::test]
async fn invalid_messages_are_rejected() {
    let server = start().await;
    let client = &server.client;
    let url = queue_with(
        &server,
        "invalid",
        &[(QueueAttributeName::MaximumMessageSize, "1024")],
    )
    .await;
    let send = |body: String| {
        client
            .send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
    };

    let result = send("bad \u{1} char".into()).await;
    assert!(result
        .as_ref()
        .unwrap_err()
        .as_service_error()
        .unwrap()
        .is_invalid_message_contents());
    assert_eq!(code(result), "InvalidMessageContents");

    let result = send("x".repeat(1025)).await;
    let err = result.as_ref().unwrap_err();
    assert_eq!(
        aws_sdk_sqs::error::ProvideErrorMetadata::message(err),
        Some(
            "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."
        )
    );
    assert_eq!(code(result), "InvalidParameterValue");
    assert!(send("x".repeat(1024)).await.is_ok());

    let result = client
        .send_message()
        .queue_url(&url)
        .message_body("b")
        .delay_seconds(901)
        .send()
        .await;
    assert_eq!(code(result), "InvalidParameterValue");
    for (name, value) in [
        ("AWS.reserved", string_attr("String", "v")),
        ("a..b", string_attr("String", "v")),
        ("n", string_attr("Number", "not a number")),
        ("t", string_attr("Weird", "v")),
    ] {
        let result = client
            .send_message()
            .queue_url(&url)
            .message_body("b")
            .message_attributes(name, value)
            .send()
            .await;
        assert_eq!(code(result), "InvalidParameterValue", "{name}");
    }
    let mut request = client.send_message().queue_url(&url).message_body("b");
    for i in 0..11 {
        request = request.message_attributes(format!("a{i}"), string_attr("String", "v"));
    }
    assert_eq!(code(request.send().await), "InvalidParameterValue");
    assert_eq!(server.count(&url, "ApproximateNumberOfMessages").await, 1);

    // ReceiveMessage parameter ranges.
    for result in [
        client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(11)
            .send()
            .await,
        client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(0)
            .send()
            .await,
        client
            .receive_message()
            .queue_url(&url)
            .wait_time_seconds(21)
            .send()
            .await,
        client
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(43_201)
            .send()
            .await,
    ] {
        assert_eq!(code(result), "InvalidParameterValue");
    }
    let missing = format!("http://{}/000000000000/missing", server.addr);
    assert_eq!(
        code(
            client
                .send_message()
                .queue_url(&missing)
                .message_body("b")
                .send()
                .await
        ),
        "AWS.SimpleQueueService.NonExistentQueue"
    );
    assert_eq!(
        code(client.receive_message().queue_url(&missing).send().await),
        "AWS.SimpleQueueService.NonExistentQueue"
    );
}

#[tokio::test]
async fn visibility_timeout_redelivers_with_new_handle() {
    let server = start().await;
    let client = &server.client;
    let url = queue_with(
        &server,
        "vis",
        &[(QueueAttributeName::VisibilityTimeout, "1")],
    )
    .await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("again")
        .send()
        .await
        .unwrap();
    let receive = || {
        client
            .receive_message()
            .queue_url(&url)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
    };
    let first = receive().await.unwrap().messages()[0].clone();
    assert!(receive().await.unwrap().messages().is_empty(), "in flight");
    assert_eq!(
        server
            .count(&url, "ApproximateNumberOfMessagesNotVisible")
            .await,
        1
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = receive().await.unwrap().messages()[0].clone();
    assert_eq!(second.message_id(), first.message_id());
    assert_ne!(second.receipt_handle(), first.receipt_handle());
    assert_eq!(
        second.attributes().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount],
        "2"
    );
    // The old handle is well formed: DeleteMessage succeeds but does not delete.
    client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(first.receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        server
            .count(&url, "ApproximateNumberOfMessagesNotVisible")
            .await,
        1
    );
    client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(second.receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        server
            .count(&url, "ApproximateNumberOfMessagesNotVisible")
            .await,
        0
    );
    // Deleting again with the same (now stale) handle still succeeds.
    client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(second.receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    let result = client
        .delete_message()
        .queue_url(&url)
        .receipt_handle("garbage")
        .send()
        .await;
    assert!(result
        .as_ref()
        .unwrap_err()
        .as_service_error()
        .unwrap()
        .is_receipt_handle_is_invalid());
    assert_eq!(code(result), "ReceiptHandleIsInvalid");
}

#[tokio::test]
async fn change_visibility() {
    let server = start().await;
    let client = &server.client;
    let url = server.queue("change").await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("m")
        .send()
        .await
        .unwrap();
    let received = client
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    let handle = received.messages()[0].receipt_handle().unwrap().to_string();
    assert!(client
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap()
        .messages()
        .is_empty());

    let change = |handle: &str, secs: i32| {
        client
            .change_message_visibility()
            .queue_url(&url)
            .receipt_handle(handle)
            .visibility_timeout(secs)
            .send()
    };
    assert_eq!(code(change(&handle, 43_201).await), "InvalidParameterValue");
    change(&handle, 0).await.unwrap();
    // Visible again at once; the handle no longer refers to an in-flight message.
    let result = change(&handle, 10).await;
    assert!(result
        .as_ref()
        .unwrap_err()
        .as_service_error()
        .unwrap()
        .is_message_not_inflight());
    assert_eq!(code(result), "AWS.SimpleQueueService.MessageNotInflight");
    let again = client
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    let new_handle = again.messages()[0].receipt_handle().unwrap().to_string();
    change(&new_handle, 5).await.unwrap();
    assert_eq!(code(change("garbage", 5).await), "ReceiptHandleIsInvalid");
}
