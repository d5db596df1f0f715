//! `GET /_emulator/events`: the console's events as Server-Sent Events.
//!
//! Each event carries its id (`id:`), its type as the SSE event name (`event: file.processed`)
//! and its JSON (`data:`). A client that reconnects sends `Last-Event-ID` (browsers do it on
//! their own; `?last_event_id=N` works too) and gets every event after it from the ring buffer,
//! in order, then the live ones. A cursor older than the buffer gets `410 Gone` with
//! `{"oldest_available_id": N, ...}`: the client must reload its state (`GET /_emulator/files`)
//! and continue from that response's `last_event_id`. Comment lines (`: heartbeat`) keep idle
//! connections open through proxies.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::events::Event;
use crate::server::Services;

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    last_event_id: Option<String>,
}

/// The cursor: the `Last-Event-ID` header, else the query parameter. An unparsable one is a
/// client error rather than "from now on", which would silently skip events.
fn cursor(headers: &HeaderMap, query: &EventsQuery) -> Result<Option<u64>, String> {
    let raw = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| query.last_event_id.clone());
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            format!("Last-Event-ID {text:?} is not an event id (a non-negative integer)")
        }),
    }
}

fn to_sse(event: &Event) -> SseEvent {
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".to_owned());
    SseEvent::default()
        .id(event.id.to_string())
        .event(event.kind.name())
        .data(data)
}

pub async fn events(
    State(services): State<Services>,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> Response {
    let console = &services.console;
    let metrics = console.metrics();
    let cursor = match cursor(&headers, &query) {
        Ok(cursor) => cursor,
        Err(message) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(serde_json::json!({ "error": message })),
            )
                .into_response()
        }
    };
    let subscribed = console.state().bus.subscribe_after(cursor);
    let (replay, live) = match subscribed {
        Ok(subscribed) => subscribed,
        Err(gone) => {
            metrics.sse_gone.inc();
            let body = serde_json::json!({
                "error": "events after this Last-Event-ID were evicted from the replay buffer; reload state from /_emulator/files and resume from its last_event_id",
                "last_event_id": gone.last_event_id,
                "oldest_available_id": gone.oldest_available_id,
            });
            return (StatusCode::GONE, axum::Json(body)).into_response();
        }
    };
    if cursor.is_some() {
        metrics.sse_replays.inc();
        metrics.sse_replayed_events.inc_by(replay.len() as u64);
    }
    let last = replay.last().map(|e| e.id).or(cursor).unwrap_or(0);
    let replayed = futures::stream::iter(
        replay
            .into_iter()
            .map(|e| Ok::<_, Infallible>(to_sse(&e)))
            .collect::<Vec<_>>(),
    );
    let live = futures::stream::unfold((live, last), |(mut receiver, last)| async move {
        loop {
            match receiver.recv().await {
                Ok(event) if event.id <= last => continue,
                Ok(event) => {
                    let id = event.id;
                    return Some((Ok(to_sse(&Arc::clone(&event))), (receiver, id)));
                }
                // A subscriber too slow for the live backlog is cut off; it reconnects with its
                // Last-Event-ID and is replayed from the ring (or told 410), so nothing is lost
                // silently.
                Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(replayed.chain(live))
        .keep_alive(
            KeepAlive::new()
                .interval(console.options().heartbeat)
                .text("heartbeat"),
        )
        .into_response()
}
