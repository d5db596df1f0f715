//! Dead-letter redrive on receive, and message move tasks back out of the DLQ.

use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

use crate::common::{code, start, TestServer};

/// Creates `<name>` with a redrive policy to `<name>-dlq` (maxReceiveCount 2, visibility 1 s).
async fn source_and_dlq(server: &TestServer, name: &str) -> (String, String) {
    let dlq = server.queue(&format!("{name}-dlq")).await;
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":2}}"#,
        server.arn(&format!("{name}-dlq"))
    );
    let source = server
        .client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, policy)
        .attributes(QueueAttributeName::VisibilityTimeout, "1")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (source, dlq)
}

/// Receives from `url` until it returns `n` messages in total, failing after a few seconds.
async fn receive_n(server: &TestServer, url: &str, n: usize) -> Vec<aws_sdk_sqs::types::Message> {
    let mut got = Vec::new();
    for _ in 0..20 {
        let out = server
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        got.extend(out.messages().iter().cloned());
        if got.len() >= n {
            return got;
        }
    }
    panic!("received {} of {n} messages", got.len());
}

#[tokio::test]
async fn messages_move_to_dlq_after_max_receive_count() {
    let server = start().await;
    let client = &server.client;
    let (source, dlq) = source_and_dlq(&server, "redrive").await;
    let id = client
        .send_message()
        .queue_url(&source)
        .message_body("poison")
        .send()
        .await
        .unwrap()
        .message_id
        .unwrap();

    // Two receives are allowed (maxReceiveCount 2); neither deletes.
    for expected in ["1", "2"] {
        let got = receive_n(&server, &source, 1).await;
        assert_eq!(
            got[0].attributes().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount],
            expected
        );
    }
    // The next receive after the visibility timeout moves it to the DLQ instead of delivering it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let out = client
        .receive_message()
        .queue_url(&source)
        .send()
        .await
        .unwrap();
    assert!(
        out.messages().is_empty(),
        "must not be redelivered on the source"
    );
    assert_eq!(
        server.count(&source, "ApproximateNumberOfMessages").await,
        0
    );
    assert_eq!(
        server
            .count(&source, "ApproximateNumberOfMessagesNotVisible")
            .await,
        0
    );
    assert_eq!(server.count(&dlq, "ApproximateNumberOfMessages").await, 1);

    let dead = receive_n(&server, &dlq, 1).await;
    assert_eq!(dead[0].message_id(), Some(id.as_str()));
    assert_eq!(dead[0].body(), Some("poison"));
    // ApproximateReceiveCount counts receives "across all queues".
    assert_eq!(
        dead[0].attributes().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount],
        "3"
    );
}

#[tokio::test]
async fn move_task_returns_messages_to_source() {
    let server = start().await;
    let client = &server.client;
    let (source, dlq) = source_and_dlq(&server, "mover").await;
    for i in 0..3 {
        client
            .send_message()
            .queue_url(&source)
            .message_body(format!("m{i}"))
            .send()
            .await
            .unwrap();
    }
    // Receive each message twice, then once more after the timeout to dead-letter them.
    receive_n(&server, &source, 3).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    receive_n(&server, &source, 3).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let out = client
        .receive_message()
        .queue_url(&source)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    assert!(out.messages().is_empty());
    assert_eq!(server.count(&dlq, "ApproximateNumberOfMessages").await, 3);

    let task = client
        .start_message_move_task()
        .source_arn(server.arn("mover-dlq"))
        .send()
        .await
        .unwrap();
    assert!(task.task_handle().is_some());
    let mut status = String::new();
    for _ in 0..50 {
        let tasks = client
            .list_message_move_tasks()
            .source_arn(server.arn("mover-dlq"))
            .send()
            .await
            .unwrap();
        let latest = &tasks.results()[0];
        status = latest.status().unwrap_or_default().to_string();
        if status == "COMPLETED" {
            assert_eq!(latest.approximate_number_of_messages_moved(), 3);
            assert_eq!(latest.approximate_number_of_messages_to_move(), Some(3));
            assert!(latest.task_handle().is_none());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, "COMPLETED");
    assert_eq!(server.count(&dlq, "ApproximateNumberOfMessages").await, 0);
    // Back on the source, receivable again as fresh messages.
    let back = receive_n(&server, &source, 3).await;
    let mut bodies: Vec<&str> = back.iter().filter_map(|m| m.body()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["m0", "m1", "m2"]);
    assert!(back.iter().all(|m| {
        m.attributes().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount] == "1"
    }));
}

#[tokio::test]
async fn move_task_to_destination_and_errors() {
    let server = start().await;
    let client = &server.client;
    let (source, dlq) = source_and_dlq(&server, "dest").await;
    let destination = server.queue("dest-elsewhere").await;
    client
        .send_message()
        .queue_url(&dlq)
        .message_body("direct")
        .send()
        .await
        .unwrap();

    let result = client
        .start_message_move_task()
        .source_arn(server.arn("nope"))
        .send()
        .await;
    assert!(result
        .as_ref()
        .unwrap_err()
        .as_service_error()
        .unwrap()
        .is_resource_not_found_exception());
    assert_eq!(code(result), "ResourceNotFoundException");
    // A queue that is nobody's DLQ cannot be a move source.
    let result = client
        .start_message_move_task()
        .source_arn(server.arn("dest"))
        .send()
        .await;
    assert_eq!(code(result), "InvalidParameterValue");
    let result = client
        .start_message_move_task()
        .source_arn(server.arn("dest-dlq"))
        .destination_arn(server.arn("missing"))
        .send()
        .await;
    assert_eq!(code(result), "ResourceNotFoundException");
    let result = client
        .start_message_move_task()
        .source_arn(server.arn("dest-dlq"))
        .max_number_of_messages_per_second(501)
        .send()
        .await;
    assert_eq!(code(result), "InvalidParameterValue");

    client
        .start_message_move_task()
        .source_arn(server.arn("dest-dlq"))
        .destination_arn(server.arn("dest-elsewhere"))
        .send()
        .await
        .unwrap();
    let moved = receive_n(&server, &destination, 1).await;
    assert_eq!(moved[0].body(), Some("direct"));
    assert_eq!(
        server.count(&source, "ApproximateNumberOfMessages").await,
        0
    );

    // Cancelling: a rate-limited task over several messages is still running.
    for i in 0..5 {
        client
            .send_message()
            .queue_url(&dlq)
            .message_body(format!("r{i}"))
            .send()
            .await
            .unwrap();
    }
    let task = client
        .start_message_move_task()
        .source_arn(server.arn("dest-dlq"))
        .destination_arn(server.arn("dest-elsewhere"))
        .max_number_of_messages_per_second(1)
        .send()
        .await
        .unwrap();
    let handle = task.task_handle().unwrap().to_string();
    let second = client
        .start_message_move_task()
        .source_arn(server.arn("dest-dlq"))
        .send()
        .await;
    assert_eq!(code(second), "AWS.SimpleQueueService.UnsupportedOperation");
    let cancelled = client
        .cancel_message_move_task()
        .task_handle(&handle)
        .send()
        .await
        .unwrap();
    assert!(cancelled.approximate_number_of_messages_moved() <= 1);
    let result = client
        .cancel_message_move_task()
        .task_handle("nope")
        .send()
        .await;
    assert_eq!(code(result), "ResourceNotFoundException");
    let tasks = client
        .list_message_move_tasks()
        .source_arn(server.arn("dest-dlq"))
        .max_results(10)
        .send()
        .await
        .unwrap();
    assert_eq!(tasks.results().len(), 2);
    let status = tasks.results()[0].status().unwrap();
    assert!(status == "CANCELLING" || status == "CANCELLED", "{status}");
    assert!(server.count(&dlq, "ApproximateNumberOfMessages").await >= 4);
}
