//! Partition operations: CreatePartition, GetPartition, UpdatePartition, DeletePartition,
//! BatchCreatePartition, BatchGetPartition, BatchDeletePartition and GetPartitions (with the
//! `Expression` filter from [`crate::expression`] and paging).

use serde_json::{json, Map, Value};

use crate::errors::GlueError;
use crate::expression::Filter;
use crate::observe::CreatedPartition;
use crate::protocol::{paginate, string_list, Request};
use crate::state::{now_epoch_seconds, Partition, PartitionKey, Table};
use crate::Glue;

/// "PartitionInputList ... Maximum number of 100 items."
/// (https://docs.aws.amazon.com/glue/latest/webapi/API_BatchCreatePartition.html)
const MAX_BATCH_CREATE: usize = 100;
/// "PartitionsToDelete ... Maximum number of 25 items."
/// (https://docs.aws.amazon.com/glue/latest/webapi/API_BatchDeletePartition.html)
const MAX_BATCH_DELETE: usize = 25;
/// "PartitionsToGet ... Maximum number of 1000 items."
/// (https://docs.aws.amazon.com/glue/latest/webapi/API_BatchGetPartition.html)
const MAX_BATCH_GET: usize = 1000;
/// GetPartitions MaxResults: "Minimum value of 1. Maximum value of 1000."
/// (https://docs.aws.amazon.com/glue/latest/webapi/API_GetPartitions.html)
const MAX_PARTITIONS_PAGE: usize = 1000;

/// Splits a `PartitionInput` into its `Values` and the rest.
fn split_input(
    mut input: Map<String, Value>,
    field: &str,
) -> Result<(Vec<String>, Map<String, Value>), GlueError> {
    let values = match input.remove("Values") {
        Some(values) if !values.is_null() => string_list(&values, &format!("{field}.Values"))?,
        _ => Vec::new(),
    };
    Ok((values, input))
}

fn object_of(value: &Value, field: &str) -> Result<Map<String, Value>, GlueError> {
    value
        .as_object()
        .cloned()
        .ok_or_else(|| GlueError::Serialization(format!("{field} must contain objects")))
}

/// Reads a list of `{"Values": [...]}` (PartitionValueList) entries.
fn value_lists(items: &[Value], field: &str) -> Result<Vec<Vec<String>>, GlueError> {
    items
        .iter()
        .map(|item| match item.get("Values") {
            Some(values) => string_list(values, &format!("{field}.Values")),
            None => Err(GlueError::Validation(format!(
                "1 validation error detected: Value null at '{field}.member.values' failed to \
                 satisfy constraint: Member must not be null"
            ))),
        })
        .collect()
}

fn too_many(field: &str, count: usize, max: usize) -> GlueError {
    GlueError::Validation(format!(
        "1 validation error detected: Value with {count} items at '{field}' failed to satisfy \
         constraint: Member must have length less than or equal to {max}"
    ))
}

fn error_entry(values: &[String], error: &GlueError) -> Value {
    json!({
        "PartitionValues": values,
        "ErrorDetail": { "ErrorCode": error.code(), "ErrorMessage": error.message() }
    })
}

/// Inserts one partition into `table`, checking its value count and that it is new.
fn insert(
    table: &mut Table,
    values: Vec<String>,
    input: Map<String, Value>,
) -> Result<(), GlueError> {
    table.check_values(&values)?;
    if table.partitions.contains_key(&values) {
        return Err(GlueError::AlreadyExists(format!(
            "Partition already exists: values {values:?}."
        )));
    }
    table.partitions.insert(
        values,
        Partition {
            input,
            creation_time: now_epoch_seconds(),
        },
    );
    Ok(())
}

pub(crate) fn create_partition(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let db = req.required_str("DatabaseName")?;
    let table_name = req.required_str("TableName")?;
    let (values, input) = split_input(req.required_object("PartitionInput")?, "PartitionInput")?;
    let created = glue
        .observer()
        .map(|_| CreatedPartition::new(db, table_name, &values, &input));
    let mut catalog = glue.catalog();
    insert(catalog.table_mut(db, table_name)?, values, input)?;
    drop(catalog);
    if let (Some(observer), Some(created)) = (glue.observer(), created) {
        observer.partition_created(&created);
    }
    Ok(json!({}))
}

/// The `PartitionValues` that name one partition.
fn partition_values(req: &Request) -> Result<Vec<String>, GlueError> {
    string_list(
        &Value::from(req.required_array("PartitionValues")?.to_vec()),
        "PartitionValues",
    )
}

pub(crate) fn get_partition(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let db = req.required_str("DatabaseName")?;
    let table_name = req.required_str("TableName")?;
    let values = partition_values(req)?;
    let catalog = glue.catalog();
    let database = catalog.database(db)?;
    let table = catalog.table(db, table_name)?;
    let partition = table
        .partitions
        .get(&values)
        .ok_or_else(|| GlueError::partition_not_found(&values))?;
    Ok(json!({
        "Partition": partition.render(&values, &database.name, &table.name, glue.account_id())
    }))
}

/// UpdatePartition replaces the partition's definition; when `PartitionInput.Values` differ from
/// `PartitionValueList` the partition moves to the new values (which must be free).
pub(crate) fn update_partition(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let db = req.required_str("DatabaseName")?;
    let table_name = req.required_str("TableName")?;
    let current = string_list(
        &Value::from(req.required_array("PartitionValueList")?.to_vec()),
        "PartitionValueList",
    )?;
    let (new_values, input) =
        split_input(req.required_object("PartitionInput")?, "PartitionInput")?;
    let mut catalog = glue.catalog();
    let table = catalog.table_mut(db, table_name)?;
    let Some(existing) = table.partitions.get(&current) else {
        return Err(GlueError::partition_not_found(&current));
    };
    let creation_time = existing.creation_time;
    let target = if new_values.is_empty() {
        current.clone()
    } else {
        new_values
    };
    table.check_values(&target)?;
    if target != current && table.partitions.contains_key(&target) {
        return Err(GlueError::AlreadyExists(format!(
            "Partition already exists: values {target:?}."
        )));
    }
    table.partitions.remove(&current);
    table.partitions.insert(
        target,
        Partition {
            input,
            creation_time,
        },
    );
    Ok(json!({}))
}

pub(crate) fn delete_partition(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let db = req.required_str("DatabaseName")?;
    let table_name = req.required_str("TableName")?;
    let values = partition_values(req)?;
    let mut catalog = glue.catalog();
    let table = catalog.table_mut(db, table_name)?;
    match table.partitions.remove(&values) {
        Some(_) => Ok(json!({})),
        None => Err(GlueError::partition_not_found(&values)),
    }
}

/// Per-partition failures (duplicates, wrong value count) are reported in `Errors`, not raised;
/// the others are created. `Errors` is left out when empty, as AWS does.
pub(crate) fn batch_create_partition(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let db = req.required_str("DatabaseName")?;
    let table_name = req.required_str("TableName")?;
    let items = req.required_array("PartitionInputList")?;
    if items.len() > MAX_BATCH_CREATE {
        return Err(too_many(
            "partitionInputList",
            items.len(),
            MAX_BATCH_CREATE,
        ));
    }
    let inputs = items
        .iter()
        .map(|item| split_input(object_of(item, "PartitionInputList")?, "PartitionInputList"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut catalog = glue.catalog();
    let table = catalog.table_mut(db, table_name)?;
    let mut created = Vec::new();
    let errors: Vec<Value> = inputs
        .into_iter()
        .filter_map(|(values, input)| {
            let observed = glue
                .observer()
                .map(|_| CreatedPartition::new(db, table_name, &values, &input));
            match insert(table, values.clone(), input) {
                Ok(()) => {
                    created.extend(observed);
                    None
                }
                Err(e) => Some(error_entry(&values, &e)),
            }
        })
        .collect();
    drop(catalog);
    if let Some(observer) = glue.observer() {
        created.iter().for_each(|p| observer.partition_created(p));
    }
    Ok(batch_errors(errors))
}

/// A batch write's answer: `Errors` lists the entries that failed, when any did.
fn batch_errors(errors: Vec<Value>) -> Value {
    if errors.is_empty() {
        json!({})
    } else {
        json!({ "Errors": errors })
    }
}

/// Partitions that do not exist are left out of the answer without an error (what AWS does);
/// `UnprocessedKeys` is for keys the service had no time for, which never happens here.
pub(crate) fn batch_get_partition(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let db = req.required_str("DatabaseName")?;
    let table_name = req.required_str("TableName")?;
    let items = req.required_array("PartitionsToGet")?;
    if items.len() > MAX_BATCH_GET {
        return Err(too_many("partitionsToGet", items.len(), MAX_BATCH_GET));
    }
    let wanted = value_lists(items, "partitionsToGet")?;
    let catalog = glue.catalog();
    let database = catalog.database(db)?;
    let table = catalog.table(db, table_name)?;
    let partitions: Vec<Value> = wanted
        .iter()
        .filter_map(|values| {
            table
                .partitions
                .get(values)
                .map(|p| p.render(values, &database.name, &table.name, glue.account_id()))
        })
        .collect();
    Ok(json!({ "Partitions": partitions, "UnprocessedKeys": [] }))
}

pub(crate) fn batch_delete_partition(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let db = req.required_str("DatabaseName")?;
    let table_name = req.required_str("TableName")?;
    let items = req.required_array("PartitionsToDelete")?;
    if items.len() > MAX_BATCH_DELETE {
        return Err(too_many(
            "partitionsToDelete",
            items.len(),
            MAX_BATCH_DELETE,
        ));
    }
    let doomed = value_lists(items, "partitionsToDelete")?;
    let mut catalog = glue.catalog();
    let table = catalog.table_mut(db, table_name)?;
    let errors: Vec<Value> = doomed
        .iter()
        .filter(|values| table.partitions.remove(*values).is_none())
        .map(|values| error_entry(values, &GlueError::partition_not_found(values)))
        .collect();
    Ok(batch_errors(errors))
}

/// GetPartitions: partitions in value order, filtered by `Expression`, `MaxResults` per page
/// (default and maximum 1000), `NextToken` resuming after the last partition returned, and
/// `Segment` splitting the table into disjoint parts for parallel readers.
pub(crate) fn get_partitions(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let db = req.required_str("DatabaseName")?;
    let table_name = req.required_str("TableName")?;
    let limit = req.max_results(MAX_PARTITIONS_PAGE)?;
    let after = match req.next_token()? {
        None => None,
        Some(token) => Some(
            string_list(&token, "NextToken")
                .map_err(|_| GlueError::InvalidInput("Invalid NextToken".into()))?,
        ),
    };
    let exclude_columns = matches!(req_bool(req, "ExcludeColumnSchema")?, Some(true));
    let segment = segment_of(req)?;
    let catalog = glue.catalog();
    let database = catalog.database(db)?;
    let table = catalog.table(db, table_name)?;
    let filter = expression_filter(req, &table.partition_keys)?;
    let (partitions, token) = paginate(
        &table.partitions,
        after.as_ref(),
        limit,
        |values, _| {
            segment.is_none_or(|(number, total)| segment_index(values, total) == number)
                && filter.as_ref().is_none_or(|f| f.matches(values))
        },
        |values, partition| {
            let mut rendered =
                partition.render(values, &database.name, &table.name, glue.account_id());
            if exclude_columns {
                if let Some(sd) = rendered
                    .get_mut("StorageDescriptor")
                    .and_then(Value::as_object_mut)
                {
                    sd.remove("Columns");
                }
            }
            rendered
        },
        |values| Value::from(values.clone()),
    );
    let mut out = json!({ "Partitions": partitions });
    if let Some(token) = token {
        out["NextToken"] = Value::String(token);
    }
    Ok(out)
}

/// Longest `Expression` Glue accepts: the member is a `PredicateString`, "Length Constraints:
/// Minimum length of 0. Maximum length of 2048."
/// (https://docs.aws.amazon.com/glue/latest/webapi/API_GetPartitions.html). Like every modelled
/// constraint, a violation is a `ValidationException`. Lengths count UTF-16 units, as AWS's
/// Java validators do.
const MAX_EXPRESSION_LENGTH: usize = 2048;

/// The compiled `Expression` filter, if the request has a non-blank one.
fn expression_filter(req: &Request, keys: &[PartitionKey]) -> Result<Option<Filter>, GlueError> {
    let Some(text) = req.optional_str("Expression")? else {
        return Ok(None);
    };
    let length = text.encode_utf16().count();
    if length > MAX_EXPRESSION_LENGTH {
        return Err(GlueError::Validation(format!(
            "1 validation error detected: Value with length {length} at 'expression' failed to \
             satisfy constraint: Member must have length less than or equal to \
             {MAX_EXPRESSION_LENGTH}"
        )));
    }
    if text.trim().is_empty() {
        return Ok(None);
    }
    Filter::compile(text, keys)
        .map(Some)
        .map_err(|e| GlueError::InvalidInput(format!("Unsupported expression '{text}': {e}")))
}

fn req_bool(req: &Request, field: &str) -> Result<Option<bool>, GlueError> {
    req.optional_value(field)
        .map(|v| {
            v.as_bool()
                .ok_or_else(|| GlueError::Serialization(format!("{field} must be a boolean")))
        })
        .transpose()
}

/// `Segment{SegmentNumber, TotalSegments}`: TotalSegments 1..=10, SegmentNumber 0..TotalSegments.
fn segment_of(req: &Request) -> Result<Option<(u64, u64)>, GlueError> {
    let Some(segment) = req.optional_value("Segment") else {
        return Ok(None);
    };
    let number = segment.get("SegmentNumber").and_then(Value::as_u64);
    let total = segment.get("TotalSegments").and_then(Value::as_u64);
    match (number, total) {
        (Some(number), Some(total)) if (1..=10).contains(&total) && number < total => {
            Ok(Some((number, total)))
        }
        _ => Err(GlueError::Validation(
            "Segment needs TotalSegments between 1 and 10 and SegmentNumber below TotalSegments"
                .into(),
        )),
    }
}

/// A stable segment for a partition (FNV-1a over its values), so segments are disjoint and
/// together cover the table, page after page.
fn segment_index(values: &[String], total: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for value in values {
        for byte in value.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash % total
}

#[cfg(test)]
mod tests;
