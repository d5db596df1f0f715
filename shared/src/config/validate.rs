//! Turns the deserialized `RawConfig` into the validated `Config`: applies defaults and checks
//! every rule, reporting the first broken one with the JSON path of its field.

use std::collections::{BTreeMap, HashMap, HashSet};

use regex::Regex;

use super::{
    AwsSettings, Column, Config, ConfigError, CsvOptions, Entity, OutputFormat, ParquetCompression,
    ParquetOptions, PartitionCaptures, RawAws, RawColumn, RawConfig, RawCsv, RawEntity, RawParquet,
    RawResources, Resources, DEFAULT_MAX_RECEIVE_COUNT, DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
    MAX_ROW_GROUP_BYTES, MIN_ROW_GROUP_BYTES,
};
use crate::failure::MAX_VISIBILITY_TIMEOUT_SECONDS;
use crate::names;
use crate::schema::ColumnType;

/// `maxReceiveCount` range of an SQS redrive policy.
const MAX_RECEIVE_COUNT_RANGE: std::ops::RangeInclusive<u32> = 1..=1000;

fn check(path: &str, result: Result<(), String>) -> Result<(), ConfigError> {
    result.map_err(|message| ConfigError::invalid(path, message))
}

pub(crate) fn build(raw: RawConfig) -> Result<Config, ConfigError> {
    let aws = build_aws(raw.aws)?;
    let resources = build_resources(raw.resources)?;
    let entities = build_entities(raw.entities)?;
    let functions = super::functions::build(raw.functions, resources.visibility_timeout_seconds)?;
    Ok(Config {
        aws,
        resources,
        entities,
        functions,
        emulator: super::emulator::build(raw.emulator),
    })
}

fn build_aws(raw: RawAws) -> Result<AwsSettings, ConfigError> {
    check("aws.region", names::check_region(&raw.region))?;
    check("aws.account_id", names::check_account_id(&raw.account_id))?;
    Ok(AwsSettings {
        region: raw.region,
        account_id: raw.account_id,
    })
}

/// Buckets, database, workgroup and queues: AWS names, and the rules between them.
fn build_resources(r: RawResources) -> Result<Resources, ConfigError> {
    check(
        "resources.source_bucket",
        names::check_bucket_name(&r.source_bucket),
    )?;
    check(
        "resources.analytics_bucket",
        names::check_bucket_name(&r.analytics_bucket),
    )?;
    if r.source_bucket == r.analytics_bucket {
        // Writing the partitioned copy into the source bucket would notify the queue again.
        return Err(ConfigError::invalid(
            "resources.analytics_bucket",
            "must differ from resources.source_bucket (the copy would trigger the pipeline again)",
        ));
    }
    check(
        "resources.glue_database",
        names::check_glue_name(&r.glue_database),
    )?;
    check(
        "resources.workgroup_name",
        names::check_workgroup_name(&r.workgroup_name),
    )?;
    check("resources.sqs_queue", names::check_queue_name(&r.sqs_queue))?;
    let dead_letter_queue = build_dead_letter_queue(r.dead_letter_queue, &r.sqs_queue)?;
    let max_receive_count = r.max_receive_count.unwrap_or(DEFAULT_MAX_RECEIVE_COUNT);
    if !MAX_RECEIVE_COUNT_RANGE.contains(&max_receive_count) {
        return Err(ConfigError::invalid(
            "resources.max_receive_count",
            format!("{max_receive_count} is outside the SQS redrive policy range 1..=1000"),
        ));
    }
    let visibility_timeout_seconds = r
        .visibility_timeout_seconds
        .unwrap_or(DEFAULT_VISIBILITY_TIMEOUT_SECONDS);
    if visibility_timeout_seconds > MAX_VISIBILITY_TIMEOUT_SECONDS {
        return Err(ConfigError::invalid(
            "resources.visibility_timeout_seconds",
            format!("{visibility_timeout_seconds} is outside the SQS range 0..={MAX_VISIBILITY_TIMEOUT_SECONDS}"),
        ));
    }
    Ok(Resources {
        source_bucket: r.source_bucket,
        analytics_bucket: r.analytics_bucket,
        glue_database: r.glue_database,
        workgroup_name: r.workgroup_name,
        sqs_queue: r.sqs_queue,
        dead_letter_queue,
        max_receive_count,
        visibility_timeout_seconds,
    })
}

/// The dead-letter queue's name: the configured one, or `<sqs_queue>-dlq`.
fn build_dead_letter_queue(
    configured: Option<String>,
    sqs_queue: &str,
) -> Result<String, ConfigError> {
    let dead_letter_queue = match configured {
        Some(name) => {
            check(
                "resources.dead_letter_queue",
                names::check_queue_name(&name),
            )?;
            name
        }
        None => {
            let name = format!("{sqs_queue}-dlq");
            check(
                "resources.dead_letter_queue",
                names::check_queue_name(&name)
                    .map_err(|e| format!("default <sqs_queue>-dlq {name:?} is invalid: {e}")),
            )?;
            name
        }
    };
    if dead_letter_queue == sqs_queue {
        return Err(ConfigError::invalid(
            "resources.dead_letter_queue",
            "must differ from resources.sqs_queue",
        ));
    }
    Ok(dead_letter_queue)
}

/// Every entity, and one table name per entity.
fn build_entities(
    raw: BTreeMap<String, RawEntity>,
) -> Result<BTreeMap<String, Entity>, ConfigError> {
    if raw.is_empty() {
        return Err(ConfigError::invalid(
            "entities",
            "at least one entity is required",
        ));
    }
    let mut entities = BTreeMap::new();
    let mut tables: HashMap<String, String> = HashMap::new();
    for (name, raw_entity) in raw {
        let entity = build_entity(&name, raw_entity)?;
        if let Some(other) = tables.get(&entity.table_name) {
            return Err(ConfigError::invalid(
                format!("entities.{name}.table_name"),
                format!(
                    "duplicate table name {:?}, already used by entities.{other}",
                    entity.table_name
                ),
            ));
        }
        tables.insert(entity.table_name.clone(), name.clone());
        entities.insert(name, entity);
    }
    Ok(entities)
}

fn build_entity(name: &str, raw: RawEntity) -> Result<Entity, ConfigError> {
    let at = |field: &str| format!("entities.{name}.{field}");
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !name_ok {
        return Err(ConfigError::invalid(
            format!("entities.{name}"),
            "entity key may contain only letters, digits, '_' and '-'",
        ));
    }
    check(&at("table_name"), names::check_glue_name(&raw.table_name))?;
    let folded_keys = check_partition_keys(&at("partition_keys"), &raw.partition_keys)?;
    let (filename_pattern, captures) = compile_pattern(
        &at("filename_pattern"),
        &raw.filename_pattern,
        &raw.partition_keys,
    )?;
    let schema = build_schema(&at("schema"), raw.schema, &folded_keys)?;
    let format = parse_format(&at("format"), raw.format.as_deref())?;
    let csv = build_csv(&at("csv"), raw.csv)?;
    let parquet = match (format, raw.parquet) {
        (OutputFormat::Parquet, raw) => Some(build_parquet(&at("parquet"), raw)?),
        (OutputFormat::Csv, None) => None,
        // A block that would be silently ignored is a mistake worth reporting.
        (OutputFormat::Csv, Some(_)) => {
            return Err(ConfigError::invalid(
                at("parquet"),
                "applies only to format \"parquet\"; this entity's format is \"csv\"",
            ))
        }
    };
    Ok(Entity {
        name: name.to_string(),
        table_name: raw.table_name,
        filename_pattern,
        filename_pattern_source: raw.filename_pattern,
        partition_keys: raw.partition_keys,
        captures,
        schema,
        format,
        csv,
        parquet,
    })
}

/// Partition keys: Glue names, unique, at least one. Returns them lowercased (Hive compares
/// names case-insensitively), for the schema's clash check.
fn check_partition_keys(path: &str, keys: &[String]) -> Result<HashSet<String>, ConfigError> {
    if keys.is_empty() {
        return Err(ConfigError::invalid(
            path,
            "at least one partition key is required (the pipeline registers one partition per file)",
        ));
    }
    let mut folded_keys = HashSet::new();
    for (index, key) in keys.iter().enumerate() {
        let path = format!("{path}[{index}]");
        check(&path, names::check_glue_name(key))?;
        if !folded_keys.insert(key.to_ascii_lowercase()) {
            return Err(ConfigError::invalid(
                path,
                format!("duplicate partition key {key:?}"),
            ));
        }
    }
    Ok(folded_keys)
}

/// Schema: non-empty, Glue names, unique, no clash with partition keys (Hive compares names
/// case-insensitively), known types.
fn build_schema(
    path: &str,
    raw: Vec<RawColumn>,
    folded_keys: &HashSet<String>,
) -> Result<Vec<Column>, ConfigError> {
    if raw.is_empty() {
        return Err(ConfigError::invalid(
            path,
            "schema must list at least one column",
        ));
    }
    let mut schema = Vec::with_capacity(raw.len());
    let mut seen_columns = HashSet::new();
    for (index, column) in raw.into_iter().enumerate() {
        let at = |field: &str| format!("{path}[{index}].{field}");
        check(&at("name"), names::check_glue_name(&column.name))?;
        let folded = column.name.to_ascii_lowercase();
        if folded_keys.contains(&folded) {
            return Err(ConfigError::invalid(
                at("name"),
                format!(
                    "column {:?} collides with a partition key of the same name (Hive names are \
                     case-insensitive)",
                    column.name
                ),
            ));
        }
        if !seen_columns.insert(folded) {
            return Err(ConfigError::invalid(
                at("name"),
                format!("duplicate column name {:?}", column.name),
            ));
        }
        let column_type: ColumnType = column
            .column_type
            .parse()
            .map_err(|message: String| ConfigError::invalid(at("type"), message))?;
        schema.push(Column {
            name: column.name,
            column_type,
            comment: column.comment,
        });
    }
    Ok(schema)
}

/// `format`: `csv` (the default) or `parquet`, in any case.
fn parse_format(path: &str, raw: Option<&str>) -> Result<OutputFormat, ConfigError> {
    match raw.map(str::to_ascii_lowercase).as_deref() {
        None | Some("csv") => Ok(OutputFormat::Csv),
        Some("parquet") => Ok(OutputFormat::Parquet),
        Some(other) => Err(ConfigError::invalid(
            path,
            format!("unknown format {other:?}; supported: \"csv\", \"parquet\""),
        )),
    }
}

fn build_parquet(path: &str, raw: Option<RawParquet>) -> Result<ParquetOptions, ConfigError> {
    let defaults = ParquetOptions::default();
    let Some(raw) = raw else {
        return Ok(defaults);
    };
    let compression = match raw.compression.as_deref().map(str::to_ascii_lowercase) {
        None => defaults.compression,
        Some(name) => match name.as_str() {
            "snappy" => ParquetCompression::Snappy,
            "zstd" => ParquetCompression::Zstd,
            "none" => ParquetCompression::None,
            _ => {
                return Err(ConfigError::invalid(
                    format!("{path}.compression"),
                    format!("unknown compression {name:?}; expected one of: snappy, zstd, none"),
                ))
            }
        },
    };
    let row_group_rows = raw.row_group_rows.unwrap_or(defaults.row_group_rows);
    if row_group_rows == 0 {
        return Err(ConfigError::invalid(
            format!("{path}.row_group_rows"),
            "must be at least 1",
        ));
    }
    let row_group_bytes = raw.row_group_bytes.unwrap_or(defaults.row_group_bytes);
    if !(MIN_ROW_GROUP_BYTES..=MAX_ROW_GROUP_BYTES).contains(&row_group_bytes) {
        return Err(ConfigError::invalid(
            format!("{path}.row_group_bytes"),
            format!(
                "{row_group_bytes} is outside {MIN_ROW_GROUP_BYTES}..={MAX_ROW_GROUP_BYTES} \
                 (64 KiB to 1 GiB; the function holds one row group in memory)"
            ),
        ));
    }
    Ok(ParquetOptions {
        compression,
        row_group_rows,
        row_group_bytes,
    })
}

/// Compiles the pattern anchored to the whole file name and checks its capture groups against
/// the partition keys: either all unnamed, one per key in order, or all named after the keys.
fn compile_pattern(
    path: &str,
    pattern: &str,
    partition_keys: &[String],
) -> Result<(Regex, PartitionCaptures), ConfigError> {
    if pattern.is_empty() {
        return Err(ConfigError::invalid(path, "pattern must not be empty"));
    }
    if pattern.contains('/') {
        return Err(ConfigError::invalid(
            path,
            "pattern is matched against the file name (the key's last segment) and cannot contain '/'",
        ));
    }
    let anchored = format!("^(?:{pattern})$");
    let regex = Regex::new(&anchored)
        .map_err(|e| ConfigError::invalid(path, format!("pattern does not compile: {e}")))?;
    let group_count = regex.captures_len() - 1;
    let group_names: Vec<&str> = regex.capture_names().flatten().collect();
    if group_names.is_empty() {
        if group_count != partition_keys.len() {
            return Err(ConfigError::invalid(
                path,
                format!(
                    "pattern has {group_count} capture group(s) but partition_keys has {} key(s); \
                     each key needs one group, in order (or use named groups (?P<key>...))",
                    partition_keys.len()
                ),
            ));
        }
        return Ok((regex, PartitionCaptures::Positional));
    }
    if group_names.len() != group_count {
        return Err(ConfigError::invalid(
            path,
            "pattern mixes named and unnamed capture groups; name all of them after the partition \
             keys, or use (?:...) for groups that are not partition values",
        ));
    }
    let keys: HashSet<&str> = partition_keys.iter().map(String::as_str).collect();
    let named: HashSet<&str> = group_names.iter().copied().collect();
    let mut missing: Vec<&str> = keys.difference(&named).copied().collect();
    let mut extra: Vec<&str> = named.difference(&keys).copied().collect();
    if !missing.is_empty() || !extra.is_empty() {
        missing.sort_unstable();
        extra.sort_unstable();
        return Err(ConfigError::invalid(
            path,
            format!(
                "named capture groups do not match partition_keys: missing group(s) {missing:?}, \
                 group(s) that are not partition keys {extra:?}"
            ),
        ));
    }
    Ok((regex, PartitionCaptures::Named))
}

fn build_csv(path: &str, raw: Option<RawCsv>) -> Result<CsvOptions, ConfigError> {
    let defaults = CsvOptions::default();
    let Some(raw) = raw else {
        return Ok(defaults);
    };
    let single_byte =
        |field: &str, value: Option<String>, default: u8| -> Result<u8, ConfigError> {
            let Some(value) = value else {
                return Ok(default);
            };
            let bytes = value.as_bytes();
            if bytes.len() != 1 || !bytes[0].is_ascii() {
                return Err(ConfigError::invalid(
                    format!("{path}.{field}"),
                    format!("must be exactly one ASCII character, got {value:?}"),
                ));
            }
            if matches!(bytes[0], b'\n' | b'\r' | b'\\') {
                return Err(ConfigError::invalid(
                    format!("{path}.{field}"),
                    "must not be a line break or a backslash (OpenCSVSerDe's escape character)",
                ));
            }
            Ok(bytes[0])
        };
    let delimiter = single_byte("delimiter", raw.delimiter, defaults.delimiter)?;
    let quote = single_byte("quote", raw.quote, defaults.quote)?;
    if delimiter == quote {
        return Err(ConfigError::invalid(
            format!("{path}.quote"),
            "quote must differ from delimiter",
        ));
    }
    let max_record_bytes = raw.max_record_bytes.unwrap_or(defaults.max_record_bytes);
    if max_record_bytes == 0 {
        return Err(ConfigError::invalid(
            format!("{path}.max_record_bytes"),
            "must be at least 1",
        ));
    }
    Ok(CsvOptions {
        delimiter,
        quote,
        header: raw.header.unwrap_or(defaults.header),
        max_record_bytes,
        allow_embedded_newlines: raw
            .allow_embedded_newlines
            .unwrap_or(defaults.allow_embedded_newlines),
    })
}
