//! The emulator works with the other official clients, unmodified: the aws CLI and boto3.
//! Both are installed by `.ci/run`; without them (and without `CI` set) these tests say they
//! skipped instead of failing on a laptop that lacks Python tooling.

mod common;

use std::process::Command;

fn aws(url: &str, args: &[&str]) -> String {
    let output = Command::new("aws")
        .arg("--endpoint-url")
        .arg(url)
        .args(["--output", "json"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_PAGER", "")
        .output()
        .expect("aws runs");
    assert!(
        output.status.success(),
        "aws {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_cli_copies_a_file_receives_its_event_and_reads_partitions() {
    if !common::require_tool("aws", "pip install awscli") {
        return;
    }
    let server = common::start_pipeline().await;
    let url = server.endpoint_url();
    let config = common::config();
    let r = config.resources.clone();
    let table = config.entities["sales"].table_name.clone();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sales_data_2024_03_15.csv");
    std::fs::write(
        &file,
        "transaction_id,customer_id,amount,transaction_date\nt1,c1,10.50,2024-03-15\n",
    )
    .unwrap();

    let url2 = url.clone();
    let out = tokio::task::spawn_blocking(move || {
        aws(&url2, &["s3", "cp", file.to_str().unwrap(), &format!("s3://{}/", r.source_bucket)]);
        let listing = aws(&url2, &["s3", "ls", &format!("s3://{}/", r.source_bucket)]);
        assert!(listing.contains("sales_data_2024_03_15.csv"), "{listing}");

        let queue_url = aws(&url2, &["sqs", "get-queue-url", "--queue-name", &r.sqs_queue]);
        let queue_url: serde_json::Value = serde_json::from_str(&queue_url).unwrap();
        let queue_url = queue_url["QueueUrl"].as_str().unwrap().to_owned();
        let mut seen_put = false;
        for _ in 0..3 {
            let msgs = aws(
                &url2,
                &["sqs", "receive-message", "--queue-url", &queue_url, "--max-number-of-messages", "10", "--wait-time-seconds", "1"],
            );
            seen_put |= msgs.contains("sales_data_2024_03_15.csv") && msgs.contains("ObjectCreated:Put");
            if seen_put {
                break;
            }
        }
        assert!(seen_put, "the upload's event reached the queue");

        let partition = serde_json::json!({
            "Values": ["2024", "03", "15"],
            "StorageDescriptor": {"Location": format!("s3://{}/{}/year=2024/month=03/day=15/", r.analytics_bucket, table)}
        });
        aws(
            &url2,
            &["glue", "create-partition", "--database-name", &r.glue_database, "--table-name", &table,
              "--partition-input", &partition.to_string()],
        );
        aws(
            &url2,
            &["glue", "get-partitions", "--database-name", &r.glue_database, "--table-name", &table,
              "--expression", "year = '2024' AND month = '03'"],
        )
    })
    .await
    .unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        parsed["Partitions"][0]["Values"],
        serde_json::json!(["2024", "03", "15"])
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn boto3_drives_s3_sqs_and_glue() {
    if !common::require_tool("python3", "install Python 3") {
        return;
    }
    let has_boto3 = Command::new("python3")
        .args(["-c", "import boto3"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !has_boto3 {
        assert!(
            !common::tools_required(),
            "boto3 is required here: scripts/test.sh installs it"
        );
        eprintln!("SKIPPED: boto3 not installed (pip install boto3)");
        return;
    }
    let server = common::start_pipeline().await;
    let resources = serde_json::json!({
        "source_bucket": common::config().resources.source_bucket,
        "glue_database": common::config().resources.glue_database,
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/boto3_client.py");
    let url = server.endpoint_url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .env("EMULATOR_URL", url)
            .env("PIPELINE_RESOURCES", resources.to_string())
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "boto3 script failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    server.shutdown().await.unwrap();
}

/// Issue 11: an upload abandoned by a killed writer shows in `aws s3api list-multipart-uploads`
/// (the CLI pages with its own markers: --max-items/--page-size) and can be aborted.
#[tokio::test(flavor = "multi_thread")]
async fn aws_cli_lists_and_aborts_abandoned_multipart_uploads() {
    if !common::require_tool("aws", "pip install awscli") {
        return;
    }
    let server = common::start_pipeline().await;
    let url = server.endpoint_url();
    let bucket = common::config().resources.analytics_bucket.clone();
    tokio::task::spawn_blocking(move || {
        let mut started = Vec::new();
        for key in ["tmp/a.parquet", "tmp/b.parquet", "tmp/c.parquet", "other/d"] {
            let out = aws(
                &url,
                &[
                    "s3api",
                    "create-multipart-upload",
                    "--bucket",
                    &bucket,
                    "--key",
                    key,
                ],
            );
            let out: serde_json::Value = serde_json::from_str(&out).unwrap();
            started.push((key, out["UploadId"].as_str().unwrap().to_owned()));
        }
        // --page-size 1 makes the CLI follow NextKeyMarker/NextUploadIdMarker page by page.
        let listed = aws(
            &url,
            &[
                "s3api",
                "list-multipart-uploads",
                "--bucket",
                &bucket,
                "--prefix",
                "tmp/",
                "--page-size",
                "1",
            ],
        );
        let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
        let uploads: Vec<(String, String)> = listed["Uploads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["Key"].as_str().unwrap().to_owned(),
                    u["UploadId"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = started[..3]
            .iter()
            .map(|(k, id)| (k.to_string(), id.clone()))
            .collect();
        assert_eq!(uploads, expected);
        for (key, id) in &started {
            aws(
                &url,
                &[
                    "s3api",
                    "abort-multipart-upload",
                    "--bucket",
                    &bucket,
                    "--key",
                    key,
                    "--upload-id",
                    id,
                ],
            );
        }
        let after = aws(
            &url,
            &["s3api", "list-multipart-uploads", "--bucket", &bucket],
        );
        let after: serde_json::Value = serde_json::from_str(if after.trim().is_empty() {
            "{}"
        } else {
            &after
        })
        .unwrap();
        assert!(
            after
                .get("Uploads")
                .is_none_or(|u| u.as_array().is_some_and(Vec::is_empty)),
            "{after}"
        );
    })
    .await
    .unwrap();
    server.shutdown().await.unwrap();
}
