//! `backfill`: objects uploaded while the bucket had no notification get events of S3's shape
//! (checked field by field against the emulator's own notification for an object), exactly one
//! per matching object, and the handler turns each into its output and partition (and skips
//! them as duplicates when they are backfilled again unchanged).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{sales_csv, sales_location, Env};

/// Every JSON path of a value (`/Records/0/s3/object/key`), objects and arrays walked.
fn paths(value: &Value, prefix: String, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(fields) => {
            for (name, inner) in fields {
                paths(inner, format!("{prefix}/{name}"), out);
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                paths(inner, format!("{prefix}/{index}"), out);
            }
        }
        _ => {
            out.insert(prefix);
        }
    }
}

fn path_set(value: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    paths(value, String::new(), &mut out);
    out
}

#[tokio::test]
async fn events_have_s3s_shape_and_each_matching_object_is_processed_once() {
    let env = Env::start().await;
    env.upload("ref/sales_data_2024_01_01.csv", &sales_csv("01"))
        .await;
    let notified = env.drain(&env.queue_url).await;
    assert_eq!(notified.len(), 1);
    let notification: Value = serde_json::from_str(&notified[0]).unwrap();

    env.remove_notification().await;
    for (key, body) in [
        ("old/sales_data_2024_03_15.csv", sales_csv("15")),
        ("old/a b/sales_data_2024_03_16.csv", sales_csv("16")),
        ("old/sales_data_2024_03_17.csv", sales_csv("17")),
        ("old/inventory_eu_2024_03_15.csv", "sku,qty\n".to_string()),
        ("old/readme.txt", "not data".to_string()),
    ] {
        env.upload(key, &body).await;
    }
    assert_eq!(
        env.depth(&env.queue_url).await,
        (0, 0),
        "no notification any more"
    );

    // The same object as S3 announced it: same paths but the sequencer, same values where they
    // describe the object rather than the delivery.
    let (code, report) = env
        .ops(&["backfill", "--entity", "sales", "--prefix", "ref/"])
        .await;
    assert_eq!(
        (code, &report["enqueued"]),
        (0, &Value::from(1)),
        "{report}"
    );
    let backfilled: Value = serde_json::from_str(&env.drain(&env.queue_url).await[0]).unwrap();
    let mut expected_paths = path_set(&notification);
    expected_paths.remove("/Records/0/s3/object/sequencer");
    assert_eq!(path_set(&backfilled), expected_paths);
    for pointer in [
        "/Records/0/eventVersion",
        "/Records/0/eventSource",
        "/Records/0/awsRegion",
        "/Records/0/eventName",
        "/Records/0/s3/s3SchemaVersion",
        "/Records/0/s3/bucket/name",
        "/Records/0/s3/bucket/arn",
        "/Records/0/s3/object/key",
        "/Records/0/s3/object/size",
        "/Records/0/s3/object/eTag",
    ] {
        assert_eq!(
            backfilled.pointer(pointer),
            notification.pointer(pointer),
            "{pointer}"
        );
    }
    assert_eq!(
        backfilled["Records"][0]["s3"]["configurationId"],
        "pipeline-ops-backfill"
    );

    let (code, dry) = env
        .ops(&[
            "backfill",
            "--entity",
            "sales",
            "--prefix",
            "old/",
            "--dry-run",
        ])
        .await;
    assert_eq!(code, 0);
    assert_eq!(dry["listed"], 5);
    assert_eq!(
        dry["matched"],
        serde_json::json!([
            "old/a b/sales_data_2024_03_16.csv",
            "old/sales_data_2024_03_15.csv",
            "old/sales_data_2024_03_17.csv",
        ])
    );
    assert_eq!(
        env.depth(&env.queue_url).await,
        (0, 0),
        "a dry run sends nothing"
    );

    let (code, report) = env
        .ops(&["backfill", "--entity", "sales", "--prefix", "old/"])
        .await;
    assert_eq!(
        (code, &report["enqueued"]),
        (0, &Value::from(3)),
        "{report}"
    );
    assert_eq!(env.depth(&env.queue_url).await, (3, 0));
    let (processor, lines) = env.processor(&env.config);
    assert_eq!(env.run_pipeline(&processor).await, 3);
    let outcomes: Vec<String> = lines
        .lines()
        .iter()
        .filter_map(|l| l.get("outcome")?.as_str().map(String::from))
        .collect();
    assert_eq!(outcomes, ["processed"; 3]);
    assert_eq!(
        env.output_keys("sales_data/").await,
        [
            "sales_data/year=2024/month=03/day=15/sales_data_2024_03_15.parquet",
            "sales_data/year=2024/month=03/day=16/sales_data_2024_03_16.parquet",
            "sales_data/year=2024/month=03/day=17/sales_data_2024_03_17.parquet",
        ]
    );
    let expected: Vec<(String, String)> = ["15", "16", "17"]
        .iter()
        .map(|d| (format!("2024/03/{d}"), sales_location(d)))
        .collect();
    assert_eq!(env.partitions("sales_data").await, expected);
    assert!(env.output_keys("inventory_snapshot/").await.is_empty());
    assert_eq!(env.depth(&env.dlq_url).await, (0, 0));

    // A second backfill of the same, unchanged files: without a sequencer the handler compares
    // ETags, so each is a duplicate and nothing is written again.
    let (code, report) = env
        .ops(&["backfill", "--entity", "sales", "--prefix", "old/"])
        .await;
    assert_eq!(
        (code, &report["enqueued"]),
        (0, &Value::from(3)),
        "{report}"
    );
    let (processor, lines) = env.processor(&env.config);
    assert_eq!(env.run_pipeline(&processor).await, 3);
    let outcomes: Vec<String> = lines
        .lines()
        .iter()
        .filter_map(|l| l.get("outcome")?.as_str().map(String::from))
        .collect();
    assert_eq!(outcomes, ["duplicate"; 3]);
    assert_eq!(env.partitions("sales_data").await, expected);
}

#[tokio::test]
async fn an_unknown_entity_is_a_clear_error_and_sends_nothing() {
    let env = Env::start().await;
    env.upload("sales_data_2024_03_15.csv", &sales_csv("15"))
        .await;
    env.drain(&env.queue_url).await;
    let (code, stdout, stderr) = env.ops_raw(&["backfill", "--entity", "nope"]).await;
    assert_eq!(code, 2, "{stdout}");
    assert_eq!(
        stderr.trim(),
        "error: no entity \"nope\" in the config (entities: events, inventory, sales)"
    );
    assert_eq!(env.depth(&env.queue_url).await, (0, 0));
}
