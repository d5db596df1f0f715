//! boto3, the aws CLI, PyAthena and awswrangler against the emulator's Athena, over data put
//! through the pipeline. Tools come from PATH (scripts/test-requirements.txt pins them); a
//! missing one fails the test in CI and is reported as SKIPPED elsewhere.

use std::process::Command;

use e2e_tests::Pipeline;
use serde_json::Value;

use crate::common::*;

/// True when `python3` can import `module`; in CI a missing module is a failure.
fn require_python_module(module: &str) -> bool {
    let found = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("python3 module {module} is required in CI: pip install -r scripts/test-requirements.txt");
        }
        eprintln!("SKIPPED: python3 module {module} not found (pip install -r scripts/test-requirements.txt)");
    }
    found
}

fn aws_env(command: &mut Command, pipeline: &Pipeline) {
    command
        .env("AWS_ENDPOINT_URL", &pipeline.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE");
}

fn run_client(pipeline: &Pipeline, client: &str) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/athena/clients.py");
    let mut command = Command::new("python3");
    command.args([script, client]);
    aws_env(&mut command, pipeline);
    let output = command.output().expect("python3 runs");
    assert!(
        output.status.success(),
        "{client} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the client prints JSON")
}

const DAYS: u32 = 3;

async fn three_days(pipeline: &Pipeline) -> Vec<Vec<String>> {
    let files: Vec<_> = (1..=DAYS).map(|d| sales_file(d, 20 + d)).collect();
    drop_files(pipeline, "sales_data", &files).await;
    (1..=DAYS)
        .map(|d| {
            vec![
                format!("{d:02}"),
                (20 + d).to_string(),
                cents(sales_cents(d, 20 + d)),
            ]
        })
        .collect()
}

fn strings(value: &Value) -> Vec<Vec<String>> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap_or("NULL").to_owned())
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn boto3_and_the_aws_cli() {
    if !require_python_module("boto3") {
        return;
    }
    let pipeline = Pipeline::start().await;
    let expected = three_days(&pipeline).await;

    let got = run_client(&pipeline, "boto3");
    assert_eq!(got["state"], "SUCCEEDED");
    let rows = strings(&got["rows"]);
    assert_eq!(rows[0], ["day", "n", "total"]);
    assert_eq!(rows[1..], expected[..]);
    assert_eq!(got["columns"][2][1], "decimal");
    assert_eq!(
        got["workgroup_output"],
        format!("s3://{ANALYTICS}/query-results/")
    );
    assert!(got["output"].as_str().unwrap().ends_with(".csv"));

    if !e2e_require_aws() {
        return;
    }
    let aws = |args: &[&str]| -> Value {
        let mut command = Command::new("aws");
        command
            .args(["athena"])
            .args(args)
            .args(["--output", "json"]);
        aws_env(&mut command, &pipeline);
        let output = command.output().expect("aws runs");
        assert!(
            output.status.success(),
            "aws {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let started = aws(&[
        "start-query-execution",
        "--query-string",
        "SELECT count(*) AS n FROM sales_data WHERE day = '02'",
        "--query-execution-context",
        "Database=analytics_db",
        "--work-group",
        WORKGROUP,
    ]);
    let id = started["QueryExecutionId"].as_str().unwrap().to_owned();
    let mut state = String::new();
    for _ in 0..600 {
        let got = aws(&["get-query-execution", "--query-execution-id", &id]);
        state = got["QueryExecution"]["Status"]["State"]
            .as_str()
            .unwrap()
            .to_owned();
        if state != "RUNNING" && state != "QUEUED" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(state, "SUCCEEDED");
    let results = aws(&["get-query-results", "--query-execution-id", &id]);
    let rows = &results["ResultSet"]["Rows"];
    assert_eq!(rows[0]["Data"][0]["VarCharValue"], "n");
    assert_eq!(rows[1]["Data"][0]["VarCharValue"], "22");
}

fn e2e_require_aws() -> bool {
    let found = Command::new("aws")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("aws is required in CI: pip install -r scripts/test-requirements.txt");
        }
        eprintln!("SKIPPED: aws not found (pip install -r scripts/test-requirements.txt)");
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn pyathena_cursors() {
    if !require_python_module("pyathena") || !require_python_module("pandas") {
        return;
    }
    let pipeline = Pipeline::start().await;
    let expected = three_days(&pipeline).await;
    let got = run_client(&pipeline, "pyathena");
    assert_eq!(got["description"], serde_json::json!(["day", "n", "total"]));
    assert_eq!(strings(&got["rows"]), expected);
    assert_eq!(strings(&got["pandas"]), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn awswrangler_read_sql_query_both_ways() {
    if !require_python_module("awswrangler") {
        return;
    }
    let pipeline = Pipeline::start().await;
    let expected = three_days(&pipeline).await;
    let got = run_client(&pipeline, "wrangler");
    for way in ["plain", "ctas"] {
        assert_eq!(
            got[way]["columns"],
            serde_json::json!(["day", "n", "total"]),
            "{way}"
        );
        assert_eq!(strings(&got[way]["rows"]), expected, "{way}");
    }
    // The CTAS temporary table is gone from the catalog afterwards.
    let tables = pipeline
        .glue()
        .await
        .get_tables()
        .database_name(DATABASE)
        .send()
        .await
        .unwrap();
    assert!(tables
        .table_list()
        .iter()
        .all(|t| !t.name().starts_with("temp_table_")));
}
