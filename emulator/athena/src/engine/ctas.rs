//! CREATE TABLE ... WITH (format = 'PARQUET', external_location = 's3://...') AS SELECT: runs the
//! query, writes its result as one Parquet file under the external location, registers a
//! ParquetHiveSerDe table in Glue and writes the data manifest (the list of files written) that
//! awswrangler's default `ctas_approach=True` path reads.
//! Supported properties: format (PARQUET), external_location, parquet_compression/write_compression
//! (SNAPPY, GZIP, ZSTD, NONE). Others (partitioned_by, bucketed_by, ...) fail the query naming them.

use bytes::Bytes;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, GzipLevel, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use serde_json::{json, Value};

use super::{QueryFailure, QueryOutput, QueryScope};
use crate::results::ResultTable;
use crate::statements::Statement;
use crate::store::{split_s3_url, S3Store};
use crate::types::hive_type;

pub const PARQUET_SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
pub const PARQUET_INPUT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
pub const PARQUET_OUTPUT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";

struct CtasOptions {
    location: String,
    compression: Compression,
}

fn options(
    properties: &[(String, String)],
    scope: &QueryScope,
) -> Result<CtasOptions, QueryFailure> {
    let mut location = None;
    let mut compression = Compression::GZIP(GzipLevel::default());
    for (name, value) in properties {
        match name.as_str() {
            "format" if value.eq_ignore_ascii_case("parquet") => {}
            "format" => {
                return Err(QueryFailure::user(
                    "NOT_SUPPORTED",
                    format!("CTAS format '{value}' is not supported by the local Athena (PARQUET is)"),
                ))
            }
            "external_location" => location = Some(value.clone()),
            "parquet_compression" | "write_compression" => {
                compression = match value.to_ascii_uppercase().as_str() {
                    "SNAPPY" => Compression::SNAPPY,
                    "GZIP" => Compression::GZIP(GzipLevel::default()),
                    "ZSTD" => Compression::ZSTD(ZstdLevel::default()),
                    "NONE" | "UNCOMPRESSED" => Compression::UNCOMPRESSED,
                    other => {
                        return Err(QueryFailure::user(
                            "NOT_SUPPORTED",
                            format!("CTAS compression '{other}' is not supported (SNAPPY, GZIP, ZSTD, NONE are)"),
                        ))
                    }
                }
            }
            other => {
                return Err(QueryFailure::user(
                    "NOT_SUPPORTED",
                    format!("CTAS table property '{other}' is not supported by the local Athena"),
                ))
            }
        }
    }
    // Without external_location Athena writes under the workgroup's result location.
    let location =
        location.unwrap_or_else(|| format!("{}tables/{}/", scope.output_prefix, scope.query_id));
    let location = if location.ends_with('/') {
        location
    } else {
        format!("{location}/")
    };
    Ok(CtasOptions {
        location,
        compression,
    })
}

fn parquet_bytes(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    compression: Compression,
) -> Result<Vec<u8>, QueryFailure> {
    let properties = WriterProperties::builder()
        .set_compression(compression)
        .build();
    let mut buffer = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buffer, schema.clone(), Some(properties))
        .map_err(|e| QueryFailure::system(format!("writing Parquet: {e}")))?;
    for batch in batches {
        writer
            .write(batch)
            .map_err(|e| QueryFailure::system(format!("writing Parquet: {e}")))?;
    }
    writer
        .close()
        .map_err(|e| QueryFailure::system(format!("writing Parquet: {e}")))?;
    Ok(buffer)
}

fn table_input(name: &str, schema: &SchemaRef, location: &str) -> Value {
    let columns: Vec<Value> = schema
        .fields()
        .iter()
        .map(|f| json!({ "Name": f.name().to_lowercase(), "Type": hive_type(f.data_type()) }))
        .collect();
    json!({
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": { "EXTERNAL": "TRUE", "classification": "parquet", "has_encrypted_data": "false" },
        "StorageDescriptor": {
            "Columns": columns,
            "Location": location,
            "InputFormat": PARQUET_INPUT,
            "OutputFormat": PARQUET_OUTPUT,
            "SerdeInfo": { "SerializationLibrary": PARQUET_SERDE, "Parameters": { "serialization.format": "1" } },
        },
    })
}

pub async fn run(
    engine: &super::Engine,
    statement: &Statement,
    scope: &QueryScope,
) -> Result<QueryOutput, QueryFailure> {
    let Statement::CreateTableAs {
        table,
        if_not_exists,
        properties,
        query,
    } = statement
    else {
        return Err(QueryFailure::system("not a CTAS statement"));
    };
    let database = table
        .database
        .clone()
        .unwrap_or_else(|| scope.database.clone());
    if engine
        .catalog()
        .table(&database, &table.table)
        .await?
        .is_some()
    {
        if *if_not_exists {
            return Ok(QueryOutput::default());
        }
        return Err(QueryFailure::user(
            "ALREADY_EXISTS",
            format!(
                "Table awsdatacatalog.{database}.{} already exists",
                table.table
            ),
        ));
    }
    let options = options(properties, scope)?;
    let (bucket, prefix) = empty_target(engine, &options.location, &database, &table.table)?;
    let store = S3Store::new(engine.s3().clone());
    let (schema, batches) = engine.collect(query, scope, &store).await?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let data = parquet_bytes(&schema, &batches, options.compression)?;
    let key = format!("{prefix}{}_00000", scope.query_id);
    engine
        .s3()
        .put_object_bytes(bucket, &key, Bytes::from(data), "application/octet-stream")
        .map_err(|e| {
            QueryFailure::user(
                "HIVE_WRITER_OPEN_ERROR",
                format!("writing s3://{bucket}/{key}: {e}"),
            )
        })?;
    engine
        .catalog()
        .create_table(
            &database,
            table_input(&table.table, &schema, &options.location),
        )
        .await?;
    let manifest = format!("{}{}-manifest.csv", scope.output_prefix, scope.query_id);
    write_text(engine, &manifest, format!("s3://{bucket}/{key}\n"))?;
    Ok(QueryOutput {
        result: rows_written(rows),
        bytes_scanned: store.bytes_read(),
        manifest: Some(manifest),
    })
}

/// The bucket and prefix of `external_location`, which must be an `s3://` URL with no object
/// under it yet (Athena refuses to write into a non-empty location).
fn empty_target<'a>(
    engine: &super::Engine,
    location: &'a str,
    database: &str,
    table: &str,
) -> Result<(&'a str, &'a str), QueryFailure> {
    let (bucket, prefix) = split_s3_url(location).ok_or_else(|| {
        QueryFailure::user(
            "INVALID_TABLE_PROPERTY",
            format!("external_location '{location}' is not an s3:// URL"),
        )
    })?;
    let existing = engine
        .s3()
        .objects_with_prefix(bucket, prefix)
        .map_err(|e| QueryFailure::user("HIVE_PATH_ALREADY_EXISTS", e.to_string()))?;
    if !existing.is_empty() {
        return Err(QueryFailure::user(
            "HIVE_PATH_ALREADY_EXISTS",
            format!("Target directory for table '{database}.{table}' already exists: {location}"),
        ));
    }
    Ok((bucket, prefix))
}

/// CTAS answers with one `rows` column (bigint) holding the count written.
fn rows_written(rows: usize) -> ResultTable {
    let mut result = ResultTable::utility(&["rows"], vec![vec![rows.to_string()]]);
    result.columns[0] = crate::results::ColumnMeta {
        name: "rows".into(),
        type_name: "bigint".into(),
        precision: 19,
        scale: 0,
    };
    result.update_count = rows as i64;
    result
}

/// Writes a small text object at an `s3://` URL.
pub fn write_text(engine: &super::Engine, url: &str, text: String) -> Result<(), QueryFailure> {
    let (bucket, key) = split_s3_url(url).ok_or_else(|| {
        QueryFailure::user("INVALID_INPUT", format!("'{url}' is not an s3:// URL"))
    })?;
    engine
        .s3()
        .put_object_bytes(bucket, key, Bytes::from(text), "text/plain")
        .map_err(|e| QueryFailure::user("HIVE_WRITER_OPEN_ERROR", format!("writing {url}: {e}")))
}
