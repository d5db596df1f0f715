//! Athena's awsJson1_1 wire layer: parses each operation's request into a typed request (see
//! [`crate::requests`]), calls the service, renders the shapes of botocore's athena service-2.json. Timestamps are epoch seconds
//! (JSON numbers), as the protocol serialises them.

use axum::body::Body;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::catalog::TableDef;
use crate::errors::ApiError;
use crate::requests::{self, next_token, Page, Request};
use crate::state::{epoch_seconds, Execution, QueryState};
use crate::{Athena, ENGINE_VERSION};

pub async fn handle(athena: &Athena, req: http::Request<Bytes>) -> http::Response<Body> {
    let operation = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("AmazonAthena."))
        .unwrap_or_default()
        .to_owned();
    let span = tracing::debug_span!("athena", operation = %operation);
    let _guard = span.enter();
    let request = match requests::parse(&operation, req.body()) {
        Ok(request) => request,
        Err(error) => return error.to_response(),
    };
    // Whatever the answer shows (a started, finished or cancelled query) is on disk before it
    // is sent: with a data dir, this waits for the log's group commit; without, it is a no-op.
    let answer = match dispatch(athena, request).await {
        Ok(output) => athena.sync().await.map(|()| output),
        Err(error) => Err(error),
    };
    match answer {
        Ok(output) => http::Response::builder()
            .status(200)
            .header("content-type", "application/x-amz-json-1.1")
            .body(Body::from(output.to_string()))
            .unwrap_or_default(),
        Err(error) => error.to_response(),
    }
}

/// One arm per Athena operation. Kept as one flat table on purpose (it is over 80 lines): each
/// arm only calls the state or a renderer with its parsed request, and seeing every operation in
/// one place is what makes the API's surface reviewable.
async fn dispatch(athena: &Athena, request: Request) -> Result<Value, ApiError> {
    match request {
        Request::StartQueryExecution(start) => {
            let id = athena.start_query(start)?;
            Ok(json!({ "QueryExecutionId": id }))
        }
        Request::GetQueryExecution { id } => {
            let executions = athena.executions();
            let execution = executions.get(&id).ok_or_else(|| not_found(&id))?;
            Ok(json!({ "QueryExecution": render_execution(execution) }))
        }
        Request::GetQueryResults { id, page } => get_query_results(athena, &id, page),
        Request::StopQueryExecution { id } => {
            if !athena.cancel(&id) {
                return Err(not_found(&id));
            }
            Ok(json!({}))
        }
        Request::ListQueryExecutions { workgroup, page } => {
            list_query_executions(athena, &workgroup, page)
        }
        Request::BatchGetQueryExecution { ids } => Ok(batch_get_query_execution(athena, &ids)),
        Request::GetWorkGroup { name } => {
            let workgroup = athena.workgroup(&name)?;
            Ok(json!({ "WorkGroup": render_workgroup(athena, workgroup) }))
        }
        Request::ListWorkGroups => Ok(
            json!({ "WorkGroups": athena.workgroups().iter().map(|w| json!({
            "Name": w.name,
            "State": "ENABLED",
            "Description": w.description,
            "CreationTime": epoch_seconds(athena.created()),
            "EngineVersion": { "SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": ENGINE_VERSION },
        })).collect::<Vec<_>>() }),
        ),
        Request::ListDataCatalogs => Ok(json!({ "DataCatalogsSummary": [
            { "CatalogName": "AwsDataCatalog", "Type": "GLUE", "Status": "CREATE_COMPLETE" }
        ] })),
        Request::GetDataCatalog { name } => {
            check_catalog(&name)?;
            Ok(json!({ "DataCatalog": {
                "Name": "AwsDataCatalog", "Type": "GLUE", "Description": "AWS Glue Data Catalog",
                "Parameters": { "catalog-id": athena.engine().catalog().account_id() },
                "Status": "CREATE_COMPLETE",
            } }))
        }
        Request::ListDatabases { catalog, page } => list_databases(athena, &catalog, page).await,
        Request::GetDatabase { catalog, name } => {
            check_catalog(&catalog)?;
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
                        .is_some_and(|n| n.eq_ignore_ascii_case(&name))
                })
                .ok_or_else(|| ApiError::Metadata(format!("Database {name} not found.")))?;
            Ok(json!({ "Database": render_database(database) }))
        }
        Request::ListTableMetadata {
            catalog,
            database,
            pattern,
            page,
        } => list_table_metadata(athena, &catalog, &database, pattern.as_ref(), page).await,
        Request::GetTableMetadata {
            catalog,
            database,
            table,
        } => {
            check_catalog(&catalog)?;
            let found = athena
                .engine()
                .catalog()
                .table(&database, &table)
                .await
                .map_err(metadata)?
                .ok_or_else(|| {
                    ApiError::Metadata(format!("Table {table} not found in database {database}."))
                })?;
            Ok(json!({ "TableMetadata": render_table(&found) }))
        }
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

/// One page of a metadata listing under `list_name`, with a `NextToken` when more follow.
fn page_of<T>(items: &[T], page: Page, list_name: &str, render: impl Fn(&T) -> Value) -> Value {
    let end = page.offset.saturating_add(page.max).min(items.len());
    let shown: Vec<Value> = items[page.offset.min(end)..end]
        .iter()
        .map(render)
        .collect();
    let mut out = json!({ list_name: shown });
    if let Some(token) = next_token(end, items.len()) {
        out["NextToken"] = json!(token);
    }
    out
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
                    "ErrorType": athena_error_type(&failure.error_type),
                    "Retryable": failure.error_type == "INTERNAL_SERVICE_ERROR",
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
        "INTERNAL_SERVICE_ERROR" => 100,
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

fn get_query_results(athena: &Athena, id: &str, page: Page) -> Result<Value, ApiError> {
    let state = athena
        .executions()
        .get(id)
        .ok_or_else(|| not_found(id))?
        .state;
    let (start, max) = (page.offset, page.max);
    let result = match state {
        QueryState::Succeeded => athena.result_of(id)?,
        QueryState::Queued | QueryState::Running => {
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

fn list_query_executions(athena: &Athena, workgroup: &str, page: Page) -> Result<Value, ApiError> {
    let workgroup = athena.workgroup(workgroup)?;
    let ids = athena.executions().ids_in(&workgroup.name);
    let end = page.offset.saturating_add(page.max).min(ids.len());
    let mut out = json!({ "QueryExecutionIds": ids[page.offset.min(end)..end] });
    if let Some(token) = next_token(end, ids.len()) {
        out["NextToken"] = json!(token);
    }
    Ok(out)
}

fn batch_get_query_execution(athena: &Athena, ids: &[String]) -> Value {
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
    json!({ "QueryExecutions": found, "UnprocessedQueryExecutionIds": unprocessed })
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

async fn list_databases(athena: &Athena, catalog: &str, page: Page) -> Result<Value, ApiError> {
    check_catalog(catalog)?;
    let databases = athena
        .engine()
        .catalog()
        .databases()
        .await
        .map_err(metadata)?;
    Ok(page_of(&databases, page, "DatabaseList", render_database))
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

async fn list_table_metadata(
    athena: &Athena,
    catalog_name: &str,
    database: &str,
    pattern: Option<&regex::Regex>,
    page: Page,
) -> Result<Value, ApiError> {
    check_catalog(catalog_name)?;
    let catalog = athena.engine().catalog();
    if !catalog.database_exists(database).await.map_err(metadata)? {
        return Err(ApiError::Metadata(format!(
            "Database {database} not found."
        )));
    }
    let tables: Vec<TableDef> = catalog
        .tables(database)
        .await
        .map_err(metadata)?
        .into_iter()
        .filter(|t| pattern.is_none_or(|p| p.is_match(&t.name)))
        .collect();
    Ok(page_of(&tables, page, "TableMetadataList", render_table))
}
