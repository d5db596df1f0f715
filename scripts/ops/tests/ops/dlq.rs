//! `dlq list` and `dlq redrive`: files rejected by a buggy handler (its config names a column the
//! files do not have) reach the DLQ with reasons; after the fix, a filtered redrive moves exactly
//! the selected messages (copy path), an unfiltered one the rest (StartMessageMoveTask), and the
//! fixed handler turns each into its output and partition.

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

use crate::common::{config_with, sales_csv, sales_location, Env};

const KEYS: [&str; 3] = [
    "in/x/sales_data_2024_03_15.csv",
    "in/x/sales_data_2024_03_16.csv",
    "other/sales_data_2024_03_17.csv",
];

/// Uploads the three files and lets a handler whose sales schema expects `amt` instead of
/// `amount` reject them all; returns the original S3 event bodies by key.
async fn three_dead_letters(env: &Env) -> Vec<(String, String)> {
    for (key, day) in KEYS.iter().zip(["15", "16", "17"]) {
        env.upload(key, &sales_csv(day)).await;
    }
    let mut events = Vec::new();
    for message in env.receive(&env.queue_url, Duration::from_secs(1)).await {
        let body = message.body().unwrap().to_string();
        let key = KEYS
            .iter()
            .find(|k| body.contains(*k))
            .expect("an event of an uploaded key");
        events.push((key.to_string(), body));
        // Made visible again for the handler below.
        env.clients
            .sqs
            .change_message_visibility()
            .queue_url(&env.queue_url)
            .receipt_handle(message.receipt_handle().unwrap())
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(events.len(), 3, "one notification per upload");
    let buggy = config_with(|c| c["entities"]["sales"]["schema"][2]["name"] = "amt".into());
    let (processor, _) = env.processor(&buggy);
    assert_eq!(env.run_pipeline(&processor).await, 3);
    assert_eq!(env.depth(&env.dlq_url).await, (3, 0));
    events.sort();
    events
}

fn messages(report: &Value) -> &Vec<Value> {
    report["messages"].as_array().expect("messages")
}

#[tokio::test]
async fn list_shows_reasons_and_leaves_the_messages() {
    let env = Env::start().await;
    three_dead_letters(&env).await;
    let (code, report) = env.ops(&["dlq", "list"]).await;
    assert_eq!(code, 0);
    let listed = messages(&report);
    assert_eq!(listed.len(), 3);
    let mut objects: Vec<&str> = listed
        .iter()
        .map(|m| m["objects"][0].as_str().unwrap())
        .collect();
    objects.sort();
    let expected: Vec<String> = KEYS
        .iter()
        .map(|k| format!("s3://my-company-data-source/{k}"))
        .collect();
    assert_eq!(objects, expected);
    for message in listed {
        assert_eq!(message["error_class"], "permanent");
        let reason = message["error_reason"].as_str().unwrap();
        assert!(reason.contains("amt"), "reason names the column: {reason}");
        assert_eq!(message["stored_body"], Value::Null);
    }
    // Listing received them; they are all visible again.
    assert_eq!(env.depth(&env.dlq_url).await, (3, 0));
    let (code, table) = env.ops_text(&["dlq", "list"]).await;
    assert_eq!(code, 0);
    println!("{table}");
    for message in listed {
        assert!(
            table.contains(message["message_id"].as_str().unwrap()),
            "{table}"
        );
    }
    assert!(
        table.contains("| permanent |") && table.ends_with("3 message(s)\n"),
        "{table}"
    );
    assert_eq!(env.depth(&env.dlq_url).await, (3, 0));
}

#[tokio::test]
async fn filtered_then_unfiltered_redrive_feed_the_fixed_pipeline() {
    let env = Env::start().await;
    let events = three_dead_letters(&env).await;
    let (code, dry) = env
        .ops(&["dlq", "redrive", "--key-prefix", "in/x/", "--dry-run"])
        .await;
    assert_eq!(code, 0, "{dry}");
    assert_eq!(
        (dry["scanned"].as_u64(), dry["selected"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(dry["moved"], 0);
    assert_eq!(env.depth(&env.dlq_url).await, (3, 0));
    assert_eq!(env.depth(&env.queue_url).await, (0, 0));

    let (code, report) = env
        .ops(&[
            "dlq",
            "redrive",
            "--key-prefix",
            "in/x/",
            "--error-class",
            "permanent",
        ])
        .await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["method"], "copy");
    assert_eq!(report["scanned"], 3);
    assert_eq!(report["selected"], 2);
    assert_eq!(report["moved"], 2);
    assert_eq!(env.depth(&env.dlq_url).await, (1, 0));
    // Exactly the two selected events, bodies unchanged, without the failure's attributes.
    let moved = env.receive(&env.queue_url, Duration::from_secs(1)).await;
    let mut bodies: Vec<&str> = moved.iter().map(|m| m.body().unwrap()).collect();
    bodies.sort();
    let expected: Vec<&str> = events[..2].iter().map(|(_, b)| b.as_str()).collect();
    assert_eq!(bodies, expected);
    assert!(moved
        .iter()
        .all(|m| m.message_attributes().is_none_or(|a| a.is_empty())));
    for message in &moved {
        env.clients
            .sqs
            .change_message_visibility()
            .queue_url(&env.queue_url)
            .receipt_handle(message.receipt_handle().unwrap())
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
    let (fixed, _) = env.processor(&env.config);
    assert_eq!(env.run_pipeline(&fixed).await, 2);
    assert_eq!(
        env.output_keys("sales_data/").await,
        [
            "sales_data/year=2024/month=03/day=15/sales_data_2024_03_15.parquet",
            "sales_data/year=2024/month=03/day=16/sales_data_2024_03_16.parquet",
        ]
    );

    let (code, report) = env.ops(&["dlq", "redrive"]).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["method"], "move-task");
    assert_eq!(report["task_status"], "COMPLETED");
    assert_eq!(report["moved"], 1);
    assert_eq!(env.depth(&env.dlq_url).await, (0, 0));
    assert_eq!(env.run_pipeline(&fixed).await, 1);
    let partitions = env.partitions("sales_data").await;
    let expected: Vec<(String, String)> = ["15", "16", "17"]
        .iter()
        .map(|d| (format!("2024/03/{d}"), sales_location(d)))
        .collect();
    assert_eq!(partitions, expected);
    assert_eq!(env.depth(&env.dlq_url).await, (0, 0));
}

/// Puts a sales file under a folder so long that its S3 event does not fit the DLQ (1 KiB) with
/// a reason, and runs a handler whose config refuses it: the DLQ then holds a reference to the
/// body kept in S3. Returns the original body.
async fn dead_letter_a_kept_body(env: &Env, day: &str) -> String {
    env.clients
        .sqs
        .set_queue_attributes()
        .queue_url(&env.dlq_url)
        .attributes(QueueAttributeName::MaximumMessageSize, "1024")
        .send()
        .await
        .unwrap();
    let key = format!("{}/sales_data_2024_03_{day}.csv", "deep".repeat(200));
    env.upload(&key, &sales_csv(day)).await;
    let original = env.receive(&env.queue_url, Duration::from_secs(1)).await;
    assert_eq!(original.len(), 1);
    let original_body = original[0].body().unwrap().to_string();
    assert!(original_body.len() > 1024);
    env.make_visible(&env.queue_url, &original[0]).await;
    let buggy = config_with(|c| c["entities"]["sales"]["schema"][2]["name"] = "amt".into());
    let (processor, _) = env.processor(&buggy);
    assert_eq!(env.run_pipeline(&processor).await, 1);
    original_body
}

/// A body too large for the DLQ with its reason is kept in S3 and referenced; `dlq list` reads
/// it back, and `dlq redrive --copy` sends the original body, which the fixed handler processes.
#[tokio::test]
async fn kept_bodies_are_listed_and_restored_by_a_copy_redrive() {
    let env = Env::start().await;
    let original_body = dead_letter_a_kept_body(&env, "18").await;
    let key = format!("{}/sales_data_2024_03_18.csv", "deep".repeat(200));

    let (code, listed) = env.ops(&["dlq", "list"]).await;
    assert_eq!(code, 0);
    let letter = &messages(&listed)[0];
    assert!(letter["stored_body"]["s3_uri"]
        .as_str()
        .unwrap()
        .starts_with("s3://my-company-analytics/dead-letter-bodies/"));
    assert_eq!(letter["stored_body"]["bytes"], original_body.len());
    assert_eq!(
        letter["objects"],
        serde_json::json!([format!("s3://my-company-data-source/{key}")])
    );

    copy_redrive_and_process(&env, &original_body, "18").await;
}

/// A move-task redrive (`dlq redrive` without a filter, the console's, the aws CLI's) moves the
/// reference, not the body it stands for: the handler sends it back to the DLQ with a reason
/// that says so and keeps the first reason, and the reference still restores the body.
#[tokio::test]
async fn a_reference_redriven_by_a_move_task_comes_back_explained() {
    let env = Env::start().await;
    let original_body = dead_letter_a_kept_body(&env, "19").await;
    let (_, listed) = env.ops(&["dlq", "list"]).await;
    let first_reason = messages(&listed)[0]["error_reason"]
        .as_str()
        .unwrap()
        .to_string();

    let (code, report) = env.ops(&["dlq", "redrive"]).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["method"].as_str(), Some("move-task"), "{report}");
    let (fixed, _) = env.processor(&env.config);
    assert_eq!(env.run_pipeline(&fixed).await, 1);

    let (_, listed) = env.ops(&["dlq", "list"]).await;
    let letter = &messages(&listed)[0];
    let reason = letter["error_reason"].as_str().unwrap();
    assert!(
        reason.contains(
            "the body is a dead-letter reference to s3://my-company-analytics/dead-letter-bodies/"
        ),
        "{reason}"
    );
    assert!(
        reason.contains("`pipeline-ops dlq redrive --copy`"),
        "{reason}"
    );
    // The earlier reason follows, cut where the DLQ's 1 KiB limit ends the attribute.
    let (_, earlier) = reason
        .split_once("; before it was redriven it was dead-lettered because: ")
        .unwrap_or_else(|| panic!("no earlier reason in {reason}"));
    assert!(
        !earlier.is_empty() && first_reason.starts_with(earlier),
        "{earlier:?} does not begin {first_reason:?}"
    );
    assert_eq!(letter["stored_body"]["bytes"], original_body.len());
    copy_redrive_and_process(&env, &original_body, "19").await;
}

/// `dlq redrive --copy` of the one kept body in the DLQ: the work queue gets the original body,
/// and the fixed handler makes its partition.
async fn copy_redrive_and_process(env: &Env, original_body: &str, day: &str) {
    let (code, report) = env.ops(&["dlq", "redrive", "--copy"]).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        (report["method"].as_str(), report["moved"].as_u64()),
        (Some("copy"), Some(1))
    );
    assert_eq!(env.depth(&env.dlq_url).await, (0, 0));
    let restored = env.receive(&env.queue_url, Duration::from_secs(1)).await;
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0].body(), Some(original_body));
    env.make_visible(&env.queue_url, &restored[0]).await;
    let (fixed, _) = env.processor(&env.config);
    assert_eq!(env.run_pipeline(&fixed).await, 1);
    assert_eq!(
        env.partitions("sales_data").await,
        [(format!("2024/03/{day}"), sales_location(day))]
    );
}
