//! Table operations: CreateTable, GetTable, GetTables, UpdateTable, DeleteTable, and the
//! in-process `ensure_table` used by bootstrap.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::errors::GlueError;
use crate::protocol::{paginate, Request};
use crate::state::{normalize_name, now_epoch_seconds, partition_keys_of, PartitionKey, Table};
use crate::Glue;

/// GetTables: "Valid Range: Minimum value of 1. Maximum value of 100."
/// (https://docs.aws.amazon.com/glue/latest/webapi/API_GetTables.html)
const MAX_TABLES_PAGE: usize = 100;

/// A validated `TableInput`: lower-case name, partition keys, and the rest of the input.
struct ParsedTableInput {
    name: String,
    partition_keys: Vec<PartitionKey>,
    input: Map<String, Value>,
}

fn parse_table_input(mut input: Map<String, Value>) -> Result<ParsedTableInput, GlueError> {
    let name = match input.remove("Name") {
        Some(Value::String(name)) => normalize_name("tableInput.name", &name)?,
        _ => {
            return Err(GlueError::Validation(
                "1 validation error detected: Value null at 'tableInput.name' failed to \
                 satisfy constraint: Member must not be null"
                    .into(),
            ))
        }
    };
    let partition_keys = partition_keys_of(&input)?;
    Ok(ParsedTableInput {
        name,
        partition_keys,
        input,
    })
}

fn new_table(parsed: ParsedTableInput) -> Table {
    let now = now_epoch_seconds();
    Table {
        name: parsed.name,
        input: parsed.input,
        partition_keys: parsed.partition_keys,
        create_time: now,
        // Glue reports UpdateTime on a fresh table too, equal to CreateTime.
        update_time: now,
        version: 0,
        partitions: BTreeMap::new(),
    }
}

/// Replaces a table's definition, keeping its partitions and creation time.
fn replace_definition(table: &mut Table, parsed: ParsedTableInput) {
    table.input = parsed.input;
    table.partition_keys = parsed.partition_keys;
    table.update_time = now_epoch_seconds();
    table.version += 1;
}

pub(crate) fn create_table(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let db_name = req.required_str("DatabaseName")?;
    let parsed = parse_table_input(req.required_object("TableInput")?)?;
    let mut catalog = glue.catalog();
    let database = catalog.database_mut(db_name)?;
    if database.tables.contains_key(&parsed.name) {
        return Err(GlueError::AlreadyExists(format!(
            "Table already exists: {} in database {}",
            parsed.name, database.name
        )));
    }
    database
        .tables
        .insert(parsed.name.clone(), new_table(parsed));
    Ok(json!({}))
}

pub(crate) fn get_table(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let db_name = req.required_str("DatabaseName")?;
    let name = req.required_str("Name")?;
    let catalog = glue.catalog();
    let database = catalog.database(db_name)?;
    let table = catalog.table(db_name, name)?;
    Ok(json!({ "Table": table.render(&database.name, glue.account_id()) }))
}

/// GetTables. `Expression` is "a regular expression pattern. If present, only those tables whose
/// names match the pattern are returned" (API_GetTables.html); it must match the whole name, as
/// the usual `test_.*` style of filter implies.
pub(crate) fn get_tables(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let db_name = req.required_str("DatabaseName")?;
    let limit = req.max_results(MAX_TABLES_PAGE)?;
    let name_filter = match req.optional_str("Expression")? {
        None => None,
        Some(pattern) => Some(
            regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
                .case_insensitive(true)
                .build()
                .map_err(|e| {
                    GlueError::InvalidInput(format!(
                        "Expression is not a valid regular expression: {e}"
                    ))
                })?,
        ),
    };
    let after = match req.next_token()? {
        None => None,
        Some(Value::String(name)) => Some(name),
        Some(_) => return Err(GlueError::InvalidInput("Invalid NextToken".into())),
    };
    let catalog = glue.catalog();
    let database = catalog.database(db_name)?;
    let account = glue.account_id();
    let (list, token) = paginate(
        &database.tables,
        after.as_ref(),
        limit,
        |name, _| name_filter.as_ref().is_none_or(|re| re.is_match(name)),
        |_, table| table.render(&database.name, account),
        |name| Value::String(name.clone()),
    );
    let mut out = json!({ "TableList": list });
    if let Some(token) = token {
        out["NextToken"] = Value::String(token);
    }
    Ok(out)
}

/// UpdateTable replaces the definition of an existing table; partitions stay.
pub(crate) fn update_table(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let db_name = req.required_str("DatabaseName")?;
    let parsed = parse_table_input(req.required_object("TableInput")?)?;
    let mut catalog = glue.catalog();
    let table = catalog.table_mut(db_name, &parsed.name)?;
    replace_definition(table, parsed);
    Ok(json!({}))
}

pub(crate) fn delete_table(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let db_name = req.required_str("DatabaseName")?;
    let name = req.required_str("Name")?;
    let mut catalog = glue.catalog();
    let database = catalog.database_mut(db_name)?;
    match database.tables.remove(&name.to_lowercase()) {
        Some(_) => Ok(json!({})),
        None => Err(GlueError::table_not_found(db_name, name)),
    }
}

pub(crate) fn ensure_table(
    glue: &Glue,
    db_name: &str,
    table_input: Value,
) -> Result<(), GlueError> {
    let Value::Object(input) = table_input else {
        return Err(GlueError::Serialization(
            "TableInput must be a JSON object".into(),
        ));
    };
    let parsed = parse_table_input(input)?;
    let mut catalog = glue.catalog();
    let database = catalog.database_mut(db_name)?;
    match database.tables.get_mut(&parsed.name) {
        Some(table) => replace_definition(table, parsed),
        None => {
            database
                .tables
                .insert(parsed.name.clone(), new_table(parsed));
        }
    }
    Ok(())
}
