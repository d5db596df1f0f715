//! The local Athena's engine against DuckDB over the same data: 30 daily partitions of about
//! 1 M sales rows each, as Parquet (SNAPPY) files. The engine reads them from the emulator's
//! in-memory S3 through the Glue catalog (partition pruning included); DuckDB (pip `duckdb`,
//! run by python3) reads the same files from local disk with hive partitioning. Each query runs
//! 3 times per engine after one warm-up; the median is reported.
//!
//! Run: `cargo bench -p emulator-athena --bench queries`. Prints a table and, per query, lines
//! `BENCH|athena_queries|<query>|<emulator or duckdb>|<ms>|ms` for the bench summary
//! (scripts/bench.sh). Exits non-zero when the two engines' answers differ.
//! `ATHENA_BENCH_EXPLAIN=1` also prints each query's `EXPLAIN ANALYZE` (where the time goes).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use datafusion::arrow::array::{ArrayRef, Date32Array, Decimal128Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use emulator_athena::catalog::Catalog;
use emulator_athena::engine::{Engine, QueryScope};
use emulator_athena::statements;
use emulator_glue::Glue;
use emulator_s3::{NotificationSink, S3Emulator};
use serde_json::json;

const DAYS: u32 = 30;
const ROWS_PER_DAY: usize = 1_000_000;
const BATCH: usize = 100_000;
const RUNS: usize = 3;
const BUCKET: &str = "bench-analytics";

struct NoNotifications;

impl NotificationSink for NoNotifications {
    fn destination_exists(&self, _arn: &str) -> bool {
        false
    }
    fn deliver(&self, _arn: &str, _body: String) -> Result<(), String> {
        Ok(())
    }
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("transaction_id", DataType::Utf8, true),
        Field::new("customer_id", DataType::Utf8, true),
        Field::new("amount", DataType::Decimal128(10, 2), true),
        Field::new("transaction_date", DataType::Date32, true),
    ]))
}

/// One day's Parquet file: deterministic rows, amounts 0.00..999.99.
fn day_file(day: u32) -> Vec<u8> {
    let schema = schema();
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROWS_PER_DAY / 4))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema.clone(), Some(properties)).unwrap();
    // 2024-03-01 is day 19783 since the epoch.
    let date = 19_783 + day as i32 - 1;
    for start in (0..ROWS_PER_DAY).step_by(BATCH) {
        let n = BATCH.min(ROWS_PER_DAY - start);
        let ids: StringArray = (start..start + n)
            .map(|i| Some(format!("t{day}-{i}")))
            .collect();
        let customers: StringArray = (start..start + n)
            .map(|i| Some(format!("c{}", (i * 7919) % 5000)))
            .collect();
        let amounts = Decimal128Array::from_iter_values(
            (start..start + n).map(|i| ((i * 31 + day as usize) % 100_000) as i128),
        )
        .with_precision_and_scale(10, 2)
        .unwrap();
        let dates = Date32Array::from(vec![date; n]);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(ids),
            Arc::new(customers),
            Arc::new(amounts),
            Arc::new(dates),
        ];
        writer
            .write(&RecordBatch::try_new(schema.clone(), columns).unwrap())
            .unwrap();
    }
    writer.close().unwrap();
    out
}

fn call_glue(glue: &Glue, rt: &tokio::runtime::Runtime, operation: &str, body: serde_json::Value) {
    let request = http::Request::builder()
        .method("POST")
        .uri("/")
        .header("x-amz-target", format!("AWSGlue.{operation}"))
        .body(Bytes::from(body.to_string()))
        .unwrap();
    let response = rt.block_on(glue.handle(request));
    assert!(response.status().is_success(), "Glue {operation} failed");
}

/// Writes the files to disk (for DuckDB) and into the emulator's S3 + Glue (for the engine).
fn load(dir: &Path, s3: &S3Emulator, glue: &Glue, rt: &tokio::runtime::Runtime) -> u64 {
    s3.create_bucket(BUCKET).unwrap();
    call_glue(
        glue,
        rt,
        "CreateDatabase",
        json!({ "DatabaseInput": { "Name": "bench" } }),
    );
    let sd = |location: String| {
        json!({
            "Columns": [
                {"Name": "transaction_id", "Type": "string"}, {"Name": "customer_id", "Type": "string"},
                {"Name": "amount", "Type": "decimal(10,2)"}, {"Name": "transaction_date", "Type": "date"}
            ],
            "Location": location,
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": { "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe" }
        })
    };
    call_glue(
        glue,
        rt,
        "CreateTable",
        json!({ "DatabaseName": "bench", "TableInput": {
            "Name": "sales", "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [{"Name": "year", "Type": "string"}, {"Name": "month", "Type": "string"}, {"Name": "day", "Type": "string"}],
            "StorageDescriptor": sd(format!("s3://{BUCKET}/sales/")),
        }}),
    );
    let mut total = 0;
    for day in 1..=DAYS {
        let folder = format!("sales/year=2024/month=03/day={day:02}");
        let data = day_file(day);
        total += data.len() as u64;
        std::fs::create_dir_all(dir.join(&folder)).unwrap();
        std::fs::write(dir.join(&folder).join("part-0.parquet"), &data).unwrap();
        s3.put_object_bytes(
            BUCKET,
            &format!("{folder}/part-0.parquet"),
            Bytes::from(data),
            "application/octet-stream",
        )
        .unwrap();
        call_glue(
            glue,
            rt,
            "CreatePartition",
            json!({ "DatabaseName": "bench", "TableName": "sales", "PartitionInput": {
                "Values": ["2024", "03", format!("{day:02}")],
                "StorageDescriptor": sd(format!("s3://{BUCKET}/{folder}/")),
            }}),
        );
    }
    total
}

const QUERIES: [(&str, &str); 3] = [
    ("full_aggregate", "SELECT count(*) AS n, sum(amount) AS total FROM sales"),
    ("one_day_pruned", "SELECT count(*) AS n, sum(amount) AS total FROM sales WHERE day = '15'"),
    (
        "two_week_group_by",
        "SELECT day, count(*) AS n, sum(amount) AS total FROM sales WHERE day BETWEEN '01' AND '14' GROUP BY day ORDER BY day",
    ),
];

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

/// Prints each query's `EXPLAIN ANALYZE`: the time and rows of every operator.
fn explain(engine: &Engine, rt: &tokio::runtime::Runtime) {
    let scope = bench_scope();
    for (name, sql) in QUERIES {
        let statement = statements::parse(&format!("EXPLAIN ANALYZE {sql}")).unwrap();
        let output = rt
            .block_on(engine.run(&statement, &scope))
            .unwrap_or_else(|e| panic!("EXPLAIN ANALYZE {sql}: {e:?}"));
        println!("== {name}");
        for row in &output.result.rows {
            for value in row.iter().flatten() {
                println!("{value}");
            }
        }
    }
}

fn bench_scope() -> QueryScope {
    QueryScope {
        query_id: "bench".into(),
        database: "bench".into(),
        output_prefix: format!("s3://{BUCKET}/results/"),
    }
}

/// Median milliseconds of each query in the engine, and the first row of each result.
fn time_engine(engine: &Engine, rt: &tokio::runtime::Runtime) -> Vec<(f64, String, u64)> {
    let scope = bench_scope();
    QUERIES
        .iter()
        .map(|(_, sql)| {
            let statement = statements::parse(sql).unwrap();
            let mut times = Vec::new();
            let mut first = String::new();
            let mut scanned = 0;
            for run in 0..=RUNS {
                let started = Instant::now();
                let output = rt
                    .block_on(engine.run(&statement, &scope))
                    .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                if run > 0 {
                    times.push(ms);
                }
                let row = &output.result.rows[0];
                first = row
                    .iter()
                    .map(|v| v.clone().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(",");
                scanned = output.bytes_scanned;
            }
            (median(times), first, scanned)
        })
        .collect()
}

const DUCKDB_SCRIPT: &str = r#"
import duckdb, json, sys, time
root, runs = sys.argv[1], int(sys.argv[2])
queries = json.loads(sys.argv[3])
con = duckdb.connect()
con.execute(f"""CREATE VIEW sales AS SELECT * FROM read_parquet('{root}/sales/*/*/*/*.parquet',
  hive_partitioning = true, hive_types = {{'year': VARCHAR, 'month': VARCHAR, 'day': VARCHAR}})""")
out = []
for sql in queries:
    times, first = [], None
    for run in range(runs + 1):
        started = time.perf_counter()
        rows = con.execute(sql).fetchall()
        ms = (time.perf_counter() - started) * 1000
        if run > 0:
            times.append(ms)
        first = ",".join(str(v) for v in rows[0])
    times.sort()
    out.append([times[len(times) // 2], first])
print(json.dumps(out))
"#;

fn time_duckdb(dir: &Path) -> Option<Vec<(f64, String)>> {
    let queries: Vec<&str> = QUERIES.iter().map(|(_, sql)| *sql).collect();
    let output = Command::new("python3")
        .args([
            "-c",
            DUCKDB_SCRIPT,
            dir.to_str().unwrap(),
            &RUNS.to_string(),
            &serde_json::to_string(&queries).unwrap(),
        ])
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!(
            "duckdb peer failed (pip install duckdb): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    let parsed: Vec<(f64, String)> = serde_json::from_slice(&output.stdout).ok()?;
    Some(parsed)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let s3 = S3Emulator::new("us-east-1", Arc::new(NoNotifications));
    let glue = Glue::new("us-east-1", "000000000000");
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let bytes = load(dir.path(), &s3, &glue, &rt);
    println!(
        "loaded {DAYS} daily partitions x {ROWS_PER_DAY} rows ({:.1} MiB Parquet, SNAPPY) in {:.1} s",
        bytes as f64 / 1048576.0,
        started.elapsed().as_secs_f64()
    );
    let engine = Engine::new(Catalog::new(glue), s3);
    if std::env::var_os("ATHENA_BENCH_EXPLAIN").is_some() {
        explain(&engine, &rt);
    }
    let ours = time_engine(&engine, &rt);
    let peer = time_duckdb(dir.path());
    println!(
        "{:<20} {:>12} {:>12} {:>8}  scanned",
        "query", "athena ms", "duckdb ms", "ratio"
    );
    let mut differing = 0;
    for (i, (name, _)) in QUERIES.iter().enumerate() {
        let (ms, first, scanned) = &ours[i];
        println!("BENCH|athena_queries|{name}|emulator|{ms:.1}|ms");
        let Some(peer) = &peer else {
            println!("{name:<20} {ms:>12.1} {:>12} {:>8}  {scanned} B", "-", "-");
            continue;
        };
        let (peer_ms, peer_first) = &peer[i];
        let ratio = ms / peer_ms;
        println!("{name:<20} {ms:>12.1} {peer_ms:>12.1} {ratio:>8.2}  {scanned} B");
        println!("BENCH|athena_queries|{name}|duckdb|{peer_ms:.1}|ms");
        if normalise(first) != normalise(peer_first) {
            println!("  RESULTS DIFFER: athena [{first}] duckdb [{peer_first}]");
            differing += 1;
        }
    }
    if differing > 0 {
        eprintln!("{differing} queries answered differently by the two engines");
        std::process::exit(1);
    }
}

/// DuckDB prints decimals with trailing zeros trimmed differently; compare numerically.
fn normalise(row: &str) -> Vec<String> {
    row.split(',')
        .map(|v| {
            v.parse::<f64>()
                .map(|f| format!("{f:.2}"))
                .unwrap_or_else(|_| v.to_owned())
        })
        .collect()
}
