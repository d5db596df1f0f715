//! The shared pipeline config (`shared/pipeline.json`): its JSON shape (the `Raw*` serde structs,
//! which reject unknown fields), the validated model the handler, the emulator and Terraform use,
//! and loading (placeholders, then deserialization, then validation, each error naming the JSON
//! path of the offending field). The field reference is the "Configuration reference" section of the repository README.

mod emulator;
mod functions;
mod placeholders;
mod validate;

pub use emulator::{EmulatorSettings, FaultRuleSpec};
pub use functions::{Function, DEFAULT_FUNCTION_NAME};

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::schema::ColumnType;

/// Default `resources.max_receive_count` (Lambda guidance: at least 5, so that throttling alone
/// does not send messages to the DLQ).
pub const DEFAULT_MAX_RECEIVE_COUNT: u32 = 5;
/// Default `resources.visibility_timeout_seconds` (6 x the default 120 s function timeout, per the
/// Lambda guidance for SQS event sources).
pub const DEFAULT_VISIBILITY_TIMEOUT_SECONDS: u32 = 720;
/// Default `entities.*.csv.max_record_bytes`: 1 MiB per record (line).
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 1024 * 1024;
/// Default `entities.*.parquet.row_group_rows`: parquet-rs' own default row group length.
pub const DEFAULT_ROW_GROUP_ROWS: u64 = 1024 * 1024;
/// Default `entities.*.parquet.row_group_bytes`: the encoded size at which a row group is closed
/// even if it has fewer rows; the writer holds one row group in memory, so this bounds memory.
pub const DEFAULT_ROW_GROUP_BYTES: u64 = 32 * 1024 * 1024;
/// Smallest `row_group_bytes` accepted (smaller row groups only add per-group overhead).
pub const MIN_ROW_GROUP_BYTES: u64 = 64 * 1024;
/// Largest `row_group_bytes` accepted: a row group is held in the function's memory.
pub const MAX_ROW_GROUP_BYTES: u64 = 1024 * 1024 * 1024;
/// Account id `Config::embedded_default` uses when `AWS_ACCOUNT_ID` is unset (the emulator's).
pub const DEFAULT_LOCAL_ACCOUNT_ID: &str = "000000000000";

/// The shipped default config, embedded at build time.
pub const EMBEDDED_PIPELINE_JSON: &str = include_str!("../pipeline.json");

/// The validated pipeline config.
#[derive(Debug, Clone)]
pub struct Config {
    pub aws: AwsSettings,
    pub resources: Resources,
    /// Entities by their config key (`sales`), sorted.
    pub entities: BTreeMap<String, Entity>,
    /// Functions fed by the pipeline queue, by name; `file-processor` when the section is absent.
    pub functions: BTreeMap<String, Function>,
    /// The local emulator's own settings (fault rules); empty when the section is absent.
    pub emulator: EmulatorSettings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    pub region: String,
    /// 12 digits.
    pub account_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub source_bucket: String,
    pub analytics_bucket: String,
    pub glue_database: String,
    pub workgroup_name: String,
    pub sqs_queue: String,
    /// Defaults to `<sqs_queue>-dlq`.
    pub dead_letter_queue: String,
    /// Redrive policy `maxReceiveCount` (1..=1000); default 5.
    pub max_receive_count: u32,
    /// Queue `VisibilityTimeout` (0..=43200); default 720.
    pub visibility_timeout_seconds: u32,
}

/// One business entity: which files it owns, how they are partitioned and what they contain.
#[derive(Debug, Clone)]
pub struct Entity {
    /// The config key (`sales`).
    pub name: String,
    pub table_name: String,
    /// Compiled and anchored: it must match the whole file name (`^(?:pattern)$`).
    pub filename_pattern: Regex,
    /// The pattern as written in the config (unanchored).
    pub filename_pattern_source: String,
    pub partition_keys: Vec<String>,
    /// How capture groups map to partition keys.
    pub captures: PartitionCaptures,
    pub schema: Vec<Column>,
    pub format: OutputFormat,
    pub csv: CsvOptions,
    /// How Parquet output is written; `Some` exactly when `format` is [`OutputFormat::Parquet`].
    pub parquet: Option<ParquetOptions>,
}

/// How `filename_pattern`'s capture groups give the partition values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionCaptures {
    /// Unnamed groups, in the order of `partition_keys`.
    Positional,
    /// Named groups `(?P<year>...)`, one per partition key, any order.
    Named,
}

/// One schema column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub column_type: ColumnType,
    /// Free text for the catalog column's `Comment`.
    pub comment: Option<String>,
}

/// The format written to the analytics bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// The source CSV, copied unchanged (the default: the seed config describes a copy).
    #[default]
    Csv,
    /// Typed Parquet (`<source stem>.parquet`), converted while validating.
    Parquet,
}

impl OutputFormat {
    /// The config spelling, also the Glue `classification` (`csv`, `parquet`).
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Csv => "csv",
            OutputFormat::Parquet => "parquet",
        }
    }

    /// The output file's extension, without the dot.
    pub fn extension(self) -> &'static str {
        self.name()
    }
}

/// Compression codec of Parquet pages; all three are read by Athena
/// (<https://docs.aws.amazon.com/athena/latest/ug/compression-support-hive.html>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParquetCompression {
    Snappy,
    /// The default: in the `parquet` bench (1 GiB sales CSV) about 5% slower to write than
    /// Snappy and about 5x smaller (66 vs 330 MiB), and Athena bills the bytes it scans.
    #[default]
    Zstd,
    None,
}

impl ParquetCompression {
    /// The config spelling.
    pub fn name(self) -> &'static str {
        match self {
            ParquetCompression::Snappy => "snappy",
            ParquetCompression::Zstd => "zstd",
            ParquetCompression::None => "none",
        }
    }

    /// The value of the Glue table property `parquet.compression`.
    pub fn table_property(self) -> &'static str {
        match self {
            ParquetCompression::Snappy => "SNAPPY",
            ParquetCompression::Zstd => "ZSTD",
            ParquetCompression::None => "UNCOMPRESSED",
        }
    }
}

/// How an entity's Parquet output is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetOptions {
    pub compression: ParquetCompression,
    /// Most rows per row group.
    pub row_group_rows: u64,
    /// Encoded bytes at which a row group is closed (bounds the writer's memory).
    pub row_group_bytes: u64,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            compression: ParquetCompression::default(),
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            row_group_bytes: DEFAULT_ROW_GROUP_BYTES,
        }
    }
}

/// How an entity's CSV files are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    pub delimiter: u8,
    pub quote: u8,
    /// The first line is a header naming the schema's columns.
    pub header: bool,
    /// Largest record (one line, or several when a quoted field spans lines), in bytes.
    pub max_record_bytes: u64,
    /// Accept quoted fields containing line breaks. Off by default: Athena's OpenCSVSerDe "does
    /// not support embedded line breaks in CSV files"
    /// (<https://docs.aws.amazon.com/athena/latest/ug/csv-serde.html>).
    pub allow_embedded_newlines: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            quote: b'"',
            header: true,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            allow_embedded_newlines: false,
        }
    }
}

/// A config that cannot be used; `path` is the JSON path of the field (`entities.sales.schema[2].type`).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config is not valid JSON: {0}")]
    Syntax(String),
    #[error("config field `{path}`: {message}")]
    Invalid { path: String, message: String },
}

impl ConfigError {
    /// The JSON path of the offending field, when the error has one.
    pub fn path(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { path, .. } => Some(path),
            _ => None,
        }
    }

    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}

// ---- The JSON shape (what the loader accepts). Every field here is documented in
// ---- README.md; a test checks it.

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub aws: RawAws,
    pub resources: RawResources,
    pub entities: BTreeMap<String, RawEntity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functions: Option<BTreeMap<String, functions::RawFunction>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator: Option<emulator::RawEmulator>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAws {
    pub region: String,
    pub account_id: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawResources {
    pub source_bucket: String,
    pub analytics_bucket: String,
    pub glue_database: String,
    pub workgroup_name: String,
    pub sqs_queue: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_receive_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility_timeout_seconds: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEntity {
    pub table_name: String,
    pub filename_pattern: String,
    pub partition_keys: Vec<String>,
    pub schema: Vec<RawColumn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<RawCsv>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parquet: Option<RawParquet>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawParquet {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_group_rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_group_bytes: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCsv {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_record_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_embedded_newlines: Option<bool>,
}

impl Config {
    /// Parses, resolves `${VAR}`/`${VAR:-default}` placeholders through `lookup`, and validates.
    pub fn from_json_str(
        text: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        placeholders::resolve_placeholders(&mut value, &mut String::new(), lookup)?;
        let raw: RawConfig = serde_path_to_error::deserialize(value).map_err(|error| {
            let path = error.path().to_string();
            ConfigError::invalid(
                if path == "." {
                    "(root)".to_string()
                } else {
                    path
                },
                error.inner().to_string(),
            )
        })?;
        validate::build(raw)
    }

    /// Reads and loads a config file; placeholders resolve from the process environment.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Config::from_json_str(&text, &|name| std::env::var(name).ok())
    }

    /// The shipped `shared/pipeline.json`, with `AWS_ACCOUNT_ID` defaulting to `000000000000`
    /// when unset (other variables come from the environment).
    pub fn embedded_default() -> Result<Config, ConfigError> {
        Config::from_json_str(EMBEDDED_PIPELINE_JSON, &|name| {
            std::env::var(name).ok().or_else(|| {
                (name == "AWS_ACCOUNT_ID").then(|| DEFAULT_LOCAL_ACCOUNT_ID.to_string())
            })
        })
    }

    /// The entity whose table is `table_name`.
    pub fn entity_by_table(&self, table_name: &str) -> Option<&Entity> {
        self.entities.values().find(|e| e.table_name == table_name)
    }

    /// The literal suffixes S3 notification filters use: one per distinct entity file suffix,
    /// dropping any that ends with another (AWS rejects overlapping filters for one event type,
    /// and `.csv` already covers `_daily.csv`). `[""]` when some entity has no literal suffix.
    pub fn notification_suffixes(&self) -> Vec<String> {
        let all: std::collections::BTreeSet<String> =
            self.entities.values().map(Entity::file_suffix).collect();
        all.iter()
            .filter(|s| {
                !all.iter()
                    .any(|other| other != *s && s.ends_with(other.as_str()))
            })
            .cloned()
            .collect()
    }

    /// The ARN of the main queue.
    pub fn queue_arn(&self) -> String {
        self.sqs_arn(&self.resources.sqs_queue)
    }

    /// The ARN of the dead-letter queue.
    pub fn dead_letter_queue_arn(&self) -> String {
        self.sqs_arn(&self.resources.dead_letter_queue)
    }

    fn sqs_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:sqs:{}:{}:{}",
            self.aws.region, self.aws.account_id, name
        )
    }

    /// The resolved config with every default filled in, as JSON in the same shape the loader
    /// accepts (for Terraform's `external` data source and for humans).
    pub fn to_resolved_json(&self) -> serde_json::Value {
        let raw = RawConfig {
            aws: RawAws {
                region: self.aws.region.clone(),
                account_id: self.aws.account_id.clone(),
            },
            resources: RawResources {
                source_bucket: self.resources.source_bucket.clone(),
                analytics_bucket: self.resources.analytics_bucket.clone(),
                glue_database: self.resources.glue_database.clone(),
                workgroup_name: self.resources.workgroup_name.clone(),
                sqs_queue: self.resources.sqs_queue.clone(),
                dead_letter_queue: Some(self.resources.dead_letter_queue.clone()),
                max_receive_count: Some(self.resources.max_receive_count),
                visibility_timeout_seconds: Some(self.resources.visibility_timeout_seconds),
            },
            entities: self
                .entities
                .iter()
                .map(|(name, entity)| (name.clone(), entity.to_raw()))
                .collect(),
            functions: Some(
                self.functions
                    .iter()
                    .map(|(name, f)| (name.clone(), f.to_raw()))
                    .collect(),
            ),
            emulator: self.emulator.to_raw(),
        };
        serde_json::to_value(raw).unwrap_or(serde_json::Value::Null)
    }
}

impl Entity {
    /// Matches a file name (the last key segment) against the anchored pattern and returns the
    /// partition values in `partition_keys` order, or `None` when it does not match.
    pub fn match_file_name(&self, file_name: &str) -> Option<Vec<(String, String)>> {
        let captures = self.filename_pattern.captures(file_name)?;
        let mut values = Vec::with_capacity(self.partition_keys.len());
        for (index, key) in self.partition_keys.iter().enumerate() {
            let matched = match self.captures {
                PartitionCaptures::Positional => captures.get(index + 1),
                PartitionCaptures::Named => captures.name(key),
            };
            // A group inside an optional part may not participate: treat it as an empty value,
            // which routing rejects with a clear error.
            let value = matched.map(|m| m.as_str().to_string()).unwrap_or_default();
            values.push((key.clone(), value));
        }
        Some(values)
    }

    /// The literal text every matching file name ends with (`.csv` for
    /// `sales_data_(\d{4})_(\d{2})_(\d{2})\.csv`), or `""` when the pattern has none.
    ///
    /// S3 notification filters and Terraform's `filter_suffix` take a literal suffix, not a
    /// regex; regex-syntax's literal extractor finds it instead of a hand-written scan, so
    /// alternations, classes and repetitions are handled the way the regex engine sees them.
    pub fn file_suffix(&self) -> String {
        use regex_syntax::hir::literal::{ExtractKind, Extractor};
        let Ok(hir) = regex_syntax::parse(&self.filename_pattern_source) else {
            return String::new();
        };
        let suffixes = Extractor::new().kind(ExtractKind::Suffix).extract(&hir);
        let common = suffixes.longest_common_suffix().unwrap_or_default();
        // A suffix cut inside a multi-byte character: keep the whole characters only.
        let mut start = 0;
        while start < common.len() && std::str::from_utf8(&common[start..]).is_err() {
            start += 1;
        }
        String::from_utf8_lossy(&common[start..]).into_owned()
    }

    /// The output file name of a source file name: unchanged for CSV; for Parquet the source's
    /// stem (the name without its last extension) plus `.parquet`
    /// (`sales_data_2024_03_15.csv` -> `sales_data_2024_03_15.parquet`).
    pub fn output_file_name(&self, source_file_name: &str) -> String {
        match self.format {
            OutputFormat::Csv => source_file_name.to_string(),
            OutputFormat::Parquet => {
                let stem = match source_file_name.rsplit_once('.') {
                    Some((stem, _)) if !stem.is_empty() => stem,
                    _ => source_file_name,
                };
                format!("{stem}.{}", self.format.extension())
            }
        }
    }

    /// The column names in schema order.
    pub fn column_names(&self) -> Vec<&str> {
        self.schema.iter().map(|c| c.name.as_str()).collect()
    }

    fn to_raw(&self) -> RawEntity {
        RawEntity {
            table_name: self.table_name.clone(),
            filename_pattern: self.filename_pattern_source.clone(),
            partition_keys: self.partition_keys.clone(),
            schema: self
                .schema
                .iter()
                .map(|c| RawColumn {
                    name: c.name.clone(),
                    column_type: c.column_type.glue_type(),
                    comment: c.comment.clone(),
                })
                .collect(),
            format: Some(self.format.name().to_string()),
            csv: Some(RawCsv {
                delimiter: Some(char::from(self.csv.delimiter).to_string()),
                quote: Some(char::from(self.csv.quote).to_string()),
                header: Some(self.csv.header),
                max_record_bytes: Some(self.csv.max_record_bytes),
                allow_embedded_newlines: Some(self.csv.allow_embedded_newlines),
            }),
            parquet: self.parquet.as_ref().map(|p| RawParquet {
                compression: Some(p.compression.name().to_string()),
                row_group_rows: Some(p.row_group_rows),
                row_group_bytes: Some(p.row_group_bytes),
            }),
        }
    }
}

#[cfg(test)]
mod tests;

/// Every field path the loader accepts, e.g. `resources.dead_letter_queue`,
/// `entities.<name>.schema[].type`. Built by serializing a fully populated `RawConfig`, so a
/// field added to the serde structs appears here (the struct literal below does not compile
/// until the new field is filled in). The docs test compares it with README.md.
pub fn accepted_field_paths() -> Vec<String> {
    let full = RawConfig {
        aws: RawAws {
            region: String::new(),
            account_id: String::new(),
        },
        resources: RawResources {
            source_bucket: String::new(),
            analytics_bucket: String::new(),
            glue_database: String::new(),
            workgroup_name: String::new(),
            sqs_queue: String::new(),
            dead_letter_queue: Some(String::new()),
            max_receive_count: Some(0),
            visibility_timeout_seconds: Some(0),
        },
        entities: BTreeMap::from([(
            "<name>".to_string(),
            RawEntity {
                table_name: String::new(),
                filename_pattern: String::new(),
                partition_keys: vec![],
                schema: vec![RawColumn {
                    name: String::new(),
                    column_type: String::new(),
                    comment: Some(String::new()),
                }],
                format: Some(String::new()),
                csv: Some(RawCsv {
                    delimiter: Some(String::new()),
                    quote: Some(String::new()),
                    header: Some(true),
                    max_record_bytes: Some(0),
                    allow_embedded_newlines: Some(false),
                }),
                parquet: Some(RawParquet {
                    compression: Some(String::new()),
                    row_group_rows: Some(0),
                    row_group_bytes: Some(0),
                }),
            },
        )]),
        functions: Some(BTreeMap::from([(
            "<name>".to_string(),
            functions::RawFunction {
                command: Some(vec![String::new()]),
                memory_mb: Some(0),
                timeout_seconds: Some(0),
                environment: Some(BTreeMap::from([("<VAR>".to_string(), String::new())])),
                batch_size: Some(0),
                maximum_batching_window_seconds: Some(0),
                maximum_concurrency: Some(0),
                report_batch_item_failures: Some(true),
            },
        )])),
        emulator: Some(emulator::RawEmulator::full()),
    };
    let mut paths = Vec::new();
    if let Ok(value) = serde_json::to_value(full) {
        collect_paths(&value, "", &mut paths);
    }
    paths
}

fn collect_paths(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(fields) => {
            for (name, child) in fields {
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                out.push(path.clone());
                collect_paths(child, &path, out);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                collect_paths(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}
