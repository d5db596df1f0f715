//! Long polling, delays, counts and the in-flight limit through the SDK.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;

use crate::common::{code, start};
use crate::messages::queue_with;

#[tokio::test]
async fn delay_seconds_hold_messages_and_counts_are_right() {
    let server = start().await;
    let client = &server.client;
    let url = server.queue("delay").await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("later")
        .delay_seconds(1)
        .send()
        .await
        .unwrap();
    client
        .send_message()
        .queue_url(&url)
        .message_body("now-1")
        .send()
        .await
        .unwrap();
    client
        .send_message()
        .queue_url(&url)
        .message_body("now-2")
        .send()
        .await
        .unwrap();
    assert_eq!(
        server
            .count(&url, "ApproximateNumberOfMessagesDelayed")
            .await,
        1
    );
    assert_eq!(server.count(&url, "ApproximateNumberOfMessages").await, 2);
    let got = client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages().len(), 2);
    assert!(got.messages().iter().all(|m| m.body() != Some("later")));
    assert_eq!(
        server
            .count(&url, "ApproximateNumberOfMessagesNotVisible")
            .await,
        2
    );
    assert_eq!(server.count(&url, "ApproximateNumberOfMessages").await, 0);

    // A long poll wakes when the delay ends, without any new send.
    let started = Instant::now();
    let got = client
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(5)
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages()[0].body(), Some("later"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        server
            .count(&url, "ApproximateNumberOfMessagesDelayed")
            .await,
        0
    );
    assert_eq!(
        server
            .count(&url, "ApproximateNumberOfMessagesNotVisible")
            .await,
        3
    );

    // Queue-level DelaySeconds applies when the message sets none.
    let delayed = queue_with(
        &server,
        "delay-queue",
        &[(QueueAttributeName::DelaySeconds, "5")],
    )
    .await;
    client
        .send_message()
        .queue_url(&delayed)
        .message_body("d")
        .send()
        .await
        .unwrap();
    assert_eq!(
        server
            .count(&delayed, "ApproximateNumberOfMessagesDelayed")
            .await,
        1
    );
    assert!(client
        .receive_message()
        .queue_url(&delayed)
        .send()
        .await
        .unwrap()
        .messages()
        .is_empty());
}

#[tokio::test]
async fn long_poll_wakes_on_arrival() {
    let server = start().await;
    let url = server.queue("poll").await;
    let client = server.client.clone();
    let poll_url = url.clone();
    let poll = tokio::spawn(async move {
        let out = client
            .receive_message()
            .queue_url(&poll_url)
            .wait_time_seconds(10)
            .send()
            .await
            .unwrap();
        (Instant::now(), out)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!poll.is_finished(), "long poll returned before any message");
    let sent_at = Instant::now();
    server
        .client
        .send_message()
        .queue_url(&url)
        .message_body("wake")
        .send()
        .await
        .unwrap();
    let (returned_at, out) = poll.await.unwrap();
    assert_eq!(out.messages()[0].body(), Some("wake"));
    let latency = returned_at.duration_since(sent_at);
    assert!(latency < Duration::from_millis(100), "latency {latency:?}");

    // With nothing to receive, the poll lasts its wait time and returns empty.
    let started = Instant::now();
    let out = server
        .client
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    assert!(out.messages().is_empty());
    assert!(started.elapsed() >= Duration::from_millis(950));
}

#[tokio::test]
async fn in_flight_limit_is_over_limit() {
    let server = start().await;
    server.sqs.set_in_flight_limit(2);
    let client = &server.client;
    let url = server.queue("limit").await;
    for i in 0..3 {
        client
            .send_message()
            .queue_url(&url)
            .message_body(format!("{i}"))
            .send()
            .await
            .unwrap();
    }
    let got = client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages().len(), 2);
    let result = client.receive_message().queue_url(&url).send().await;
    assert!(result
        .as_ref()
        .unwrap_err()
        .as_service_error()
        .unwrap()
        .is_over_limit());
    assert_eq!(code(result), "OverLimit");
}

/// Issue 11: long polls waiting at once are bounded; one over the bound is answered as a short
/// poll (at once), and the bound frees up when a poll ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_over_the_bound_are_answered_at_once() {
    let server = start().await;
    server.sqs.set_long_poll_limit(1);
    let client = server.client.clone();
    let url = server.queue("bounded").await;
    let waiting = {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            client
                .receive_message()
                .queue_url(&url)
                .wait_time_seconds(10)
                .send()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let over = client
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(10)
        .send()
        .await
        .unwrap();
    assert!(over.messages().is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    client
        .send_message()
        .queue_url(&url)
        .message_body("wake")
        .send()
        .await
        .unwrap();
    let woken = waiting.await.unwrap();
    assert_eq!(
        woken.messages().len(),
        1,
        "the waiting poll got the message"
    );
    // Its place is free again: the next long poll waits its full time.
    let started = std::time::Instant::now();
    let out = client
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    assert!(out.messages().is_empty());
    assert!(started.elapsed() >= Duration::from_millis(950));
}
