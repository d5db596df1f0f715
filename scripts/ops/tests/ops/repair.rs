//! `repair`: after the handler wrote three days, the catalog is damaged three ways (a partition
//! deleted, one pointed elsewhere, one whose objects are gone); the dry run reports exactly that
//! and changes nothing, the repair restores the handler's own partitions, and `--delete-empty`
//! removes only the empty one.

use aws_sdk_glue::types::StorageDescriptor;
use file_processor::partitions::to_sdk_partition_input;
use pipeline_core::catalog;
use serde_json::{json, Value};

use crate::common::{sales_csv, sales_location, Env};

fn values(day: &str) -> Vec<String> {
    vec!["2024".into(), "03".into(), day.into()]
}

async fn storage_descriptor(env: &Env, day: &str) -> StorageDescriptor {
    env.clients
        .glue
        .get_partition()
        .database_name(&env.config.resources.glue_database)
        .table_name("sales_data")
        .set_partition_values(Some(values(day)))
        .send()
        .await
        .unwrap()
        .partition()
        .and_then(|p| p.storage_descriptor())
        .cloned()
        .unwrap()
}

/// Three processed days, then: day 15's partition deleted, day 16's Location moved, day 17's
/// object deleted, and a stray object in the table folder. Returns day 15's original descriptor.
async fn damaged(env: &Env) -> StorageDescriptor {
    for day in ["15", "16", "17"] {
        env.upload(&format!("sales_data_2024_03_{day}.csv"), &sales_csv(day))
            .await;
    }
    let (processor, _) = env.processor(&env.config);
    assert_eq!(env.run_pipeline(&processor).await, 3);
    let original = storage_descriptor(env, "15").await;
    let glue = &env.clients.glue;
    let database = &env.config.resources.glue_database;
    glue.delete_partition()
        .database_name(database)
        .table_name("sales_data")
        .set_partition_values(Some(values("15")))
        .send()
        .await
        .unwrap();
    let mut moved =
        catalog::partition_input(&env.config, &env.config.entities["sales"], &values("16"))
            .unwrap();
    moved.storage_descriptor.location = "s3://my-company-analytics/sales_data/misplaced/".into();
    glue.update_partition()
        .database_name(database)
        .table_name("sales_data")
        .set_partition_value_list(Some(values("16")))
        .partition_input(to_sdk_partition_input(&moved).unwrap())
        .send()
        .await
        .unwrap();
    let analytics = &env.config.resources.analytics_bucket;
    env.clients
        .s3
        .delete_object()
        .bucket(analytics)
        .key("sales_data/year=2024/month=03/day=17/sales_data_2024_03_17.parquet")
        .send()
        .await
        .unwrap();
    env.clients
        .s3
        .put_object()
        .bucket(analytics)
        .key("sales_data/notes.txt")
        .body(b"stray".to_vec().into())
        .send()
        .await
        .unwrap();
    original
}

fn sales(report: &Value) -> &Value {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "sales_data")
        .expect("the sales table's report")
}

#[tokio::test]
async fn repair_adds_missing_fixes_locations_and_reports_empty() {
    let env = Env::start().await;
    let original = damaged(&env).await;
    let damaged_state = vec![
        (
            "2024/03/16".to_string(),
            "s3://my-company-analytics/sales_data/misplaced/".to_string(),
        ),
        ("2024/03/17".to_string(), sales_location("17")),
    ];

    let (code, dry) = env.ops(&["repair", "--entity", "sales", "--dry-run"]).await;
    assert_eq!(code, 0, "{dry}");
    let plan = sales(&dry);
    assert_eq!(plan["missing"], json!([["2024", "03", "15"]]));
    assert_eq!(
        plan["wrong_location"],
        json!([{"values": ["2024", "03", "16"],
                "location": "s3://my-company-analytics/sales_data/misplaced/",
                "expected": sales_location("16")}])
    );
    assert_eq!(
        plan["empty"],
        json!([{"values": ["2024", "03", "17"], "location": sales_location("17")}])
    );
    assert_eq!(plan["unrecognized_keys"], json!(["sales_data/notes.txt"]));
    assert_eq!(
        env.partitions("sales_data").await,
        damaged_state,
        "a dry run changes nothing"
    );
    let (code, table) = env
        .ops_text(&["repair", "--entity", "sales", "--dry-run"])
        .await;
    assert_eq!(code, 0);
    println!("{table}");
    for row in [
        "| sales_data | 2024/03/15 | missing",
        "| sales_data | 2024/03/16 | wrong location s3://my-company-analytics/sales_data/misplaced/",
        "| sales_data | 2024/03/17 | no objects",
        "sales_data/notes.txt",
    ] {
        assert!(table.contains(row), "{row} in\n{table}");
    }

    let (code, report) = env.ops(&["repair"]).await;
    assert_eq!(code, 0, "{report}");
    let done = sales(&report);
    assert_eq!(
        (&done["created"], &done["updated"], &done["deleted"]),
        (&json!(1), &json!(1), &json!(0))
    );
    assert_eq!(
        report["tables"].as_array().unwrap().len(),
        env.config.entities.len()
    );
    for other in report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["table"] != "sales_data")
    {
        assert_eq!(
            (&other["missing"], &other["empty"]),
            (&json!([]), &json!([])),
            "{other}"
        );
    }
    let expected: Vec<(String, String)> = ["15", "16", "17"]
        .iter()
        .map(|d| (format!("2024/03/{d}"), sales_location(d)))
        .collect();
    assert_eq!(env.partitions("sales_data").await, expected);
    // Recreated and corrected from the same model the handler uses: identical descriptors.
    assert_eq!(storage_descriptor(&env, "15").await, original);
    let mut day_16 = original.clone();
    day_16.location = Some(sales_location("16"));
    assert_eq!(storage_descriptor(&env, "16").await, day_16);

    let (code, report) = env.ops(&["repair", "--delete-empty"]).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(sales(&report)["deleted"], 1);
    assert_eq!(env.partitions("sales_data").await, expected[..2].to_vec());

    let (_, again) = env.ops(&["repair"]).await;
    let clean = sales(&again);
    assert_eq!(
        (&clean["missing"], &clean["wrong_location"], &clean["empty"]),
        (&json!([]), &json!([]), &json!([]))
    );
}
