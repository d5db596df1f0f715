//! Shared set-up: one pipeline per test, files dropped through S3, queries run to completion.

#![allow(dead_code)]

use std::time::Duration;

use aws_sdk_athena::types::{QueryExecution, QueryExecutionContext, QueryExecutionState, Row};
use aws_sdk_s3::primitives::ByteStream;
use e2e_tests::{eventually, Pipeline};

pub const DATABASE: &str = "analytics_db";
pub const SOURCE: &str = "my-company-data-source";
pub const ANALYTICS: &str = "my-company-analytics";
pub const WORKGROUP: &str = "analytics_workgroup";
pub const WAIT: Duration = Duration::from_secs(60);

pub const SALES_HEADER: &str = "transaction_id,customer_id,amount,transaction_date\n";

pub async fn athena(pipeline: &Pipeline) -> aws_sdk_athena::Client {
    aws_sdk_athena::Client::new(&pipeline.sdk_config().await)
}

/// Uploads `files` (name, body) to the source bucket and waits until the pipeline registered a
/// Glue partition for each in `table` (values from the file names, as the config says).
/// The shipped pipeline with `sales` written as CSV (OpenCSVSerDe) instead of Parquet. The tests
/// whose assertions are about CSV tables (bytes scanned equal to the objects' sizes, a
/// hand-written CSV found by MSCK REPAIR TABLE) run on it; the others run on the shipped config,
/// whose `sales` table is Parquet.
pub async fn start_with_csv_sales() -> Pipeline {
    let mut config: serde_json::Value =
        serde_json::from_str(pipeline_core::config::EMBEDDED_PIPELINE_JSON).unwrap();
    config["aws"]["account_id"] = "000000000000".into();
    let sales = config["entities"]["sales"].as_object_mut().unwrap();
    sales.insert("format".into(), "csv".into());
    sales.remove("parquet");
    let dir = std::env::temp_dir().join(format!(
        "skipdb-athena-csv-{}-{}",
        std::process::id(),
        CSV_CONFIGS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pipeline.json");
    std::fs::write(&path, config.to_string()).unwrap();
    Pipeline::start_with(e2e_tests::StartOptions {
        config: Some(path),
        log_file: None,
        ..Default::default()
    })
    .await
}

static CSV_CONFIGS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

pub async fn drop_files(pipeline: &Pipeline, table: &str, files: &[(String, String, Vec<String>)]) {
    let s3 = pipeline.s3().await;
    let glue = pipeline.glue().await;
    for (name, body, _) in files {
        s3.put_object()
            .bucket(SOURCE)
            .key(name)
            .body(ByteStream::from(body.clone().into_bytes()))
            .send()
            .await
            .expect("upload to the source bucket");
    }
    for (name, _, values) in files {
        eventually(WAIT, &format!("partition of {name}"), || {
            let glue = glue.clone();
            let values = values.clone();
            let table = table.to_owned();
            async move {
                glue.get_partition()
                    .database_name(DATABASE)
                    .table_name(table)
                    .set_partition_values(Some(values))
                    .send()
                    .await
                    .ok()
            }
        })
        .await;
    }
}

/// `sales_data_2024_03_<dd>.csv` with `rows` rows; amounts `<day>.<i % 100>` so sums are exact.
pub fn sales_file(day: u32, rows: u32) -> (String, String, Vec<String>) {
    let mut body = SALES_HEADER.to_owned();
    for i in 0..rows {
        body.push_str(&format!(
            "t{day}-{i},c{},{}.{:02},2024-03-{day:02}\n",
            i % 7,
            day,
            i % 100
        ));
    }
    (
        format!("sales_data_2024_03_{day:02}.csv"),
        body,
        vec!["2024".into(), "03".into(), format!("{day:02}")],
    )
}

/// The exact decimal sum of [`sales_file`] amounts, in cents.
pub fn sales_cents(day: u32, rows: u32) -> u64 {
    (0..rows)
        .map(|i| u64::from(day) * 100 + u64::from(i % 100))
        .sum()
}

pub fn cents(total: u64) -> String {
    format!("{}.{:02}", total / 100, total % 100)
}

/// Starts `sql`, waits for a final state; returns the execution.
pub async fn run(client: &aws_sdk_athena::Client, sql: &str) -> QueryExecution {
    let id = client
        .start_query_execution()
        .query_string(sql)
        .query_execution_context(QueryExecutionContext::builder().database(DATABASE).build())
        .work_group(WORKGROUP)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "start {sql}: {}",
                aws_sdk_athena::error::DisplayErrorContext(e)
            )
        })
        .query_execution_id
        .expect("an id");
    wait(client, &id).await
}

pub async fn wait(client: &aws_sdk_athena::Client, id: &str) -> QueryExecution {
    eventually(WAIT, &format!("query {id} to finish"), || {
        let client = client.clone();
        let id = id.to_owned();
        async move {
            let e = client
                .get_query_execution()
                .query_execution_id(id)
                .send()
                .await
                .ok()?
                .query_execution?;
            let state = e.status.as_ref()?.state.clone()?;
            matches!(
                state,
                QueryExecutionState::Succeeded
                    | QueryExecutionState::Failed
                    | QueryExecutionState::Cancelled
            )
            .then_some(e)
        }
    })
    .await
}

pub fn state(e: &QueryExecution) -> QueryExecutionState {
    e.status
        .as_ref()
        .and_then(|s| s.state.clone())
        .expect("a state")
}

pub fn reason(e: &QueryExecution) -> String {
    e.status
        .as_ref()
        .and_then(|s| s.state_change_reason.clone())
        .unwrap_or_default()
}

pub fn scanned(e: &QueryExecution) -> i64 {
    e.statistics
        .as_ref()
        .and_then(|s| s.data_scanned_in_bytes)
        .expect("DataScannedInBytes")
}

/// Runs `sql` and expects success; returns every row (header included) as text cells.
pub async fn rows(client: &aws_sdk_athena::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    let e = run(client, sql).await;
    assert_eq!(
        state(&e),
        QueryExecutionState::Succeeded,
        "{sql}: {}",
        reason(&e)
    );
    all_rows(client, e.query_execution_id().unwrap()).await
}

pub async fn all_rows(client: &aws_sdk_athena::Client, id: &str) -> Vec<Vec<Option<String>>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .get_query_results()
            .query_execution_id(id)
            .set_next_token(token)
            .send()
            .await
            .expect("GetQueryResults");
        let rows: Vec<Row> = page.result_set.and_then(|r| r.rows).unwrap_or_default();
        out.extend(rows.into_iter().map(|r| {
            r.data
                .unwrap_or_default()
                .into_iter()
                .map(|d| d.var_char_value)
                .collect::<Vec<_>>()
        }));
        token = page.next_token;
        if token.is_none() {
            return out;
        }
    }
}

pub fn text(rows: &[Vec<Option<String>>]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            r.iter()
                .map(|v| v.clone().unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect()
}

/// Reads an object of the emulator's S3 as text.
pub async fn read_object(pipeline: &Pipeline, url: &str) -> String {
    let (bucket, key) = url.strip_prefix("s3://").unwrap().split_once('/').unwrap();
    let got = pipeline
        .s3()
        .await
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {url}: {e}"));
    String::from_utf8(got.body.collect().await.unwrap().into_bytes().to_vec()).unwrap()
}

pub async fn put_object(pipeline: &Pipeline, bucket: &str, key: &str, body: &str) {
    pipeline
        .s3()
        .await
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .unwrap();
}
