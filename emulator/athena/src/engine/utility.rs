//! Athena's utility and DDL statements, answered from the Glue catalog: SHOW DATABASES/SCHEMAS,
//! SHOW TABLES, SHOW PARTITIONS, DESCRIBE, MSCK REPAIR TABLE (adds the Hive `k=v` folders found
//! under the table's location as partitions, never removes any) and DROP TABLE (catalog only:
//! dropping an external table leaves its data, as in Athena).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{QueryFailure, QueryOutput, QueryScope};
use crate::catalog::{ColumnDef, TableDef};
use crate::results::ResultTable;
use crate::statements::{Statement, TableName};
use crate::store::split_s3_url;

pub async fn run(
    engine: &super::Engine,
    statement: &Statement,
    scope: &QueryScope,
) -> Result<QueryOutput, QueryFailure> {
    let result = match statement {
        Statement::ShowDatabases { like } => show_databases(engine, like.as_deref()).await?,
        Statement::ShowTables { database, like } => {
            let database = database.as_deref().unwrap_or(&scope.database);
            show_tables(engine, database, like.as_deref()).await?
        }
        Statement::ShowPartitions(name) => show_partitions(engine, name, scope).await?,
        Statement::Describe(name) => describe(engine, name, scope).await?,
        Statement::MsckRepair(name) => msck_repair(engine, name, scope).await?,
        Statement::DropTable { table, if_exists } => {
            drop_table(engine, table, *if_exists, scope).await?
        }
        Statement::CreateTableAs { .. } => return super::ctas::run(engine, statement, scope).await,
        Statement::Query(_) | Statement::Unsupported(_) => {
            return Err(QueryFailure::system("not a utility statement"))
        }
    };
    Ok(QueryOutput {
        result,
        ..Default::default()
    })
}

/// Hive's SHOW ... LIKE pattern: `*` any characters, `|` alternatives, case-insensitive.
fn like_matches(pattern: Option<&str>, name: &str) -> bool {
    let Some(pattern) = pattern else {
        return true;
    };
    pattern.split('|').any(|alternative| {
        let regex = format!(
            "(?i)^{}$",
            regex::escape(alternative.trim()).replace(r"\*", ".*")
        );
        regex::Regex::new(&regex).is_ok_and(|r| r.is_match(name))
    })
}

async fn show_databases(
    engine: &super::Engine,
    like: Option<&str>,
) -> Result<ResultTable, QueryFailure> {
    let names: Vec<Vec<String>> = engine
        .catalog()
        .databases()
        .await?
        .iter()
        .filter_map(|d| d["Name"].as_str())
        .filter(|n| like_matches(like, n))
        .map(|n| vec![n.to_owned()])
        .collect();
    Ok(ResultTable::utility(&["database_name"], names))
}

async fn show_tables(
    engine: &super::Engine,
    database: &str,
    like: Option<&str>,
) -> Result<ResultTable, QueryFailure> {
    if !engine.catalog().database_exists(database).await? {
        return Err(QueryFailure::user(
            "SCHEMA_NOT_FOUND",
            format!("Schema '{database}' does not exist"),
        ));
    }
    let names = engine
        .catalog()
        .tables(database)
        .await?
        .into_iter()
        .filter(|t| like_matches(like, &t.name))
        .map(|t| vec![t.name])
        .collect();
    Ok(ResultTable::utility(&["tab_name"], names))
}

/// The table `name` refers to, or TABLE_NOT_FOUND naming it.
pub async fn existing_table(
    engine: &super::Engine,
    name: &TableName,
    scope: &QueryScope,
) -> Result<TableDef, QueryFailure> {
    let database = name.database.as_deref().unwrap_or(&scope.database);
    engine
        .catalog()
        .table(database, &name.table)
        .await?
        .ok_or_else(|| {
            QueryFailure::user(
                "TABLE_NOT_FOUND",
                format!(
                    "Table 'awsdatacatalog.{database}.{}' does not exist",
                    name.table
                ),
            )
        })
}

fn partition_spec(keys: &[ColumnDef], values: &[String]) -> String {
    keys.iter()
        .zip(values)
        .map(|(k, v)| format!("{}={v}", k.name))
        .collect::<Vec<_>>()
        .join("/")
}

/// The named table, which must have partition keys; `what` starts the error sentence.
async fn partitioned_table(
    engine: &super::Engine,
    name: &TableName,
    scope: &QueryScope,
    what: &str,
) -> Result<TableDef, QueryFailure> {
    let table = existing_table(engine, name, scope).await?;
    if table.partition_keys.is_empty() {
        return Err(QueryFailure::user(
            "NOT_SUPPORTED",
            format!(
                "{what} {}.{} is not partitioned",
                table.database, table.name
            ),
        ));
    }
    Ok(table)
}

async fn show_partitions(
    engine: &super::Engine,
    name: &TableName,
    scope: &QueryScope,
) -> Result<ResultTable, QueryFailure> {
    let table = partitioned_table(engine, name, scope, "Table").await?;
    let partitions = engine
        .catalog()
        .partitions(&table.database, &table.name)
        .await?;
    let rows = partitions
        .iter()
        .map(|p| vec![partition_spec(&table.partition_keys, &p.values)])
        .collect();
    Ok(ResultTable::utility(&["partition"], rows))
}

async fn describe(
    engine: &super::Engine,
    name: &TableName,
    scope: &QueryScope,
) -> Result<ResultTable, QueryFailure> {
    let table = existing_table(engine, name, scope).await?;
    let line = |c: &ColumnDef| {
        vec![format!(
            "{:<20}\t{:<20}\t{}",
            c.name,
            c.type_name,
            c.comment.as_deref().unwrap_or("")
        )]
    };
    let mut rows: Vec<Vec<String>> = table
        .columns
        .iter()
        .chain(&table.partition_keys)
        .map(line)
        .collect();
    if !table.partition_keys.is_empty() {
        rows.push(vec![String::new()]);
        rows.push(vec!["# Partition Information".to_owned()]);
        rows.push(vec![format!(
            "# {:<18}\t{:<20}\tcomment",
            "col_name", "data_type"
        )]);
        rows.push(vec![String::new()]);
        rows.extend(table.partition_keys.iter().map(line));
    }
    Ok(ResultTable::utility(&["col_name"], rows))
}

/// The partition values of `relative` (a key below the table location) when its folders are
/// exactly `k1=v1/k2=v2/...` in partition-key order.
fn hive_values(keys: &[ColumnDef], relative: &str) -> Option<Vec<String>> {
    let folders: Vec<&str> = relative.split('/').collect();
    if folders.len() != keys.len() + 1 {
        return None;
    }
    keys.iter()
        .zip(&folders)
        .map(|(key, folder)| {
            let (k, v) = folder.split_once('=')?;
            (k.eq_ignore_ascii_case(&key.name) && !v.is_empty()).then(|| v.to_owned())
        })
        .collect()
}

fn storage_descriptor(table: &TableDef, location: &str) -> Value {
    let columns: Vec<Value> = table
        .columns
        .iter()
        .map(|c| json!({ "Name": c.name, "Type": c.type_name }))
        .collect();
    let parameters: serde_json::Map<String, Value> = table
        .serde_parameters
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "Columns": columns,
        "Location": location,
        "InputFormat": table.input_format,
        "OutputFormat": table.output_format,
        "SerdeInfo": { "SerializationLibrary": table.serde_library, "Parameters": parameters },
    })
}

async fn msck_repair(
    engine: &super::Engine,
    name: &TableName,
    scope: &QueryScope,
) -> Result<ResultTable, QueryFailure> {
    let table = partitioned_table(engine, name, scope, "MSCK REPAIR TABLE: table").await?;
    let (bucket, prefix) = table_folder(&table)?;
    let missing = missing_partitions(engine, &table, bucket, &prefix).await?;
    let inputs = missing
        .iter()
        .map(|values| {
            let location = format!(
                "s3://{bucket}/{prefix}{}/",
                partition_spec(&table.partition_keys, values)
            );
            json!({ "Values": values, "StorageDescriptor": storage_descriptor(&table, &location) })
        })
        .collect();
    let errors = engine
        .catalog()
        .create_partitions(&table.database, &table.name, inputs)
        .await?;
    Ok(repair_report(&table, &missing, errors))
}

/// The table's location as bucket and a prefix ending in `/`.
fn table_folder(table: &TableDef) -> Result<(&str, String), QueryFailure> {
    let (bucket, prefix) = split_s3_url(&table.location).ok_or_else(|| {
        QueryFailure::user(
            "HIVE_METASTORE_ERROR",
            format!("table location '{}' is not an s3:// URL", table.location),
        )
    })?;
    let prefix = if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    };
    Ok((bucket, prefix))
}

/// The Hive `k=v` partitions found under the table's folder that Glue does not have yet.
async fn missing_partitions(
    engine: &super::Engine,
    table: &TableDef,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<Vec<String>>, QueryFailure> {
    let objects = engine
        .s3()
        .objects_with_prefix(bucket, prefix)
        .map_err(|e| {
            QueryFailure::user(
                "HIVE_METASTORE_ERROR",
                format!("listing {}: {e}", table.location),
            )
        })?;
    let found: BTreeSet<Vec<String>> = objects
        .iter()
        .filter_map(|(key, _)| hive_values(&table.partition_keys, &key[prefix.len()..]))
        .collect();
    let registered: BTreeSet<Vec<String>> = engine
        .catalog()
        .partitions(&table.database, &table.name)
        .await?
        .into_iter()
        .map(|p| p.values)
        .collect();
    Ok(found.difference(&registered).cloned().collect())
}

/// Athena's MSCK REPAIR TABLE output: the partitions found, those added, and any failure.
fn repair_report(table: &TableDef, missing: &[Vec<String>], errors: Vec<String>) -> ResultTable {
    let spec = |values: &Vec<String>| partition_spec(&table.partition_keys, values);
    let mut rows: Vec<Vec<String>> = missing
        .iter()
        .map(|v| {
            vec![format!(
                "Partitions not in metastore:\t{}:{}",
                table.name,
                spec(v)
            )]
        })
        .collect();
    rows.extend(missing.iter().map(|v| {
        vec![format!(
            "Repair: Added partition to metastore {}:{}",
            table.name,
            spec(v)
        )]
    }));
    rows.extend(
        errors
            .into_iter()
            .map(|e| vec![format!("Repair: failed: {e}")]),
    );
    ResultTable::utility(&["result"], rows)
}

async fn drop_table(
    engine: &super::Engine,
    name: &TableName,
    if_exists: bool,
    scope: &QueryScope,
) -> Result<ResultTable, QueryFailure> {
    let database = name.database.as_deref().unwrap_or(&scope.database);
    match engine.catalog().delete_table(database, &name.table).await {
        Ok(()) => Ok(ResultTable::utility(&["result"], Vec::new())),
        Err(e) if e.is_not_found() && if_exists => {
            Ok(ResultTable::utility(&["result"], Vec::new()))
        }
        Err(e) if e.is_not_found() => Err(QueryFailure::user(
            "TABLE_NOT_FOUND",
            format!(
                "Table 'awsdatacatalog.{database}.{}' does not exist",
                name.table
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ColumnDef {
        ColumnDef {
            name: name.into(),
            type_name: "string".into(),
            comment: None,
        }
    }

    #[test]
    fn only_hive_folders_in_key_order_are_partitions() {
        let keys = [key("year"), key("month")];
        assert_eq!(
            hive_values(&keys, "year=2024/month=03/f.csv"),
            Some(vec!["2024".into(), "03".into()])
        );
        assert_eq!(hive_values(&keys, "month=03/year=2024/f.csv"), None);
        assert_eq!(hive_values(&keys, "year=2024/f.csv"), None);
        assert_eq!(hive_values(&keys, "2024/03/f.csv"), None);
        assert!(like_matches(Some("sales*|events"), "sales_data"));
        assert!(!like_matches(Some("sales"), "sales_data"));
    }
}
