//! `GET /metrics`: Prometheus metrics through the Prometheus project's Rust client
//! (`prometheus-client`), one registry per server, encoded in the OpenMetrics text format that
//! Prometheus scrapes.
//!
//! Counters move on the hot path with one hashed label lookup and an atomic add; queue depths
//! are read from the SQS state only when scraped.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub service: String,
    pub operation: String,
    /// HTTP status code.
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub service: String,
    pub operation: String,
    /// The AWS error code when the response names one, else the HTTP status.
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub service: String,
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FunctionLabels {
    pub function: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FunctionErrorLabels {
    pub function: String,
    pub error_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EntityLabels {
    pub entity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub r#type: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

fn duration_histogram() -> Histogram {
    // 1 ms .. ~15 min (the longest Lambda timeout).
    Histogram::new(exponential_buckets(0.001, 2.5, 16))
}

/// Every metric the emulator exports.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_errors: Family<ErrorLabels, Counter>,
    pub request_seconds: HistogramFamily<OperationLabels>,
    pub invocations: Family<FunctionLabels, Counter>,
    pub invocation_errors: Family<FunctionErrorLabels, Counter>,
    pub timeouts: Family<FunctionLabels, Counter>,
    pub cold_starts: Family<FunctionLabels, Counter>,
    pub invocation_seconds: HistogramFamily<FunctionLabels>,
    pub concurrent: Family<FunctionLabels, Gauge>,
    pub queue_visible: Family<QueueLabels, Gauge>,
    pub queue_in_flight: Family<QueueLabels, Gauge>,
    pub queue_delayed: Family<QueueLabels, Gauge>,
    pub queue_oldest_age: Family<QueueLabels, Gauge>,
    pub dlq_depth: Family<QueueLabels, Gauge>,
    pub files_processed: Family<EntityLabels, Counter>,
    pub files_rejected: Family<EntityLabels, Counter>,
    pub rows_processed: Family<EntityLabels, Counter>,
    pub bytes_processed: Family<EntityLabels, Counter>,
    pub end_to_end_seconds: HistogramFamily<EntityLabels>,
    pub events: Family<EventLabels, Counter>,
    pub sse_replays: Counter,
    pub sse_replayed_events: Counter,
    pub sse_gone: Counter,
    pub journeys_evicted: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Declares and registers every metric: a list, long only because there are many.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let m = Self {
            registry: Registry::default(),
            requests: Family::default(),
            request_errors: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram),
            invocations: Family::default(),
            invocation_errors: Family::default(),
            timeouts: Family::default(),
            cold_starts: Family::default(),
            invocation_seconds: Family::new_with_constructor(duration_histogram),
            concurrent: Family::default(),
            queue_visible: Family::default(),
            queue_in_flight: Family::default(),
            queue_delayed: Family::default(),
            queue_oldest_age: Family::default(),
            dlq_depth: Family::default(),
            files_processed: Family::default(),
            files_rejected: Family::default(),
            rows_processed: Family::default(),
            bytes_processed: Family::default(),
            end_to_end_seconds: Family::new_with_constructor(duration_histogram),
            events: Family::default(),
            sse_replays: Counter::default(),
            sse_replayed_events: Counter::default(),
            sse_gone: Counter::default(),
            journeys_evicted: Gauge::default(),
        };
        let r = &mut registry;
        r.register(
            "emulator_requests",
            "Requests per service, operation and HTTP status",
            m.requests.clone(),
        );
        r.register(
            "emulator_request_errors",
            "Failed requests (4xx/5xx) per service, operation and error code",
            m.request_errors.clone(),
        );
        r.register(
            "emulator_request_duration_seconds",
            "Request latency per service and operation",
            m.request_seconds.clone(),
        );
        r.register(
            "lambda_invocations",
            "Invocations per function",
            m.invocations.clone(),
        );
        r.register(
            "lambda_errors",
            "Failed invocations per function and error type",
            m.invocation_errors.clone(),
        );
        r.register(
            "lambda_timeouts",
            "Invocations that ran past the function timeout",
            m.timeouts.clone(),
        );
        r.register(
            "lambda_cold_starts",
            "Invocations that started a new execution environment",
            m.cold_starts.clone(),
        );
        r.register(
            "lambda_duration_seconds",
            "Invocation duration per function",
            m.invocation_seconds.clone(),
        );
        r.register(
            "lambda_concurrent_executions",
            "Invocations running now per function",
            m.concurrent.clone(),
        );
        r.register(
            "sqs_messages_visible",
            "ApproximateNumberOfMessages per queue",
            m.queue_visible.clone(),
        );
        r.register(
            "sqs_messages_in_flight",
            "ApproximateNumberOfMessagesNotVisible per queue",
            m.queue_in_flight.clone(),
        );
        r.register(
            "sqs_messages_delayed",
            "ApproximateNumberOfMessagesDelayed per queue",
            m.queue_delayed.clone(),
        );
        r.register(
            "sqs_oldest_message_age_seconds",
            "ApproximateAgeOfOldestMessage per queue",
            m.queue_oldest_age.clone(),
        );
        r.register(
            "sqs_dead_letter_queue_depth",
            "Messages held by each dead-letter queue",
            m.dlq_depth.clone(),
        );
        r.register(
            "pipeline_files_processed",
            "Files processed per entity (handler EMF FilesProcessed)",
            m.files_processed.clone(),
        );
        r.register(
            "pipeline_files_rejected",
            "Files rejected per entity (handler EMF FilesRejected)",
            m.files_rejected.clone(),
        );
        r.register(
            "pipeline_rows_processed",
            "Rows processed per entity (handler EMF RowsProcessed)",
            m.rows_processed.clone(),
        );
        r.register(
            "pipeline_bytes_processed",
            "Bytes processed per entity (handler EMF BytesProcessed)",
            m.bytes_processed.clone(),
        );
        r.register(
            "pipeline_end_to_end_seconds",
            "From the file's notification to its processed output, per entity",
            m.end_to_end_seconds.clone(),
        );
        r.register(
            "console_events",
            "Console events per type",
            m.events.clone(),
        );
        r.register(
            "console_sse_replays",
            "SSE connections resumed with Last-Event-ID",
            m.sse_replays.clone(),
        );
        r.register(
            "console_sse_replayed_events",
            "Events re-sent to resumed SSE connections",
            m.sse_replayed_events.clone(),
        );
        r.register(
            "console_sse_gone",
            "SSE resumes refused with 410 Gone (cursor evicted)",
            m.sse_gone.clone(),
        );
        r.register(
            "console_journeys_evicted",
            "File journeys dropped by the journey cap",
            m.journeys_evicted.clone(),
        );
        Self { registry, ..m }
    }

    /// Counts one served request.
    pub fn record_request(
        &self,
        service: &str,
        operation: &str,
        status: u16,
        error_code: Option<&str>,
        seconds: f64,
    ) {
        let (service, operation) = (service.to_owned(), operation.to_owned());
        self.requests
            .get_or_create(&RequestLabels {
                service: service.clone(),
                operation: operation.clone(),
                status: status.to_string(),
            })
            .inc();
        if status >= 400 {
            let code = error_code.map_or_else(|| status.to_string(), str::to_owned);
            self.request_errors
                .get_or_create(&ErrorLabels {
                    service: service.clone(),
                    operation: operation.clone(),
                    code,
                })
                .inc();
        }
        self.request_seconds
            .get_or_create(&OperationLabels { service, operation })
            .observe(seconds);
    }

    /// Sets the queue gauges from a fresh reading (queues deleted since vanish).
    pub fn set_queue_depths(&self, depths: &[emulator_sqs::QueueDepth]) {
        for family in [
            &self.queue_visible,
            &self.queue_in_flight,
            &self.queue_delayed,
            &self.queue_oldest_age,
            &self.dlq_depth,
        ] {
            family.clear();
        }
        for depth in depths {
            let labels = QueueLabels {
                queue: depth.queue.clone(),
            };
            let gauge = |family: &Family<QueueLabels, Gauge>, value: u64| {
                family
                    .get_or_create(&labels)
                    .set(i64::try_from(value).unwrap_or(i64::MAX));
            };
            gauge(&self.queue_visible, depth.visible as u64);
            gauge(&self.queue_in_flight, depth.in_flight as u64);
            gauge(&self.queue_delayed, depth.delayed as u64);
            gauge(&self.queue_oldest_age, depth.oldest_age_seconds);
            if depth.is_dead_letter_queue {
                gauge(
                    &self.dlq_depth,
                    (depth.visible + depth.in_flight + depth.delayed) as u64,
                );
            }
        }
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The operation label of a request: the JSON protocols' target, and for the REST APIs a
/// fixed name per method and path shape, so keys and bucket names never become label values
/// (unbounded cardinality).
pub fn operation_label(service: &str, operation: &str) -> String {
    match service {
        "s3" => s3_operation(operation),
        "lambda" => {
            if operation.ends_with("/invocations") {
                "Invoke".to_owned()
            } else {
                operation
                    .split_whitespace()
                    .next()
                    .unwrap_or("other")
                    .to_owned()
            }
        }
        "unknown" => "unknown".to_owned(),
        _ => operation.to_owned(),
    }
}

/// `PUT /bucket/key` -> `PutObject`, `GET /bucket` -> `ListObjects`, ... (the method and
/// whether a key is present; sub-resources in the query are not seen here).
fn s3_operation(operation: &str) -> String {
    let (method, path) = operation.split_once(' ').unwrap_or((operation, "/"));
    let segments = path
        .trim_start_matches('/')
        .splitn(2, '/')
        .filter(|s| !s.is_empty())
        .count();
    let name = match (method, segments) {
        ("GET", 0) => "ListBuckets",
        ("GET", 1) => "ListObjects",
        ("GET", _) => "GetObject",
        ("HEAD", 1) => "HeadBucket",
        ("HEAD", _) => "HeadObject",
        ("PUT", 1) => "PutBucket",
        ("PUT", _) => "PutObject",
        ("DELETE", 1) => "DeleteBucket",
        ("DELETE", _) => "DeleteObject",
        ("POST", 1) => "PostBucket",
        ("POST", _) => "PostObject",
        _ => "other",
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_operations_never_carry_keys() {
        assert_eq!(operation_label("s3", "PUT /b/sales/x.csv"), "PutObject");
        assert_eq!(operation_label("s3", "GET /b"), "ListObjects");
        assert_eq!(operation_label("s3", "GET /"), "ListBuckets");
        assert_eq!(
            operation_label("lambda", "POST /2015-03-31/functions/f/invocations"),
            "Invoke"
        );
        assert_eq!(operation_label("sqs", "ReceiveMessage"), "ReceiveMessage");
    }

    #[test]
    fn counters_and_errors_are_encoded() {
        let m = Metrics::new();
        m.record_request("sqs", "SendMessage", 200, None, 0.001);
        m.record_request(
            "sqs",
            "SendMessage",
            400,
            Some("InvalidParameterValue"),
            0.001,
        );
        let text = m.encode();
        assert!(text.contains(
            "emulator_requests_total{service=\"sqs\",operation=\"SendMessage\",status=\"200\"} 1"
        ));
        assert!(text.contains("code=\"InvalidParameterValue\"} 1"));
        assert!(text.ends_with("# EOF\n"));
    }
}
