//! The console's JSON endpoints: file journeys, recent invocations, a summary of queues,
//! functions and partitions, and `/metrics`.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::journeys::{Filter, Journey, Status};
use crate::server::Services;

/// Journeys per page by default, and at most.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/_emulator/events", get(super::sse::events))
        .route("/_emulator/files", get(list_files))
        .route("/_emulator/files/{bucket}/{*key}", get(file))
        .route("/_emulator/invocations", get(invocations))
        .route("/_emulator/console/summary", get(summary))
        .merge(super::ui::routes())
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    entity: Option<String>,
    prefix: Option<String>,
    bucket: Option<String>,
    limit: Option<usize>,
    next_token: Option<String>,
}

fn summary_json(journey: &Journey) -> Value {
    serde_json::to_value(journey).unwrap_or_default()
}

/// `GET /_emulator/files`: journeys newest first, filtered, paged with `next_token`.
async fn list_files(State(services): State<Services>, Query(query): Query<ListQuery>) -> Response {
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => match Status::parse(text) {
            Some(status) => Some(status),
            None => {
                let valid: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
                return bad_request(format!("status {text:?} is none of {}", valid.join(", ")));
            }
        },
    };
    let before = match query.next_token.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(token) => match token.parse::<u64>() {
            Ok(seq) => Some(seq),
            Err(_) => {
                return bad_request(format!(
                    "next_token {token:?} is not a token this endpoint returned"
                ))
            }
        },
    };
    let filter = Filter {
        status,
        entity: query.entity.filter(|s| !s.is_empty()),
        prefix: query.prefix.filter(|s| !s.is_empty()),
        bucket: query.bucket.filter(|s| !s.is_empty()),
    };
    let limit = query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let state = services.console.state();
    let (page, next) = state.journeys.list(&filter, before, limit);
    let counts: serde_json::Map<String, Value> = state
        .journeys
        .counts()
        .into_iter()
        .map(|(status, n)| (status.as_str().to_owned(), json!(n)))
        .collect();
    Json(json!({
        "files": page.into_iter().map(summary_json).collect::<Vec<_>>(),
        "next_token": next.map(|n| n.to_string()),
        "counts": counts,
        "total": state.journeys.len(),
        "evicted": state.journeys.evicted(),
        "last_event_id": state.bus.last_id(),
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
pub struct FileQuery {
    version: Option<String>,
}

/// `GET /_emulator/files/{bucket}/{key}`: the newest version's journey (or `?version=`), with
/// its events, its invocations and their log lines, and the other versions' ids.
async fn file(
    State(services): State<Services>,
    Path((bucket, key)): Path<(String, String)>,
    Query(query): Query<FileQuery>,
) -> Response {
    let state = services.console.state();
    let versions = state.journeys.versions(&bucket, &key);
    let chosen = match &query.version {
        Some(version) => versions.iter().find(|j| &j.file.version == version),
        None => versions.first(),
    };
    let Some(journey) = chosen else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({
                "error": format!("no journey for s3://{bucket}/{key}{}: the file was never announced to a queue, or its journey was evicted (cap {})",
                    query.version.as_deref().map(|v| format!(" version {v}")).unwrap_or_default(),
                    services.console.options().journey_cap),
            })),
        )
            .into_response();
    };
    let invocations: Vec<Value> = journey
        .invocations
        .iter()
        .filter_map(|id| state.invocations.iter().find(|r| &r.request_id == id))
        .map(|r| serde_json::to_value(r).unwrap_or_default())
        .collect();
    let mut body = summary_json(journey);
    body["events"] = serde_json::to_value(&journey.steps).unwrap_or_default();
    body["invocation_details"] = json!(invocations);
    body["versions"] = json!(versions
        .iter()
        .map(|j| json!({"version": j.file.version, "status": j.status}))
        .collect::<Vec<_>>());
    Json(body).into_response()
}

#[derive(Debug, Deserialize)]
pub struct InvocationsQuery {
    function: Option<String>,
    limit: Option<usize>,
}

/// `GET /_emulator/invocations`: the most recent invocations, newest first.
async fn invocations(
    State(services): State<Services>,
    Query(query): Query<InvocationsQuery>,
) -> Response {
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    let state = services.console.state();
    let list: Vec<Value> = state
        .invocations
        .iter()
        .rev()
        .filter(|r| query.function.as_deref().is_none_or(|f| r.function == f))
        .take(limit)
        .map(|r| serde_json::to_value(r).unwrap_or_default())
        .collect();
    Json(json!({ "invocations": list })).into_response()
}

/// `GET /_emulator/console/summary`: what the console's panels show besides the files.
async fn summary(State(services): State<Services>) -> Response {
    let depths = services.sqs.queue_depths();
    let functions: Vec<Value> = {
        let state = services.console.state();
        services
            .lambda
            .function_names()
            .into_iter()
            .map(|name| {
                let stats = services.lambda.stats(&name);
                json!({
                    "name": name,
                    "running": state.running.get(&name).copied().unwrap_or(0),
                    "stats": stats,
                })
            })
            .collect()
    };
    let state = services.console.state();
    let partitions: Vec<Value> = state
        .partitions
        .iter()
        .rev()
        .take(100)
        .map(|e| serde_json::to_value(e.as_ref()).unwrap_or_default())
        .collect();
    let resources = services.console.config().map(|c| {
        let r = &c.resources;
        json!({
            "source_bucket": r.source_bucket,
            "analytics_bucket": r.analytics_bucket,
            "queue": r.sqs_queue,
            "queue_arn": services.sqs.queue_arn(&r.sqs_queue),
            "dead_letter_queue": r.dead_letter_queue,
            "dead_letter_queue_arn": services.sqs.queue_arn(&r.dead_letter_queue),
            "database": r.glue_database,
            "workgroup": r.workgroup_name,
            "tables": c.entities.iter().map(|(name, e)| json!({"entity": name, "table": e.table_name})).collect::<Vec<_>>(),
        })
    });
    Json(json!({
        "queues": depths.iter().map(|d| json!({
            "queue": d.queue,
            "arn": services.sqs.queue_arn(&d.queue),
            "visible": d.visible,
            "in_flight": d.in_flight,
            "delayed": d.delayed,
            "oldest_age_seconds": d.oldest_age_seconds,
            "is_dead_letter_queue": d.is_dead_letter_queue,
        })).collect::<Vec<_>>(),
        "functions": functions,
        "partitions": partitions,
        "glue": services.glue.stats(),
        "athena": services.athena.is_some(),
        "resources": resources,
        "last_event_id": state.bus.last_id(),
    }))
    .into_response()
}

/// `GET /metrics`: queue depths are read now, everything else is already counted.
async fn metrics(State(services): State<Services>) -> Response {
    let metrics = services.console.metrics();
    metrics.set_queue_depths(&services.sqs.queue_depths());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.encode(),
    )
        .into_response()
}
