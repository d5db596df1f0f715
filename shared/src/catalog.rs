//! The Glue Data Catalog model of the pipeline: `DatabaseInput`, one `TableInput` per entity and
//! the `PartitionInput` of a set of partition values, serialized with Glue's JSON wire names
//! (PascalCase). One definition, used by the emulator's bootstrap, the handler and Terraform
//! (through `pipeline-config catalog`).
//!
//! CSV tables use OpenCSVSerDe because the files may quote fields (LazySimpleSerDe does not
//! understand quotes), with `skip.header.line.count` = 1 when the files have a header
//! (<https://docs.aws.amazon.com/athena/latest/ug/csv-serde.html>). That SerDe only reads STRING,
//! BOOLEAN, INT, BIGINT and DOUBLE from text (DATE only as days since the epoch, TIMESTAMP only as
//! epoch milliseconds), so other columns are declared `string` with a comment naming their
//! logical type; the pipeline has validated them, so `CAST(col AS date)` etc. always succeed.
//! Partition keys are `string`: values are path segments such as `03`, kept as written.
//!
//! Parquet tables use ParquetHiveSerDe with MapredParquetInputFormat/OutputFormat, the real Glue
//! type of every column (`decimal(10,2)`, `date`, `timestamp`, ...: the files carry those types),
//! `classification=parquet` and `parquet.compression` (the codec the handler writes; Athena's
//! CTAS/INSERT INTO honour it too), and no header property
//! (<https://docs.aws.amazon.com/athena/latest/ug/parquet-serde.html>).
//!
//! A partition carries its own StorageDescriptor, copied from the entity when it is created, but
//! Athena requires "a table and its partitions [to] use the same data formats"
//! (<https://docs.aws.amazon.com/athena/latest/ug/updates-and-partitions.html>): changing an
//! entity's `format` in place would leave old partitions in the other format, so the README asks
//! for a new `table_name` instead.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{Config, Entity, OutputFormat};
use crate::route;

pub const OPEN_CSV_SERDE: &str = "org.apache.hadoop.hive.serde2.OpenCSVSerde";
pub const TEXT_INPUT_FORMAT: &str = "org.apache.hadoop.mapred.TextInputFormat";
pub const TEXT_OUTPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";
pub const PARQUET_SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
pub const PARQUET_INPUT_FORMAT: &str =
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
pub const PARQUET_OUTPUT_FORMAT: &str =
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";
/// Glue's limit on a column comment.
const MAX_COMMENT_CHARS: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DatabaseInput {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableInput {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub storage_descriptor: StorageDescriptor,
    pub partition_keys: Vec<Column>,
    pub table_type: String,
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PartitionInput {
    pub values: Vec<String>,
    pub storage_descriptor: StorageDescriptor,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StorageDescriptor {
    pub columns: Vec<Column>,
    /// Ends in `/`.
    pub location: String,
    pub input_format: String,
    pub output_format: String,
    pub compressed: bool,
    pub serde_info: SerDeInfo,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Column {
    pub name: String,
    #[serde(rename = "Type")]
    pub column_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Glue's `SerDeInfo` (the field holding it is `SerdeInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SerDeInfo {
    pub serialization_library: String,
    pub parameters: BTreeMap<String, String>,
}

/// The catalog `pipeline-config catalog` prints: `{"database": ..., "tables": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogDocument {
    pub database: DatabaseInput,
    pub tables: Vec<TableInput>,
}

/// A partition that cannot be described (wrong value count, unsafe value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid partition of table {table}: {reason}")]
pub struct CatalogError {
    pub table: String,
    pub reason: String,
}

pub fn database_input(config: &Config) -> DatabaseInput {
    DatabaseInput {
        name: config.resources.glue_database.clone(),
        description: Some(format!(
            "Tables of the files in s3://{}/, loaded by the pipeline from s3://{}/",
            config.resources.analytics_bucket, config.resources.source_bucket
        )),
    }
}

pub fn table_input(config: &Config, entity: &Entity) -> TableInput {
    let mut parameters = BTreeMap::from([
        ("EXTERNAL".to_string(), "TRUE".to_string()),
        (
            "classification".to_string(),
            entity.format.name().to_string(),
        ),
    ]);
    match (&entity.format, &entity.parquet) {
        (OutputFormat::Parquet, Some(parquet)) => {
            parameters.insert(
                "parquet.compression".into(),
                parquet.compression.table_property().into(),
            );
        }
        _ if entity.csv.header => {
            parameters.insert("skip.header.line.count".into(), "1".into());
        }
        _ => {}
    }
    TableInput {
        name: entity.table_name.clone(),
        description: Some(format!(
            "Entity {}: files matching {}",
            entity.name, entity.filename_pattern_source
        )),
        storage_descriptor: storage_descriptor(entity, route::table_location(config, entity)),
        partition_keys: entity
            .partition_keys
            .iter()
            .map(|key| Column {
                name: key.clone(),
                column_type: "string".into(),
                comment: None,
            })
            .collect(),
        table_type: "EXTERNAL_TABLE".into(),
        parameters,
    }
}

/// The partition for `values` (in `partition_keys` order); its location is the partition
/// folder `s3://<analytics>/<table>/k1=v1/.../`.
pub fn partition_input(
    config: &Config,
    entity: &Entity,
    values: &[String],
) -> Result<PartitionInput, CatalogError> {
    let location =
        route::partition_location(config, entity, values).map_err(|reason| CatalogError {
            table: entity.table_name.clone(),
            reason,
        })?;
    Ok(PartitionInput {
        values: values.to_vec(),
        storage_descriptor: storage_descriptor(entity, location),
        parameters: BTreeMap::new(),
    })
}

/// The database and every entity's table.
pub fn catalog_document(config: &Config) -> CatalogDocument {
    CatalogDocument {
        database: database_input(config),
        tables: config
            .entities
            .values()
            .map(|entity| table_input(config, entity))
            .collect(),
    }
}

fn storage_descriptor(entity: &Entity, location: String) -> StorageDescriptor {
    match entity.format {
        OutputFormat::Csv => csv_storage_descriptor(entity, location),
        OutputFormat::Parquet => parquet_storage_descriptor(entity, location),
    }
}

/// Typed columns: the Parquet files carry the logical types, so Glue declares them as written.
fn parquet_storage_descriptor(entity: &Entity, location: String) -> StorageDescriptor {
    StorageDescriptor {
        columns: entity
            .schema
            .iter()
            .map(|column| Column {
                name: column.name.clone(),
                column_type: column.column_type.glue_type(),
                comment: column
                    .comment
                    .as_ref()
                    .map(|text| text.chars().take(MAX_COMMENT_CHARS).collect()),
            })
            .collect(),
        location,
        input_format: PARQUET_INPUT_FORMAT.into(),
        output_format: PARQUET_OUTPUT_FORMAT.into(),
        // Parquet compresses pages inside the file; the file itself is not a compressed stream.
        compressed: false,
        serde_info: SerDeInfo {
            serialization_library: PARQUET_SERDE.into(),
            parameters: BTreeMap::from([("serialization.format".to_string(), "1".to_string())]),
        },
        parameters: BTreeMap::new(),
    }
}

fn csv_storage_descriptor(entity: &Entity, location: String) -> StorageDescriptor {
    let serde_parameters = BTreeMap::from([
        (
            "separatorChar".to_string(),
            char::from(entity.csv.delimiter).to_string(),
        ),
        (
            "quoteChar".to_string(),
            char::from(entity.csv.quote).to_string(),
        ),
        // OpenCSVSerDe's default; stated so the backslash rule of csv_check is visible here.
        ("escapeChar".to_string(), "\\".to_string()),
    ]);
    StorageDescriptor {
        columns: entity.schema.iter().map(catalog_column).collect(),
        location,
        input_format: TEXT_INPUT_FORMAT.into(),
        output_format: TEXT_OUTPUT_FORMAT.into(),
        compressed: false,
        serde_info: SerDeInfo {
            serialization_library: OPEN_CSV_SERDE.into(),
            parameters: serde_parameters,
        },
        parameters: BTreeMap::new(),
    }
}

fn catalog_column(column: &crate::config::Column) -> Column {
    let native = column.column_type.open_csv_reads_natively();
    let note = (!native).then(|| {
        format!(
            "logical type {}: OpenCSVSerDe reads it as string, CAST it in queries",
            column.column_type.glue_type()
        )
    });
    let comment = match (&column.comment, note) {
        (Some(user), Some(note)) => Some(format!("{user} ({note})")),
        (Some(user), None) => Some(user.clone()),
        (None, note) => note,
    }
    .map(|text| text.chars().take(MAX_COMMENT_CHARS).collect());
    Column {
        name: column.name.clone(),
        column_type: if native {
            column.column_type.glue_type()
        } else {
            "string".into()
        },
        comment,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_json_str(crate::config::EMBEDDED_PIPELINE_JSON, &|_| {
            Some("123456789012".to_string())
        })
        .unwrap()
    }

    #[test]
    fn csv_table_input_wire_shape() {
        let config = config();
        let table = table_input(&config, &config.entities["inventory"]);
        let json = serde_json::to_value(&table).unwrap();
        assert_eq!(json["Name"], "inventory_snapshot");
        assert_eq!(json["TableType"], "EXTERNAL_TABLE");
        assert_eq!(json["Parameters"]["skip.header.line.count"], "1");
        assert_eq!(json["Parameters"]["classification"], "csv");
        let sd = &json["StorageDescriptor"];
        assert_eq!(
            sd["Location"],
            "s3://my-company-analytics/inventory_snapshot/"
        );
        assert_eq!(sd["SerdeInfo"]["SerializationLibrary"], OPEN_CSV_SERDE);
        assert_eq!(sd["SerdeInfo"]["Parameters"]["separatorChar"], ",");
        assert_eq!(sd["SerdeInfo"]["Parameters"]["quoteChar"], "\"");
        assert_eq!(sd["InputFormat"], TEXT_INPUT_FORMAT);
        assert_eq!(
            sd["Columns"][0],
            serde_json::json!({"Name": "sku", "Type": "string"})
        );
        // int and double are read natively; decimal and date are strings with a note.
        let types: Vec<&str> = sd["Columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["Type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            ["string", "string", "int", "string", "double", "string"]
        );
        assert!(sd["Columns"][3]["Comment"]
            .as_str()
            .unwrap()
            .contains("decimal(12,4)"));
        assert_eq!(
            json["PartitionKeys"][0],
            serde_json::json!({"Name": "region", "Type": "string"})
        );
        let round_trip: TableInput = serde_json::from_value(json).unwrap();
        assert_eq!(round_trip, table);
    }

    #[test]
    fn parquet_tables_have_the_parquet_serde_and_typed_columns() {
        let config = config();
        let table = table_input(&config, &config.entities["sales"]);
        let json = serde_json::to_value(&table).unwrap();
        assert_eq!(json["Parameters"]["classification"], "parquet");
        assert_eq!(json["Parameters"]["parquet.compression"], "ZSTD");
        assert!(json["Parameters"].get("skip.header.line.count").is_none());
        let sd = &json["StorageDescriptor"];
        assert_eq!(sd["SerdeInfo"]["SerializationLibrary"], PARQUET_SERDE);
        assert_eq!(sd["InputFormat"], PARQUET_INPUT_FORMAT);
        assert_eq!(sd["OutputFormat"], PARQUET_OUTPUT_FORMAT);
        assert_eq!(
            sd["Columns"],
            serde_json::json!([
                {"Name": "transaction_id", "Type": "string"},
                {"Name": "customer_id", "Type": "string"},
                {"Name": "amount", "Type": "decimal(10,2)"},
                {"Name": "transaction_date", "Type": "date"}
            ])
        );
        let events = table_input(&config, &config.entities["events"]);
        let types: Vec<&str> = events
            .storage_descriptor
            .columns
            .iter()
            .map(|c| c.column_type.as_str())
            .collect();
        assert_eq!(
            types,
            ["string", "timestamp", "bigint", "string", "boolean", "int"]
        );
        assert_eq!(
            events.storage_descriptor.columns[3].comment.as_deref(),
            Some("e.g. page_view, purchase")
        );
        let partition = partition_input(
            &config,
            &config.entities["sales"],
            &["2024".into(), "03".into(), "15".into()],
        )
        .unwrap();
        assert_eq!(
            partition.storage_descriptor.columns,
            table.storage_descriptor.columns
        );
        assert_eq!(
            partition
                .storage_descriptor
                .serde_info
                .serialization_library,
            PARQUET_SERDE
        );
    }

    #[test]
    fn partition_input_location_is_the_folder() {
        let config = config();
        let sales = &config.entities["sales"];
        let values = vec!["2024".to_string(), "03".to_string(), "15".to_string()];
        let partition = partition_input(&config, sales, &values).unwrap();
        assert_eq!(partition.values, values);
        assert_eq!(
            partition.storage_descriptor.location,
            "s3://my-company-analytics/sales_data/year=2024/month=03/day=15/"
        );
        let json = serde_json::to_value(&partition).unwrap();
        assert_eq!(json["Values"], serde_json::json!(["2024", "03", "15"]));
        assert!(partition_input(&config, sales, &values[..1]).is_err());
    }

    #[test]
    fn database_and_document() {
        let config = config();
        let document = serde_json::to_value(catalog_document(&config)).unwrap();
        assert_eq!(document["database"]["Name"], "analytics_db");
        assert_eq!(document["tables"].as_array().unwrap().len(), 3);
    }
}
