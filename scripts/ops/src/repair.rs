//! `repair`: reconciles each entity's table folder in the analytics bucket with its Glue
//! partitions. The plan ([`plan`]) is decided from the two listings alone:
//!
//! - a partition folder (`<table>/k1=v1/.../<file>`, keys in `partition_keys` order) with objects
//!   and no Glue partition is **missing**: created with BatchCreatePartition (100 per call) from
//!   the core's catalog model, the same `PartitionInput` the handler creates;
//! - a Glue partition whose folder has objects but whose Location is not that folder has a
//!   **wrong Location**: UpdatePartition with the model's `PartitionInput` (Location and storage
//!   descriptor as the handler would have written them);
//! - a Glue partition whose folder has no object is **empty**: reported, deleted only with
//!   `--delete-empty` (BatchDeletePartition, 25 per call), because an empty day can be legitimate
//!   while its files are being reprocessed;
//! - objects under the table folder that do not follow the layout are reported, never touched.
//!
//! BatchCreatePartition/BatchDeletePartition report per-partition failures in `Errors[]`
//! (<https://docs.aws.amazon.com/glue/latest/webapi/API_BatchCreatePartition.html>); an
//! `AlreadyExistsException` there means the handler created it meanwhile, which is the goal.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_glue::types::PartitionValueList;
use file_processor::failures::describe;
use file_processor::partitions::to_sdk_partition_input;
use pipeline_core::catalog;
use pipeline_core::config::{Config, Entity};
use pipeline_core::route::{check_partition_value, partition_location};
use serde::Serialize;

use crate::cli::RepairArgs;
use crate::Ops;

/// BatchCreatePartition takes at most 100 partitions, BatchDeletePartition 25.
const MAX_BATCH_CREATE: usize = 100;
const MAX_BATCH_DELETE: usize = 25;

/// A partition as Glue lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GluePartition {
    pub values: Vec<String>,
    pub location: Option<String>,
}

/// What to change for one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TablePlan {
    pub entity: String,
    pub table: String,
    /// Objects listed under `<table>/` and partitions listed in Glue.
    pub objects: u64,
    pub partitions: u64,
    /// Partition values (key order) of folders with objects and no partition.
    pub missing: Vec<Vec<String>>,
    pub wrong_location: Vec<WrongLocation>,
    pub empty: Vec<GluePartitionView>,
    /// Keys under the table folder outside the `k=v/.../file` layout.
    pub unrecognized_keys: Vec<String>,
    /// Glue partitions with a value count other than the table's keys (left alone).
    pub malformed_partitions: Vec<GluePartitionView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrongLocation {
    pub values: Vec<String>,
    pub location: Option<String>,
    pub expected: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GluePartitionView {
    pub values: Vec<String>,
    pub location: Option<String>,
}

impl TablePlan {
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.wrong_location.is_empty() && self.empty.is_empty()
    }
}

/// The partition values of an object key under `<table>/`, or `None` when the key does not
/// follow `<table>/k1=v1/.../kn=vn/<file>` with the entity's keys in order and safe values.
pub fn partition_of(entity: &Entity, key: &str) -> Option<Vec<String>> {
    let rest = key.strip_prefix(&format!("{}/", entity.table_name))?;
    let segments: Vec<&str> = rest.split('/').collect();
    let (file, folders) = segments.split_last()?;
    if file.is_empty() || folders.len() != entity.partition_keys.len() {
        return None;
    }
    folders
        .iter()
        .zip(&entity.partition_keys)
        .map(|(segment, key)| {
            let value = segment.strip_prefix(key.as_str())?.strip_prefix('=')?;
            check_partition_value(value).ok()?;
            Some(value.to_string())
        })
        .collect()
}

/// Whether a key is a folder marker rather than data (`folder/`, Hadoop's `folder_$folder$`).
fn is_folder_marker(key: &str) -> bool {
    key.ends_with('/') || key.ends_with("_$folder$")
}

/// The plan for one entity's table from its object keys and its Glue partitions.
pub fn plan(
    config: &Config,
    entity: &Entity,
    object_keys: &[String],
    partitions: &[GluePartition],
) -> TablePlan {
    let mut plan = TablePlan {
        entity: entity.name.clone(),
        table: entity.table_name.clone(),
        objects: object_keys.len() as u64,
        partitions: partitions.len() as u64,
        ..TablePlan::default()
    };
    let mut folders: BTreeSet<Vec<String>> = BTreeSet::new();
    for key in object_keys.iter().filter(|k| !is_folder_marker(k)) {
        match partition_of(entity, key) {
            Some(values) => {
                folders.insert(values);
            }
            None => plan.unrecognized_keys.push(key.clone()),
        }
    }
    let mut in_glue: BTreeMap<Vec<String>, &GluePartition> = BTreeMap::new();
    for partition in partitions {
        let view = GluePartitionView {
            values: partition.values.clone(),
            location: partition.location.clone(),
        };
        let Ok(expected) = partition_location(config, entity, &partition.values) else {
            plan.malformed_partitions.push(view);
            continue;
        };
        in_glue.insert(partition.values.clone(), partition);
        if !folders.contains(&partition.values) {
            plan.empty.push(view);
        } else if partition.location.as_deref() != Some(expected.as_str()) {
            plan.wrong_location.push(WrongLocation {
                values: partition.values.clone(),
                location: partition.location.clone(),
                expected,
            });
        }
    }
    plan.missing = folders
        .into_iter()
        .filter(|values| !in_glue.contains_key(values))
        .collect();
    plan
}

/// One table's plan and what was done.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    #[serde(flatten)]
    pub plan: TablePlan,
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepairReport {
    pub dry_run: bool,
    /// Whether empty partitions are deleted (`--delete-empty`).
    pub delete_empty: bool,
    pub database: String,
    pub tables: Vec<TableReport>,
    /// Each action that failed, with its reason.
    pub failures: Vec<String>,
}

pub async fn run(ops: &Ops, args: &RepairArgs) -> anyhow::Result<RepairReport> {
    let entities: Vec<&Entity> = match &args.entity {
        Some(name) => vec![ops
            .config
            .entities
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("no entity {name:?} in the config"))?],
        None => ops.config.entities.values().collect(),
    };
    let mut report = RepairReport {
        dry_run: args.dry_run,
        delete_empty: args.delete_empty,
        database: ops.config.resources.glue_database.clone(),
        tables: vec![],
        failures: vec![],
    };
    for entity in entities {
        let keys = list_keys(ops, &format!("{}/", entity.table_name)).await?;
        let partitions = list_partitions(ops, &entity.table_name).await?;
        let plan = plan(&ops.config, entity, &keys, &partitions);
        let mut table = TableReport {
            plan,
            created: 0,
            updated: 0,
            deleted: 0,
        };
        if !args.dry_run {
            apply(
                ops,
                entity,
                &mut table,
                args.delete_empty,
                &mut report.failures,
            )
            .await;
        }
        report.tables.push(table);
    }
    Ok(report)
}

/// Every key under `prefix` in the analytics bucket (ListObjectsV2, paged).
async fn list_keys(ops: &Ops, prefix: &str) -> anyhow::Result<Vec<String>> {
    let bucket = &ops.config.resources.analytics_bucket;
    let mut pages = ops
        .clients
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| anyhow::anyhow!("ListObjectsV2 on {bucket}: {}", describe(&e)))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
    }
    Ok(keys)
}

/// Every partition of the table (GetPartitions, paged).
async fn list_partitions(ops: &Ops, table: &str) -> anyhow::Result<Vec<GluePartition>> {
    let database = &ops.config.resources.glue_database;
    let mut pages = ops
        .clients
        .glue
        .get_partitions()
        .database_name(database)
        .table_name(table)
        .into_paginator()
        .send();
    let mut partitions = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            anyhow::anyhow!("GetPartitions on {database}.{table}: {}", describe(&e))
        })?;
        partitions.extend(page.partitions().iter().map(|p| {
            GluePartition {
                values: p.values().to_vec(),
                location: p
                    .storage_descriptor()
                    .and_then(|sd| sd.location())
                    .map(str::to_string),
            }
        }));
    }
    Ok(partitions)
}

/// Applies one table's plan: creates, then updates, then (with `delete_empty`) deletes.
async fn apply(
    ops: &Ops,
    entity: &Entity,
    table: &mut TableReport,
    delete_empty: bool,
    failures: &mut Vec<String>,
) {
    let name = format!(
        "{}.{}",
        ops.config.resources.glue_database, entity.table_name
    );
    table.created = create(ops, entity, &table.plan.missing, &name, failures).await;
    for wrong in &table.plan.wrong_location {
        match model_input(&ops.config, entity, &wrong.values) {
            Ok(input) => {
                let updated = ops
                    .clients
                    .glue
                    .update_partition()
                    .database_name(&ops.config.resources.glue_database)
                    .table_name(&entity.table_name)
                    .set_partition_value_list(Some(wrong.values.clone()))
                    .partition_input(input)
                    .send()
                    .await;
                match updated {
                    Ok(_) => table.updated += 1,
                    Err(e) => failures.push(format!(
                        "UpdatePartition {name} {:?}: {}",
                        wrong.values,
                        describe(&e)
                    )),
                }
            }
            Err(reason) => failures.push(reason),
        }
    }
    if delete_empty {
        let values: Vec<Vec<String>> = table.plan.empty.iter().map(|p| p.values.clone()).collect();
        table.deleted = delete(ops, entity, &values, &name, failures).await;
    }
}

/// The catalog model's partition as the SDK's input.
fn model_input(
    config: &Config,
    entity: &Entity,
    values: &[String],
) -> Result<aws_sdk_glue::types::PartitionInput, String> {
    let input = catalog::partition_input(config, entity, values).map_err(|e| e.to_string())?;
    to_sdk_partition_input(&input).map_err(|f| f.reason)
}

/// BatchCreatePartition, 100 per call; returns how many now exist that did not.
async fn create(
    ops: &Ops,
    entity: &Entity,
    missing: &[Vec<String>],
    name: &str,
    failures: &mut Vec<String>,
) -> u64 {
    let mut created = 0;
    for chunk in missing.chunks(MAX_BATCH_CREATE) {
        let mut inputs = Vec::with_capacity(chunk.len());
        for values in chunk {
            match model_input(&ops.config, entity, values) {
                Ok(input) => inputs.push(input),
                Err(reason) => failures.push(reason),
            }
        }
        let count = inputs.len() as u64;
        let sent = ops
            .clients
            .glue
            .batch_create_partition()
            .database_name(&ops.config.resources.glue_database)
            .table_name(&entity.table_name)
            .set_partition_input_list(Some(inputs))
            .send()
            .await;
        match sent {
            Ok(output) => {
                let mut failed = 0;
                for error in output.errors() {
                    let detail = error.error_detail();
                    let code = detail.and_then(|d| d.error_code()).unwrap_or("?");
                    if code != "AlreadyExistsException" {
                        failed += 1;
                        let message = detail.and_then(|d| d.error_message()).unwrap_or_default();
                        failures.push(format!(
                            "BatchCreatePartition {name} {:?}: {code}: {message}",
                            error.partition_values()
                        ));
                    }
                }
                created += count - failed;
            }
            Err(e) => failures.push(format!("BatchCreatePartition {name}: {}", describe(&e))),
        }
    }
    created
}

/// BatchDeletePartition, 25 per call; returns how many were deleted.
async fn delete(
    ops: &Ops,
    entity: &Entity,
    empty: &[Vec<String>],
    name: &str,
    failures: &mut Vec<String>,
) -> u64 {
    let mut deleted = 0;
    for chunk in empty.chunks(MAX_BATCH_DELETE) {
        let lists: Vec<PartitionValueList> = chunk
            .iter()
            .filter_map(|values| {
                PartitionValueList::builder()
                    .set_values(Some(values.clone()))
                    .build()
                    .ok()
            })
            .collect();
        let count = lists.len() as u64;
        let sent = ops
            .clients
            .glue
            .batch_delete_partition()
            .database_name(&ops.config.resources.glue_database)
            .table_name(&entity.table_name)
            .set_partitions_to_delete(Some(lists))
            .send()
            .await;
        match sent {
            Ok(output) => {
                for error in output.errors() {
                    let detail = error.error_detail();
                    failures.push(format!(
                        "BatchDeletePartition {name} {:?}: {}: {}",
                        error.partition_values(),
                        detail.and_then(|d| d.error_code()).unwrap_or("?"),
                        detail.and_then(|d| d.error_message()).unwrap_or_default()
                    ));
                }
                deleted += count - output.errors().len() as u64;
            }
            Err(e) => failures.push(format!("BatchDeletePartition {name}: {}", describe(&e))),
        }
    }
    deleted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn partition(v: &[&str], location: &str) -> GluePartition {
        GluePartition {
            values: values(v),
            location: Some(location.to_string()),
        }
    }

    #[test]
    fn folders_follow_the_keys_in_order() {
        let config = Config::embedded_default().unwrap();
        let sales = &config.entities["sales"];
        assert_eq!(
            partition_of(sales, "sales_data/year=2024/month=03/day=15/f.parquet"),
            Some(values(&["2024", "03", "15"]))
        );
        for bad in [
            "sales_data/month=03/year=2024/day=15/f.parquet",
            "sales_data/year=2024/month=03/f.parquet",
            "sales_data/year=2024/month=03/day=15/",
            "sales_data/year=2024/month=03/day=15/sub/f.parquet",
            "sales_data/year=20 24/month=03/day=15/f.parquet",
            "other/year=2024/month=03/day=15/f.parquet",
        ] {
            assert_eq!(partition_of(sales, bad), None, "{bad}");
        }
    }

    #[test]
    fn missing_wrong_and_empty_partitions() {
        let config = Config::embedded_default().unwrap();
        let sales = &config.entities["sales"];
        let keys: Vec<String> = [
            "sales_data/year=2024/month=03/day=15/a.parquet",
            "sales_data/year=2024/month=03/day=15/b.parquet",
            "sales_data/year=2024/month=03/day=16/a.parquet",
            "sales_data/year=2024/month=03/day=17/a.parquet",
            "sales_data/year=2024/month=03/",
            "sales_data/notes.txt",
        ]
        .map(String::from)
        .to_vec();
        let base = "s3://my-company-analytics/sales_data";
        let partitions = [
            partition(
                &["2024", "03", "15"],
                &format!("{base}/year=2024/month=03/day=15/"),
            ),
            partition(&["2024", "03", "16"], "s3://elsewhere/x/"),
            partition(
                &["2024", "03", "18"],
                &format!("{base}/year=2024/month=03/day=18/"),
            ),
            partition(&["2024", "03"], "s3://x/"),
        ];
        let plan = plan(&config, sales, &keys, &partitions);
        assert_eq!(plan.missing, [values(&["2024", "03", "17"])]);
        assert_eq!(
            plan.wrong_location,
            [WrongLocation {
                values: values(&["2024", "03", "16"]),
                location: Some("s3://elsewhere/x/".into()),
                expected: format!("{base}/year=2024/month=03/day=16/"),
            }]
        );
        assert_eq!(plan.empty.len(), 1);
        assert_eq!(plan.empty[0].values, values(&["2024", "03", "18"]));
        assert_eq!(plan.unrecognized_keys, ["sales_data/notes.txt"]);
        assert_eq!(plan.malformed_partitions.len(), 1);
        assert!(!plan.is_clean());
        let repaired = [
            partition(
                &["2024", "03", "15"],
                &format!("{base}/year=2024/month=03/day=15/"),
            ),
            partition(
                &["2024", "03", "16"],
                &format!("{base}/year=2024/month=03/day=16/"),
            ),
            partition(
                &["2024", "03", "17"],
                &format!("{base}/year=2024/month=03/day=17/"),
            ),
        ];
        assert!(self::plan(&config, sales, &keys, &repaired).is_clean());
    }
}
