//! awsJson1_1 wire protocol: `POST /` with `x-amz-target: AWSGlue.<Operation>` and a JSON body;
//! replies are JSON with `content-type: application/x-amz-json-1.1`, errors carry `__type` and
//! `Message` plus the `x-amzn-errortype` header (see errors.rs for how the SDK reads them).
//!
//! Also the request-field readers and the paging helper every operation family shares.

use std::collections::BTreeMap;
use std::ops::Bound;

use axum::body::Body;
use base64::Engine as _;
use http::{header, Method, StatusCode};
use serde_json::{Map, Value};

use crate::errors::GlueError;
use crate::{databases, partitions, tables, Glue};

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const TARGET_PREFIX: &str = "AWSGlue.";

/// The response to a request that failed after it ran (see `Glue::handle`).
pub(crate) fn error_response(err: &GlueError) -> http::Response<Body> {
    respond(Err(err.clone()))
}

/// Serves one request; never panics on request data.
pub(crate) fn handle(glue: &Glue, req: http::Request<bytes::Bytes>) -> http::Response<Body> {
    respond(dispatch(glue, &req))
}

fn respond(result: Result<Value, GlueError>) -> http::Response<Body> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (status, body, error_type) = match result {
        Ok(value) => (StatusCode::OK, value, None),
        Err(err) => {
            tracing::debug!(
                code = err.code(),
                message = err.message(),
                "glue request failed"
            );
            (err.status(), err.to_body(), Some(err.code()))
        }
    };
    let mut builder = http::Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, CONTENT_TYPE)
        .header("x-amzn-requestid", request_id.as_str());
    if let Some(code) = error_type {
        builder = builder.header("x-amzn-errortype", code);
    }
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    builder.body(Body::from(bytes)).unwrap_or_else(|_| {
        let mut fallback = http::Response::new(Body::empty());
        *fallback.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}

fn dispatch(glue: &Glue, req: &http::Request<bytes::Bytes>) -> Result<Value, GlueError> {
    if req.method() != Method::POST {
        return Err(GlueError::UnknownOperation(format!(
            "Glue accepts POST only, got {}",
            req.method()
        )));
    }
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let operation = target.strip_prefix(TARGET_PREFIX).ok_or_else(|| {
        GlueError::UnknownOperation(format!(
            "Missing or foreign x-amz-target header '{target}': expected AWSGlue.<Operation>"
        ))
    })?;
    let request = Request::parse(req.body())?;
    if crate::journal::CHANGES.contains(&operation) {
        let body = Value::Object(request.body.clone());
        return glue.change(operation, body, || run(glue, operation, &request));
    }
    run(glue, operation, &request)
}

/// Re-runs a recorded change (journal replay).
pub(crate) fn replay(glue: &Glue, operation: &str, body: Value) -> Result<Value, GlueError> {
    let body = match body {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let request = Request { body };
    match operation {
        "EnsureDatabase" => databases::ensure_database(glue, request.body_value("DatabaseInput"))
            .map(|()| Value::Null),
        "EnsureTable" => tables::ensure_table(
            glue,
            request.optional_str("DatabaseName")?.unwrap_or_default(),
            request.body_value("TableInput"),
        )
        .map(|()| Value::Null),
        other => run(glue, other, &request),
    }
}

fn run(glue: &Glue, operation: &str, request: &Request) -> Result<Value, GlueError> {
    match operation {
        "CreateDatabase" => databases::create_database(glue, request),
        "GetDatabase" => databases::get_database(glue, request),
        "GetDatabases" => databases::get_databases(glue, request),
        "DeleteDatabase" => databases::delete_database(glue, request),
        "CreateTable" => tables::create_table(glue, request),
        "GetTable" => tables::get_table(glue, request),
        "GetTables" => tables::get_tables(glue, request),
        "UpdateTable" => tables::update_table(glue, request),
        "DeleteTable" => tables::delete_table(glue, request),
        "CreatePartition" => partitions::create_partition(glue, request),
        "GetPartition" => partitions::get_partition(glue, request),
        "UpdatePartition" => partitions::update_partition(glue, request),
        "DeletePartition" => partitions::delete_partition(glue, request),
        "BatchCreatePartition" => partitions::batch_create_partition(glue, request),
        "BatchGetPartition" => partitions::batch_get_partition(glue, request),
        "BatchDeletePartition" => partitions::batch_delete_partition(glue, request),
        "GetPartitions" => partitions::get_partitions(glue, request),
        other => Err(GlueError::UnknownOperation(format!(
            "Operation {other} is not supported by this Glue emulator"
        ))),
    }
}

/// A parsed JSON request body with typed field readers. Missing required members are
/// `ValidationException`s and members of the wrong JSON type `SerializationException`s, as AWS.
pub(crate) struct Request {
    body: Map<String, Value>,
}

impl Request {
    pub fn parse(bytes: &[u8]) -> Result<Self, GlueError> {
        // The SDKs send `{}` for empty inputs; tolerate an empty body as well.
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Request { body: Map::new() });
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(body)) => Ok(Request { body }),
            Ok(_) => Err(GlueError::Serialization(
                "Request body must be a JSON object".into(),
            )),
            Err(e) => Err(GlueError::Serialization(format!(
                "Request body is not valid JSON: {e}"
            ))),
        }
    }

    /// A member as a JSON value (`null` when absent).
    fn body_value(&self, field: &str) -> Value {
        self.body.get(field).cloned().unwrap_or(Value::Null)
    }

    fn present(&self, field: &str) -> Option<&Value> {
        self.body.get(field).filter(|v| !v.is_null())
    }

    /// A member of any JSON type, `None` when absent or null.
    pub fn optional_value(&self, field: &str) -> Option<&Value> {
        self.present(field)
    }

    pub fn required_str(&self, field: &str) -> Result<&str, GlueError> {
        self.optional_str(field)?.ok_or_else(|| missing(field))
    }

    pub fn optional_str(&self, field: &str) -> Result<Option<&str>, GlueError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong_type(field, "a string")),
        }
    }

    pub fn required_object(&self, field: &str) -> Result<Map<String, Value>, GlueError> {
        match self.present(field) {
            None => Err(missing(field)),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(_) => Err(wrong_type(field, "an object")),
        }
    }

    pub fn required_array(&self, field: &str) -> Result<&[Value], GlueError> {
        match self.present(field) {
            None => Err(missing(field)),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(wrong_type(field, "a list")),
        }
    }

    /// `MaxResults` within `1..=max` (AWS: ValidationException outside), `max` when absent.
    pub fn max_results(&self, max: usize) -> Result<usize, GlueError> {
        match self.present("MaxResults") {
            None => Ok(max),
            Some(v) => match v.as_i64() {
                Some(n) if n >= 1 && n as u64 <= max as u64 => Ok(n as usize),
                Some(n) => Err(GlueError::Validation(format!(
                    "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy \
                     constraint: Member must have value between 1 and {max}"
                ))),
                None => Err(wrong_type("MaxResults", "an integer")),
            },
        }
    }

    /// The decoded `NextToken`, if any.
    pub fn next_token(&self) -> Result<Option<Value>, GlueError> {
        match self.optional_str("NextToken")? {
            None | Some("") => Ok(None),
            Some(token) => decode_token(token).map(Some),
        }
    }
}

fn missing(field: &str) -> GlueError {
    GlueError::Validation(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: \
         Member must not be null",
        lower_camel(field)
    ))
}

fn wrong_type(field: &str, expected: &str) -> GlueError {
    GlueError::Serialization(format!("{field} must be {expected}"))
}

fn lower_camel(field: &str) -> String {
    let mut chars = field.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Reads a JSON list of strings (partition values).
pub(crate) fn string_list(value: &Value, field: &str) -> Result<Vec<String>, GlueError> {
    let items = value
        .as_array()
        .ok_or_else(|| wrong_type(field, "a list of strings"))?;
    items
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| wrong_type(field, "a list of strings"))
        })
        .collect()
}

/// Paging tokens are opaque to clients: base64 of the JSON key of the last item returned, so a
/// page resumes strictly after it and items added or removed meanwhile do not shift the pages.
pub(crate) fn encode_token(last_key: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(last_key.to_string())
}

fn decode_token(token: &str) -> Result<Value, GlueError> {
    let invalid = || GlueError::InvalidInput(format!("Invalid NextToken: {token}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}

/// One page of `map` in key order: items strictly after `after` that pass `keep`, at most
/// `limit` of them, plus the token for the next page when more matching items remain.
pub(crate) fn paginate<K, T>(
    map: &BTreeMap<K, T>,
    after: Option<&K>,
    limit: usize,
    mut keep: impl FnMut(&K, &T) -> bool,
    mut render: impl FnMut(&K, &T) -> Value,
    token_of: impl Fn(&K) -> Value,
) -> (Vec<Value>, Option<String>)
where
    K: Ord,
{
    let start = after.map_or(Bound::Unbounded, Bound::Excluded);
    let mut matching = map
        .range((start, Bound::Unbounded))
        .filter(|(k, v)| keep(k, v));
    let mut page = Vec::new();
    let mut last = None;
    for (key, item) in matching.by_ref().take(limit) {
        page.push(render(key, item));
        last = Some(key);
    }
    let more = matching.next().is_some();
    let token = match (more, last) {
        (true, Some(key)) => Some(encode_token(&token_of(key))),
        _ => None,
    };
    (page, token)
}
