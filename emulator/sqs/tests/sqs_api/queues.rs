//! Queue lifecycle and attributes through the SDK.

use std::collections::HashMap;

use aws_sdk_sqs::types::QueueAttributeName;

use crate::common::{code, start, ACCOUNT};

#[tokio::test]
async fn create_get_list_delete() {
    let server = start().await;
    let client = &server.client;
    let url = client
        .create_queue()
        .queue_name("orders")
        .attributes(QueueAttributeName::VisibilityTimeout, "45")
        .tags("team", "data")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    assert_eq!(url, format!("http://{}/{ACCOUNT}/orders", server.addr));

    // Same attributes: idempotent. Different value: QueueAlreadyExists (QueueNameExists shape).
    let again = client
        .create_queue()
        .queue_name("orders")
        .attributes(QueueAttributeName::VisibilityTimeout, "45")
        .send()
        .await
        .unwrap();
    assert_eq!(again.queue_url(), Some(url.as_str()));
    let conflict = client
        .create_queue()
        .queue_name("orders")
        .attributes(QueueAttributeName::VisibilityTimeout, "46")
        .send()
        .await;
    let err = conflict.as_ref().unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_name_exists());
    assert_eq!(code(conflict), "QueueAlreadyExists");

    let got = client
        .get_queue_url()
        .queue_name("orders")
        .send()
        .await
        .unwrap();
    assert_eq!(got.queue_url(), Some(url.as_str()));
    let missing = client.get_queue_url().queue_name("nope").send().await;
    assert!(missing
        .as_ref()
        .unwrap_err()
        .as_service_error()
        .unwrap()
        .is_queue_does_not_exist());
    assert_eq!(code(missing), "AWS.SimpleQueueService.NonExistentQueue");

    let tags = client
        .list_queue_tags()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags().unwrap().get("team").map(String::as_str),
        Some("data")
    );
    client
        .tag_queue()
        .queue_url(&url)
        .tags("env", "local")
        .send()
        .await
        .unwrap();
    client
        .untag_queue()
        .queue_url(&url)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = client
        .list_queue_tags()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    let tags = tags.tags().unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags.get("env").map(String::as_str), Some("local"));

    client.delete_queue().queue_url(&url).send().await.unwrap();
    assert_eq!(
        code(client.get_queue_url().queue_name("orders").send().await),
        "AWS.SimpleQueueService.NonExistentQueue"
    );
    assert_eq!(
        code(client.delete_queue().queue_url(&url).send().await),
        "AWS.SimpleQueueService.NonExistentQueue"
    );
}

#[tokio::test]
async fn invalid_names_and_attributes() {
    let server = start().await;
    let client = &server.client;
    assert_eq!(
        code(client.create_queue().queue_name("bad name").send().await),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(
            client
                .create_queue()
                .queue_name("a".repeat(81))
                .send()
                .await
        ),
        "InvalidParameterValue"
    );
    for (name, value) in [
        (QueueAttributeName::VisibilityTimeout, "43201"),
        (QueueAttributeName::MaximumMessageSize, "1023"),
        (QueueAttributeName::MaximumMessageSize, "1048577"),
        (QueueAttributeName::MessageRetentionPeriod, "59"),
        (QueueAttributeName::MessageRetentionPeriod, "1209601"),
        (QueueAttributeName::DelaySeconds, "901"),
        (QueueAttributeName::ReceiveMessageWaitTimeSeconds, "21"),
        (QueueAttributeName::VisibilityTimeout, "ten"),
    ] {
        let result = client
            .create_queue()
            .queue_name("q")
            .attributes(name.clone(), value)
            .send()
            .await;
        assert!(result
            .as_ref()
            .unwrap_err()
            .as_service_error()
            .unwrap()
            .is_invalid_attribute_value());
        assert_eq!(code(result), "InvalidAttributeValue", "{name:?}={value}");
    }
    let result = client
        .create_queue()
        .queue_name("q")
        .attributes(QueueAttributeName::from("Bogus"), "1")
        .send()
        .await;
    assert_eq!(code(result), "InvalidAttributeName");
    // Nothing was created by the failed calls.
    assert!(client
        .list_queues()
        .send()
        .await
        .unwrap()
        .queue_urls()
        .is_empty());
}

#[tokio::test]
async fn list_queues_prefix_and_pages() {
    let server = start().await;
    for name in ["alpha-1", "alpha-2", "alpha-3", "beta-1"] {
        server.queue(name).await;
    }
    let client = &server.client;
    let all = client.list_queues().send().await.unwrap();
    assert_eq!(all.queue_urls().len(), 4);
    assert!(all.next_token().is_none());

    let alpha = client
        .list_queues()
        .queue_name_prefix("alpha")
        .send()
        .await
        .unwrap();
    assert_eq!(alpha.queue_urls().len(), 3);

    let page1 = client
        .list_queues()
        .queue_name_prefix("alpha")
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(page1.queue_urls().len(), 2);
    let token = page1.next_token().expect("next token").to_string();
    let page2 = client
        .list_queues()
        .queue_name_prefix("alpha")
        .max_results(2)
        .next_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(page2.queue_urls().len(), 1);
    assert!(page2.queue_urls()[0].ends_with("/alpha-3"));
    assert!(page2.next_token().is_none());
    assert_eq!(
        code(client.list_queues().max_results(0).send().await),
        "InvalidParameterValue"
    );
}

#[tokio::test]
async fn queue_attributes_get_and_set() {
    let server = start().await;
    let client = &server.client;
    let url = server.queue("attrs").await;
    let dlq_url = server.queue("attrs-dlq").await;

    let all = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attrs = all.attributes().unwrap();
    let get = |name: QueueAttributeName| attrs.get(&name).cloned();
    assert_eq!(
        get(QueueAttributeName::VisibilityTimeout).as_deref(),
        Some("30")
    );
    assert_eq!(
        get(QueueAttributeName::MaximumMessageSize).as_deref(),
        Some("1048576")
    );
    assert_eq!(
        get(QueueAttributeName::MessageRetentionPeriod).as_deref(),
        Some("345600")
    );
    assert_eq!(get(QueueAttributeName::DelaySeconds).as_deref(), Some("0"));
    assert_eq!(
        get(QueueAttributeName::ReceiveMessageWaitTimeSeconds).as_deref(),
        Some("0")
    );
    assert_eq!(
        get(QueueAttributeName::QueueArn).as_deref(),
        Some(server.arn("attrs").as_str())
    );
    assert_eq!(
        get(QueueAttributeName::ApproximateNumberOfMessages).as_deref(),
        Some("0")
    );
    assert_eq!(
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible).as_deref(),
        Some("0")
    );
    assert_eq!(
        get(QueueAttributeName::ApproximateNumberOfMessagesDelayed).as_deref(),
        Some("0")
    );
    let created: u64 = get(QueueAttributeName::CreatedTimestamp)
        .unwrap()
        .parse()
        .unwrap();
    assert!(created > 1_600_000_000);
    assert!(get(QueueAttributeName::LastModifiedTimestamp).is_some());
    assert!(get(QueueAttributeName::RedrivePolicy).is_none());

    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":"4"}}"#,
        server.arn("attrs-dlq")
    );
    client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::RedrivePolicy, policy)
        .attributes(QueueAttributeName::VisibilityTimeout, "12")
        .send()
        .await
        .unwrap();
    let named = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .attribute_names(QueueAttributeName::VisibilityTimeout)
        .send()
        .await
        .unwrap();
    let attrs = named.attributes().unwrap();
    assert_eq!(attrs.len(), 2);
    let redrive: serde_json::Value =
        serde_json::from_str(&attrs[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], server.arn("attrs-dlq"));
    assert_eq!(redrive["maxReceiveCount"], 4);
    assert_eq!(attrs[&QueueAttributeName::VisibilityTimeout], "12");

    let sources = client
        .list_dead_letter_source_queues()
        .queue_url(&dlq_url)
        .send()
        .await
        .unwrap();
    assert_eq!(sources.queue_urls(), std::slice::from_ref(&url));

    let set = |attrs: HashMap<QueueAttributeName, String>| {
        client
            .set_queue_attributes()
            .queue_url(&url)
            .set_attributes(Some(attrs))
            .send()
    };
    let bad_policies = [
        format!(
            r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":5}}"#,
            server.arn("missing")
        ),
        format!(
            r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":0}}"#,
            server.arn("attrs-dlq")
        ),
        format!(
            r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":1001}}"#,
            server.arn("attrs-dlq")
        ),
        "not json".to_string(),
    ];
    for policy in bad_policies {
        let result = set(HashMap::from([(
            QueueAttributeName::RedrivePolicy,
            policy.clone(),
        )]))
        .await;
        assert_eq!(code(result), "InvalidAttributeValue", "{policy}");
    }
    let result = set(HashMap::from([(
        QueueAttributeName::DelaySeconds,
        "1000".to_string(),
    )]))
    .await;
    assert_eq!(code(result), "InvalidAttributeValue");
    let result = set(HashMap::from([(
        QueueAttributeName::QueueArn,
        "x".to_string(),
    )]))
    .await;
    assert_eq!(code(result), "InvalidAttributeName");
    let result = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::from("Bogus"))
        .send()
        .await;
    assert_eq!(code(result), "InvalidAttributeName");
    // A failed SetQueueAttributes changed nothing.
    assert_eq!(server.count(&url, "VisibilityTimeout").await, 12);

    // RedriveAllowPolicy denyAll on the DLQ keeps new sources out.
    client
        .set_queue_attributes()
        .queue_url(&dlq_url)
        .attributes(
            QueueAttributeName::RedriveAllowPolicy,
            r#"{"redrivePermission":"denyAll"}"#,
        )
        .send()
        .await
        .unwrap();
    let other = server.queue("attrs-other").await;
    let result = client
        .set_queue_attributes()
        .queue_url(&other)
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(
                r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":2}}"#,
                server.arn("attrs-dlq")
            ),
        )
        .send()
        .await;
    assert_eq!(code(result), "InvalidAttributeValue");
}

#[tokio::test]
async fn purge_empties_queue_once_per_minute() {
    let server = start().await;
    let client = &server.client;
    let url = server.queue("purge").await;
    for i in 0..3 {
        client
            .send_message()
            .queue_url(&url)
            .message_body(format!("m{i}"))
            .send()
            .await
            .unwrap();
    }
    // One in flight, two visible: purge removes both kinds.
    client
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(server.count(&url, "ApproximateNumberOfMessages").await, 2);
    assert_eq!(
        server
            .count(&url, "ApproximateNumberOfMessagesNotVisible")
            .await,
        1
    );
    client.purge_queue().queue_url(&url).send().await.unwrap();
    assert_eq!(server.count(&url, "ApproximateNumberOfMessages").await, 0);
    assert_eq!(
        server
            .count(&url, "ApproximateNumberOfMessagesNotVisible")
            .await,
        0
    );
    let received = client
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    assert!(received.messages().is_empty());
    let again = client.purge_queue().queue_url(&url).send().await;
    assert!(again
        .as_ref()
        .unwrap_err()
        .as_service_error()
        .unwrap()
        .is_purge_queue_in_progress());
    assert_eq!(code(again), "AWS.SimpleQueueService.PurgeQueueInProgress");
    assert_eq!(
        code(
            client
                .purge_queue()
                .queue_url(format!("http://{}/{ACCOUNT}/none", server.addr))
                .send()
                .await
        ),
        "AWS.SimpleQueueService.NonExistentQueue"
    );
}
