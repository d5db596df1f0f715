//! Observability: one JSON line per file, which is at the same time a CloudWatch Embedded Metric
//! Format document. The EMF specification lets the root node carry any other members, so the
//! structured log fields (entity, keys, partition, rows, bytes, duration, outcome, request and
//! trace ids) and the metrics FilesProcessed, FilesRejected, RowsProcessed, BytesProcessed and
//! ProcessingMillis share one line; on Lambda, "writing JSON to standard out in the embedded
//! metric format is sufficient"
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>).
//!
//! The only dimension is `Entity` (low cardinality); ids and keys are plain members, searchable
//! in Logs Insights without creating metrics. The lines are written directly (not through
//! `tracing`) because an EMF document must be the whole log event, with nothing around it.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::failures::Failure;

/// What happened to one file (or to an SQS message that named no usable file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Validated and written.
    Processed,
    /// This source version was already applied.
    Duplicate,
    /// A newer version of the same source was already applied.
    Stale,
    /// The source was overwritten after the event; the newer event handles it.
    Superseded,
    /// Not an ObjectCreated event.
    Ignored,
    /// Permanent failure: sent to the DLQ.
    Rejected,
    /// Transient failure: retried later.
    Retry,
}

impl Outcome {
    /// A failed file is retried (transient) or rejected (permanent).
    pub fn of_failure(failure: &Failure) -> Outcome {
        if failure.is_transient() {
            Outcome::Retry
        } else {
            Outcome::Rejected
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Processed => "processed",
            Outcome::Duplicate => "duplicate",
            Outcome::Stale => "stale",
            Outcome::Superseded => "superseded",
            Outcome::Ignored => "ignored",
            Outcome::Rejected => "rejected",
            Outcome::Retry => "retry",
        }
    }
}

/// One file's log line.
#[derive(Debug, Clone, PartialEq)]
pub struct FileReport {
    pub message_id: String,
    pub entity: Option<String>,
    pub source_bucket: Option<String>,
    pub source_key: Option<String>,
    pub output_key: Option<String>,
    /// The partition folder (`s3://.../table/k=v/`).
    pub partition: Option<String>,
    pub rows: u64,
    pub bytes: u64,
    pub duration: Duration,
    pub outcome: Outcome,
    pub reason: Option<String>,
}

impl FileReport {
    /// The line of a message that named no usable file (unusable body, panic, deadline).
    pub fn of_message(message_id: &str, duration: Duration, failure: &Failure) -> FileReport {
        FileReport {
            message_id: message_id.to_string(),
            entity: None,
            source_bucket: None,
            source_key: None,
            output_key: None,
            partition: None,
            rows: 0,
            bytes: 0,
            duration,
            outcome: Outcome::of_failure(failure),
            reason: Some(failure.reason.clone()),
        }
    }
}

/// Ids of the invocation, for every line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    pub request_id: String,
    pub trace_id: Option<String>,
    /// The invocation's deadline (Lambda's `Lambda-Runtime-Deadline-Ms`).
    pub deadline: Option<SystemTime>,
}

impl Invocation {
    pub fn from_lambda(context: &lambda_runtime::Context) -> Invocation {
        Invocation {
            request_id: context.request_id.clone(),
            trace_id: context.xray_trace_id.clone(),
            deadline: (context.deadline > 0)
                .then(|| UNIX_EPOCH + Duration::from_millis(context.deadline)),
        }
    }
}

type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

/// Writes the lines. Cloning shares the sink.
#[derive(Clone)]
pub struct Telemetry {
    namespace: String,
    sink: Sink,
}

/// Lines captured in memory (tests).
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Every line written so far, parsed.
    pub fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Telemetry {
    /// Lines to standard output (what Lambda sends to CloudWatch Logs).
    pub fn stdout(namespace: impl Into<String>) -> Telemetry {
        Telemetry {
            namespace: namespace.into(),
            sink: Arc::new(Mutex::new(Box::new(std::io::stdout()))),
        }
    }

    /// Lines kept in memory.
    pub fn captured(namespace: impl Into<String>) -> (Telemetry, Captured) {
        let captured = Captured::default();
        let telemetry = Telemetry {
            namespace: namespace.into(),
            sink: Arc::new(Mutex::new(Box::new(captured.clone()))),
        };
        (telemetry, captured)
    }

    pub fn file(&self, report: &FileReport, invocation: &Invocation) {
        self.write(file_line(
            &self.namespace,
            report,
            invocation,
            SystemTime::now(),
        ));
    }

    pub fn message(&self, event: &MessageEvent<'_>, message_id: &str, invocation: &Invocation) {
        let now = SystemTime::now();
        self.write(message_line(
            &self.namespace,
            event,
            message_id,
            invocation,
            now,
        ));
    }

    fn write(&self, line: Value) {
        if let Ok(mut sink) = self.sink.lock() {
            // One write per line so concurrent records never interleave inside a line; a
            // failed write to stdout has nowhere better to be reported.
            let _ = sink.write_all(format!("{line}\n").as_bytes());
            let _ = sink.flush();
        }
    }
}

/// One metric of a line: its name, CloudWatch unit and value. Each name is written once, here,
/// and becomes both the directive's entry and the root member holding the value.
struct Metric {
    name: &'static str,
    unit: &'static str,
    value: u64,
}

/// An EMF document: `_aws` with one directive (dimension `Entity`) listing `metrics`, the
/// metric values and `Entity` as root members, then `members`.
fn emf_line(
    namespace: &str,
    entity: &str,
    metrics: &[Metric],
    members: Map<String, Value>,
    now: SystemTime,
) -> Value {
    let timestamp = millis(now.duration_since(UNIX_EPOCH).unwrap_or_default());
    let directive: Vec<Value> = metrics
        .iter()
        .map(|m| json!({"Name": m.name, "Unit": m.unit}))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["Entity"]],
                "Metrics": directive,
            }]
        }),
    );
    root.insert("Entity".into(), entity.into());
    for metric in metrics {
        root.insert(metric.name.into(), metric.value.into());
    }
    root.extend(members);
    Value::Object(root)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn optional(value: &Option<String>) -> Value {
    value.clone().map(Value::from).unwrap_or(Value::Null)
}

/// The JSON document of one file.
pub fn file_line(
    namespace: &str,
    report: &FileReport,
    invocation: &Invocation,
    now: SystemTime,
) -> Value {
    let processed = report.outcome == Outcome::Processed;
    let level = match report.outcome {
        Outcome::Rejected => "ERROR",
        Outcome::Retry => "WARN",
        _ => "INFO",
    };
    let counted = |value: u64| if processed { value } else { 0 };
    let metrics = [
        Metric {
            name: "FilesProcessed",
            unit: "Count",
            value: u64::from(processed),
        },
        Metric {
            name: "FilesRejected",
            unit: "Count",
            value: u64::from(report.outcome == Outcome::Rejected),
        },
        Metric {
            name: "RowsProcessed",
            unit: "Count",
            value: counted(report.rows),
        },
        Metric {
            name: "BytesProcessed",
            unit: "Bytes",
            value: counted(report.bytes),
        },
        Metric {
            name: "ProcessingMillis",
            unit: "Milliseconds",
            value: millis(report.duration),
        },
    ];
    let members = json!({
        "level": level,
        "message": format!("file {}", report.outcome.as_str()),
        "outcome": report.outcome.as_str(),
        "source_bucket": optional(&report.source_bucket),
        "source_key": optional(&report.source_key),
        "output_key": optional(&report.output_key),
        "partition": optional(&report.partition),
        "reason": optional(&report.reason),
        "trace_id": optional(&invocation.trace_id),
        "rows": report.rows,
        "bytes": report.bytes,
        "duration_ms": millis(report.duration),
        "message_id": report.message_id,
        "request_id": invocation.request_id,
    });
    let entity = report.entity.as_deref().unwrap_or("unknown");
    emf_line(namespace, entity, &metrics, as_map(members), now)
}

/// What the handler did with a failed message: each variant is one log line and one metric
/// (`MessagesDeadLettered`, `DeadLetterSendFailures`, `RetriesDelayed`,
/// `VisibilityChangeFailures`), so a dashboard and a log search see the same events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageEvent<'a> {
    DeadLettered {
        dlq_message_id: &'a str,
        failure: &'a Failure,
    },
    /// The DLQ send failed; the message is reported failed and comes back (nothing is lost).
    DeadLetterFailed {
        failure: &'a Failure,
        error: &'a Failure,
    },
    RetryDelayed {
        receive_count: u32,
        retry_in_seconds: u32,
        failure: &'a Failure,
    },
    /// ChangeMessageVisibility failed: the message returns after the queue's own visibility
    /// timeout instead, which is still a retry.
    VisibilityChangeFailed {
        failure: &'a Failure,
        error: &'a Failure,
    },
}

impl MessageEvent<'_> {
    fn metric_name(&self) -> &'static str {
        match self {
            MessageEvent::DeadLettered { .. } => "MessagesDeadLettered",
            MessageEvent::DeadLetterFailed { .. } => "DeadLetterSendFailures",
            MessageEvent::RetryDelayed { .. } => "RetriesDelayed",
            MessageEvent::VisibilityChangeFailed { .. } => "VisibilityChangeFailures",
        }
    }

    /// Level, message and the event's own members.
    fn members(&self) -> Value {
        match self {
            MessageEvent::DeadLettered {
                dlq_message_id,
                failure,
            } => json!({
                "level": "WARN",
                "message": "message sent to the DLQ",
                "dlq_message_id": dlq_message_id,
                "error_class": failure.class_name(),
                "reason": failure.reason,
            }),
            MessageEvent::DeadLetterFailed { failure, error } => json!({
                "level": "ERROR",
                "message": "sending to the DLQ failed; the message is reported as failed instead",
                "reason": failure.reason,
                "error": error.reason,
            }),
            MessageEvent::RetryDelayed {
                receive_count,
                retry_in_seconds,
                failure,
            } => json!({
                "level": "WARN",
                "message": "transient failure; retry delayed",
                "receive_count": receive_count,
                "retry_in_seconds": retry_in_seconds,
                "reason": failure.reason,
            }),
            MessageEvent::VisibilityChangeFailed { failure, error } => json!({
                "level": "WARN",
                "message": "transient failure; ChangeMessageVisibility failed",
                "reason": failure.reason,
                "error": error.reason,
            }),
        }
    }
}

/// The JSON document of one message event.
pub fn message_line(
    namespace: &str,
    event: &MessageEvent<'_>,
    message_id: &str,
    invocation: &Invocation,
    now: SystemTime,
) -> Value {
    let metrics = [Metric {
        name: event.metric_name(),
        unit: "Count",
        value: 1,
    }];
    let mut members = as_map(event.members());
    members.insert("message_id".into(), message_id.into());
    members.insert("request_id".into(), invocation.request_id.clone().into());
    members.insert("trace_id".into(), optional(&invocation.trace_id));
    emf_line(namespace, "all", &metrics, members, now)
}

fn as_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(outcome: Outcome) -> FileReport {
        FileReport {
            message_id: "m1".into(),
            entity: Some("sales".into()),
            source_bucket: Some("src".into()),
            source_key: Some("in/sales_data_2024_03_15.csv".into()),
            output_key: Some(
                "sales_data/year=2024/month=03/day=15/sales_data_2024_03_15.csv".into(),
            ),
            partition: Some("s3://a/sales_data/year=2024/month=03/day=15/".into()),
            rows: 10,
            bytes: 300,
            duration: Duration::from_millis(42),
            outcome,
            reason: None,
        }
    }

    /// Checks the EMF rules the spec states: `_aws.Timestamp` and `CloudWatchMetrics`, every
    /// metric and dimension a root member, metric values numbers, dimension values strings.
    fn assert_valid_emf(line: &Value) {
        let aws = &line["_aws"];
        assert!(aws["Timestamp"].is_u64());
        for directive in aws["CloudWatchMetrics"].as_array().unwrap() {
            assert!(directive["Namespace"]
                .as_str()
                .is_some_and(|n| !n.is_empty()));
            for set in directive["Dimensions"].as_array().unwrap() {
                let set = set.as_array().unwrap();
                assert!(set.len() <= 9);
                for dimension in set {
                    assert!(line[dimension.as_str().unwrap()].is_string());
                }
            }
            let metrics = directive["Metrics"].as_array().unwrap();
            assert!(metrics.len() <= 100);
            for metric in metrics {
                assert!(
                    line[metric["Name"].as_str().unwrap()].is_number(),
                    "{metric}"
                );
            }
        }
    }

    #[test]
    fn processed_file_line() {
        let invocation = Invocation {
            request_id: "req-1".into(),
            trace_id: Some("Root=1-abc".into()),
            deadline: None,
        };
        let line = file_line("NS", &report(Outcome::Processed), &invocation, UNIX_EPOCH);
        assert_valid_emf(&line);
        assert_eq!(line["FilesProcessed"], 1);
        assert_eq!(line["FilesRejected"], 0);
        assert_eq!(line["RowsProcessed"], 10);
        assert_eq!(line["BytesProcessed"], 300);
        assert_eq!(line["ProcessingMillis"], 42);
        assert_eq!(line["trace_id"], "Root=1-abc");
        assert_eq!(line["request_id"], "req-1");
        assert_eq!(line["outcome"], "processed");
        assert_eq!(line["Entity"], "sales");
    }

    #[test]
    fn rejected_file_line_counts_no_rows() {
        let mut rejected = report(Outcome::Rejected);
        rejected.entity = None;
        rejected.reason = Some("bad".into());
        let line = file_line("NS", &rejected, &Invocation::default(), SystemTime::now());
        assert_valid_emf(&line);
        assert_eq!(line["FilesRejected"], 1);
        assert_eq!(line["RowsProcessed"], 0);
        assert_eq!(line["Entity"], "unknown");
        assert_eq!(line["level"], "ERROR");
    }

    #[test]
    fn captured_lines_parse() {
        let (telemetry, captured) = Telemetry::captured("NS");
        telemetry.file(&report(Outcome::Duplicate), &Invocation::default());
        let lines = captured.lines();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["outcome"], "duplicate");
    }

    #[test]
    fn message_events_are_one_line_and_one_metric_each() {
        let failure = Failure::transient("slow");
        let error = Failure::transient("SQS down");
        let events = [
            (
                MessageEvent::DeadLettered {
                    dlq_message_id: "d1",
                    failure: &failure,
                },
                "MessagesDeadLettered",
            ),
            (
                MessageEvent::DeadLetterFailed {
                    failure: &failure,
                    error: &error,
                },
                "DeadLetterSendFailures",
            ),
            (
                MessageEvent::RetryDelayed {
                    receive_count: 2,
                    retry_in_seconds: 17,
                    failure: &failure,
                },
                "RetriesDelayed",
            ),
            (
                MessageEvent::VisibilityChangeFailed {
                    failure: &failure,
                    error: &error,
                },
                "VisibilityChangeFailures",
            ),
        ];
        for (event, metric) in events {
            let line = message_line("NS", &event, "m1", &Invocation::default(), UNIX_EPOCH);
            assert_valid_emf(&line);
            assert_eq!(line[metric], 1, "{line}");
            assert_eq!(line["message_id"], "m1");
            assert_eq!(line["reason"], "slow");
        }
        let delayed = MessageEvent::RetryDelayed {
            receive_count: 2,
            retry_in_seconds: 17,
            failure: &failure,
        };
        let line = message_line("NS", &delayed, "m1", &Invocation::default(), UNIX_EPOCH);
        assert_eq!(line["retry_in_seconds"], 17);
        assert_eq!(line["level"], "WARN");
    }
}
