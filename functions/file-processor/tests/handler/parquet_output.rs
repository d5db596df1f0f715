//! Parquet entities (the shipped `sales` and `events`) through the handler against the emulator:
//! the output is typed Parquet read back with the `parquet` crate and with pyarrow, the Glue
//! table and partition carry the Parquet SerDe and typed columns, every bad input gives the CSV
//! path's DLQ reason, and a failed conversion leaves no object (the multipart upload is aborted).

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Int32Type, Int64Type, TimestampMillisecondType,
};
use arrow_array::RecordBatch;
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pipeline_core::catalog;

use crate::common::*;

const SALES_KEY: &str = "incoming/sales_data_2024_03_15.csv";
const SALES_OUTPUT: &str = "sales_data/year=2024/month=03/day=15/sales_data_2024_03_15.parquet";
const SALES_CSV: &str = "transaction_id,customer_id,amount,transaction_date\n\
T1,C1,10.50,2024-03-15\n\
\"T2, quoted\",C2,-1000.05,2024-03-15\n\
T3,\"C \"\"3\"\"\",0.00,2024-02-29\n\
T4,,99999999.99,1970-01-01\n";

const EVENTS_KEY: &str = "events_20240315T07.csv";
const EVENTS_OUTPUT: &str =
    "app_events/year=2024/month=03/day=15/hour=07/events_20240315T07.parquet";
const EVENTS_CSV: &str = "event_id,occurred_at,user_id,event_type,is_mobile,duration_ms\r\n\
e1,2024-03-15 07:00:00,9007199254740993,page_view,true,120\r\n\
e2,2024-03-15 07:59:59.999,-1,purchase,FALSE,-2147483648\r\n\
e3,2024-03-15 07:30:00.1234,0,,True,0";

fn read_parquet(bytes: Vec<u8>) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn strings(batches: &[RecordBatch], column: usize) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            b.column(column)
                .as_string::<i32>()
                .iter()
                .map(|v| v.unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn values<T: arrow_array::ArrowPrimitiveType>(
    batches: &[RecordBatch],
    column: usize,
) -> Vec<T::Native> {
    batches
        .iter()
        .flat_map(|b| b.column(column).as_primitive::<T>().values().to_vec())
        .collect()
}

/// pyarrow's view of a Parquet file: column types and values as text (timestamps as epoch
/// milliseconds). `None` when pyarrow is not installed (a failure when `CI` is set).
fn pyarrow_view(bytes: &[u8]) -> Option<serde_json::Value> {
    const SCRIPT: &str = r#"
import json, sys
import pyarrow as pa, pyarrow.parquet as pq
table = pq.read_table(sys.argv[1])
out = {"rows": table.num_rows, "types": {}, "values": {}}
for field in table.schema:
    column = table.column(field.name)
    out["types"][field.name] = str(field.type)
    if pa.types.is_timestamp(field.type):
        column = column.cast(pa.int64())
    out["values"][field.name] = [None if v is None else str(v) for v in column.to_pylist()]
print(json.dumps(out))
"#;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let output = std::process::Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(file.path())
        .output();
    match output {
        Ok(out) if out.status.success() => Some(serde_json::from_slice(&out.stdout).unwrap()),
        other => {
            let why = match other {
                Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
                Err(error) => error.to_string(),
            };
            if std::env::var_os("CI").is_some() {
                panic!("pyarrow is required in CI (scripts/test-requirements.txt): {why}");
            }
            eprintln!("SKIPPED: pyarrow check ({why})");
            None
        }
    }
}

#[tokio::test]
async fn sales_and_events_become_typed_parquet_read_back_by_parquet_rs_and_pyarrow() {
    let h = Harness::start_with_config(shipped_config(), |_| {}, None).await;
    let event = h.upload_and_receive(SALES_KEY, SALES_CSV).await;
    assert!(h.handle(event).await.batch_item_failures.is_empty());
    let event = h.upload_and_receive(EVENTS_KEY, EVENTS_CSV).await;
    assert!(h.handle(event).await.batch_item_failures.is_empty());
    assert!(h.dead_letters().await.is_empty());
    assert_eq!(h.outcomes(), ["processed", "processed"]);
    assert_eq!(h.file_lines()[0]["rows"], 4);
    assert_eq!(h.file_lines()[0]["output_key"], SALES_OUTPUT);

    let (sales, metadata) = h.output(SALES_OUTPUT).await.expect("sales parquet");
    assert_eq!(
        metadata.get("source-key").map(String::as_str),
        Some("incoming%2Fsales_data_2024_03_15.csv")
    );
    assert!(metadata.contains_key("source-sequencer"), "{metadata:?}");
    assert!(metadata.contains_key("source-etag"), "{metadata:?}");
    let batches = read_parquet(sales.clone());
    let schema = batches[0].schema();
    let types: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
    assert_eq!(
        types,
        [
            &DataType::Utf8,
            &DataType::Utf8,
            &DataType::Decimal128(10, 2),
            &DataType::Date32
        ]
    );
    assert_eq!(strings(&batches, 0), ["T1", "T2, quoted", "T3", "T4"]);
    assert_eq!(strings(&batches, 1), ["C1", "C2", "C \"3\"", ""]);
    assert_eq!(
        values::<Decimal128Type>(&batches, 2),
        [1050, -100005, 0, 9_999_999_999]
    );
    assert_eq!(values::<Date32Type>(&batches, 3), [19797, 19797, 19782, 0]);

    let (events, _) = h.output(EVENTS_OUTPUT).await.expect("events parquet");
    let batches = read_parquet(events.clone());
    let schema = batches[0].schema();
    assert_eq!(
        schema.field(1).data_type(),
        &DataType::Timestamp(TimeUnit::Millisecond, None)
    );
    assert_eq!(schema.field(2).data_type(), &DataType::Int64);
    assert_eq!(schema.field(4).data_type(), &DataType::Boolean);
    assert_eq!(schema.field(5).data_type(), &DataType::Int32);
    assert_eq!(
        values::<TimestampMillisecondType>(&batches, 1),
        // .1234 is rounded to the millisecond.
        [1_710_486_000_000, 1_710_489_599_999, 1_710_487_800_123]
    );
    assert_eq!(
        values::<Int64Type>(&batches, 2),
        [9_007_199_254_740_993, -1, 0]
    );
    assert_eq!(strings(&batches, 3), ["page_view", "purchase", ""]);
    let mobile: Vec<bool> = batches
        .iter()
        .flat_map(|b| {
            b.column(4)
                .as_boolean()
                .iter()
                .map(Option::unwrap)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(mobile, [true, false, true]);
    assert_eq!(values::<Int32Type>(&batches, 5), [120, i32::MIN, 0]);

    if let Some(view) = pyarrow_view(&sales) {
        assert_eq!(view["rows"], 4);
        assert_eq!(
            view["types"],
            serde_json::json!({"transaction_id": "string", "customer_id": "string",
                               "amount": "decimal128(10, 2)", "transaction_date": "date32[day]"})
        );
        assert_eq!(
            view["values"]["amount"],
            serde_json::json!(["10.50", "-1000.05", "0.00", "99999999.99"])
        );
        assert_eq!(
            view["values"]["transaction_date"],
            serde_json::json!(["2024-03-15", "2024-03-15", "2024-02-29", "1970-01-01"])
        );
        assert_eq!(
            view["values"]["customer_id"],
            serde_json::json!(["C1", "C2", "C \"3\"", ""])
        );
    }
    if let Some(view) = pyarrow_view(&events) {
        assert_eq!(view["rows"], 3);
        assert_eq!(view["types"]["occurred_at"], "timestamp[ms]");
        assert_eq!(view["types"]["user_id"], "int64");
        assert_eq!(view["types"]["is_mobile"], "bool");
        assert_eq!(view["types"]["duration_ms"], "int32");
        assert_eq!(
            view["values"]["occurred_at"],
            serde_json::json!(["1710486000000", "1710489599999", "1710487800123"])
        );
        assert_eq!(
            view["values"]["user_id"],
            serde_json::json!(["9007199254740993", "-1", "0"])
        );
    }
}

#[tokio::test]
async fn the_glue_table_and_partition_of_a_parquet_entity_are_typed_parquet() {
    let h = Harness::start_with_config(shipped_config(), |_| {}, None).await;
    let event = h.upload_and_receive(SALES_KEY, SALES_CSV).await;
    assert!(h.handle(event).await.batch_item_failures.is_empty());
    let glue = aws_sdk_glue::Client::new(&sdk_config(&h.server.endpoint_url()).await);
    let database = &h.config.resources.glue_database;
    let table = glue
        .get_table()
        .database_name(database)
        .name("sales_data")
        .send()
        .await
        .unwrap();
    let table = table.table().unwrap();
    assert_eq!(
        table
            .parameters()
            .unwrap()
            .get("classification")
            .map(String::as_str),
        Some("parquet")
    );
    assert!(table
        .parameters()
        .unwrap()
        .contains_key("parquet.compression"));
    let partitions = glue
        .get_partitions()
        .database_name(database)
        .table_name("sales_data")
        .send()
        .await
        .unwrap();
    assert_eq!(partitions.partitions().len(), 1);
    for sd in [
        table.storage_descriptor().unwrap(),
        partitions.partitions()[0].storage_descriptor().unwrap(),
    ] {
        assert_eq!(
            sd.serde_info().and_then(|s| s.serialization_library()),
            Some(catalog::PARQUET_SERDE)
        );
        assert_eq!(sd.input_format(), Some(catalog::PARQUET_INPUT_FORMAT));
        assert_eq!(sd.output_format(), Some(catalog::PARQUET_OUTPUT_FORMAT));
        let types: Vec<(&str, &str)> = sd
            .columns()
            .iter()
            .map(|c| (c.name(), c.r#type().unwrap_or_default()))
            .collect();
        assert_eq!(
            types,
            [
                ("transaction_id", "string"),
                ("customer_id", "string"),
                ("amount", "decimal(10,2)"),
                ("transaction_date", "date")
            ]
        );
    }
    assert_eq!(
        partitions.partitions()[0]
            .storage_descriptor()
            .unwrap()
            .location(),
        Some("s3://my-company-analytics/sales_data/year=2024/month=03/day=15/")
    );
}

/// A part that cannot be staged (here the staging directory cannot be created; in Lambda, a
/// full `/tmp`) is the environment's fault, not the file's: the message is retried, nothing is
/// dead-lettered and no output appears.
#[tokio::test]
async fn a_part_that_cannot_be_staged_is_retried_not_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("a-file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let h = Harness::start_with_config(
        shipped_config(),
        move |s| s.upload.staging_dir = not_a_dir,
        None,
    )
    .await;
    let event = h.upload_and_receive(SALES_KEY, SALES_CSV).await;
    let response = h.handle(event).await;
    assert_eq!(response.batch_item_failures.len(), 1, "retried");
    assert!(h.dead_letters().await.is_empty(), "not dead-lettered");
    assert!(h.output_keys().await.is_empty(), "no output");
}

/// The DLQ reason of `bytes` uploaded as the sales file, with sales as CSV or as Parquet; the
/// analytics bucket must stay empty.
async fn reason_for(parquet: bool, bytes: &[u8]) -> String {
    let config = if parquet {
        shipped_config()
    } else {
        test_config()
    };
    let h = Harness::start_with_config(config, |_| {}, None).await;
    let event = h.upload_and_receive(SALES_KEY, bytes.to_vec()).await;
    assert!(h.handle(event).await.batch_item_failures.is_empty());
    assert!(
        h.output_keys().await.is_empty(),
        "no output for a rejected file"
    );
    let dead = h.dead_letters().await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].1, "permanent");
    dead[0].2.clone()
}

#[tokio::test]
async fn every_bad_input_gives_the_csv_paths_reason_for_a_parquet_entity() {
    let mut oversized = SALES_HEADER.to_string();
    oversized.push_str(&format!(
        "T1,{},1.00,2024-03-15\n",
        "x".repeat(1024 * 1024 + 1)
    ));
    let mut non_utf8 = SALES_HEADER.as_bytes().to_vec();
    non_utf8.extend_from_slice(b"T1,C\xff1,1.00,2024-03-15\n");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "wrong header",
            b"transaction_id,customer,amount,transaction_date\nT1,C1,1.00,2024-03-15\n".to_vec(),
        ),
        (
            "bad decimal",
            sales_csv(&["T1,C1,1.00,2024-03-15", "T2,C2,12.345,2024-03-15"]).into_bytes(),
        ),
        (
            "bad date",
            sales_csv(&["T1,C1,1.00,2024-02-30"]).into_bytes(),
        ),
        (
            "ragged row",
            sales_csv(&["T1,C1,1.00,2024-03-15", "T2,C2,2.00"]).into_bytes(),
        ),
        (
            "empty number",
            sales_csv(&["T1,C1,,2024-03-15"]).into_bytes(),
        ),
        ("empty file", Vec::new()),
        ("non-UTF-8", non_utf8),
        ("oversized line", oversized.into_bytes()),
        (
            "text after a closing quote",
            sales_csv(&["T1,\"C1\"junk,1.00,2024-03-15"]).into_bytes(),
        ),
        (
            "quote never closed",
            format!("{SALES_HEADER}T1,C1,1.00,\"2024-03-15\n").into_bytes(),
        ),
    ];
    for (what, bytes) in cases {
        let as_csv = reason_for(false, &bytes).await;
        let as_parquet = reason_for(true, &bytes).await;
        assert_eq!(as_parquet, as_csv, "{what}");
        assert!(as_parquet.contains(SALES_KEY), "{what}: {as_parquet}");
        if what.contains("quote") {
            assert!(
                as_parquet.contains("line 2, column "),
                "{what}: {as_parquet}"
            );
        }
    }
}

/// About `size` bytes of valid sales rows whose values vary enough that the Parquet output
/// spans several 5 MiB parts.
fn varied_sales(size: usize, date: &str) -> (String, u64) {
    let mut csv = String::from(SALES_HEADER);
    let mut n: u64 = 0;
    while csv.len() < size {
        let mixed = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        csv.push_str(&format!(
            "T{mixed:016x},C{:08},{}.{:02},{date}\n",
            mixed % 100_000_000,
            mixed % 1_000_000,
            n % 100
        ));
        n += 1;
    }
    (csv, n)
}

#[tokio::test]
async fn a_large_parquet_output_is_uploaded_in_parts_and_a_failure_leaves_nothing() {
    let logs = file_processor::telemetry::Captured::default();
    let writer = logs.clone();
    let _logging = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish(),
    );
    let mut config = shipped_config();
    // Small row groups so the output is produced (and uploaded) while the input is read.
    if let Some(parquet) = config
        .entities
        .get_mut("sales")
        .and_then(|e| e.parquet.as_mut())
    {
        parquet.row_group_bytes = 1024 * 1024;
    }
    // The parts wait in files here; each is removed once uploaded or abandoned.
    let staging = tempfile::tempdir().unwrap();
    let staging_dir = staging.path().join("parts");
    let dir = staging_dir.clone();
    let h = Harness::start_with_config(
        config,
        move |s| {
            s.upload.part_size = 5 * 1024 * 1024;
            s.upload.staging_dir = dir;
        },
        None,
    )
    .await;
    let staged_files = || std::fs::read_dir(&staging_dir).map_or(0, |d| d.count());
    let (csv, rows) = varied_sales(28 * 1024 * 1024, "2024-03-15");
    let event = h.upload_and_receive(SALES_KEY, csv.clone()).await;
    assert!(h.handle(event).await.batch_item_failures.is_empty());
    let (bytes, _) = h.output(SALES_OUTPUT).await.expect("output");
    assert!(
        bytes.len() > 10 * 1024 * 1024,
        "several parts: {} bytes",
        bytes.len()
    );
    let batches = read_parquet(bytes);
    assert_eq!(
        batches.iter().map(|b| b.num_rows() as u64).sum::<u64>(),
        rows
    );
    assert_eq!(h.file_lines()[0]["rows"], rows);
    assert!(
        staging_dir.is_dir(),
        "the parts were staged in the configured directory"
    );
    assert_eq!(staged_files(), 0, "no staged part outlives its upload");

    // Invalid on the last line, after parts were uploaded: the multipart upload is aborted.
    let (mut bad, rows) = varied_sales(28 * 1024 * 1024, "2024-03-17");
    bad.push_str("TX,CX,oops,2024-03-17\n");
    let key = "incoming/sales_data_2024_03_17.csv";
    let output = "sales_data/year=2024/month=03/day=17/sales_data_2024_03_17.parquet";
    let event = h.upload_and_receive(key, bad).await;
    assert!(h.handle(event).await.batch_item_failures.is_empty());
    assert!(h.output(output).await.is_none(), "no partial .parquet");
    let aborted: Vec<String> = logs
        .lines()
        .iter()
        .filter(|l| {
            l["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("aborted")
        })
        .filter_map(|l| l["fields"]["upload_id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(aborted.len(), 1, "one aborted upload: {:?}", logs.lines());
    let reused = h
        .clients
        .s3
        .upload_part()
        .bucket(h.analytics_bucket())
        .key(output)
        .upload_id(&aborted[0])
        .part_number(9)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&reused),
        Some("NoSuchUpload")
    );
    let dead = h.dead_letters().await;
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].2.contains(&format!("line {}", rows + 2)),
        "{}",
        dead[0].2
    );
    assert!(dead[0].2.contains("column 3 (amount)"), "{}", dead[0].2);
    assert_eq!(
        staged_files(),
        0,
        "no staged part outlives an aborted upload"
    );
}
