//! The batch handler: an SQS batch of S3 notifications in, a partial batch response out.
//!
//! 1. Every record is processed on its own (several at once, `record_concurrency`), in a tracing
//!    span carrying its message id, isolated from the others: a panic becomes that record's
//!    transient failure (`catch_unwind`); a copy that cannot finish in the invocation's time
//!    stops cleanly before the deadline ([`crate::budget`]), and a record still running at the
//!    backstop is dropped.
//!    Per object: route, HeadObject + idempotency decision, then the validated streaming copy.
//!    Copies of the same output key within one invocation are serialized (a batch may hold the
//!    same event twice).
//! 2. The partitions the batch's files need are made sure of in one pass (cache, then
//!    BatchCreatePartition per table).
//! 3. Each record's verdict, decided purely from its files' failures and its receive count
//!    ([`crate::verdict`]), then carried out: done; retry (delayed with ChangeMessageVisibility
//!    and listed in `batchItemFailures`); dead-letter (sent to the DLQ with
//!    `error_class`/`error_reason`, a body too large for that kept in S3 and referenced
//!    ([`crate::dead_letter`]), then reported as success so the event source mapping deletes
//!    it; if the DLQ send fails, delayed and listed as failed instead: nothing is dropped). A
//!    transient failure on the message's last receive is dead-lettered with its reason, so no
//!    message reaches the DLQ without one. One log/EMF line per file and per action.
//!
//! Partial batch responses: <https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::{FutureExt, StreamExt};
use pipeline_core::config::Config;
use pipeline_core::event::{parse_sqs_body, ObjectRef, ParsedBody};
use pipeline_core::failure::parse_receive_count;
use pipeline_core::route::{route, s3_uri, Route};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};
use tracing::Instrument;

use crate::budget::Budget;
use crate::clients::Clients;
use crate::dead_letter;
use crate::failures::{Failure, FailureSink};
use crate::idempotency::{decide, Decision, SourceMarker};
use crate::object::{self, CopyJob, CopyOutcome};
use crate::partitions::{PartitionCache, PartitionId, PartitionNeed, Partitions};
use crate::settings::Settings;
use crate::telemetry::{FileReport, Invocation, MessageEvent, Outcome, Telemetry};
use crate::verdict::{self, Attempt, Verdict};

/// The handler. Create it once per execution environment and reuse it across invocations: it
/// holds the clients, the partition cache and the resolved queue URLs.
pub struct Processor {
    clients: Clients,
    config: Arc<Config>,
    settings: Settings,
    partitions: Partitions,
    failure_sink: FailureSink,
    telemetry: Telemetry,
}

/// What one file came to.
#[derive(Debug)]
enum FileState {
    Written { rows: u64, bytes: u64 },
    Skipped(Outcome),
    Failed(Failure),
}

#[derive(Debug)]
struct FileWork {
    object: ObjectRef,
    route: Option<Route>,
    /// The Glue partition the file needs (written, or already applied), decided once.
    need: Option<PartitionNeed>,
    duration: Duration,
    state: FileState,
}

#[derive(Debug)]
enum RecordState {
    TestEvent,
    Files(Vec<FileWork>),
    /// The record as a whole failed (unusable body, panic, deadline).
    Failed(Failure),
}

struct RecordWork<'a> {
    message: &'a SqsMessage,
    started: Instant,
    state: RecordState,
}

/// Per-invocation locks by output key.
#[derive(Default)]
struct KeyLocks(std::sync::Mutex<HashMap<String, Arc<AsyncMutex<()>>>>);

impl KeyLocks {
    async fn lock(&self, key: &str) -> Option<OwnedMutexGuard<()>> {
        let lock = self
            .0
            .lock()
            .ok()?
            .entry(key.to_string())
            .or_default()
            .clone();
        Some(lock.lock_owned().await)
    }
}

impl Processor {
    pub fn new(clients: Clients, config: Config, settings: Settings) -> Processor {
        let config = Arc::new(config);
        let telemetry = Telemetry::stdout(settings.metrics_namespace.clone());
        Processor {
            partitions: Partitions::new(clients.glue.clone(), config.clone()),
            failure_sink: FailureSink::new(
                clients.sqs.clone(),
                clients.s3.clone(),
                settings.dlq.clone(),
                settings.analytics_bucket.clone(),
                settings.retry_policy,
                settings.min_retry_delay_seconds,
            ),
            clients,
            config,
            settings,
            telemetry,
        }
    }

    /// Replaces where the per-file lines go (tests capture them).
    pub fn with_telemetry(mut self, telemetry: Telemetry) -> Processor {
        self.telemetry = telemetry;
        self
    }

    pub fn partition_cache(&self) -> &PartitionCache {
        self.partitions.cache()
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Handles one SQS batch and returns the partial batch response.
    pub async fn handle_batch(&self, event: SqsEvent, invocation: &Invocation) -> SqsBatchResponse {
        let locks = KeyLocks::default();
        let budget = Budget::from_deadline(invocation.deadline, self.settings.deadline_margin);
        let works: Vec<RecordWork<'_>> = futures::stream::iter(event.records.iter())
            .map(|message| {
                self.process_record_isolated(message, &locks, budget)
                    .instrument(record_span(message))
            })
            .buffered(self.settings.record_concurrency.max(1))
            .collect()
            .await;

        let needs: Vec<PartitionNeed> = works
            .iter()
            .filter_map(|work| match &work.state {
                RecordState::Files(files) => Some(files.iter().filter_map(|f| f.need.clone())),
                _ => None,
            })
            .flatten()
            .collect();
        let partition_results = self.partitions.ensure(&needs).await;

        let failed: Vec<Option<String>> =
            futures::future::join_all(works.into_iter().map(|work| {
                let span = record_span(work.message);
                self.finish_record(work, &partition_results, invocation)
                    .instrument(span)
            }))
            .await;
        let mut response = SqsBatchResponse::default();
        for message_id in failed.into_iter().flatten() {
            response.add_failure(message_id);
        }
        response
    }

    async fn process_record_isolated<'a>(
        &self,
        message: &'a SqsMessage,
        locks: &KeyLocks,
        budget: Budget,
    ) -> RecordWork<'a> {
        let started = Instant::now();
        let state = isolate(
            self.process_record(message, locks, budget),
            budget.backstop(),
        )
        .await
        .unwrap_or_else(RecordState::Failed);
        RecordWork {
            message,
            started,
            state,
        }
    }

    async fn process_record(
        &self,
        message: &SqsMessage,
        locks: &KeyLocks,
        budget: Budget,
    ) -> RecordState {
        let body = message.body.as_deref().unwrap_or_default();
        match parse_sqs_body(body) {
            Err(error) => {
                let earlier_reason = message
                    .message_attributes
                    .get(dead_letter::ERROR_REASON)
                    .and_then(|attribute| attribute.string_value.as_deref());
                RecordState::Failed(Failure::permanent(dead_letter::unusable_body_reason(
                    message.message_id.as_deref().unwrap_or("(no id)"),
                    body,
                    &error,
                    earlier_reason,
                )))
            }
            Ok(ParsedBody::TestEvent) => RecordState::TestEvent,
            Ok(ParsedBody::Objects(objects)) => {
                let mut files = Vec::with_capacity(objects.len());
                for object in objects {
                    files.push(self.process_object(object, locks, budget).await);
                }
                RecordState::Files(files)
            }
        }
    }

    async fn process_object(
        &self,
        object: ObjectRef,
        locks: &KeyLocks,
        budget: Budget,
    ) -> FileWork {
        let started = Instant::now();
        let (route, state) = match self.route_object(&object) {
            Err(state) => (None, state),
            Ok(route) => {
                let state = self.copy_object(&object, &route, locks, budget).await;
                (Some(route), state)
            }
        };
        let need = route.as_ref().and_then(|route| self.need_of(route, &state));
        FileWork {
            object,
            route,
            need,
            duration: started.elapsed(),
            state,
        }
    }

    fn route_object(&self, object: &ObjectRef) -> Result<Route, FileState> {
        let source = s3_uri(&object.bucket, &object.key);
        if !object.is_object_created() {
            return Err(FileState::Skipped(Outcome::Ignored));
        }
        if object.bucket != self.settings.source_bucket {
            return Err(FileState::Failed(Failure::permanent(format!(
                "{source}: bucket {} is not the pipeline's source bucket {}",
                object.bucket, self.settings.source_bucket
            ))));
        }
        route(&self.config, &object.key)
            .map_err(|error| FileState::Failed(Failure::permanent(format!("{source}: {error}"))))
    }

    async fn copy_object(
        &self,
        object: &ObjectRef,
        route: &Route,
        locks: &KeyLocks,
        budget: Budget,
    ) -> FileState {
        let Some(entity) = self.config.entities.get(&route.entity) else {
            return FileState::Failed(Failure::permanent(format!(
                "entity {} is not in the config",
                route.entity
            )));
        };
        let analytics = &self.settings.analytics_bucket;
        let _serialized = locks.lock(&route.output_key).await;
        let existing =
            match object::read_existing(&self.clients.s3, analytics, &route.output_key).await {
                Ok(existing) => existing,
                Err(failure) => return FileState::Failed(failure),
            };
        let incoming = SourceMarker::of(object);
        let condition = match decide(&incoming, &existing) {
            Decision::SkipDuplicate => return FileState::Skipped(Outcome::Duplicate),
            Decision::SkipOlder { .. } => return FileState::Skipped(Outcome::Stale),
            Decision::Collision { existing } => {
                return FileState::Failed(collision(&incoming, existing, analytics, route))
            }
            Decision::Write(condition) => condition,
        };
        let job = CopyJob {
            entity,
            source: object,
            marker: &incoming,
            dest_bucket: analytics,
            dest_key: &route.output_key,
            condition,
            tuning: self.settings.upload.clone(),
            budget,
        };
        match object::copy_validated(&self.clients.s3, job).await {
            Ok(CopyOutcome::Written(stats)) => FileState::Written {
                rows: stats.rows,
                bytes: stats.bytes,
            },
            Ok(CopyOutcome::Superseded) => FileState::Skipped(Outcome::Superseded),
            Err(failure) => FileState::Failed(failure),
        }
    }

    /// The partition a routed file needs: when it was written, or when this source version (or
    /// a newer one) was already applied, so a partition lost earlier is still registered.
    fn need_of(&self, route: &Route, state: &FileState) -> Option<PartitionNeed> {
        let needed = matches!(
            state,
            FileState::Written { .. }
                | FileState::Skipped(Outcome::Duplicate)
                | FileState::Skipped(Outcome::Stale)
        );
        needed.then(|| PartitionNeed {
            id: PartitionId {
                database: self.config.resources.glue_database.clone(),
                table: route.table_name.clone(),
                values: route.values(),
            },
            entity: route.entity.clone(),
            location: route.partition_location.clone(),
        })
    }

    /// Logs the record's files, decides its verdict and carries it out. Returns the message id
    /// when the record must be reported in `batchItemFailures`.
    async fn finish_record(
        &self,
        work: RecordWork<'_>,
        partition_results: &HashMap<PartitionId, Result<(), Failure>>,
        invocation: &Invocation,
    ) -> Option<String> {
        let message = work.message;
        let message_id = message.message_id.clone().unwrap_or_default();
        let failures = match work.state {
            RecordState::TestEvent => {
                tracing::info!("s3:TestEvent skipped");
                Vec::new()
            }
            RecordState::Failed(failure) => {
                let report = FileReport::of_message(&message_id, work.started.elapsed(), &failure);
                self.telemetry.file(&report, invocation);
                vec![failure]
            }
            RecordState::Files(files) => files
                .into_iter()
                .filter_map(|file| {
                    let (report, failure) = file_report(&message_id, file, partition_results);
                    self.telemetry.file(&report, invocation);
                    failure
                })
                .collect(),
        };
        let attempt = Attempt {
            receive_count: receive_count(message),
            max_receive_count: self.settings.max_receive_count,
        };
        let verdict = verdict::decide(failures, attempt);
        let report_failed = self.act(message, &message_id, verdict, invocation).await;
        report_failed.then_some(message_id)
    }

    /// Carries out a verdict; true when the message must be listed in `batchItemFailures`.
    async fn act(
        &self,
        message: &SqsMessage,
        message_id: &str,
        verdict: Verdict,
        invocation: &Invocation,
    ) -> bool {
        let emit = |event: MessageEvent<'_>| self.telemetry.message(&event, message_id, invocation);
        match verdict {
            Verdict::Done => false,
            Verdict::Retry(failure) => {
                self.delay(message, &failure, invocation).await;
                true
            }
            Verdict::DeadLetter(failure) => {
                let body = message.body.as_deref().unwrap_or_default();
                match self
                    .failure_sink
                    .dead_letter(body, message_id, &failure)
                    .await
                {
                    Ok(sent) => {
                        if let Some(stored) = &sent.stored_body {
                            tracing::warn!(
                                stored_body = %stored.uri(),
                                bytes = stored.bytes,
                                "the body is too large for the DLQ with its reason: kept in S3 \
                                 and referenced from the DLQ message"
                            );
                        }
                        emit(MessageEvent::DeadLettered {
                            dlq_message_id: &sent.dlq_message_id,
                            failure: &failure,
                        });
                        false
                    }
                    Err(error) => {
                        emit(MessageEvent::DeadLetterFailed {
                            failure: &failure,
                            error: &error,
                        });
                        // A failed DLQ send backs off like any transient failure.
                        self.delay(message, &failure, invocation).await;
                        true
                    }
                }
            }
        }
    }

    /// Pushes the next attempt out; a failure here is reported (the message then comes back
    /// after the queue's own visibility timeout, which is still a retry).
    async fn delay(&self, message: &SqsMessage, failure: &Failure, invocation: &Invocation) {
        let message_id = message.message_id.as_deref().unwrap_or_default();
        let (Some(arn), Some(receipt)) = (&message.event_source_arn, &message.receipt_handle)
        else {
            tracing::warn!("no eventSourceARN/receiptHandle: retry not delayed");
            return;
        };
        let receive_count = receive_count(message);
        match self
            .failure_sink
            .delay_retry(arn, receipt, receive_count)
            .await
        {
            Ok(seconds) => self.telemetry.message(
                &MessageEvent::RetryDelayed {
                    receive_count,
                    retry_in_seconds: seconds,
                    failure,
                },
                message_id,
                invocation,
            ),
            Err(error) => self.telemetry.message(
                &MessageEvent::VisibilityChangeFailed {
                    failure,
                    error: &error,
                },
                message_id,
                invocation,
            ),
        }
    }
}

/// The span every log line of one record is written in.
fn record_span(message: &SqsMessage) -> tracing::Span {
    tracing::info_span!(
        "record",
        message_id = message.message_id.as_deref().unwrap_or_default()
    )
}

fn receive_count(message: &SqsMessage) -> u32 {
    parse_receive_count(
        message
            .attributes
            .get("ApproximateReceiveCount")
            .map(String::as_str),
    )
}

/// The permanent failure of two different sources mapping to one output key.
fn collision(
    incoming: &SourceMarker,
    existing: Option<SourceMarker>,
    analytics: &str,
    route: &Route,
) -> Failure {
    let holder = existing
        .map(|marker| format!("was made from {}", marker.uri()))
        .unwrap_or_else(|| "was not written by the pipeline".to_string());
    Failure::permanent(format!(
        "{} maps to the output {} which already exists and {holder}; \
         refusing to overwrite a different source file (rename one of them)",
        incoming.uri(),
        s3_uri(analytics, &route.output_key),
    ))
}

/// A file's log line, and its failure (its own, or its partition's).
fn file_report(
    message_id: &str,
    file: FileWork,
    partition_results: &HashMap<PartitionId, Result<(), Failure>>,
) -> (FileReport, Option<Failure>) {
    let partition_failure = file.need.as_ref().and_then(|need| {
        partition_results
            .get(&need.id)
            .and_then(|result| result.as_ref().err().cloned())
    });
    let (outcome, rows, bytes, failure) = match (file.state, partition_failure) {
        (_, Some(failure)) | (FileState::Failed(failure), None) => {
            (Outcome::of_failure(&failure), 0, 0, Some(failure))
        }
        (FileState::Written { rows, bytes }, None) => (Outcome::Processed, rows, bytes, None),
        (FileState::Skipped(outcome), None) => (outcome, 0, 0, None),
    };
    let route = file.route.as_ref();
    let report = FileReport {
        message_id: message_id.to_string(),
        entity: route.map(|r| r.entity.clone()),
        source_bucket: Some(file.object.bucket.clone()),
        source_key: Some(file.object.key.clone()),
        output_key: route.map(|r| r.output_key.clone()),
        partition: route.map(|r| r.partition_location.clone()),
        rows,
        bytes,
        duration: file.duration,
        outcome,
        reason: failure.as_ref().map(|f| f.reason.clone()),
    };
    (report, failure)
}

/// Runs one record's future so that nothing it does can take the batch down: a panic becomes a
/// transient failure, and so does running past `budget`.
async fn isolate<T>(
    work: impl std::future::Future<Output = T>,
    budget: Option<Duration>,
) -> Result<T, Failure> {
    let guarded = AssertUnwindSafe(work).catch_unwind();
    let finished = match budget {
        Some(budget) => tokio::time::timeout(budget, guarded).await.map_err(|_| {
            Failure::transient(
                "stopped near the invocation deadline before it finished; retried later",
            )
        })?,
        None => guarded.await,
    };
    finished.map_err(|panic| {
        Failure::transient(format!(
            "processing panicked: {}",
            panic_message(panic.as_ref())
        ))
    })
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_a_transient_failure_of_its_record_only() {
        let records = vec![1, 2, 3];
        let results = futures::future::join_all(records.into_iter().map(|n| {
            isolate(
                async move {
                    if n == 2 {
                        panic!("boom {n}");
                    }
                    n * 10
                },
                None,
            )
        }))
        .await;
        assert_eq!(results[0], Ok(10));
        assert_eq!(results[2], Ok(30));
        let failure = results[1].clone().unwrap_err();
        assert!(failure.is_transient());
        assert_eq!(failure.reason, "processing panicked: boom 2");
    }

    #[tokio::test]
    async fn running_past_the_budget_is_transient() {
        let slow = tokio::time::sleep(Duration::from_secs(5));
        let result = isolate(slow, Some(Duration::from_millis(10))).await;
        assert!(result.unwrap_err().is_transient());
    }
}
