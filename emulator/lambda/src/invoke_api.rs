//! The Lambda control-plane routes the emulator serves (restJson1, `/2015-03-31/...`):
//! Invoke, ListFunctions, GetFunction, GetFunctionConfiguration, ListEventSourceMappings.
//!
//! Invoke (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html): `RequestResponse`
//! answers 200 with the function's payload; a function error is still 200, with
//! `X-Amz-Function-Error: Unhandled` and the error document as payload. `Event` answers 202 and
//! runs in the background; `DryRun` answers 204. `X-Amz-Log-Type: Tail` adds the base64 of the
//! last 4 KB of the invocation's log as `X-Amz-Log-Result`. Errors use the restJson1 shape: the
//! `x-amzn-errortype` header plus `{"Type":"User","message":...}`
//! (e.g. ResourceNotFoundException, 404).

use axum::body::Body;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::function::Function;
use crate::instance::InvocationResult;
use crate::runtime_api::MAX_RESPONSE_BYTES;
use crate::Lambda;

/// The API version prefix of every Lambda control-plane path.
pub const API_PREFIX: &str = "/2015-03-31/";

/// Serves one control-plane request.
pub async fn handle(lambda: &Lambda, req: Request<Bytes>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return unknown_operation(req.method(), &path);
    };
    let segments: Vec<String> = rest
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method().clone();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["functions"] | ["functions", ""]) => list_functions(lambda),
        (&Method::GET, ["event-source-mappings"] | ["event-source-mappings", ""]) => {
            list_event_source_mappings(lambda, req.uri().query())
        }
        (&Method::GET, ["functions", name]) => {
            with_function(lambda, name, req.uri().query(), |f| {
                json_response(
                    StatusCode::OK,
                    &json!({
                        "Configuration": configuration(lambda, f),
                        "Code": {"RepositoryType": "Local", "Location": f.spec.command.join(" ")},
                        "Tags": {},
                    }),
                )
            })
        }
        (&Method::GET, ["functions", name, "configuration"]) => {
            with_function(lambda, name, req.uri().query(), |f| {
                json_response(StatusCode::OK, &configuration(lambda, f))
            })
        }
        (&Method::POST, ["functions", name, "invocations"]) => invoke(lambda, name, req).await,
        _ => unknown_operation(&method, &path),
    }
}

/// How the caller wants the function run (`X-Amz-Invocation-Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

/// An Invoke request, checked before anything runs.
#[derive(Debug)]
struct InvokeRequest {
    invocation_type: InvocationType,
    /// `X-Amz-Log-Type: Tail`.
    tail: bool,
    payload: Bytes,
}

/// Why an Invoke request is refused before anything runs: its restJson1 error.
#[derive(Debug, PartialEq, Eq)]
struct Refused {
    status: StatusCode,
    error_type: &'static str,
    message: String,
}

impl Refused {
    fn new(status: StatusCode, error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_type,
            message: message.into(),
        }
    }
}

/// Reads an Invoke request.
fn parse_invoke(req: &Request<Bytes>) -> Result<InvokeRequest, Refused> {
    let header = |h: &str| {
        req.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let payload = req.body().clone();
    let payload = if payload.iter().all(u8::is_ascii_whitespace) {
        // The CLI and SDKs send no body when no payload is given; the function gets `{}`.
        Bytes::from_static(b"{}")
    } else {
        payload
    };
    if serde_json::from_slice::<Value>(&payload).is_err() {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "Could not parse request body into json: the payload is not valid JSON",
        ));
    }
    if payload.len() > MAX_RESPONSE_BYTES {
        return Err(Refused::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            format!(
                "Request must be smaller than {MAX_RESPONSE_BYTES} bytes for the InvokeFunction operation"
            ),
        ));
    }
    let invocation_type = match header("x-amz-invocation-type") {
        "" | "RequestResponse" => InvocationType::RequestResponse,
        "Event" => InvocationType::Event,
        "DryRun" => InvocationType::DryRun,
        other => {
            return Err(Refused::new(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                format!("Invalid InvocationType: {other}"),
            ))
        }
    };
    Ok(InvokeRequest {
        invocation_type,
        tail: header("x-amz-log-type").eq_ignore_ascii_case("tail"),
        payload,
    })
}

async fn invoke(lambda: &Lambda, name: &str, req: Request<Bytes>) -> Response<Body> {
    let Some(function) = resolve(lambda, name, req.uri().query()) else {
        return not_found(lambda, name);
    };
    let request = match parse_invoke(&req) {
        Ok(request) => request,
        Err(refused) => return error(refused.status, refused.error_type, &refused.message),
    };
    match request.invocation_type {
        InvocationType::RequestResponse => {
            let result = function.invoke(request.payload).await;
            invocation_response(&result, request.tail)
        }
        InvocationType::Event => {
            tokio::spawn(async move {
                let result = function.invoke(request.payload).await;
                if let Some(kind) = result.failure {
                    tracing::warn!(function = %function.spec.name, request_id = %result.request_id,
                        error_type = %kind.error_type(), "asynchronous invocation failed");
                }
            });
            empty(StatusCode::ACCEPTED, &uuid::Uuid::new_v4().to_string())
        }
        InvocationType::DryRun => empty(StatusCode::NO_CONTENT, &uuid::Uuid::new_v4().to_string()),
    }
}

/// The answer to a `RequestResponse` invocation: 200 with the payload, even for a function
/// error (then flagged by `X-Amz-Function-Error`).
fn invocation_response(result: &InvocationResult, tail: bool) -> Response<Body> {
    let mut response = Response::new(Body::from(result.payload.clone()));
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    if let Ok(id) = HeaderValue::from_str(&result.request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    if result.failure.is_some() {
        headers.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    if tail {
        let encoded = base64::engine::general_purpose::STANDARD.encode(result.log_tail.as_bytes());
        if let Ok(value) = HeaderValue::from_str(&encoded) {
            headers.insert("x-amz-log-result", value);
        }
    }
    response
}

fn list_functions(lambda: &Lambda) -> Response<Body> {
    let functions: Vec<Value> = lambda
        .functions()
        .iter()
        .map(|f| configuration(lambda, f))
        .collect();
    json_response(StatusCode::OK, &json!({ "Functions": functions }))
}

fn list_event_source_mappings(lambda: &Lambda, query: Option<&str>) -> Response<Body> {
    let wanted = query_param(query, "FunctionName");
    let mappings: Vec<Value> = lambda
        .functions()
        .iter()
        .filter(|f| {
            wanted.as_deref().is_none_or(|w| {
                w == f.spec.name || w == f.arn || w.ends_with(&format!(":{}", f.spec.name))
            })
        })
        .filter_map(|f| {
            let trigger = f.spec.sqs_trigger.as_ref()?;
            Some(json!({
                "UUID": f.mapping_uuid,
                "BatchSize": trigger.batch_size,
                "MaximumBatchingWindowInSeconds": trigger.maximum_batching_window_seconds,
                "EventSourceArn": lambda.sqs().queue_arn(trigger.queue_name()),
                "FunctionArn": f.arn,
                "State": if trigger.enabled { "Enabled" } else { "Disabled" },
                "StateTransitionReason": "USER_INITIATED",
                "FunctionResponseTypes": if trigger.report_batch_item_failures {
                    vec!["ReportBatchItemFailures"]
                } else {
                    Vec::new()
                },
                "ScalingConfig": {"MaximumConcurrency": trigger.maximum_concurrency},
            }))
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "EventSourceMappings": mappings }))
}

/// FunctionConfiguration (https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html).
fn configuration(lambda: &Lambda, f: &Function) -> Value {
    json!({
        "FunctionName": f.spec.name,
        "FunctionArn": f.arn,
        "Runtime": "provided.al2023",
        "Role": format!("arn:aws:iam::{}:role/{}-role", lambda.account_id(), f.spec.name),
        "Handler": f.spec.handler_name(),
        "CodeSize": 0,
        "Description": format!("local process: {}", f.spec.command.join(" ")),
        "Timeout": f.spec.timeout_seconds,
        "MemorySize": f.spec.memory_size_mb,
        "LastModified": f.last_modified,
        "CodeSha256": "",
        "Version": "$LATEST",
        "Environment": {"Variables": f.spec.environment},
        "TracingConfig": {"Mode": "PassThrough"},
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": [std::env::consts::ARCH.replace("aarch64", "arm64")],
        "EphemeralStorage": {"Size": 512},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{}", f.spec.name)},
    })
}

fn with_function(
    lambda: &Lambda,
    name: &str,
    query: Option<&str>,
    respond: impl FnOnce(&Function) -> Response<Body>,
) -> Response<Body> {
    match resolve(lambda, name, query) {
        Some(function) => respond(&function),
        None => not_found(lambda, name),
    }
}

/// A function by name, full ARN or partial ARN, at `$LATEST` (the only version there is).
fn resolve(lambda: &Lambda, name: &str, query: Option<&str>) -> Option<std::sync::Arc<Function>> {
    // `name[:qualifier]`, `123456789012:function:name[:qualifier]`, `arn:aws:lambda:r:a:function:name[:q]`.
    let parts: Vec<&str> = name.split(':').collect();
    let (base, qualifier) = match parts.iter().position(|p| *p == "function") {
        Some(i) => (parts.get(i + 1).copied()?, parts.get(i + 2).copied()),
        None => (parts[0], parts.get(1).copied()),
    };
    let qualifier = qualifier
        .map(str::to_owned)
        .or_else(|| query_param(query, "Qualifier"));
    if qualifier.is_some_and(|q| q != "$LATEST") {
        return None;
    }
    lambda.function(base)
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_pairs(query.unwrap_or_default())
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn not_found(lambda: &Lambda, name: &str) -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        &format!("Function not found: {}", lambda.function_arn(name)),
    )
}

fn unknown_operation(method: &Method, path: &str) -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        &format!("The emulator does not implement {method} {path}"),
    )
}

/// A restJson1 error: `x-amzn-errortype` names it, the body carries the message.
fn error(status: StatusCode, error_type: &'static str, message: &str) -> Response<Body> {
    let mut response = json_response(status, &json!({"Type": "User", "message": message}));
    response
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    response
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}

fn empty(status: StatusCode, request_id: &str) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    if let Ok(id) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)], body: &'static str) -> Request<Bytes> {
        let mut builder = Request::post("/2015-03-31/functions/f/invocations");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Bytes::from_static(body.as_bytes())).unwrap()
    }

    #[test]
    fn an_empty_body_is_an_empty_event() {
        let parsed = parse_invoke(&request(&[], " \n")).unwrap();
        assert_eq!(parsed.invocation_type, InvocationType::RequestResponse);
        assert_eq!(&parsed.payload[..], b"{}");
        assert!(!parsed.tail);
    }

    #[test]
    fn invocation_and_log_types_are_read() {
        let parsed = parse_invoke(&request(
            &[
                ("x-amz-invocation-type", "Event"),
                ("x-amz-log-type", "Tail"),
            ],
            r#"{"a":1}"#,
        ))
        .unwrap();
        assert_eq!(parsed.invocation_type, InvocationType::Event);
        assert!(parsed.tail);
        let dry = parse_invoke(&request(&[("x-amz-invocation-type", "DryRun")], "{}")).unwrap();
        assert_eq!(dry.invocation_type, InvocationType::DryRun);
    }

    #[test]
    fn bad_payloads_and_types_are_refused() {
        let kind = |r: Refused| (r.status, r.error_type);
        let not_json = parse_invoke(&request(&[], "{")).unwrap_err();
        assert_eq!(
            kind(not_json),
            (StatusCode::BAD_REQUEST, "InvalidRequestContentException")
        );
        let bad_type =
            parse_invoke(&request(&[("x-amz-invocation-type", "Later")], "{}")).unwrap_err();
        assert_eq!(
            kind(bad_type),
            (StatusCode::BAD_REQUEST, "InvalidParameterValueException")
        );
    }
}
