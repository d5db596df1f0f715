//! Glue partitions: make sure every partition a batch needs exists with its folder as Location,
//! at the lowest Glue cost.
//!
//! - A [`PartitionCache`] held by the processor across warm invocations remembers partitions
//!   known to exist (with the right Location), so a steady stream of files for one day costs no
//!   Glue call after the first.
//! - The others are created with BatchCreatePartition, per table, at most 100 per call; its
//!   per-partition failures come back in `Errors[]`, not as an exception
//!   (<https://docs.aws.amazon.com/glue/latest/webapi/API_BatchCreatePartition.html>).
//! - `AlreadyExistsException` is success once the existing partition's Location is checked
//!   (GetPartition) and, if it differs, corrected with UpdatePartition: a partition's Location is
//!   its folder (`s3://<analytics>/<table>/k=v/.../`), so every file of that day is in it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use aws_sdk_glue::types::{
    Column as GlueColumn, PartitionInput as GluePartitionInput, SerDeInfo as GlueSerDeInfo,
    StorageDescriptor as GlueStorageDescriptor,
};
use pipeline_core::catalog;
use pipeline_core::config::Config;

use crate::failures::{self, ErrorFacts, Failure};

/// BatchCreatePartition accepts at most 100 partitions per call.
pub const MAX_BATCH_CREATE: usize = 100;

/// One partition of one table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionId {
    pub database: String,
    pub table: String,
    /// In `partition_keys` order.
    pub values: Vec<String>,
}

/// A partition a file needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionNeed {
    pub id: PartitionId,
    /// Entity config key (`sales`): gives the partition's storage descriptor.
    pub entity: String,
    /// Expected Location (the folder, ending in `/`).
    pub location: String,
}

/// Partitions known to exist with the right Location. Shared by every invocation of a warm
/// execution environment; losing it (a cold start) only costs Glue calls.
#[derive(Debug, Default)]
pub struct PartitionCache {
    known: Mutex<HashSet<PartitionId>>,
}

impl PartitionCache {
    pub fn contains(&self, id: &PartitionId) -> bool {
        self.known.lock().map(|k| k.contains(id)).unwrap_or(false)
    }

    pub fn insert(&self, id: PartitionId) {
        if let Ok(mut known) = self.known.lock() {
            known.insert(id);
        }
    }

    pub fn len(&self) -> usize {
        self.known.lock().map(|k| k.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Creates and checks partitions.
pub struct Partitions {
    glue: aws_sdk_glue::Client,
    config: Arc<Config>,
    cache: PartitionCache,
}

impl Partitions {
    pub fn new(glue: aws_sdk_glue::Client, config: Arc<Config>) -> Self {
        Partitions {
            glue,
            config,
            cache: PartitionCache::default(),
        }
    }

    pub fn cache(&self) -> &PartitionCache {
        &self.cache
    }

    /// Makes sure every needed partition exists. Returns a result per distinct partition.
    pub async fn ensure(
        &self,
        needs: &[PartitionNeed],
    ) -> HashMap<PartitionId, Result<(), Failure>> {
        let mut results = HashMap::new();
        let mut by_table: BTreeMap<(String, String), Vec<&PartitionNeed>> = BTreeMap::new();
        for need in needs {
            if results.contains_key(&need.id) {
                continue;
            }
            if self.cache.contains(&need.id) {
                results.insert(need.id.clone(), Ok(()));
                continue;
            }
            // Placeholder so duplicates in `needs` are grouped once; replaced below.
            results.insert(need.id.clone(), Ok(()));
            by_table
                .entry((need.id.database.clone(), need.id.table.clone()))
                .or_default()
                .push(need);
        }
        for ((database, table), table_needs) in by_table {
            for chunk in table_needs.chunks(MAX_BATCH_CREATE) {
                for (id, result) in self.create_chunk(&database, &table, chunk).await {
                    if result.is_ok() {
                        self.cache.insert(id.clone());
                    }
                    results.insert(id, result);
                }
            }
        }
        results
    }

    async fn create_chunk(
        &self,
        database: &str,
        table: &str,
        chunk: &[&PartitionNeed],
    ) -> Vec<(PartitionId, Result<(), Failure>)> {
        let mut inputs = Vec::with_capacity(chunk.len());
        let mut outcomes = Vec::with_capacity(chunk.len());
        let mut pending = Vec::with_capacity(chunk.len());
        for need in chunk {
            match self.input_for(need) {
                Ok(input) => {
                    inputs.push(input);
                    pending.push(*need);
                }
                Err(failure) => outcomes.push((need.id.clone(), Err(failure))),
            }
        }
        if pending.is_empty() {
            return outcomes;
        }
        let what = format!("BatchCreatePartition on {database}.{table}");
        let created = self
            .glue
            .batch_create_partition()
            .database_name(database)
            .table_name(table)
            .set_partition_input_list(Some(inputs))
            .send()
            .await;
        let output = match created {
            Ok(output) => output,
            Err(error) => {
                let failure = failures::from_sdk(&what, &error);
                outcomes.extend(pending.iter().map(|n| (n.id.clone(), Err(failure.clone()))));
                return outcomes;
            }
        };
        let errors: HashMap<Vec<String>, (Option<String>, String)> = output
            .errors()
            .iter()
            .map(|error| {
                let detail = error.error_detail();
                (
                    error.partition_values().to_vec(),
                    (
                        detail.and_then(|d| d.error_code()).map(str::to_string),
                        detail
                            .and_then(|d| d.error_message())
                            .unwrap_or_default()
                            .to_string(),
                    ),
                )
            })
            .collect();
        for need in pending {
            let result = match errors.get(&need.id.values) {
                None => Ok(()),
                Some((Some(code), _)) if code == "AlreadyExistsException" => {
                    self.check_existing(need).await
                }
                Some((code, message)) => Err(failures::from_facts(
                    &format!("{what}, partition {:?}", need.id.values),
                    &ErrorFacts {
                        code: code.clone(),
                        status: None,
                        message: message.clone(),
                    },
                )),
            };
            outcomes.push((need.id.clone(), result));
        }
        outcomes
    }

    /// An existing partition is fine if its Location is the folder; otherwise it is corrected.
    async fn check_existing(&self, need: &PartitionNeed) -> Result<(), Failure> {
        let id = &need.id;
        let got = self
            .glue
            .get_partition()
            .database_name(&id.database)
            .table_name(&id.table)
            .set_partition_values(Some(id.values.clone()))
            .send()
            .await
            .map_err(|e| {
                let failure = failures::from_sdk(
                    &format!("GetPartition {}.{} {:?}", id.database, id.table, id.values),
                    &e,
                );
                // Deleted between the create and this read: creating again on retry works.
                Failure::transient(failure.reason)
            })?;
        let location = got
            .partition()
            .and_then(|p| p.storage_descriptor())
            .and_then(|sd| sd.location());
        if location == Some(need.location.as_str()) {
            return Ok(());
        }
        tracing::warn!(
            table = %id.table,
            values = ?id.values,
            found = ?location,
            expected = %need.location,
            "partition Location differs from its folder; updating it"
        );
        self.glue
            .update_partition()
            .database_name(&id.database)
            .table_name(&id.table)
            .set_partition_value_list(Some(id.values.clone()))
            .partition_input(self.input_for(need)?)
            .send()
            .await
            .map_err(|e| {
                failures::from_sdk(
                    &format!(
                        "UpdatePartition {}.{} {:?}",
                        id.database, id.table, id.values
                    ),
                    &e,
                )
            })?;
        Ok(())
    }

    fn input_for(&self, need: &PartitionNeed) -> Result<GluePartitionInput, Failure> {
        let entity = self.config.entities.get(&need.entity).ok_or_else(|| {
            Failure::permanent(format!("entity {:?} is not in the config", need.entity))
        })?;
        let input = catalog::partition_input(&self.config, entity, &need.id.values)
            .map_err(|e| Failure::permanent(e.to_string()))?;
        to_sdk_partition_input(&input)
    }
}

/// The core's catalog model (one definition shared with the emulator and Terraform) as the SDK's
/// type.
pub fn to_sdk_partition_input(
    input: &catalog::PartitionInput,
) -> Result<GluePartitionInput, Failure> {
    let sd = &input.storage_descriptor;
    let columns = sd
        .columns
        .iter()
        .map(|column| {
            GlueColumn::builder()
                .name(&column.name)
                .r#type(&column.column_type)
                .set_comment(column.comment.clone())
                .build()
                .map_err(|e| Failure::permanent(format!("column {}: {e}", column.name)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let storage = GlueStorageDescriptor::builder()
        .set_columns(Some(columns))
        .location(&sd.location)
        .input_format(&sd.input_format)
        .output_format(&sd.output_format)
        .compressed(sd.compressed)
        .serde_info(
            GlueSerDeInfo::builder()
                .serialization_library(&sd.serde_info.serialization_library)
                .set_parameters(Some(sd.serde_info.parameters.clone().into_iter().collect()))
                .build(),
        )
        .set_parameters(Some(sd.parameters.clone().into_iter().collect()))
        .build();
    Ok(GluePartitionInput::builder()
        .set_values(Some(input.values.clone()))
        .storage_descriptor(storage)
        .set_parameters(Some(input.parameters.clone().into_iter().collect()))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_the_core_model() {
        let config = Config::embedded_default().unwrap();
        let sales = &config.entities["sales"];
        let values = vec!["2024".to_string(), "03".to_string(), "15".to_string()];
        let input = catalog::partition_input(&config, sales, &values).unwrap();
        let sdk = to_sdk_partition_input(&input).unwrap();
        assert_eq!(sdk.values(), values.as_slice());
        let sd = sdk.storage_descriptor().unwrap();
        assert_eq!(
            sd.location(),
            Some("s3://my-company-analytics/sales_data/year=2024/month=03/day=15/")
        );
        assert_eq!(sd.columns().len(), sales.schema.len());
        assert_eq!(
            sd.serde_info().and_then(|s| s.serialization_library()),
            Some(catalog::PARQUET_SERDE),
            "the shipped sales entity writes Parquet"
        );
    }

    #[test]
    fn cache_remembers() {
        let cache = PartitionCache::default();
        let id = PartitionId {
            database: "db".into(),
            table: "t".into(),
            values: vec!["1".into()],
        };
        assert!(!cache.contains(&id));
        cache.insert(id.clone());
        assert!(cache.contains(&id));
        assert_eq!(cache.len(), 1);
    }
}
