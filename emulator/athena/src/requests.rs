//! Athena's requests, parsed: the operation (from `X-Amz-Target: AmazonAthena.<Op>`) and its
//! awsJson1_1 body become one typed [`Request`] before anything touches state. Every rejection
//! is a client error in Athena's shape ([`ApiError`]: `SerializationException` for a body that
//! is not the operation's JSON, `InvalidRequestException` for a value out of its constraints,
//! `UnknownOperationException` for an operation this emulator does not serve). Constraints are
//! botocore's athena service-2.json (lengths and ranges quoted in each message).

use serde_json::{json, Value};

use crate::errors::ApiError;
use crate::StartRequest;

/// GetQueryResults MaxResults: 1..=1000.
pub const MAX_RESULTS_PAGE: usize = 1000;
/// ListQueryExecutions and BatchGetQueryExecution: at most 50.
pub const MAX_EXECUTIONS_PAGE: usize = 50;
/// QueryString: 1..=262144 characters.
const MAX_QUERY_CHARS: usize = 262_144;

/// A listing's page: at most `max` items from `offset` (the decoded NextToken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub max: usize,
}

#[derive(Debug, Clone)]
pub enum Request {
    StartQueryExecution(StartRequest),
    GetQueryExecution {
        id: String,
    },
    GetQueryResults {
        id: String,
        page: Page,
    },
    StopQueryExecution {
        id: String,
    },
    ListQueryExecutions {
        workgroup: String,
        page: Page,
    },
    BatchGetQueryExecution {
        ids: Vec<String>,
    },
    GetWorkGroup {
        name: String,
    },
    ListWorkGroups,
    ListDataCatalogs,
    GetDataCatalog {
        name: String,
    },
    ListDatabases {
        catalog: String,
        page: Page,
    },
    GetDatabase {
        catalog: String,
        name: String,
    },
    ListTableMetadata {
        catalog: String,
        database: String,
        /// `Expression`, a regex over table names (compiled, case-insensitive).
        pattern: Option<regex::Regex>,
        page: Page,
    },
    GetTableMetadata {
        catalog: String,
        database: String,
        table: String,
    },
}

/// Parses `body` as the input of `operation` (an empty body is `{}`).
pub fn parse(operation: &str, body: &[u8]) -> Result<Request, ApiError> {
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return Err(ApiError::Serialization(
                    "the request body is not a JSON object".into(),
                ))
            }
        }
    };
    parse_input(operation, &input)
}

/// One arm per operation: each only reads its fields.
fn parse_input(operation: &str, input: &Value) -> Result<Request, ApiError> {
    let id = || required_str(input, "QueryExecutionId").map(str::to_owned);
    Ok(match operation {
        "StartQueryExecution" => Request::StartQueryExecution(start_request(input)?),
        "GetQueryExecution" => Request::GetQueryExecution { id: id()? },
        "GetQueryResults" => Request::GetQueryResults {
            id: id()?,
            page: page(input, 1, MAX_RESULTS_PAGE)?,
        },
        "StopQueryExecution" => Request::StopQueryExecution { id: id()? },
        "ListQueryExecutions" => Request::ListQueryExecutions {
            workgroup: optional_str(input, "WorkGroup")?
                .unwrap_or("primary")
                .to_owned(),
            page: page(input, 0, MAX_EXECUTIONS_PAGE)?,
        },
        "BatchGetQueryExecution" => Request::BatchGetQueryExecution {
            ids: execution_ids(input)?,
        },
        "GetWorkGroup" => Request::GetWorkGroup {
            name: required_str(input, "WorkGroup")?.to_owned(),
        },
        "ListWorkGroups" => Request::ListWorkGroups,
        "ListDataCatalogs" => Request::ListDataCatalogs,
        "GetDataCatalog" => Request::GetDataCatalog {
            name: required_str(input, "Name")?.to_owned(),
        },
        "ListDatabases" => Request::ListDatabases {
            catalog: required_str(input, "CatalogName")?.to_owned(),
            page: page(input, 1, 50)?,
        },
        "GetDatabase" => Request::GetDatabase {
            catalog: required_str(input, "CatalogName")?.to_owned(),
            name: required_str(input, "DatabaseName")?.to_owned(),
        },
        "ListTableMetadata" => Request::ListTableMetadata {
            catalog: required_str(input, "CatalogName")?.to_owned(),
            database: required_str(input, "DatabaseName")?.to_owned(),
            pattern: table_pattern(input)?,
            page: page(input, 1, 50)?,
        },
        "GetTableMetadata" => Request::GetTableMetadata {
            catalog: required_str(input, "CatalogName")?.to_owned(),
            database: required_str(input, "DatabaseName")?.to_owned(),
            table: required_str(input, "TableName")?.to_owned(),
        },
        other => {
            return Err(ApiError::UnknownOperation(format!(
                "The local Athena does not implement the operation '{other}'"
            )))
        }
    })
}

fn start_request(input: &Value) -> Result<StartRequest, ApiError> {
    let query = required_str(input, "QueryString")?;
    if query.is_empty() || query.chars().count() > MAX_QUERY_CHARS {
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
    let context = structure(input, "QueryExecutionContext")?;
    let result_config = structure(input, "ResultConfiguration")?;
    Ok(StartRequest {
        query: query.to_owned(),
        token: token.map(str::to_owned),
        database: optional_str(&context, "Database")?.map(str::to_owned),
        catalog: optional_str(&context, "Catalog")?.map(str::to_owned),
        workgroup: optional_str(input, "WorkGroup")?.map(str::to_owned),
        output_location: optional_str(&result_config, "OutputLocation")?.map(str::to_owned),
    })
}

/// A nested structure member: absent or null is empty; anything but an object is rejected.
fn structure(input: &Value, field: &str) -> Result<Value, ApiError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(json!({})),
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        Some(_) => Err(ApiError::Serialization(format!(
            "{field} must be a structure"
        ))),
    }
}

fn execution_ids(input: &Value) -> Result<Vec<String>, ApiError> {
    let ids = match input.get("QueryExecutionIds") {
        Some(Value::Array(ids)) => ids,
        None | Some(Value::Null) => return Err(ApiError::invalid("QueryExecutionIds is required")),
        Some(_) => {
            return Err(ApiError::Serialization(
                "QueryExecutionIds must be a list of strings".into(),
            ))
        }
    };
    if ids.is_empty() || ids.len() > MAX_EXECUTIONS_PAGE {
        return Err(ApiError::invalid(
            "1 validation error detected: Value at 'queryExecutionIds' failed to satisfy constraint: \
             Member must have length between 1 and 50",
        ));
    }
    ids.iter()
        .map(|id| match id {
            Value::String(s) => Ok(s.clone()),
            _ => Err(ApiError::Serialization(
                "QueryExecutionIds must be a list of strings".into(),
            )),
        })
        .collect()
}

fn table_pattern(input: &Value) -> Result<Option<regex::Regex>, ApiError> {
    let Some(expression) = optional_str(input, "Expression")? else {
        return Ok(None);
    };
    // Expression: "a regex filter that pattern-matches table names" of at most 256 characters
    // (service-2.json ExpressionString); `*` alone also matches anything, as in Athena's console.
    if expression.chars().count() > 256 {
        return Err(ApiError::invalid(
            "1 validation error detected: Value at 'expression' failed to satisfy constraint: \
             Member must have length less than or equal to 256",
        ));
    }
    regex::Regex::new(&format!("(?i)^(?:{})$", expression.replace('*', ".*")))
        .map(Some)
        .map_err(|e| ApiError::invalid(format!("Expression is not a valid pattern: {e}")))
}

pub fn optional_str<'a>(input: &'a Value, field: &str) -> Result<Option<&'a str>, ApiError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::Serialization(format!("{field} must be a string"))),
    }
}

pub fn required_str<'a>(input: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    optional_str(input, field)?.ok_or_else(|| {
        ApiError::invalid(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// MaxResults (`min..=max`, default `max`) and NextToken (the offset of the next item, opaque
/// to clients: `o<offset>`).
fn page(input: &Value, min: usize, max: usize) -> Result<Page, ApiError> {
    let max = match input.get("MaxResults") {
        None | Some(Value::Null) => max,
        Some(v) => match v.as_u64() {
            Some(n) if (min as u64..=max as u64).contains(&n) => n as usize,
            _ => {
                return Err(ApiError::invalid(format!(
                "1 validation error detected: Value '{v}' at 'maxResults' failed to satisfy constraint: \
                 Member must have value between {min} and {max}"
            )))
            }
        },
    };
    let offset = match optional_str(input, "NextToken")? {
        None => 0,
        Some(token) => token
            .strip_prefix('o')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| ApiError::invalid("The NextToken is not valid"))?,
    };
    Ok(Page { offset, max })
}

/// `NextToken` for a page that ended at `next` of `total` items.
pub fn next_token(next: usize, total: usize) -> Option<String> {
    (next < total).then(|| format!("o{next}"))
}

#[cfg(test)]
mod properties;
