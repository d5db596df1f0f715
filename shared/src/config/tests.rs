//! Tests of config loading: the seed and the shipped config load; every invalid case fails with a
//! message naming the JSON path of the field.

use super::*;

const SEED: &str = include_str!("../../tests/fixtures/seed-pipeline.json");

fn env(name: &str) -> Option<String> {
    (name == "AWS_ACCOUNT_ID").then(|| "123456789012".to_string())
}

fn seed_value() -> serde_json::Value {
    serde_json::from_str(SEED).unwrap()
}

fn load_value(value: &serde_json::Value) -> Result<Config, ConfigError> {
    Config::from_json_str(&value.to_string(), &env)
}

/// Applies `edit` to the seed and asserts loading fails naming `path` and containing `fragment`.
fn assert_rejected(edit: impl FnOnce(&mut serde_json::Value), path: &str, fragment: &str) {
    let mut value = seed_value();
    edit(&mut value);
    let error = load_value(&value).expect_err("config should be rejected");
    let message = error.to_string();
    assert!(
        message.contains(&format!("`{path}`")),
        "expected path `{path}` in: {message}"
    );
    assert!(
        message.contains(fragment),
        "expected {fragment:?} in: {message}"
    );
}

#[test]
fn seed_config_loads_verbatim_with_defaults() {
    let config = Config::from_json_str(SEED, &env).unwrap();
    assert_eq!(config.aws.account_id, "123456789012");
    assert_eq!(
        config.resources.dead_letter_queue,
        "file_processing_queue-dlq"
    );
    assert_eq!(config.resources.max_receive_count, 5);
    assert_eq!(config.resources.visibility_timeout_seconds, 720);
    let sales = &config.entities["sales"];
    assert_eq!(sales.table_name, "sales_data");
    assert_eq!(sales.captures, PartitionCaptures::Positional);
    assert_eq!(
        sales.schema[2].column_type,
        ColumnType::Decimal { p: 10, s: 2 }
    );
    assert_eq!(sales.csv, CsvOptions::default());
    assert_eq!(sales.format, OutputFormat::Csv);
    assert_eq!(
        sales.match_file_name("sales_data_2024_03_15.csv").unwrap(),
        vec![
            ("year".to_string(), "2024".to_string()),
            ("month".to_string(), "03".to_string()),
            ("day".to_string(), "15".to_string())
        ]
    );
    assert_eq!(
        config.queue_arn(),
        "arn:aws:sqs:us-east-1:123456789012:file_processing_queue"
    );
}

#[test]
fn filename_pattern_is_anchored_to_the_whole_name() {
    let config = Config::from_json_str(SEED, &env).unwrap();
    let sales = &config.entities["sales"];
    assert!(sales
        .match_file_name("xsales_data_2024_03_15.csv")
        .is_none());
    assert!(sales
        .match_file_name("sales_data_2024_03_15.csv.bak")
        .is_none());
    assert!(sales.match_file_name("sales_data_2024_03_15.csv").is_some());
}

#[test]
fn shipped_config_loads_and_embedded_default_uses_local_account() {
    let config = Config::from_json_str(EMBEDDED_PIPELINE_JSON, &env).unwrap();
    assert_eq!(config.entities.len(), 3);
    assert_eq!(config.entities["events"].captures, PartitionCaptures::Named);
    assert_eq!(config.entities["inventory"].partition_keys[0], "region");
    let values = config.entities["inventory"]
        .match_file_name("inventory_eu-west_2024_03_15.csv")
        .unwrap();
    assert_eq!(values[0], ("region".to_string(), "eu-west".to_string()));
    let events = config.entities["events"]
        .match_file_name("events_20240315T07.csv")
        .unwrap();
    assert_eq!(events[3], ("hour".to_string(), "07".to_string()));
    // Only the default applies when AWS_ACCOUNT_ID is unset; it is unset in the test environment
    // unless the developer exported it, in which case it must be a valid id anyway.
    let embedded = Config::embedded_default().unwrap();
    if std::env::var("AWS_ACCOUNT_ID").is_err() {
        assert_eq!(embedded.aws.account_id, DEFAULT_LOCAL_ACCOUNT_ID);
    }
}

#[test]
fn resolved_json_round_trips() {
    let config = Config::from_json_str(EMBEDDED_PIPELINE_JSON, &env).unwrap();
    let resolved = config.to_resolved_json();
    let again = load_value(&resolved).unwrap();
    assert_eq!(again.resources, config.resources);
    assert_eq!(again.to_resolved_json(), resolved);
}

#[test]
fn unknown_fields_are_rejected() {
    assert_rejected(
        |v| v["entities"]["sales"]["tabel_name"] = "x".into(),
        "entities.sales.tabel_name",
        "unknown field `tabel_name`, expected one of `table_name`",
    );
    assert_rejected(
        |v| v["resources"]["sqs_queu"] = "x".into(),
        "resources.sqs_queu",
        "unknown field `sqs_queu`",
    );
    assert_rejected(|v| v["extra"] = 1.into(), "extra", "unknown field `extra`");
    assert_rejected(
        |v| v["entities"]["sales"]["schema"][0]["nullable"] = true.into(),
        "entities.sales.schema[0].nullable",
        "unknown field `nullable`",
    );
}

#[test]
fn wrong_json_types_name_the_field() {
    assert_rejected(
        |v| v["entities"]["sales"]["partition_keys"][1] = 5.into(),
        "entities.sales.partition_keys[1]",
        "invalid type",
    );
    assert_rejected(
        |v| v["resources"]["max_receive_count"] = "five".into(),
        "resources.max_receive_count",
        "invalid type",
    );
}

#[test]
fn unknown_column_type() {
    assert_rejected(
        |v| v["entities"]["sales"]["schema"][2]["type"] = "money".into(),
        "entities.sales.schema[2].type",
        "unknown type \"money\"",
    );
    assert_rejected(
        |v| v["entities"]["sales"]["schema"][2]["type"] = "decimal(40,2)".into(),
        "entities.sales.schema[2].type",
        "precision 40",
    );
}

#[test]
fn pattern_errors() {
    assert_rejected(
        |v| v["entities"]["sales"]["filename_pattern"] = "sales_(\\d{4}".into(),
        "entities.sales.filename_pattern",
        "does not compile",
    );
    assert_rejected(
        |v| v["entities"]["sales"]["filename_pattern"] = "sales_(\\d{4})_(\\d{2})\\.csv".into(),
        "entities.sales.filename_pattern",
        "2 capture group(s) but partition_keys has 3",
    );
    assert_rejected(
        |v| {
            v["entities"]["sales"]["filename_pattern"] =
                "s_(?P<year>\\d{4})_(?P<month>\\d{2})_(?P<dy>\\d{2})\\.csv".into()
        },
        "entities.sales.filename_pattern",
        "missing group(s) [\"day\"]",
    );
    assert_rejected(
        |v| {
            v["entities"]["sales"]["filename_pattern"] =
                "s_(?P<year>\\d{4})_(?P<month>\\d{2})_(\\d{2})\\.csv".into()
        },
        "entities.sales.filename_pattern",
        "mixes named and unnamed",
    );
    assert_rejected(
        |v| v["entities"]["sales"]["filename_pattern"] = "in/(\\d)(\\d)(\\d)".into(),
        "entities.sales.filename_pattern",
        "cannot contain '/'",
    );
}

#[test]
fn named_groups_in_any_order_are_accepted() {
    let mut value = seed_value();
    value["entities"]["sales"]["filename_pattern"] =
        "s_(?P<day>\\d{2})_(?P<month>\\d{2})_(?P<year>\\d{4})\\.csv".into();
    let config = load_value(&value).unwrap();
    let values = config.entities["sales"]
        .match_file_name("s_15_03_2024.csv")
        .unwrap();
    assert_eq!(values[0], ("year".to_string(), "2024".to_string()));
    assert_eq!(values[2], ("day".to_string(), "15".to_string()));
}

#[test]
fn duplicate_table_names() {
    assert_rejected(
        |v| {
            let sales = v["entities"]["sales"].clone();
            v["entities"]["zsales"] = sales;
        },
        "entities.zsales.table_name",
        "duplicate table name \"sales_data\", already used by entities.sales",
    );
}

#[test]
fn schema_errors() {
    assert_rejected(
        |v| v["entities"]["sales"]["schema"][3]["name"] = "Year".into(),
        "entities.sales.schema[3].name",
        "lowercase",
    );
    assert_rejected(
        |v| v["entities"]["sales"]["schema"][3]["name"] = "year".into(),
        "entities.sales.schema[3].name",
        "collides with a partition key",
    );
    assert_rejected(
        |v| v["entities"]["sales"]["schema"][3]["name"] = "amount".into(),
        "entities.sales.schema[3].name",
        "duplicate column name",
    );
    assert_rejected(
        |v| v["entities"]["sales"]["schema"] = serde_json::json!([]),
        "entities.sales.schema",
        "at least one column",
    );
    assert_rejected(
        |v| v["entities"]["sales"]["partition_keys"] = serde_json::json!(["year", "Year", "day"]),
        "entities.sales.partition_keys[1]",
        "lowercase",
    );
    assert_rejected(
        |v| v["entities"]["sales"]["partition_keys"] = serde_json::json!(["year", "year", "day"]),
        "entities.sales.partition_keys[1]",
        "duplicate partition key",
    );
}

#[test]
fn resource_names_follow_aws_rules() {
    assert_rejected(
        |v| v["resources"]["source_bucket"] = "My_Bucket".into(),
        "resources.source_bucket",
        "lowercase letters",
    );
    assert_rejected(
        |v| v["resources"]["analytics_bucket"] = "192.168.1.1".into(),
        "resources.analytics_bucket",
        "IP address",
    );
    assert_rejected(
        |v| v["resources"]["analytics_bucket"] = "my-company-data-source".into(),
        "resources.analytics_bucket",
        "must differ",
    );
    assert_rejected(
        |v| v["resources"]["sqs_queue"] = "q".repeat(81).into(),
        "resources.sqs_queue",
        "1 to 80",
    );
    assert_rejected(
        |v| v["resources"]["sqs_queue"] = "q".repeat(80).into(),
        "resources.dead_letter_queue",
        "default <sqs_queue>-dlq",
    );
    assert_rejected(
        |v| v["resources"]["dead_letter_queue"] = "dlq.fifo".into(),
        "resources.dead_letter_queue",
        "FIFO",
    );
    assert_rejected(
        |v| v["resources"]["glue_database"] = "Analytics-DB".into(),
        "resources.glue_database",
        "lowercase",
    );
    assert_rejected(
        |v| v["entities"]["sales"]["table_name"] = "sales-data".into(),
        "entities.sales.table_name",
        "lowercase",
    );
    assert_rejected(
        |v| v["resources"]["workgroup_name"] = "work group".into(),
        "resources.workgroup_name",
        "workgroup name",
    );
    assert_rejected(
        |v| v["resources"]["visibility_timeout_seconds"] = 43_201.into(),
        "resources.visibility_timeout_seconds",
        "0..=43200",
    );
    assert_rejected(
        |v| v["resources"]["max_receive_count"] = 0.into(),
        "resources.max_receive_count",
        "1..=1000",
    );
    assert_rejected(
        |v| v["aws"]["region"] = "mars".into(),
        "aws.region",
        "region code",
    );
}

#[test]
fn placeholders_resolve_or_name_the_field() {
    let mut value = seed_value();
    value["resources"]["source_bucket"] = "${BUCKET_PREFIX:-acme}-source".into();
    assert_eq!(
        load_value(&value).unwrap().resources.source_bucket,
        "acme-source"
    );

    let error = Config::from_json_str(SEED, &|_| None).unwrap_err();
    assert_eq!(error.path(), Some("aws.account_id"));
    assert!(
        error.to_string().contains("AWS_ACCOUNT_ID is not set"),
        "{error}"
    );

    assert_rejected(
        |v| v["entities"]["sales"]["schema"][0]["name"] = "${NOPE}".into(),
        "entities.sales.schema[0].name",
        "NOPE is not set",
    );
    let bad_account = Config::from_json_str(SEED, &|_| Some("12".into())).unwrap_err();
    assert_eq!(bad_account.path(), Some("aws.account_id"));
}

#[test]
fn parquet_format_and_its_options() {
    let mut value = seed_value();
    value["entities"]["sales"]["format"] = "Parquet".into();
    let config = load_value(&value).unwrap();
    let sales = &config.entities["sales"];
    assert_eq!(sales.format, OutputFormat::Parquet);
    assert_eq!(sales.parquet, Some(ParquetOptions::default()));
    assert_eq!(
        sales.output_file_name("sales_data_2024_03_15.csv"),
        "sales_data_2024_03_15.parquet"
    );
    assert_eq!(sales.output_file_name("noext"), "noext.parquet");
    value["entities"]["sales"]["parquet"] =
        serde_json::json!({"compression": "ZSTD", "row_group_rows": 10, "row_group_bytes": 65536});
    let config = load_value(&value).unwrap();
    assert_eq!(
        config.entities["sales"].parquet,
        Some(ParquetOptions {
            compression: ParquetCompression::Zstd,
            row_group_rows: 10,
            row_group_bytes: 65536,
        })
    );
    // The resolved form loads back to the same options.
    let resolved = config.to_resolved_json();
    assert_eq!(resolved["entities"]["sales"]["format"], "parquet");
    assert_eq!(
        resolved["entities"]["sales"]["parquet"]["compression"],
        "zstd"
    );
    assert_eq!(
        load_value(&resolved).unwrap().entities["sales"].parquet,
        config.entities["sales"].parquet
    );

    let parquet = |block: serde_json::Value| {
        move |v: &mut serde_json::Value| {
            v["entities"]["sales"]["format"] = "parquet".into();
            v["entities"]["sales"]["parquet"] = block;
        }
    };
    assert_rejected(
        parquet(serde_json::json!({"compression": "lz4"})),
        "entities.sales.parquet.compression",
        "expected one of: snappy, zstd, none",
    );
    assert_rejected(
        parquet(serde_json::json!({"row_group_rows": 0})),
        "entities.sales.parquet.row_group_rows",
        "at least 1",
    );
    assert_rejected(
        parquet(serde_json::json!({"row_group_bytes": 1024})),
        "entities.sales.parquet.row_group_bytes",
        "outside",
    );
    assert_rejected(
        parquet(serde_json::json!({"row_groups": 1})),
        "entities.sales.parquet.row_groups",
        "unknown field `row_groups`",
    );
    assert_rejected(
        |v| v["entities"]["sales"]["parquet"] = serde_json::json!({}),
        "entities.sales.parquet",
        "applies only to format \"parquet\"",
    );
}

#[test]
fn format_and_csv_options() {
    assert_rejected(
        |v| v["entities"]["sales"]["format"] = "xml".into(),
        "entities.sales.format",
        "unknown format",
    );
    assert_rejected(
        |v| v["entities"]["sales"]["csv"] = serde_json::json!({"delimiter": ";;"}),
        "entities.sales.csv.delimiter",
        "exactly one ASCII character",
    );
    assert_rejected(
        |v| v["entities"]["sales"]["csv"] = serde_json::json!({"delimiter": "\""}),
        "entities.sales.csv.quote",
        "differ from delimiter",
    );
    assert_rejected(
        |v| v["entities"]["sales"]["csv"] = serde_json::json!({"quote": "\\"}),
        "entities.sales.csv.quote",
        "backslash",
    );
    assert_rejected(
        |v| v["entities"]["sales"]["csv"] = serde_json::json!({"max_record_bytes": 0}),
        "entities.sales.csv.max_record_bytes",
        "at least 1",
    );
    let mut value = seed_value();
    value["entities"]["sales"]["csv"] = serde_json::json!({"delimiter": "\t", "header": false});
    let csv = &load_value(&value).unwrap().entities["sales"].csv;
    assert_eq!((csv.delimiter, csv.header, csv.quote), (b'\t', false, b'"'));
}

#[test]
fn io_and_syntax_errors() {
    assert!(matches!(
        Config::load("/nonexistent/pipeline.json"),
        Err(ConfigError::Io { .. })
    ));
    assert!(matches!(
        Config::from_json_str("{", &env),
        Err(ConfigError::Syntax(_))
    ));
}

#[test]
fn file_suffix_is_the_literal_tail_of_the_pattern() {
    let config = Config::embedded_default().unwrap();
    assert_eq!(config.entities["sales"].file_suffix(), ".csv");
    let text =
        SEED_LIKE_WITH_PATTERN.replace("PATTERN", r#"data_(\\d{4})_(a|b)(?:x\\.csv|y\\.csv)"#);
    let config = Config::from_json_str(&text, &|_| Some("123456789012".into())).unwrap();
    assert_eq!(config.entities["only"].file_suffix(), ".csv");
    let text = SEED_LIKE_WITH_PATTERN.replace("PATTERN", r#"data_(\\d{4})_(\\w+)"#);
    let config = Config::from_json_str(&text, &|_| Some("123456789012".into())).unwrap();
    assert_eq!(config.entities["only"].file_suffix(), "");
}

const SEED_LIKE_WITH_PATTERN: &str = r#"{
  "aws": {"region": "us-east-1", "account_id": "${AWS_ACCOUNT_ID}"},
  "resources": {"source_bucket": "src-bucket", "analytics_bucket": "out-bucket",
    "glue_database": "db", "workgroup_name": "wg", "sqs_queue": "q"},
  "entities": {"only": {"table_name": "t", "filename_pattern": "PATTERN",
    "partition_keys": ["year", "kind"], "schema": [{"name": "a", "type": "string"}]}}
}"#;

fn with_functions(functions: &str) -> Result<Config, ConfigError> {
    let text = SEED_LIKE_WITH_PATTERN
        .replace("PATTERN", r#"data_(\\d{4})_(a|b)\\.csv"#)
        .replace("\n}", &format!(",\n  \"functions\": {functions}\n}}"));
    Config::from_json_str(&text, &|_| Some("123456789012".into()))
}

#[test]
fn functions_default_to_one_file_processor() {
    let text = SEED_LIKE_WITH_PATTERN.replace("PATTERN", r#"data_(\\d{4})_(a|b)\\.csv"#);
    let config = Config::from_json_str(&text, &|_| Some("123456789012".into())).unwrap();
    let f = &config.functions["file-processor"];
    assert_eq!(
        (f.memory_mb, f.timeout_seconds, f.batch_size),
        (1769, 120, 10)
    );
    assert_eq!(
        (f.maximum_batching_window_seconds, f.maximum_concurrency),
        (0, 5)
    );
    assert!(f.report_batch_item_failures && f.command.is_none());
    assert!(with_functions("{}").unwrap().functions.is_empty());
}

#[test]
fn invalid_functions_name_the_field() {
    let cases = [
        (
            r#"{"f": {"timeout_seconds": 121}}"#,
            "functions.f.timeout_seconds",
            "6 x",
        ),
        (
            r#"{"f": {"memory_mb": 64}}"#,
            "functions.f.memory_mb",
            "between 128",
        ),
        (
            r#"{"f": {"batch_size": 50}}"#,
            "functions.f.batch_size",
            "batching_window",
        ),
        (
            r#"{"f": {"maximum_concurrency": 1}}"#,
            "functions.f.maximum_concurrency",
            "between 2",
        ),
        (
            r#"{"f": {"environment": {"AWS_REGION": "x"}}}"#,
            "functions.f.environment.AWS_REGION",
            "reserved",
        ),
        (
            r#"{"f": {"environment": {"1X": "x"}}}"#,
            "functions.f.environment.1X",
            "start with a letter",
        ),
        (
            r#"{"f": {"command": []}}"#,
            "functions.f.command",
            "program",
        ),
        (r#"{"bad name": {}}"#, "functions.bad name", "64 letters"),
        (r#"{"f": {"timeout": 3}}"#, "functions.f", "unknown field"),
    ];
    for (functions, path, words) in cases {
        let err = with_functions(functions).expect_err(functions);
        let text = err.to_string();
        assert!(text.contains(path), "{functions}: {text}");
        assert!(text.contains(words), "{functions}: {text}");
    }
}

#[test]
fn notification_suffixes_drop_overlapping_ones() {
    let config = Config::embedded_default().unwrap();
    assert_eq!(config.notification_suffixes(), vec![".csv".to_string()]);
}

#[test]
fn the_emulator_section_is_typed_and_round_trips() {
    let shipped = Config::from_json_str(EMBEDDED_PIPELINE_JSON, &env).unwrap();
    assert_eq!(
        shipped.emulator,
        EmulatorSettings::default(),
        "no faults shipped"
    );
    assert!(shipped.to_resolved_json().get("emulator").is_none());

    let mut value = seed_value();
    value["emulator"] = serde_json::json!({
        "faults": [
            {"service": "s3", "operation": "GetObject", "error": "SlowDown", "probability": 0.25},
            {"service": "sqs", "latency_ms": 50, "times": 3}
        ],
        "fault_seed": 7
    });
    let config = load_value(&value).unwrap();
    assert_eq!(config.emulator.fault_seed, Some(7));
    assert_eq!(config.emulator.faults.len(), 2);
    assert_eq!(config.emulator.faults[0].error.as_deref(), Some("SlowDown"));
    assert_eq!(config.emulator.faults[0].probability, Some(0.25));
    assert_eq!(config.emulator.faults[1].operation, None);
    assert_eq!(config.emulator.faults[1].times, Some(3));
    let resolved = config.to_resolved_json();
    assert_eq!(resolved["emulator"], value["emulator"]);
    assert_eq!(load_value(&resolved).unwrap().emulator, config.emulator);
}

#[test]
fn the_emulator_section_rejects_unknown_fields_and_wrong_types() {
    assert_rejected(
        |v| v["emulator"] = serde_json::json!({"faults": [{"service": "s3", "probabilty": 1}]}),
        "emulator.faults[0].probabilty",
        "unknown field",
    );
    assert_rejected(
        |v| v["emulator"] = serde_json::json!({"fault_seed": -1}),
        "emulator.fault_seed",
        "invalid value",
    );
    assert_rejected(
        |v| v["emulator"] = serde_json::json!({"chaos": true}),
        "emulator.chaos",
        "unknown field",
    );
}
