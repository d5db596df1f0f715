//! The catalog's in-memory state: databases own tables, tables own partitions.
//!
//! What clients send (`DatabaseInput`, `TableInput`, `PartitionInput`) is stored verbatim as JSON
//! and rendered back as `Database`/`Table`/`Partition` with the service-owned fields added
//! (`CatalogId`, `DatabaseName`, `CreateTime`, ...), so fields this emulator does not interpret
//! still round-trip. Names are stored lower-case: Glue folds database and table names "to
//! lowercase when it is stored" for Hive compatibility
//! (https://docs.aws.amazon.com/glue/latest/webapi/API_TableInput.html), and lookups are
//! case-insensitive.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::errors::GlueError;

/// Counts for the health endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CatalogStats {
    pub databases: usize,
    pub tables: usize,
    pub partitions: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Catalog {
    /// Keyed by lower-case name; BTreeMap so listings and paging follow name order.
    pub databases: BTreeMap<String, Database>,
}

#[derive(Debug)]
pub(crate) struct Database {
    pub name: String,
    /// The `DatabaseInput` as sent, minus `Name`.
    pub input: Map<String, Value>,
    pub create_time: f64,
    pub tables: BTreeMap<String, Table>,
}

#[derive(Debug)]
pub(crate) struct Table {
    pub name: String,
    /// The `TableInput` as sent, minus `Name`.
    pub input: Map<String, Value>,
    pub partition_keys: Vec<PartitionKey>,
    pub create_time: f64,
    pub update_time: f64,
    pub version: u64,
    /// Keyed by partition values in partition-key order.
    pub partitions: BTreeMap<Vec<String>, Partition>,
}

/// One partition key column of a table: what the filter language needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionKey {
    /// Lower-case column name (Hive column names are case-insensitive).
    pub name: String,
    /// Lower-case Glue/Hive type, e.g. `string`, `int`, `decimal(10,2)`.
    pub type_name: String,
}

#[derive(Debug)]
pub(crate) struct Partition {
    /// The `PartitionInput` as sent, minus `Values`.
    pub input: Map<String, Value>,
    pub creation_time: f64,
}

impl Catalog {
    pub fn stats(&self) -> CatalogStats {
        let tables = self.databases.values().map(|d| d.tables.len()).sum();
        let partitions = self
            .databases
            .values()
            .flat_map(|d| d.tables.values())
            .map(|t| t.partitions.len())
            .sum();
        CatalogStats {
            databases: self.databases.len(),
            tables,
            partitions,
        }
    }

    pub fn database(&self, name: &str) -> Result<&Database, GlueError> {
        self.databases
            .get(&name.to_lowercase())
            .ok_or_else(|| GlueError::database_not_found(name))
    }

    pub fn database_mut(&mut self, name: &str) -> Result<&mut Database, GlueError> {
        self.databases
            .get_mut(&name.to_lowercase())
            .ok_or_else(|| GlueError::database_not_found(name))
    }

    pub fn table(&self, db: &str, table: &str) -> Result<&Table, GlueError> {
        self.database(db)?
            .tables
            .get(&table.to_lowercase())
            .ok_or_else(|| GlueError::table_not_found(db, table))
    }

    pub fn table_mut(&mut self, db: &str, table: &str) -> Result<&mut Table, GlueError> {
        self.database_mut(db)?
            .tables
            .get_mut(&table.to_lowercase())
            .ok_or_else(|| GlueError::table_not_found(db, table))
    }
}

impl Database {
    /// A new, empty database created now.
    pub fn new(name: String, input: Map<String, Value>) -> Self {
        Self {
            name,
            input,
            create_time: now_epoch_seconds(),
            tables: BTreeMap::new(),
        }
    }

    pub fn render(&self, account_id: &str) -> Value {
        let mut out = self.input.clone();
        out.insert("Name".into(), Value::String(self.name.clone()));
        out.insert("CreateTime".into(), epoch_json(self.create_time));
        out.insert("CatalogId".into(), Value::String(account_id.into()));
        // AWS fills in the Lake Formation default when the caller sends none.
        out.entry("CreateTableDefaultPermissions")
            .or_insert_with(default_permissions);
        Value::Object(out)
    }
}

impl Table {
    pub fn render(&self, db: &str, account_id: &str) -> Value {
        let mut out = self.input.clone();
        out.insert("Name".into(), Value::String(self.name.clone()));
        out.insert("DatabaseName".into(), Value::String(db.into()));
        out.insert("CreateTime".into(), epoch_json(self.create_time));
        out.insert("UpdateTime".into(), epoch_json(self.update_time));
        out.insert("CatalogId".into(), Value::String(account_id.into()));
        out.insert("VersionId".into(), Value::String(self.version.to_string()));
        out.insert("IsRegisteredWithLakeFormation".into(), Value::Bool(false));
        Value::Object(out)
    }

    /// Checks that `values` has one value per partition key (Glue: InvalidInputException).
    pub fn check_values(&self, values: &[String]) -> Result<(), GlueError> {
        if values.len() != self.partition_keys.len() {
            return Err(GlueError::InvalidInput(format!(
                "The number of partition keys do not match the number of partition values: \
                 table {} has {} partition key(s), got {} value(s).",
                self.name,
                self.partition_keys.len(),
                values.len()
            )));
        }
        Ok(())
    }
}

impl Partition {
    pub fn render(&self, values: &[String], db: &str, table: &str, account_id: &str) -> Value {
        let mut out = self.input.clone();
        out.insert("Values".into(), Value::from(values.to_vec()));
        out.insert("DatabaseName".into(), Value::String(db.into()));
        out.insert("TableName".into(), Value::String(table.into()));
        out.insert("CreationTime".into(), epoch_json(self.creation_time));
        out.insert("CatalogId".into(), Value::String(account_id.into()));
        Value::Object(out)
    }
}

fn default_permissions() -> Value {
    serde_json::json!([{
        "Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
        "Permissions": ["ALL"]
    }])
}

thread_local! {
    /// The clock a replayed change runs with (see `journal`): the time it first ran.
    static PINNED_CLOCK: std::cell::Cell<Option<f64>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with the catalog clock reading `now` (on this thread).
pub(crate) fn with_clock<R>(now: f64, f: impl FnOnce() -> R) -> R {
    let previous = PINNED_CLOCK.with(|c| c.replace(Some(now)));
    let result = f();
    PINNED_CLOCK.with(|c| c.set(previous));
    result
}

/// Now, in epoch seconds with millisecond precision (or the pinned clock of a replay).
pub(crate) fn now_epoch_seconds() -> f64 {
    if let Some(pinned) = PINNED_CLOCK.with(std::cell::Cell::get) {
        return pinned;
    }
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    millis as f64 / 1000.0
}

/// awsJson1_1 serializes timestamps as epoch seconds in a JSON number (fraction allowed); the
/// SDKs parse them with `Format::EpochSeconds`.
pub(crate) fn epoch_json(seconds: f64) -> Value {
    serde_json::Number::from_f64(seconds)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Validates a Glue name (1..=255 characters, single line) and folds it to lower case.
pub(crate) fn normalize_name(field: &str, name: &str) -> Result<String, GlueError> {
    let length = name.chars().count();
    if length == 0 || length > 255 {
        return Err(GlueError::Validation(format!(
            "1 validation error detected: Value '{name}' at '{field}' failed to satisfy \
             constraint: Member must have length between 1 and 255"
        )));
    }
    if name.chars().any(|c| c.is_control() && c != '\t') {
        return Err(GlueError::Validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*"
        )));
    }
    Ok(name.to_lowercase())
}

/// Reads `PartitionKeys[].{Name,Type}` from a `TableInput`.
pub(crate) fn partition_keys_of(
    input: &Map<String, Value>,
) -> Result<Vec<PartitionKey>, GlueError> {
    let Some(keys) = input.get("PartitionKeys") else {
        return Ok(Vec::new());
    };
    let Some(keys) = keys.as_array() else {
        return Err(GlueError::Serialization(
            "TableInput.PartitionKeys must be a list of Column objects".into(),
        ));
    };
    keys.iter()
        .map(|column| {
            let name = column.get("Name").and_then(Value::as_str).ok_or_else(|| {
                GlueError::Validation(
                    "1 validation error detected: Value null at 'tableInput.partitionKeys.member.name' \
                     failed to satisfy constraint: Member must not be null"
                        .into(),
                )
            })?;
            let type_name = column.get("Type").and_then(Value::as_str).unwrap_or("string");
            Ok(PartitionKey {
                name: name.to_lowercase(),
                type_name: type_name.trim().to_lowercase(),
            })
        })
        .collect()
}
