//! The pipeline console: typed events from every service ([`observer`]), each file's journey
//! ([`journeys`]), a live event stream with replay ([`sse`]), Prometheus metrics ([`metrics`])
//! and a web page ([`ui`]), all served by the emulator itself.
//!
//! One [`Console`] per server. The services report to it through their optional observers
//! (set once in [`Console::attach`]); it numbers each event, applies it to the journeys and
//! sends it to the live subscribers under one lock, so the API, the journeys and the stream
//! always agree on the order of events.

pub mod api;
pub mod events;
pub mod journeys;
pub mod metrics;
pub mod observer;
pub mod sse;
pub mod ui;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use pipeline_core::config::Config;
use serde::Serialize;

use events::{Event, EventBus, EventKind, FileRef};
use journeys::JourneyStore;
use metrics::Metrics;

/// Bounds and timings of the console.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// Journeys kept; the oldest is evicted first (`--journey-cap`).
    pub journey_cap: usize,
    /// Events kept for `Last-Event-ID` replay (`--event-buffer`).
    pub event_buffer: usize,
    /// Interval of the SSE heartbeat comments.
    pub heartbeat: Duration,
}

impl Default for ConsoleOptions {
    fn default() -> Self {
        Self {
            journey_cap: 10_000,
            event_buffer: 10_000,
            heartbeat: Duration::from_secs(15),
        }
    }
}

/// Invocations kept for the functions panel and the journeys' log lines.
const RECENT_INVOCATIONS: usize = 500;
/// Partitions kept for the catalog panel.
const RECENT_PARTITIONS: usize = 500;

/// One finished invocation, with its log lines.
#[derive(Debug, Clone, Serialize)]
pub struct InvocationRecord {
    pub function: String,
    pub request_id: String,
    pub time_ms: u64,
    pub duration_ms: f64,
    pub outcome: String,
    pub error_type: Option<String>,
    pub cold_start: bool,
    pub files: Vec<FileRef>,
    /// The invocation's log (its last 4 KB, as Invoke's `LogType: Tail` returns it).
    pub log: Vec<String>,
}

/// The console's shared state. Cheap to clone.
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

struct Inner {
    options: ConsoleOptions,
    metrics: Metrics,
    config: OnceLock<Config>,
    state: Mutex<State>,
}

pub(crate) struct State {
    pub bus: EventBus,
    pub journeys: JourneyStore,
    /// SQS message id -> the files its body announces (bounded like the journeys).
    messages: HashMap<String, Vec<FileRef>>,
    message_order: VecDeque<String>,
    /// Queues that dead-lettered messages landed in: receives there are inspections, not
    /// processing.
    pub dead_letter_queues: HashSet<String>,
    pub invocations: VecDeque<InvocationRecord>,
    pub partitions: VecDeque<Arc<Event>>,
    pub running: HashMap<String, i64>,
}

impl Console {
    pub fn new(options: ConsoleOptions) -> Self {
        let state = State {
            bus: EventBus::new(options.event_buffer),
            journeys: JourneyStore::new(options.journey_cap),
            messages: HashMap::new(),
            message_order: VecDeque::new(),
            dead_letter_queues: HashSet::new(),
            invocations: VecDeque::new(),
            partitions: VecDeque::new(),
            running: HashMap::new(),
        };
        Self {
            inner: Arc::new(Inner {
                options,
                metrics: Metrics::new(),
                config: OnceLock::new(),
                state: Mutex::new(state),
            }),
        }
    }

    /// Makes the services report to this console.
    pub fn attach(
        &self,
        sqs: &emulator_sqs::Sqs,
        lambda: &emulator_lambda::Lambda,
        glue: &emulator_glue::Glue,
    ) {
        let observer = Arc::new(observer::ConsoleObserver::new(self.clone()));
        sqs.set_observer(observer.clone());
        lambda.set_observer(observer.clone());
        glue.set_observer(observer);
    }

    /// The pipeline config, for entity names and the DLQ's source queue.
    pub fn set_config(&self, config: &Config) {
        let _ = self.inner.config.set(config.clone());
        if let Ok(mut state) = self.inner.state.lock() {
            state
                .dead_letter_queues
                .insert(config.resources.dead_letter_queue.clone());
        }
    }

    pub fn config(&self) -> Option<&Config> {
        self.inner.config.get()
    }

    pub fn options(&self) -> &ConsoleOptions {
        &self.inner.options
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent if a holder panicked: every update is one step.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publishes one event: numbered, kept, applied to its journey, sent live.
    pub fn publish(&self, kind: EventKind) -> Arc<Event> {
        let mut state = self.state();
        state.publish(&self.inner.metrics, kind)
    }
}

impl State {
    pub(crate) fn publish(&mut self, metrics: &Metrics, kind: EventKind) -> Arc<Event> {
        metrics
            .events
            .get_or_create(&metrics::EventLabels {
                r#type: kind.name().to_owned(),
            })
            .inc();
        let event = self.bus.publish(kind);
        match &event.kind {
            EventKind::InvocationFinished { files, .. } => {
                let files = files.clone();
                self.journeys.apply_to(&files, &event);
            }
            EventKind::PartitionCreated { .. } => {
                if self.partitions.len() == RECENT_PARTITIONS {
                    self.partitions.pop_front();
                }
                self.partitions.push_back(event.clone());
            }
            _ => self.journeys.apply(&event),
        }
        metrics
            .journeys_evicted
            .set(i64::try_from(self.journeys.evicted()).unwrap_or(i64::MAX));
        event
    }

    /// Remembers which files a message announces.
    pub(crate) fn remember_message(&mut self, message_id: &str, files: &[FileRef], cap: usize) {
        if files.is_empty() || self.messages.contains_key(message_id) {
            return;
        }
        if self.message_order.len() >= cap {
            if let Some(old) = self.message_order.pop_front() {
                self.messages.remove(&old);
            }
        }
        self.message_order.push_back(message_id.to_owned());
        self.messages.insert(message_id.to_owned(), files.to_vec());
    }

    pub(crate) fn files_of_message(&self, message_id: &str) -> Option<&Vec<FileRef>> {
        self.messages.get(message_id)
    }

    pub(crate) fn record_invocation(&mut self, record: InvocationRecord) {
        if self.invocations.len() == RECENT_INVOCATIONS {
            self.invocations.pop_front();
        }
        self.invocations.push_back(record);
    }
}

/// The AWS error code of an error response whose protocol puts it in an XML body (S3's
/// `<Error><Code>`, SQS query's `<ErrorResponse><Error><Code>`), kept as a response extension
/// for [`record_request`]; found by [`with_xml_error_code`].
#[derive(Debug, Clone)]
pub struct XmlErrorCode(pub String);

/// Largest error body read for its code: AWS error documents are a few hundred bytes.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Reads the `<Code>` of an XML error response (status >= 400, an XML content type, a body of at
/// most [`MAX_ERROR_BODY_BYTES`]) into an [`XmlErrorCode`] extension; any other response is
/// returned untouched. The body is buffered and put back unchanged.
pub async fn with_xml_error_code(response: axum::response::Response) -> axum::response::Response {
    if response.status().as_u16() < 400 {
        return response;
    }
    let is_xml = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("xml"));
    // The length is the body's own bound here (hyper writes Content-Length from it later).
    let small = axum::body::HttpBody::size_hint(response.body())
        .upper()
        .is_some_and(|length| length <= MAX_ERROR_BODY_BYTES as u64);
    if !is_xml || !small {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY_BYTES).await else {
        return axum::response::Response::from_parts(parts, axum::body::Body::empty());
    };
    if let Some(code) = xml_code(&bytes) {
        parts.extensions.insert(XmlErrorCode(code));
    }
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The text of the first `<Code>` element (AWS codes are plain names, never escaped).
fn xml_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let (_, rest) = text.split_once("<Code>")?;
    let (code, _) = rest.split_once("</Code>")?;
    (!code.is_empty() && code.len() <= 256).then(|| code.to_owned())
}

/// Counts one request in the RED metrics (called once per request by the dispatch). The error
/// code label is the AWS error code: from `x-amzn-errortype` (Glue, Athena), the first half of
/// `x-amzn-query-error` (SQS's JSON protocol), or the XML body's `<Code>` (S3, SQS's query
/// protocol; see [`with_xml_error_code`]); the HTTP status when the response names none (a
/// HEAD's 404 has no body).
pub fn record_request(
    console: &Console,
    service: &str,
    operation: &str,
    response: &axum::response::Response,
    started: std::time::Instant,
) {
    let header_code = |name: &str| {
        let value = response.headers().get(name)?.to_str().ok()?;
        value.split([':', ';']).next()
    };
    let code = response
        .extensions()
        .get::<XmlErrorCode>()
        .map(|code| code.0.as_str())
        .or_else(|| header_code("x-amzn-errortype"))
        .or_else(|| header_code("x-amzn-query-error"));
    console.metrics().record_request(
        service,
        &metrics::operation_label(service, operation),
        response.status().as_u16(),
        code,
        started.elapsed().as_secs_f64(),
    );
}

#[cfg(test)]
mod tests {
    use super::xml_code;

    #[test]
    fn the_code_of_s3_and_sqs_query_error_documents() {
        let s3 = br#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"#;
        assert_eq!(xml_code(s3).as_deref(), Some("NoSuchKey"));
        let sqs = br#"<ErrorResponse><Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>m</Message></Error></ErrorResponse>"#;
        assert_eq!(
            xml_code(sqs).as_deref(),
            Some("AWS.SimpleQueueService.NonExistentQueue")
        );
        for body in [
            &b"<Error><Code></Code></Error>"[..],
            b"<Error>",
            b"\xff<Code>X</Code>",
        ] {
            assert_eq!(xml_code(body), None);
        }
    }
}
