//! Database operations: CreateDatabase, GetDatabase, GetDatabases, DeleteDatabase, and the
//! in-process `ensure_database` used by bootstrap.

use serde_json::{json, Map, Value};

use crate::errors::GlueError;
use crate::protocol::{paginate, Request};
use crate::state::{normalize_name, Database};
use crate::Glue;

/// GetDatabases: "Valid Range: Minimum value of 1. Maximum value of 100."
/// (https://docs.aws.amazon.com/glue/latest/webapi/API_GetDatabases.html)
const MAX_DATABASES_PAGE: usize = 100;

/// Splits a `DatabaseInput` into its validated lower-case name and the rest.
fn split_input(mut input: Map<String, Value>) -> Result<(String, Map<String, Value>), GlueError> {
    let name = match input.remove("Name") {
        Some(Value::String(name)) => normalize_name("databaseInput.name", &name)?,
        _ => {
            return Err(GlueError::Validation(
                "1 validation error detected: Value null at 'databaseInput.name' failed to \
                 satisfy constraint: Member must not be null"
                    .into(),
            ))
        }
    };
    Ok((name, input))
}

pub(crate) fn create_database(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let (name, input) = split_input(req.required_object("DatabaseInput")?)?;
    let mut catalog = glue.catalog();
    if catalog.databases.contains_key(&name) {
        return Err(GlueError::AlreadyExists(format!(
            "Database already exists: {name}"
        )));
    }
    catalog
        .databases
        .insert(name.clone(), Database::new(name, input));
    Ok(json!({}))
}

pub(crate) fn get_database(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let name = req.required_str("Name")?;
    let catalog = glue.catalog();
    let database = catalog.database(name)?;
    Ok(json!({ "Database": database.render(glue.account_id()) }))
}

pub(crate) fn get_databases(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let limit = req.max_results(MAX_DATABASES_PAGE)?;
    let after = match req.next_token()? {
        None => None,
        Some(Value::String(name)) => Some(name),
        Some(_) => return Err(GlueError::InvalidInput("Invalid NextToken".into())),
    };
    let catalog = glue.catalog();
    let account = glue.account_id();
    let (list, token) = paginate(
        &catalog.databases,
        after.as_ref(),
        limit,
        |_, _| true,
        |_, db| db.render(account),
        |name| Value::String(name.clone()),
    );
    let mut out = json!({ "DatabaseList": list });
    if let Some(token) = token {
        out["NextToken"] = Value::String(token);
    }
    Ok(out)
}

/// Deleting a database also deletes its tables and their partitions, as Glue does
/// (https://docs.aws.amazon.com/glue/latest/webapi/API_DeleteDatabase.html).
pub(crate) fn delete_database(glue: &Glue, req: &Request) -> Result<Value, GlueError> {
    let name = req.required_str("Name")?;
    let mut catalog = glue.catalog();
    match catalog.databases.remove(&name.to_lowercase()) {
        Some(_) => Ok(json!({})),
        None => Err(GlueError::database_not_found(name)),
    }
}

pub(crate) fn ensure_database(glue: &Glue, database_input: Value) -> Result<(), GlueError> {
    let Value::Object(input) = database_input else {
        return Err(GlueError::Serialization(
            "DatabaseInput must be a JSON object".into(),
        ));
    };
    let (name, input) = split_input(input)?;
    let mut catalog = glue.catalog();
    match catalog.databases.get_mut(&name) {
        Some(existing) => existing.input = input,
        None => {
            catalog
                .databases
                .insert(name.clone(), Database::new(name, input));
        }
    }
    Ok(())
}
