//! Athena's awsJson1_1 wire layer: parses each operation's request into typed values, calls the
//! service, renders the shapes of botocore's athena service-2.json. Timestamps are epoch seconds
//! (JSON numbers), as the protocol serialises them.

use axum::body::Body;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::catalog::TableDef;
use crate::errors::ApiError;
use crate::state::{epoch_seconds, Execution, QueryState};
use crate::{Athena, StartRequest, ENGINE_VERSION};

/// GetQueryResults MaxResults: 1..=1000.
const MAX_RESULTS_PAGE: usize = 1000;
/// ListQueryExecutions and BatchGetQueryExecution: at most 50.
const MAX_EXECUTIONS_PAGE: usize = 50;

pub async fn handle(athena: &Athena, req: http::Request<Bytes>) -> http::Response<Body> {
    let operation = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("AmazonAthena."))
        .unwrap_or_default()
        .to_owned();
    let body = req.into_body();
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return ApiError::Serialization("the request body is not a JSON object".into())
                    .to_response()
            }
        }
    };
    let span = tracing::debug_span!("athena", operation = %operation);
    let _guard = span.enter();
    match dispatch(athena, &operation, &input).await {
        Ok(output) => http::Response::builder()
            .status(200)
            .header("content-type", "application/x-amz-json-1.1")
            .body(Body::from(output.to_string()))
            .unwrap_or_default(),
        Err(error) => error.to_response(),
    }
}

/// One arm per Athena operation. Kept as one flat table on purpose (it is over 80 lines): each
/// arm only reads its input and calls the state or a renderer, and seeing every operation in one
/// place is what makes the API's surface reviewable.
async fn dispatch(athena: &Athena, operation: &str, input: &Value) -> Result<Value, ApiError> {
    match operation {
        "StartQueryExecution" => start_query_execution(athena, input),
        "GetQueryExecution" => {
            let id = required_str(input, "QueryExecutionId")?;
            let executions = athena.executions();
            let execution = executions.get(id).ok_or_else(|| not_found(id))?;
            Ok(json!({ "QueryExecution": render_execution(execution) }))
        }
        "GetQueryResults" => get_query_results(athena, input),
        "StopQueryExecution" => {
            let id = required_str(input, "QueryExecutionId")?;
            if !athena.executions().cancel(id) {
                return Err(not_found(id));
            }
            Ok(json!({}))
        }
        "ListQueryExecutions" => list_query_executions(athena, input),
        "BatchGetQueryExecution" => batch_get_query_execution(athena, input),
        "GetWorkGroup" => {
            let workgroup = athena.workgroup(required_str(input, "WorkGroup")?)?;
            Ok(json!({ "WorkGroup": render_workgroup(athena, workgroup) }))
        }
        "ListWorkGroups" => Ok(
            json!({ "WorkGroups": athena.workgroups().iter().map(|w| json!({
            "Name": w.name,
            "State": "ENABLED",
            "Description": w.description,
            "CreationTime": epoch_seconds(athena.created()),
            "EngineVersion": { "SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": ENGINE_VERSION },
        })).collect::<Vec<_>>() }),
        ),
        "ListDataCatalogs" => Ok(json!({ "DataCatalogsSummary": [
            { "CatalogName": "AwsDataCatalog", "Type": "GLUE", "Status": "CREATE_COMPLETE" }
        ] })),
        "GetDataCatalog" => {
            check_catalog(required_str(input, "Name")?)?;
            Ok(json!({ "DataCatalog": {
                "Name": "AwsDataCatalog", "Type": "GLUE", "Description": "AWS Glue Data Catalog",
                "Parameters": { "catalog-id": athena.engine().catalog().account_id() },
                "Status": "CREATE_COMPLETE",
            } }))
        }
        "ListDatabases" => list_databases(athena, input).await,
        "GetDatabase" => {
            check_catalog(required_str(input, "CatalogName")?)?;
            let name = required_str(input, "DatabaseName")?;
            let databases = athena
                .engine()
                .catalog()
                .databases()
                .await
                .map_err(metadata)?;
            let database = databases
                .iter()
                .find(|d| {
                    d["Name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
                .ok_or_else(|| ApiError::Metadata(format!("Database {name} not found.")))?;
            Ok(json!({ "Database": render_database(database) }))
        }
        "ListTableMetadata" => list_table_metadata(athena, input).await,
        "GetTableMetadata" => {
            check_catalog(required_str(input, "CatalogName")?)?;
            let database = required_str(input, "DatabaseName")?;
            let name = required_str(input, "TableName")?;
            let table = athena
                .engine()
                .catalog()
                .table(database, name)
                .await
                .map_err(metadata)?
                .ok_or_else(|| {
                    ApiError::Metadata(format!("Table {name} not found in database {database}."))
                })?;
            Ok(json!({ "TableMetadata": render_table(&table) }))
        }
        other => Err(ApiError::UnknownOperation(format!(
            "The local Athena does not implement the operation '{other}'"
        ))),
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::invalid(format!("QueryExecution {id} was not found"))
}

fn metadata(e: crate::catalog::CatalogError) -> ApiError {
    ApiError::Metadata(e.to_string())
}

fn check_catalog(name: &str) -> Result<(), ApiError> {
    if name.eq_ignore_ascii_case("awsdatacatalog") {
        Ok(())
    } else {
        Err(ApiError::Metadata(format!(
            "Catalog {name} not found; the local Athena serves AwsDataCatalog"
        )))
    }
}

fn optional_str<'a>(input: &'a Value, field: &str) -> Result<Option<&'a str>, ApiError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::Serialization(format!("{field} must be a string"))),
    }
}

fn required_str<'a>(input: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    optional_str(input, field)?.ok_or_else(|| {
        ApiError::invalid(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

fn max_results(input: &Value, min: usize, max: usize, default: usize) -> Result<usize, ApiError> {
    match input.get("MaxResults") {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_u64() {
            Some(n) if (min as u64..=max as u64).contains(&n) => Ok(n as usize),
            _ => Err(ApiError::invalid(format!(
                "1 validation error detected: Value '{v}' at 'maxResults' failed to satisfy constraint: \
                 Member must have value between {min} and {max}"
            ))),
        },
    }
}

/// NextToken: the offset of the next item, opaque to clients.
fn offset(input: &Value) -> Result<usize, ApiError> {
    match optional_str(input, "NextToken")? {
        None => Ok(0),
        Some(token) => token
            .strip_prefix("o")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| ApiError::invalid("The NextToken is not valid")),
    }
}

fn next_token(next: usize, total: usize) -> Option<String> {
    (next < total).then(|| format!("o{next}"))
}

/// One page of a metadata listing: at most `max` items from `start`, under `list_name`, with a
/// `NextToken` when more follow.
fn page_of<T>(
    items: &[T],
    start: usize,
    max: usize,
    list_name: &str,
    render: impl Fn(&T) -> Value,
) -> Value {
    let end = start.saturating_add(max).min(items.len());
    let page: Vec<Value> = items[start.min(end)..end].iter().map(render).collect();
    let mut out = json!({ list_name: page });
    if let Some(token) = next_token(end, items.len()) {
        out["NextToken"] = json!(token);
    }
    out
}

fn start_query_execution(athena: &Athena, input: &Value) -> Result<Value, ApiError> {
    let query = required_str(input, "QueryString")?;
    if query.is_empty() || query.chars().count() > 262_144 {
        return Err(ApiError::invalid(
            "1 validation error detected: Value at 'queryString' failed to satisfy constraint: \
             Member must have length between 1 and 262144",
        ));
    }
    let token = optional_str(input, "ClientRequestToken")?;
    if token.is_some_and(|t| !(32..=128).contains(&t.chars().count())) {
        return Err(ApiError::invalid(
            "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: \
             Member must have length between 32 and 128",
        ));
    }
    let context = input
        .get("QueryExecutionContext")
        .cloned()
        .unwrap_or(Value::Null);
    let result_config = input
        .get("ResultConfiguration")
        .cloned()
        .unwrap_or(Value::Null);
    let request = StartRequest {
        query: query.to_owned(),
        token: token.map(str::to_owned),
        database: optional_str(&context, "Database")?.map(str::to_owned),
        catalog: optional_str(&context, "Catalog")?.map(str::to_owned),
        workgroup: optional_str(input, "WorkGroup")?.map(str::to_owned),
        output_location: optional_str(&result_config, "OutputLocation")?.map(str::to_owned),
    };
    let id = athena.start_query(request)?;
    Ok(json!({ "QueryExecutionId": id }))
}

fn render_execution(e: &Execution) -> Value {
    let mut status = Map::new();
    status.insert("State".into(), json!(e.state.as_str()));
    status.insert(
        "SubmissionDateTime".into(),
        json!(epoch_seconds(e.submitted)),
    );
    if let Some(completed) = e.completed {
        status.insert("CompletionDateTime".into(), json!(epoch_seconds(completed)));
    }
    if let Some(failure) = &e.failure {
        status.insert("StateChangeReason".into(), json!(failure.reason()));
        if e.state == QueryState::Failed {
            status.insert(
                "AthenaError".into(),
                json!({
                    "ErrorCategory": failure.category,
                    "ErrorType": athena_error_type(failure.error_type),
                    "Retryable": false,
                    "ErrorMessage": failure.reason(),
                }),
            );
        }
    }
    let mut statistics = json!({
        "EngineExecutionTimeInMillis": e.engine_ms,
        "DataScannedInBytes": e.bytes_scanned,
        "TotalExecutionTimeInMillis": e.total_ms,
        "QueryQueueTimeInMillis": 0,
        "ServicePreProcessingTimeInMillis": 0,
        "QueryPlanningTimeInMillis": 0,
        "ServiceProcessingTimeInMillis": 0,
        "ResultReuseInformation": { "ReusedPreviousResult": false },
    });
    if let Some(manifest) = &e.manifest {
        statistics["DataManifestLocation"] = json!(manifest);
    }
    let mut context = Map::new();
    if let Some(database) = &e.parameters.database {
        context.insert("Database".into(), json!(database));
    }
    context.insert("Catalog".into(), json!(e.parameters.catalog.to_lowercase()));
    json!({
        "QueryExecutionId": e.id,
        "Query": e.parameters.query,
        "StatementType": e.statement_type.as_str(),
        "ResultConfiguration": { "OutputLocation": e.output_location },
        "ResultReuseConfiguration": { "ResultReuseByAgeConfiguration": { "Enabled": false } },
        "QueryExecutionContext": context,
        "Status": status,
        "Statistics": statistics,
        "WorkGroup": e.parameters.workgroup,
        "EngineVersion": { "SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": ENGINE_VERSION },
        "SubstatementType": substatement(&e.parameters.query),
    })
}

/// Athena's numeric ErrorType: 1xxx system, 1100 user query errors (we use the generic ones).
fn athena_error_type(error_type: &str) -> u32 {
    match error_type {
        "GENERIC_INTERNAL_ERROR" => 401,
        "USER_CANCELLED" => 1100,
        "TABLE_NOT_FOUND" | "COLUMN_NOT_FOUND" | "SCHEMA_NOT_FOUND" | "SYNTAX_ERROR" => 1301,
        _ => 1000,
    }
}

fn substatement(query: &str) -> &'static str {
    let first = query
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    match first.as_str() {
        "SELECT" | "WITH" | "VALUES" | "(" => "SELECT",
        "SHOW" => "SHOW",
        "DESCRIBE" | "DESC" => "DESCRIBE_TABLE",
        "MSCK" => "REPAIR_TABLE",
        "DROP" => "DROP_TABLE",
        "CREATE" => "CREATE_TABLE_AS_SELECT",
        "EXPLAIN" => "EXPLAIN",
        _ => "UNKNOWN",
    }
}

fn get_query_results(athena: &Athena, input: &Value) -> Result<Value, ApiError> {
    let id = required_str(input, "QueryExecutionId")?;
    let max = max_results(input, 1, MAX_RESULTS_PAGE, MAX_RESULTS_PAGE)?;
    let start = offset(input)?;
    let (state, result) = {
        let executions = athena.executions();
        let e = executions.get(id).ok_or_else(|| not_found(id))?;
        (e.state, e.result.clone())
    };
    let result = match (state, result) {
        (QueryState::Succeeded, Some(result)) => result,
        (QueryState::Queued | QueryState::Running, _) => {
            return Err(ApiError::invalid(format!(
                "Query has not yet finished. Current state: {}",
                state.as_str()
            )))
        }
        _ => {
            return Err(ApiError::invalid(format!(
                "Query did not finish successfully. Final query state: {}",
                state.as_str()
            )))
        }
    };
    let total = result.wire_row_count();
    let end = start.saturating_add(max).min(total);
    let rows: Vec<Value> = (start.min(end)..end)
        .map(|i| {
            let data: Vec<Value> = result
                .wire_row(i)
                .into_iter()
                .map(|v| match v {
                    Some(text) => json!({ "VarCharValue": text }),
                    None => json!({}),
                })
                .collect();
            json!({ "Data": data })
        })
        .collect();
    let columns: Vec<Value> = result
        .columns
        .iter()
        .map(|c| {
            json!({
                "CatalogName": "hive", "SchemaName": "", "TableName": "",
                "Name": c.name, "Label": c.name, "Type": c.type_name,
                "Precision": c.precision, "Scale": c.scale,
                "Nullable": "UNKNOWN", "CaseSensitive": c.type_name == "varchar",
            })
        })
        .collect();
    let mut out = json!({
        "UpdateCount": result.update_count,
        "ResultSet": { "Rows": rows, "ResultSetMetadata": { "ColumnInfo": columns } },
    });
    if let Some(token) = next_token(end, total) {
        out["NextToken"] = json!(token);
    }
    Ok(out)
}

fn list_query_executions(athena: &Athena, input: &Value) -> Result<Value, ApiError> {
    let workgroup = athena.workgroup(optional_str(input, "WorkGroup")?.unwrap_or("primary"))?;
    let max = max_results(input, 0, MAX_EXECUTIONS_PAGE, MAX_EXECUTIONS_PAGE)?;
    let start = offset(input)?;
    let ids = athena.executions().ids_in(&workgroup.name);
    let end = start.saturating_add(max).min(ids.len());
    let mut out = json!({ "QueryExecutionIds": ids[start.min(end)..end] });
    if let Some(token) = next_token(end, ids.len()) {
        out["NextToken"] = json!(token);
    }
    Ok(out)
}

fn batch_get_query_execution(athena: &Athena, input: &Value) -> Result<Value, ApiError> {
    let ids: Vec<&str> = input
        .get("QueryExecutionIds")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::invalid("QueryExecutionIds is required"))?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if ids.is_empty() || ids.len() > MAX_EXECUTIONS_PAGE {
        return Err(ApiError::invalid(
            "1 validation error detected: Value at 'queryExecutionIds' failed to satisfy constraint: \
             Member must have length between 1 and 50",
        ));
    }
    let executions = athena.executions();
    let mut found = Vec::new();
    let mut unprocessed = Vec::new();
    for id in ids {
        match executions.get(id) {
            Some(e) => found.push(render_execution(e)),
            None => unprocessed.push(json!({
                "QueryExecutionId": id,
                "ErrorCode": "INVALID_INPUT",
                "ErrorMessage": format!("QueryExecution {id} was not found"),
            })),
        }
    }
    Ok(json!({ "QueryExecutions": found, "UnprocessedQueryExecutionIds": unprocessed }))
}

fn render_workgroup(athena: &Athena, w: &crate::WorkGroup) -> Value {
    json!({
        "Name": w.name,
        "State": "ENABLED",
        "Description": w.description,
        "CreationTime": epoch_seconds(athena.created()),
        "Configuration": {
            "ResultConfiguration": { "OutputLocation": w.output_location },
            "EnforceWorkGroupConfiguration": w.enforce_configuration,
            "PublishCloudWatchMetricsEnabled": false,
            "RequesterPaysEnabled": false,
            "EngineVersion": { "SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": ENGINE_VERSION },
        },
    })
}

fn render_database(d: &Value) -> Value {
    let mut out = json!({ "Name": d["Name"] });
    if let Some(description) = d.get("Description") {
        out["Description"] = description.clone();
    }
    if let Some(parameters) = d.get("Parameters") {
        out["Parameters"] = parameters.clone();
    }
    out
}

async fn list_databases(athena: &Athena, input: &Value) -> Result<Value, ApiError> {
    check_catalog(required_str(input, "CatalogName")?)?;
    let max = max_results(input, 1, 50, 50)?;
    let start = offset(input)?;
    let databases = athena
        .engine()
        .catalog()
        .databases()
        .await
        .map_err(metadata)?;
    Ok(page_of(
        &databases,
        start,
        max,
        "DatabaseList",
        render_database,
    ))
}

fn render_columns(columns: &[crate::catalog::ColumnDef]) -> Vec<Value> {
    columns
        .iter()
        .map(|c| {
            let mut v = json!({ "Name": c.name, "Type": c.type_name });
            if let Some(comment) = &c.comment {
                v["Comment"] = json!(comment);
            }
            v
        })
        .collect()
}

/// Athena's TableMetadata: columns, partition keys, and parameters that include the storage
/// (location, formats, SerDe) as Athena lists them.
fn render_table(t: &TableDef) -> Value {
    let mut parameters: Map<String, Value> = t
        .parameters
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    parameters.insert("location".into(), json!(t.location));
    parameters.insert("inputformat".into(), json!(t.input_format));
    parameters.insert("outputformat".into(), json!(t.output_format));
    parameters.insert("serde.serialization.lib".into(), json!(t.serde_library));
    for (k, v) in &t.serde_parameters {
        parameters.insert(format!("serde.param.{k}"), json!(v));
    }
    let mut out = json!({
        "Name": t.name,
        "TableType": t.table_type,
        "Columns": render_columns(&t.columns),
        "PartitionKeys": render_columns(&t.partition_keys),
        "Parameters": parameters,
    });
    if let Some(created) = t.create_time {
        out["CreateTime"] = json!(created);
    }
    out
}

async fn list_table_metadata(athena: &Athena, input: &Value) -> Result<Value, ApiError> {
    check_catalog(required_str(input, "CatalogName")?)?;
    let database = required_str(input, "DatabaseName")?;
    let max = max_results(input, 1, 50, 50)?;
    let start = offset(input)?;
    let catalog = athena.engine().catalog();
    if !catalog.database_exists(database).await.map_err(metadata)? {
        return Err(ApiError::Metadata(format!(
            "Database {database} not found."
        )));
    }
    let pattern = optional_str(input, "Expression")?
        .map(|e| regex::Regex::new(&format!("(?i)^(?:{})$", e.replace('*', ".*"))))
        .transpose()
        .map_err(|e| ApiError::invalid(format!("Expression is not a valid pattern: {e}")))?;
    let tables: Vec<TableDef> = catalog
        .tables(database)
        .await
        .map_err(metadata)?
        .into_iter()
        .filter(|t| pattern.as_ref().is_none_or(|p| p.is_match(&t.name)))
        .collect();
    Ok(page_of(
        &tables,
        start,
        max,
        "TableMetadataList",
        render_table,
    ))
}
