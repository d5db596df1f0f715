//! `pipeline-config`: validates the pipeline config and prints what other tools need from it.
//!
//! ```text
//! pipeline-config check    [PATH]   validate, print a summary            (exit 1 if invalid)
//! pipeline-config catalog  [PATH]   print what Terraform reads (infra/generated/catalog.json):
//!                                   resolved names, entity suffixes, functions, Glue inputs
//! pipeline-config resolved [PATH]   print the config with placeholders resolved and defaults filled
//! ```
//! Without PATH the embedded `shared/pipeline.json` is used (AWS_ACCOUNT_ID defaulting to
//! 000000000000); with PATH, `${VAR}` placeholders resolve from the environment. Hand-written
//! argument parsing: three subcommands with one optional argument do not need clap.

use std::process::ExitCode;

use pipeline_core::catalog::catalog_document;
use pipeline_core::config::Config;

const USAGE: &str = "usage: pipeline-config <check|catalog|resolved> [PATH]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, path) = match args.as_slice() {
        [command] => (command.as_str(), None),
        [command, path] => (command.as_str(), Some(path.as_str())),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if !matches!(command, "check" | "catalog" | "resolved") {
        eprintln!("unknown command {command:?}\n{USAGE}");
        return ExitCode::from(2);
    }
    let loaded = match path {
        Some(path) => Config::load(path),
        None => Config::embedded_default(),
    };
    let config = match loaded {
        Ok(config) => config,
        Err(error) => {
            eprintln!("invalid config: {error}");
            return ExitCode::FAILURE;
        }
    };
    let output = match command {
        "check" => summary(&config),
        "catalog" => to_json(&infra_document(&config)),
        _ => to_json(&config.to_resolved_json()),
    };
    println!("{output}");
    ExitCode::SUCCESS
}

/// The document Terraform reads as `infra/generated/catalog.json`: every resolved name and
/// default, the notification suffixes, the function settings and the Glue inputs, so HCL
/// re-derives nothing the loader decides. A test keeps the committed file fresh.
fn infra_document(config: &Config) -> serde_json::Value {
    let resolved = config.to_resolved_json();
    let catalog = catalog_document(config);
    let entities: serde_json::Map<String, serde_json::Value> = config
        .entities
        .iter()
        .map(|(name, e)| {
            let value = serde_json::json!({
                "table_name": e.table_name,
                "filename_suffix": e.file_suffix(),
                "analytics_prefix": format!("{}/", e.table_name),
            });
            (name.clone(), value)
        })
        .collect();
    serde_json::json!({
        "aws": resolved["aws"],
        "resources": resolved["resources"],
        "entities": entities,
        "notification_suffixes": config.notification_suffixes(),
        "dead_letter_bodies_prefix": pipeline_core::route::DEAD_LETTER_BODIES_PREFIX,
        "functions": resolved["functions"],
        "database": catalog.database,
        "tables": catalog.tables,
    })
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn summary(config: &Config) -> String {
    let r = &config.resources;
    let mut lines = vec![
        format!(
            "config OK: region {}, account {}",
            config.aws.region, config.aws.account_id
        ),
        format!("  source bucket     s3://{}/", r.source_bucket),
        format!("  analytics bucket  s3://{}/", r.analytics_bucket),
        format!("  glue database     {}", r.glue_database),
        format!("  athena workgroup  {}", r.workgroup_name),
        format!(
            "  queue             {} (DLQ {}, maxReceiveCount {}, visibility {} s)",
            r.sqs_queue, r.dead_letter_queue, r.max_receive_count, r.visibility_timeout_seconds
        ),
        format!("  entities          {}", config.entities.len()),
    ];
    for entity in config.entities.values() {
        lines.push(format!(
            "    {} -> table {} partitioned by ({}), {} column(s), files ^(?:{})$",
            entity.name,
            entity.table_name,
            entity.partition_keys.join(", "),
            entity.schema.len(),
            entity.filename_pattern_source
        ));
    }
    lines.join("\n")
}
