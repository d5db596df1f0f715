//! One-port dispatch: decides which service a request is for and hands it over.
//!
//! The SDKs tell us the service without ambiguity for the JSON protocols (`X-Amz-Target:
//! AmazonSQS.*` / `AWSGlue.*` / `AmazonAthena.*`). The SQS query protocol is a form POST
//! carrying `Action=`.
//! Everything else is S3 (REST-XML), which s3s parses; S3's own form POST (browser upload) is
//! `multipart/form-data`, so it never collides with the SQS query protocol.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::limits::{self, RpcBody};
use crate::server::Services;

/// Which service a request belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Sqs(String),
    Glue(String),
    Athena(String),
    /// Form POST that still needs its body read to know if it is SQS's query protocol.
    MaybeSqsQuery,
    /// A JSON-protocol request naming no service of this server (unknown or missing
    /// `X-Amz-Target`); the string says why.
    UnknownJson(String),
    S3,
}

/// Classifies a request from its method and headers alone.
pub fn classify(method: &Method, headers: &HeaderMap) -> Target {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        if let Some(op) = target.strip_prefix("AmazonSQS.") {
            return Target::Sqs(op.to_owned());
        }
        if let Some(op) = target.strip_prefix("AWSGlue.") {
            return Target::Glue(op.to_owned());
        }
        if let Some(op) = target.strip_prefix("AmazonAthena.") {
            return Target::Athena(op.to_owned());
        }
        return Target::UnknownJson(format!(
            "X-Amz-Target '{target}' names no operation of this server: it serves AmazonSQS.*, \
             AWSGlue.* and AmazonAthena.* (and S3 and Lambda over REST)"
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/x-amz-json") {
        return Target::UnknownJson(
            "A JSON-protocol request needs an X-Amz-Target header naming the operation \
             (AmazonSQS.<Op>, AWSGlue.<Op> or AmazonAthena.<Op>)"
                .to_owned(),
        );
    }
    if method == Method::POST && content_type.starts_with("application/x-www-form-urlencoded") {
        return Target::MaybeSqsQuery;
    }
    Target::S3
}

/// A form POST without `Action` to `/` or to a queue URL's path (`/<account>/<queue>`) is
/// aimed at SQS's query protocol (S3's browser POST is `multipart/form-data`), so SQS answers
/// it, in its own shape; elsewhere it stays S3's.
fn is_sqs_query_path(path: &str) -> bool {
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some(""), None, None) => true,
        (Some(account), Some(queue), None) => {
            !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit()) && !queue.is_empty()
        }
        _ => false,
    }
}

/// The JSON protocols' answer to a request that names no operation here.
fn unknown_json_operation(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amzn-errortype", "UnknownOperationException"),
        ],
        serde_json::json!({ "__type": "UnknownOperationException", "message": message })
            .to_string(),
    )
        .into_response()
}

pub fn router(services: Services) -> Router {
    Router::new()
        .route("/_emulator/health", get(crate_health))
        .merge(crate::console::api::routes())
        .merge(crate::faults::routes())
        .fallback(dispatch)
        .layer(axum::middleware::from_fn_with_state(
            services.clone(),
            crate::faults::inject,
        ))
        .with_state(services)
}

async fn crate_health(State(services): State<Services>) -> Response {
    axum::Json(health(&services)).into_response()
}

/// `GET /_emulator/health`: what is running, for scripts that wait for readiness.
pub fn health(services: &Services) -> serde_json::Value {
    serde_json::json!({
        "status": "ready",
        "region": services.region,
        "account_id": services.account_id,
        "uptime_seconds": services.started.elapsed().as_secs(),
        "services": {
            "s3": "running",
            "sqs": "running",
            "glue": services.glue.stats(),
            "athena": if services.athena.is_some() { "running" } else { "not installed" },
            "lambda": services.lambda.function_names().iter().map(|name| {
                (name.clone(), serde_json::to_value(services.lambda.stats(name)).unwrap_or_default())
            }).collect::<serde_json::Map<_, _>>(),
        }
    })
}

async fn dispatch(State(services): State<Services>, request: Request) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    if emulator_lambda::is_lambda_request(request.uri(), request.headers()) {
        let operation = format!("{method} {path}");
        let response = rpc(request, RpcBody::Lambda, |r| services.lambda.handle(r)).await;
        log_request(&services, "lambda", &operation, &response, started);
        return response;
    }
    let target = classify(&method, request.headers());
    let (service, operation, response) = match target {
        Target::Sqs(op) => {
            let kind = RpcBody::SqsJson(&op);
            let response = rpc(request, kind, |r| services.sqs.handle(r)).await;
            ("sqs", op, response)
        }
        Target::Glue(op) => {
            let response = rpc(request, RpcBody::Glue, |r| services.glue.handle(r)).await;
            ("glue", op, response)
        }
        Target::Athena(op) => ("athena", op, athena(&services, request).await),
        Target::MaybeSqsQuery => {
            let (parts, body) = request.into_parts();
            match read_body(body, RpcBody::SqsQuery).await {
                Ok(bytes) => match form_action(&bytes) {
                    Some(action) => {
                        let req = http::Request::from_parts(parts, bytes);
                        ("sqs", action, services.sqs.handle(req).await)
                    }
                    None if is_sqs_query_path(&path) => {
                        let req = http::Request::from_parts(parts, bytes);
                        let response = services.sqs.handle(req).await;
                        ("sqs", "(no Action)".to_owned(), response)
                    }
                    None => {
                        let req = http::Request::from_parts(parts, Body::from(bytes));
                        ("s3", format!("{method} {path}"), s3(&services, req).await)
                    }
                },
                Err(response) => ("unknown", "form".to_owned(), response),
            }
        }
        Target::UnknownJson(message) => (
            "unknown",
            format!("{method} {path}"),
            unknown_json_operation(&message),
        ),
        Target::S3 => (
            "s3",
            format!("{method} {path}"),
            s3(&services, request).await,
        ),
    };
    let response = crate::console::with_xml_error_code(response).await;
    log_request(&services, service, &operation, &response, started);
    response
}

fn log_request(
    services: &Services,
    service: &str,
    operation: &str,
    response: &Response,
    started: Instant,
) {
    crate::console::record_request(&services.console, service, operation, response, started);
    tracing::debug!(
        service,
        operation,
        status = response.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
}

/// Buffers a JSON-protocol body (bounded) and calls the service.
async fn rpc<F, Fut>(request: Request, kind: RpcBody<'_>, call: F) -> Response
where
    F: FnOnce(http::Request<Bytes>) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let (parts, body) = request.into_parts();
    match read_body(body, kind).await {
        Ok(bytes) => call(http::Request::from_parts(parts, bytes)).await,
        Err(response) => response,
    }
}

/// Buffers a JSON/query body, bounded by its service's limit (see [`limits`]).
pub(crate) async fn read_body(body: Body, kind: RpcBody<'_>) -> Result<Bytes, Response> {
    limits::read(body, kind).await
}

/// Athena, when the binary installed it; otherwise an error saying so.
async fn athena(services: &Services, request: Request) -> Response {
    match &services.athena {
        Some(athena) => rpc(request, RpcBody::Athena, |r| athena.handle(r)).await,
        None => (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/x-amz-json-1.1")],
            serde_json::json!({
                "__type": "UnknownOperationException",
                "Message": "Athena is not installed in this server: the `emulator` binary installs it unless built with `--no-default-features`",
            })
            .to_string(),
        )
            .into_response(),
    }
}

/// The `Action` of an SQS query-protocol form body, if it has one.
pub(crate) fn form_action(body: &[u8]) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.into_owned())
}

/// S3 through s3s. s3s logs every error response at ERROR, a client's 404 or 403 included (the
/// handler's HeadObject of an output not yet written is a 404 by design), so its `ops` target is
/// off by default ([`crate::logging`]) and the server errors are logged here instead.
async fn s3(services: &Services, request: Request) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let request = request.map(s3s::Body::http_body_unsync);
    match services.s3_service.call(request).await {
        Ok(response) => {
            if response.status().is_server_error() {
                tracing::error!(%method, path, status = response.status().as_u16(), "S3 request failed");
            }
            response.map(Body::new)
        }
        Err(err) => {
            tracing::error!(error = ?err, "s3 request failed inside s3s");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn json_targets_pick_their_service() {
        let h = headers(&[("x-amz-target", "AmazonSQS.SendMessage")]);
        assert_eq!(
            classify(&Method::POST, &h),
            Target::Sqs("SendMessage".into())
        );
        let h = headers(&[("x-amz-target", "AWSGlue.GetPartitions")]);
        assert_eq!(
            classify(&Method::POST, &h),
            Target::Glue("GetPartitions".into())
        );
    }

    #[test]
    fn forms_need_their_body_and_the_rest_is_s3() {
        let h = headers(&[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )]);
        assert_eq!(classify(&Method::POST, &h), Target::MaybeSqsQuery);
        let h = headers(&[("content-type", "multipart/form-data; boundary=x")]);
        assert_eq!(classify(&Method::POST, &h), Target::S3);
        assert_eq!(classify(&Method::GET, &HeaderMap::new()), Target::S3);
        assert_eq!(
            form_action(b"Action=ListQueues&Version=2012-11-05").as_deref(),
            Some("ListQueues")
        );
        assert_eq!(form_action(b"a=b"), None);
    }

    #[test]
    fn json_requests_naming_no_service_here_are_unknown() {
        let h = headers(&[("x-amz-target", "DynamoDB_20120810.GetItem")]);
        assert!(matches!(
            classify(&Method::POST, &h),
            Target::UnknownJson(_)
        ));
        let h = headers(&[("content-type", "application/x-amz-json-1.0")]);
        assert!(matches!(
            classify(&Method::POST, &h),
            Target::UnknownJson(_)
        ));
        assert!(is_sqs_query_path("/"));
        assert!(is_sqs_query_path("/000000000000/incoming"));
        assert!(!is_sqs_query_path("/bucket"));
        assert!(!is_sqs_query_path("/bucket/key"));
        assert!(!is_sqs_query_path("/1/q/x"));
    }
}
