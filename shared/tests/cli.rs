//! Runs the `pipeline-config` binary: `check`, `catalog` and `resolved` on the shipped config,
//! the seed fixture and a broken file.

use std::process::Command;

fn run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_pipeline-config"))
        .args(args)
        .env("AWS_ACCOUNT_ID", "123456789012")
        .output()
        .expect("run pipeline-config");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/seed-pipeline.json"
);

#[test]
fn check_prints_a_summary() {
    let (ok, stdout, _) = run(&["check", SEED]);
    assert!(ok);
    assert!(
        stdout.contains("config OK: region us-east-1, account 123456789012"),
        "{stdout}"
    );
    assert!(stdout.contains("sales -> table sales_data partitioned by (year, month, day)"));
    let (ok, stdout, _) = run(&["check"]);
    assert!(ok && stdout.contains("entities          3"), "{stdout}");
}

#[test]
fn catalog_prints_database_and_tables() {
    let (ok, stdout, _) = run(&["catalog"]);
    assert!(ok);
    let document: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(document["database"]["Name"], "analytics_db");
    let names: Vec<&str> = document["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app_events", "inventory_snapshot", "sales_data"]);
}

#[test]
fn resolved_fills_defaults() {
    let (ok, stdout, _) = run(&["resolved", SEED]);
    assert!(ok);
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["aws"]["account_id"], "123456789012");
    assert_eq!(
        value["resources"]["dead_letter_queue"],
        "file_processing_queue-dlq"
    );
    assert_eq!(value["entities"]["sales"]["csv"]["delimiter"], ",");
}

#[test]
fn invalid_config_and_usage_errors() {
    let dir = std::env::temp_dir().join(format!("pipeline-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.json");
    let text = std::fs::read_to_string(SEED)
        .unwrap()
        .replace("decimal(10,2)", "money");
    std::fs::write(&path, text).unwrap();
    let (ok, _, stderr) = run(&["check", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("`entities.sales.schema[2].type`"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let (ok, _, stderr) = run(&["frobnicate"]);
    assert!(!ok && stderr.contains("usage"), "{stderr}");
}

/// Terraform reads `infra/generated/catalog.json`; it must be exactly what the loader produces
/// from `shared/pipeline.json`, or the cloud would get other names and tables than the emulator.
#[test]
fn committed_infra_catalog_is_fresh() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pipeline-config"))
        .args(["catalog", &format!("{root}/shared/pipeline.json")])
        .env("AWS_ACCOUNT_ID", "000000000000")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let generated: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/infra/generated/catalog.json")).unwrap(),
    )
    .unwrap();
    assert!(
        generated == committed,
        "infra/generated/catalog.json is stale: regenerate it with\n  AWS_ACCOUNT_ID=000000000000 cargo run -q -p pipeline-core --bin pipeline-config -- catalog shared/pipeline.json > infra/generated/catalog.json"
    );
}
