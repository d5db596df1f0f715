//! awsJson1_0 wire encoding (what current SDKs speak).
//!
//! Request: `POST /`, `x-amz-target: AmazonSQS.<Op>`, JSON body with the API member names.
//! Success: 200 with a JSON body. Error: JSON `{"__type": <shape id>, "message": ...}` plus the
//! header `x-amzn-query-error: <legacy code>;Sender`
//! (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-api-responses.html).

use axum::body::Body;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

use crate::errors::{ErrorCode, SqsError};

const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// Decodes the request body; an empty body is an empty input.
pub fn parse_input(body: &[u8]) -> Result<Value, SqsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(SqsError::new(
            ErrorCode::MalformedRequest,
            "The request body must be a JSON object.",
        )),
        Err(err) => Err(SqsError::new(
            ErrorCode::MalformedRequest,
            format!("The request body is not valid JSON: {err}"),
        )),
    }
}

/// Encodes an operation's result.
pub fn response(request_id: &str, result: Result<Value, SqsError>) -> Response<Body> {
    let (status, body, query_error) = match result {
        Ok(value) => (StatusCode::OK, value, None),
        Err(err) => (
            StatusCode::from_u16(err.code.status()).unwrap_or(StatusCode::BAD_REQUEST),
            json!({"__type": err.code.json_type(), "message": err.message}),
            Some(format!("{};{}", err.code.query_code(), err.code.fault())),
        ),
    };
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", value);
    }
    if let Some(value) = query_error.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert("x-amzn-query-error", value);
    }
    response
}
