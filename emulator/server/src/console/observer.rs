//! Turns what the services report (SQS message movements, Lambda invocations and log lines,
//! Glue partitions) into console events.
//!
//! Correlation: a file is bucket + key + version (ETag and sequencer of its S3 event). The SQS
//! message body carries the S3 event, so every message movement names its files; the handler's
//! EMF log line of a file names the SQS message id it came from; an invocation's SQS event
//! payload lists the message ids of its batch.

use bytes::Bytes;
use emulator_glue::{CreatedPartition, GlueObserver};
use emulator_lambda::{FailureKind, InvocationResult, LambdaObserver};
use emulator_sqs::{MessageAttributeValue, SqsEvent, SqsObserver};
use pipeline_core::event::{parse_sqs_body, ParsedBody};
use serde_json::Value;

use super::events::{now_ms, EventKind, FileRef};
use super::metrics::{EntityLabels, FunctionErrorLabels, FunctionLabels};
use super::{Console, InvocationRecord};

/// The message attribute the handler puts the failure reason in when it dead-letters a file.
const ERROR_REASON: &str = "error_reason";

pub struct ConsoleObserver {
    console: Console,
}

impl ConsoleObserver {
    pub fn new(console: Console) -> Self {
        Self { console }
    }

    fn message_cap(&self) -> usize {
        self.console
            .options()
            .journey_cap
            .saturating_mul(4)
            .max(1024)
    }

    /// The files a message announces: remembered, else parsed from its body.
    fn files(&self, message_id: &str, body: &str) -> Vec<FileRef> {
        if let Some(files) = self.console.state().files_of_message(message_id) {
            return files.clone();
        }
        let files = files_in_body(body);
        self.console
            .state()
            .remember_message(message_id, &files, self.message_cap());
        files
    }

    fn sent(
        &self,
        queue: &str,
        message_id: &str,
        body: &str,
        attributes: &std::collections::BTreeMap<String, MessageAttributeValue>,
    ) {
        // A sent message is new: parse its body once for the files and their sizes.
        let objects = objects_in_body(body);
        if objects.is_empty() {
            return;
        }
        let files: Vec<FileRef> = objects.iter().map(|(file, _)| file.clone()).collect();
        let metrics = self.console.metrics();
        let mut state = self.console.state();
        state.remember_message(message_id, &files, self.message_cap());
        if let Some(reason) = attributes
            .get(ERROR_REASON)
            .and_then(|v| v.string_value.clone())
        {
            state.dead_letter_queues.insert(queue.to_owned());
            for file in files {
                state.publish(
                    metrics,
                    EventKind::FileDeadLettered {
                        file,
                        queue: queue.to_owned(),
                        message_id: message_id.to_owned(),
                        error_reason: reason.clone(),
                    },
                );
            }
            return;
        }
        for (file, size) in objects {
            if state.journeys.get(&file).is_none() {
                let entity = self
                    .console
                    .config()
                    .and_then(|config| pipeline_core::route::route(config, &file.key).ok())
                    .map(|route| route.entity);
                state.publish(
                    metrics,
                    EventKind::FileReceived {
                        file: file.clone(),
                        size,
                        entity,
                    },
                );
            }
            state.publish(
                metrics,
                EventKind::FileQueued {
                    file,
                    queue: queue.to_owned(),
                    message_id: message_id.to_owned(),
                },
            );
        }
    }
}

impl SqsObserver for ConsoleObserver {
    fn observe(&self, event: SqsEvent<'_>) {
        match event {
            SqsEvent::Sent {
                queue,
                message_id,
                body,
                attributes,
            } => self.sent(queue, message_id, body, attributes),
            SqsEvent::Received {
                queue,
                message_id,
                body,
                receive_count,
            } => {
                // A receive from a DLQ is someone inspecting it, not processing.
                if self.console.state().dead_letter_queues.contains(queue) {
                    return;
                }
                self.publish_each(message_id, body, |file| EventKind::FileProcessing {
                    file,
                    queue: queue.to_owned(),
                    message_id: message_id.to_owned(),
                    receive_count,
                });
            }
            SqsEvent::DeadLettered {
                queue,
                dead_letter_queue,
                message_id,
                body,
                receive_count,
            } => {
                self.console
                    .state()
                    .dead_letter_queues
                    .insert(dead_letter_queue.to_owned());
                self.publish_each(message_id, body, |file| EventKind::FileDeadLettered {
                    file,
                    queue: dead_letter_queue.to_owned(),
                    message_id: message_id.to_owned(),
                    error_reason: format!(
                        "moved by {queue}'s redrive policy after {receive_count} receives \
                         (maxReceiveCount) without the handler dead-lettering it; see the \
                         invocations for why they failed"
                    ),
                });
            }
            SqsEvent::Moved {
                source,
                destination,
                message_id,
                body,
            } => self.publish_each(message_id, body, |file| EventKind::FileRedriven {
                file,
                from_queue: source.to_owned(),
                queue: destination.to_owned(),
                message_id: message_id.to_owned(),
            }),
        }
    }
}

impl ConsoleObserver {
    /// Publishes `event(file)` for each file the message announces.
    fn publish_each(&self, message_id: &str, body: &str, event: impl Fn(FileRef) -> EventKind) {
        let files = self.files(message_id, body);
        let metrics = self.console.metrics();
        let mut state = self.console.state();
        for file in files {
            state.publish(metrics, event(file));
        }
    }
}

impl LambdaObserver for ConsoleObserver {
    fn invocation_started(&self, function: &str, _payload: &Bytes) {
        let metrics = self.console.metrics();
        let labels = FunctionLabels {
            function: function.to_owned(),
        };
        metrics.invocations.get_or_create(&labels).inc();
        metrics.concurrent.get_or_create(&labels).inc();
        *self
            .console
            .state()
            .running
            .entry(function.to_owned())
            .or_default() += 1;
    }

    fn invocation_finished(
        &self,
        function: &str,
        payload: &Bytes,
        result: Option<&InvocationResult>,
    ) {
        let metrics = self.console.metrics();
        let labels = FunctionLabels {
            function: function.to_owned(),
        };
        metrics.concurrent.get_or_create(&labels).dec();
        if let Some(running) = self.console.state().running.get_mut(function) {
            *running -= 1;
        }
        let Some(result) = result else {
            return;
        };
        self.record_invocation_metrics(function, result);
        let files = self.files_of_payload(payload);
        let (outcome, error_type) = outcome_of(result.failure.as_ref());
        let metrics = self.console.metrics();
        let mut state = self.console.state();
        if let Some(kind) = result.failure.as_ref().filter(|k| destroys_environment(k)) {
            state.publish(
                metrics,
                EventKind::FunctionCrashed {
                    function: function.to_owned(),
                    request_id: result.request_id.clone(),
                    error_type: kind.error_type(),
                },
            );
        }
        if let Some(error) = &error_type {
            for file in &files {
                state.publish(metrics, EventKind::FileRetrying {
                    file: file.clone(),
                    request_id: result.request_id.clone(),
                    reason: format!("invocation {outcome} ({error}); the message returns after the visibility timeout"),
                });
            }
        }
        state.publish(
            metrics,
            EventKind::InvocationFinished {
                function: function.to_owned(),
                request_id: result.request_id.clone(),
                duration_ms: result.duration.as_secs_f64() * 1000.0,
                outcome: outcome.to_owned(),
                error_type: error_type.clone(),
                cold_start: result.init_duration.is_some(),
                files: files.clone(),
            },
        );
        state.record_invocation(InvocationRecord {
            function: function.to_owned(),
            request_id: result.request_id.clone(),
            time_ms: now_ms(),
            duration_ms: result.duration.as_secs_f64() * 1000.0,
            outcome: outcome.to_owned(),
            error_type,
            cold_start: result.init_duration.is_some(),
            files,
            log: result.log_tail.lines().map(str::to_owned).collect(),
        });
    }

    fn log_line(&self, function: &str, request_id: Option<&str>, line: &str) {
        if let Some(init) = line.strip_prefix("INIT Duration: ") {
            self.console.publish(EventKind::FunctionStarted {
                function: function.to_owned(),
                instance: field_after(init, "Instance: ").and_then(|v| v.parse().ok()),
                init_ms: init.split_whitespace().next().and_then(|v| v.parse().ok()),
            });
            return;
        }
        // The handler's EMF documents are whole JSON lines with an `_aws` member.
        if line.starts_with('{') && line.contains("\"_aws\"") {
            if let Ok(document) = serde_json::from_str::<Value>(line) {
                self.emf(request_id.unwrap_or_default(), &document);
            }
        }
    }
}

impl ConsoleObserver {
    fn record_invocation_metrics(&self, function: &str, result: &InvocationResult) {
        let metrics = self.console.metrics();
        let labels = FunctionLabels {
            function: function.to_owned(),
        };
        metrics
            .invocation_seconds
            .get_or_create(&labels)
            .observe(result.duration.as_secs_f64());
        if result.init_duration.is_some() {
            metrics.cold_starts.get_or_create(&labels).inc();
        }
        if let Some(kind) = &result.failure {
            if *kind == FailureKind::Timeout {
                metrics.timeouts.get_or_create(&labels).inc();
            }
            metrics
                .invocation_errors
                .get_or_create(&FunctionErrorLabels {
                    function: function.to_owned(),
                    error_type: kind.error_type(),
                })
                .inc();
        }
    }

    /// The files of the SQS messages in an invocation's event (none for other payloads).
    fn files_of_payload(&self, payload: &Bytes) -> Vec<FileRef> {
        let Ok(event) = serde_json::from_slice::<Value>(payload) else {
            return Vec::new();
        };
        let Some(records) = event.get("Records").and_then(Value::as_array) else {
            return Vec::new();
        };
        let mut files = Vec::new();
        for record in records {
            if record.get("eventSource").and_then(Value::as_str) != Some("aws:sqs") {
                continue;
            }
            let message_id = record
                .get("messageId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let body = record
                .get("body")
                .and_then(Value::as_str)
                .unwrap_or_default();
            files.extend(self.files(message_id, body));
        }
        files
    }

    /// One EMF document of the handler: a file's outcome, or a message event.
    fn emf(&self, request_id: &str, document: &Value) {
        let text = |name: &str| document.get(name).and_then(Value::as_str);
        let count = |name: &str| document.get(name).and_then(Value::as_u64).unwrap_or(0);
        let Some(outcome) = text("outcome") else {
            return;
        };
        let entity = text("Entity").unwrap_or("unknown").to_owned();
        let metrics = self.console.metrics();
        let labels = EntityLabels {
            entity: entity.clone(),
        };
        metrics
            .files_processed
            .get_or_create(&labels)
            .inc_by(count("FilesProcessed"));
        metrics
            .files_rejected
            .get_or_create(&labels)
            .inc_by(count("FilesRejected"));
        metrics
            .rows_processed
            .get_or_create(&labels)
            .inc_by(count("RowsProcessed"));
        metrics
            .bytes_processed
            .get_or_create(&labels)
            .inc_by(count("BytesProcessed"));
        let request_id = text("request_id").unwrap_or(request_id).to_owned();
        let files = self.files_of_report(
            text("message_id"),
            text("source_bucket"),
            text("source_key"),
        );
        let mut state = self.console.state();
        for file in files {
            let kind = match outcome {
                "processed" => {
                    if let Some(journey) = state.journeys.get(&file) {
                        let seconds = now_ms().saturating_sub(journey.first_ms) as f64 / 1000.0;
                        metrics
                            .end_to_end_seconds
                            .get_or_create(&labels)
                            .observe(seconds);
                    }
                    EventKind::FileProcessed {
                        file,
                        request_id: request_id.clone(),
                        entity: entity.clone(),
                        rows: count("rows"),
                        bytes: count("bytes"),
                        output_key: text("output_key").map(str::to_owned),
                        partition: text("partition").map(str::to_owned),
                        duration_ms: count("duration_ms"),
                    }
                }
                "duplicate" | "stale" | "superseded" => EventKind::FileSkipped {
                    file,
                    request_id: request_id.clone(),
                    entity: entity.clone(),
                    reason: outcome.to_owned(),
                },
                "retry" => EventKind::FileRetrying {
                    file,
                    request_id: request_id.clone(),
                    reason: text("reason").unwrap_or("transient failure").to_owned(),
                },
                // Rejected files are dead-lettered by the handler's DLQ send (with its reason).
                _ => continue,
            };
            state.publish(metrics, kind);
        }
    }

    /// The files a handler report is about: those of its SQS message, else the newest version
    /// of its source object.
    fn files_of_report(
        &self,
        message_id: Option<&str>,
        bucket: Option<&str>,
        key: Option<&str>,
    ) -> Vec<FileRef> {
        let state = self.console.state();
        let from_message = message_id
            .and_then(|id| state.files_of_message(id))
            .cloned()
            .unwrap_or_default();
        let matching: Vec<FileRef> = match (bucket, key) {
            (Some(bucket), Some(key)) => from_message
                .iter()
                .filter(|f| f.bucket == bucket && f.key == key)
                .cloned()
                .collect(),
            _ => from_message.clone(),
        };
        if !matching.is_empty() {
            return matching;
        }
        match (bucket, key) {
            (Some(bucket), Some(key)) => state
                .journeys
                .versions(bucket, key)
                .first()
                .map(|j| vec![j.file.clone()])
                .unwrap_or_default(),
            _ => from_message,
        }
    }
}

impl GlueObserver for ConsoleObserver {
    fn partition_created(&self, partition: &CreatedPartition) {
        self.console.publish(EventKind::PartitionCreated {
            database: partition.database.clone(),
            table: partition.table.clone(),
            values: partition.values.clone(),
            location: partition.location.clone(),
        });
    }
}

/// `ok`, `error`, `timeout` or `crash`, and the error type of a failure.
fn outcome_of(failure: Option<&FailureKind>) -> (&'static str, Option<String>) {
    match failure {
        None => ("ok", None),
        Some(FailureKind::Timeout) => ("timeout", Some(FailureKind::Timeout.error_type())),
        Some(kind @ FailureKind::Function(_)) | Some(kind @ FailureKind::ResponseTooLarge) => {
            ("error", Some(kind.error_type()))
        }
        Some(kind) => ("crash", Some(kind.error_type())),
    }
}

/// Failures after which Lambda destroys the execution environment.
fn destroys_environment(kind: &FailureKind) -> bool {
    !matches!(kind, FailureKind::Function(_))
}

/// The ObjectCreated files a message body announces (none for anything else).
pub fn files_in_body(body: &str) -> Vec<FileRef> {
    objects_in_body(body)
        .into_iter()
        .map(|(file, _)| file)
        .collect()
}

/// [`files_in_body`] with each object's size.
fn objects_in_body(body: &str) -> Vec<(FileRef, Option<i64>)> {
    match parse_sqs_body(body) {
        Ok(ParsedBody::Objects(objects)) => objects
            .into_iter()
            .filter(|o| o.is_object_created())
            .map(|o| {
                let file = FileRef {
                    version: format!(
                        "{}:{}",
                        o.etag.as_deref().unwrap_or("-"),
                        o.sequencer.as_deref().unwrap_or("-")
                    ),
                    bucket: o.bucket,
                    key: o.key,
                };
                (file, o.size)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The text after `label` up to the next whitespace.
fn field_after<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.split_once(label)?.1.split_whitespace().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_body_names_its_file_version() {
        let body = serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2024-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "x"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "r", "x-amz-id-2": "h"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
                   "bucket": {"name": "src", "ownerIdentity": {"principalId": "o"}, "arn": "arn:aws:s3:::src"},
                   "object": {"key": "a+b.csv", "size": 4, "eTag": "abc", "sequencer": "0A"}}}]})
        .to_string();
        let body = body.as_str();
        let files = files_in_body(body);
        assert_eq!(
            files,
            vec![FileRef {
                bucket: "src".into(),
                key: "a b.csv".into(),
                version: "abc:0A".into()
            }]
        );
        assert_eq!(objects_in_body(body)[0].1, Some(4));
        assert!(files_in_body("not json").is_empty());
        assert_eq!(
            field_after("12.5 ms\tInstance: 3\t(x)", "Instance: "),
            Some("3")
        );
    }
}
