//! The Lambda Runtime API (version 2018-06-01) served to ONE execution environment.
//!
//! Reference: "Using the Lambda runtime API for custom runtimes"
//! (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
//! - `GET /2018-06-01/runtime/invocation/next` blocks until there is an event, answered with the
//!   payload and the headers `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms` (epoch
//!   ms), `Lambda-Runtime-Invoked-Function-Arn`, `Lambda-Runtime-Trace-Id`;
//! - `POST .../invocation/{id}/response` and `POST .../invocation/{id}/error` (header
//!   `Lambda-Runtime-Function-Error-Type`, body `{errorMessage, errorType, stackTrace}`) answer
//!   `202 {"status":"OK"}`, an unknown request id `400`, a response over 6 MB `413`;
//! - `POST /2018-06-01/runtime/init/error` reports a failed init; the environment is then reset.
//!
//! Why one listener per environment (`127.0.0.1:0`): `AWS_LAMBDA_RUNTIME_API` is a bare
//! `host:port` and the paths carry no function or environment identity, exactly as in AWS where
//! every execution environment has its own endpoint. A private listener makes "which process is
//! asking" a property of the socket, so one environment can never take (or answer) another's
//! invocation, and "one invocation at a time per process" holds by construction. Listeners are
//! cheap (one socket + one task) and die with their environment.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Largest synchronous response payload Lambda accepts (6 MB).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// An event handed to the runtime by `/next`.
pub struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    pub deadline_epoch_ms: u64,
    pub trace_id: String,
    pub reply: oneshot::Sender<RuntimeReply>,
}

/// What the runtime posted for an invocation.
#[derive(Debug)]
pub enum RuntimeReply {
    Response(Bytes),
    Error {
        /// `Lambda-Runtime-Function-Error-Type`, else the body's `errorType`.
        error_type: String,
        body: Bytes,
    },
    /// The response was larger than [`MAX_RESPONSE_BYTES`].
    TooLarge(usize),
}

/// Things the runtime tells us outside an invocation.
#[derive(Debug)]
pub enum Signal {
    /// The first `/next`: init is over.
    Ready(Instant),
    /// `/init/error` with its error type and body.
    InitError { error_type: String, body: Bytes },
}

struct ApiState {
    function_arn: String,
    invocations: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    current: Mutex<Option<(String, oneshot::Sender<RuntimeReply>)>>,
    signals: mpsc::UnboundedSender<Signal>,
    ready_sent: AtomicBool,
}

/// A running Runtime API listener; stops when dropped.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuntimeApi {
    /// Binds `127.0.0.1:0` and serves the Runtime API for one environment.
    pub async fn start(
        function_arn: String,
        invocations: mpsc::Receiver<Invocation>,
        signals: mpsc::UnboundedSender<Signal>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(ApiState {
            function_arn,
            invocations: tokio::sync::Mutex::new(invocations),
            current: Mutex::new(None),
            signals,
            ready_sent: AtomicBool::new(false),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/response",
                post(response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            // Read a bit past the limit so an oversized response gets a clear 413 from us.
            .layer(DefaultBodyLimit::max(MAX_RESPONSE_BYTES + 1024 * 1024))
            .with_state(state);
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::warn!(error = %err, "runtime API listener stopped");
            }
        });
        Ok(Self { addr, task })
    }
}

async fn next(State(state): State<Arc<ApiState>>) -> Response {
    if !state.ready_sent.swap(true, Ordering::SeqCst) {
        let _ = state.signals.send(Signal::Ready(Instant::now()));
    }
    // A runtime that asks for the next event without answering the current one has abandoned
    // it: dropping the reply sender fails that invocation instead of leaving it hanging.
    drop(lock(&state.current).take());
    let invocation = state.invocations.lock().await.recv().await;
    let Some(invocation) = invocation else {
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            "the execution environment is shutting down",
        );
    };
    *lock(&state.current) = Some((invocation.request_id.clone(), invocation.reply));
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put("lambda-runtime-aws-request-id", &invocation.request_id);
    put(
        "lambda-runtime-deadline-ms",
        &invocation.deadline_epoch_ms.to_string(),
    );
    put("lambda-runtime-invoked-function-arn", &state.function_arn);
    put("lambda-runtime-trace-id", &invocation.trace_id);
    put("content-type", "application/json");
    (StatusCode::OK, headers, invocation.payload).into_response()
}

async fn response(
    State(state): State<Arc<ApiState>>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(reply) = take_current(&state, &request_id) else {
        return unknown_request(&request_id);
    };
    if body.len() > MAX_RESPONSE_BYTES {
        let _ = reply.send(RuntimeReply::TooLarge(body.len()));
        return api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
        );
    }
    let _ = reply.send(RuntimeReply::Response(body));
    accepted()
}

async fn invocation_error(
    State(state): State<Arc<ApiState>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(reply) = take_current(&state, &request_id) else {
        return unknown_request(&request_id);
    };
    let error_type = error_type(&headers, &body);
    let _ = reply.send(RuntimeReply::Error { error_type, body });
    accepted()
}

async fn init_error(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = error_type(&headers, &body);
    let _ = state.signals.send(Signal::InitError { error_type, body });
    accepted()
}

/// The reply channel of the current invocation, if `request_id` is the one in progress.
fn take_current(state: &ApiState, request_id: &str) -> Option<oneshot::Sender<RuntimeReply>> {
    let mut current = lock(&state.current);
    match current.take() {
        Some((id, reply)) if id == request_id => Some(reply),
        other => {
            *current = other;
            None
        }
    }
}

/// The error type from the header, else from the body's `errorType`, else `Unhandled`.
fn error_type(headers: &HeaderMap, body: &[u8]) -> String {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            serde_json::from_slice::<serde_json::Value>(body)
                .ok()?
                .get("errorType")?
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "Unhandled".to_owned())
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn unknown_request(request_id: &str) -> Response {
    api_error(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        &format!("Invalid request ID: {request_id} is not the invocation in progress"),
    )
}

fn api_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errorType": error_type, "errorMessage": message})),
    )
        .into_response()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
