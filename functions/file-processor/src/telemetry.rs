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
        let line = file_line(&self.namespace, report, invocation, SystemTime::now());
        if let Ok(mut sink) = self.sink.lock() {
            // One write per line so concurrent records never interleave inside a line; a
            // failed write to stdout has nowhere better to be reported.
            let _ = sink.write_all(format!("{line}\n").as_bytes());
            let _ = sink.flush();
        }
    }
}

/// The JSON document of one file.
pub fn file_line(
    namespace: &str,
    report: &FileReport,
    invocation: &Invocation,
    now: SystemTime,
) -> Value {
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let timestamp = millis(now.duration_since(UNIX_EPOCH).unwrap_or_default());
    let processed = report.outcome == Outcome::Processed;
    let level = match report.outcome {
        Outcome::Rejected => "ERROR",
        Outcome::Retry => "WARN",
        _ => "INFO",
    };
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["Entity"]],
                "Metrics": [
                    {"Name": "FilesProcessed", "Unit": "Count"},
                    {"Name": "FilesRejected", "Unit": "Count"},
                    {"Name": "RowsProcessed", "Unit": "Count"},
                    {"Name": "BytesProcessed", "Unit": "Bytes"},
                    {"Name": "ProcessingMillis", "Unit": "Milliseconds"}
                ]
            }]
        }),
    );
    root.insert("level".into(), level.into());
    root.insert(
        "message".into(),
        format!("file {}", report.outcome.as_str()).into(),
    );
    root.insert(
        "Entity".into(),
        report
            .entity
            .clone()
            .unwrap_or_else(|| "unknown".into())
            .into(),
    );
    root.insert("FilesProcessed".into(), u64::from(processed).into());
    root.insert(
        "FilesRejected".into(),
        u64::from(report.outcome == Outcome::Rejected).into(),
    );
    root.insert(
        "RowsProcessed".into(),
        (if processed { report.rows } else { 0 }).into(),
    );
    root.insert(
        "BytesProcessed".into(),
        (if processed { report.bytes } else { 0 }).into(),
    );
    root.insert("ProcessingMillis".into(), millis(report.duration).into());
    root.insert("outcome".into(), report.outcome.as_str().into());
    let optional = [
        ("source_bucket", &report.source_bucket),
        ("source_key", &report.source_key),
        ("output_key", &report.output_key),
        ("partition", &report.partition),
        ("reason", &report.reason),
        ("trace_id", &invocation.trace_id),
    ];
    for (name, value) in optional {
        root.insert(
            name.into(),
            value.clone().map(Value::from).unwrap_or(Value::Null),
        );
    }
    root.insert("rows".into(), report.rows.into());
    root.insert("bytes".into(), report.bytes.into());
    root.insert("duration_ms".into(), millis(report.duration).into());
    root.insert("message_id".into(), report.message_id.clone().into());
    root.insert("request_id".into(), invocation.request_id.clone().into());
    Value::Object(root)
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
}
