//! The batch handler: an SQS batch of S3 notifications in, a partial batch response out.
//!
//! 1. Every record is processed on its own (several at once, `record_concurrency`), isolated
//!    from the others: a panic becomes that record's transient failure (`catch_unwind`), and a
//!    record still running near the invocation deadline is stopped and retried later.
//!    Per object: route, HeadObject + idempotency decision, then the validated streaming copy.
//!    Copies of the same output key within one invocation are serialized (a batch may hold the
//!    same event twice).
//! 2. The partitions the batch's files need are made sure of in one pass (cache, then
//!    BatchCreatePartition per table).
//! 3. Each record's verdict: success; transient (delayed with ChangeMessageVisibility and listed
//!    in `batchItemFailures`); permanent (sent to the DLQ with `error_class`/`error_reason`, then
//!    reported as success so the event source mapping deletes it, or listed as failed if the DLQ
//!    send fails: nothing is dropped). One log/EMF line per file.
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
use pipeline_core::failure::{parse_receive_count, FailureClass};
use pipeline_core::route::{route, Route};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::clients::Clients;
use crate::failures::{self, Failure, FailureSink};
use crate::idempotency::{decide, normalize_etag, Decision, SourceMarker};
use crate::object::{self, CopyJob, CopyOutcome};
use crate::partitions::{PartitionCache, PartitionId, PartitionNeed, Partitions};
use crate::settings::Settings;
use crate::telemetry::{FileReport, Invocation, Outcome, Telemetry};

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
                settings.dlq.clone(),
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
        let budget = invocation
            .deadline
            .map(|deadline| failures::remaining(deadline, self.settings.deadline_margin));
        let works: Vec<RecordWork<'_>> = futures::stream::iter(event.records.iter())
            .map(|message| self.process_record_isolated(message, &locks, budget))
            .buffered(self.settings.record_concurrency.max(1))
            .collect()
            .await;

        let needs: Vec<PartitionNeed> = works
            .iter()
            .filter_map(|work| match &work.state {
                RecordState::Files(files) => Some(files.iter().filter_map(|f| self.need_of(f))),
                _ => None,
            })
            .flatten()
            .collect();
        let partition_results = self.partitions.ensure(&needs).await;

        let failed: Vec<Option<String>> = futures::future::join_all(
            works
                .into_iter()
                .map(|work| self.finish_record(work, &partition_results, invocation)),
        )
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
        budget: Option<Duration>,
    ) -> RecordWork<'a> {
        let started = Instant::now();
        let state = isolate(self.process_record(message, locks), budget)
            .await
            .unwrap_or_else(RecordState::Failed);
        RecordWork {
            message,
            started,
            state,
        }
    }

    async fn process_record(&self, message: &SqsMessage, locks: &KeyLocks) -> RecordState {
        let body = message.body.as_deref().unwrap_or_default();
        match parse_sqs_body(body) {
            Err(error) => RecordState::Failed(Failure::permanent(format!(
                "SQS message {}: the body is not a usable S3 event notification: {error}",
                message.message_id.as_deref().unwrap_or("(no id)")
            ))),
            Ok(ParsedBody::TestEvent) => RecordState::TestEvent,
            Ok(ParsedBody::Objects(objects)) => {
                let mut files = Vec::with_capacity(objects.len());
                for object in objects {
                    files.push(self.process_object(object, locks).await);
                }
                RecordState::Files(files)
            }
        }
    }

    async fn process_object(&self, object: ObjectRef, locks: &KeyLocks) -> FileWork {
        let started = Instant::now();
        let (route, state) = match self.route_object(&object) {
            Err(state) => (None, state),
            Ok(route) => {
                let state = self.copy_object(&object, &route, locks).await;
                (Some(route), state)
            }
        };
        FileWork {
            object,
            route,
            duration: started.elapsed(),
            state,
        }
    }

    fn route_object(&self, object: &ObjectRef) -> Result<Route, FileState> {
        let source = object::uri(&object.bucket, &object.key);
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

    async fn copy_object(&self, object: &ObjectRef, route: &Route, locks: &KeyLocks) -> FileState {
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
        let incoming = SourceMarker {
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            etag: object.etag.as_deref().map(normalize_etag),
            sequencer: object.sequencer.clone(),
        };
        let condition = match decide(&incoming, &existing) {
            Decision::SkipDuplicate => return FileState::Skipped(Outcome::Duplicate),
            Decision::SkipOlder { .. } => return FileState::Skipped(Outcome::Stale),
            Decision::Collision { existing } => {
                let holder = existing
                    .map(|marker| format!("was made from {}", marker.uri()))
                    .unwrap_or_else(|| "was not written by the pipeline".to_string());
                return FileState::Failed(Failure::permanent(format!(
                    "{} maps to the output {} which already exists and {holder}; \
                     refusing to overwrite a different source file (rename one of them)",
                    incoming.uri(),
                    object::uri(analytics, &route.output_key),
                )));
            }
            Decision::Write(condition) => condition,
        };
        let job = CopyJob {
            entity,
            source: object,
            dest_bucket: analytics,
            dest_key: &route.output_key,
            condition,
            tuning: self.settings.upload,
        };
        match object::copy_validated(&self.clients.s3, job).await {
            Ok((CopyOutcome::Written { stats, .. }, _)) => FileState::Written {
                rows: stats.rows,
                bytes: stats.bytes,
            },
            Ok((CopyOutcome::Superseded { .. }, _)) => FileState::Skipped(Outcome::Superseded),
            Err(failure) => FileState::Failed(failure),
        }
    }

    fn need_of(&self, file: &FileWork) -> Option<PartitionNeed> {
        let route = file.route.as_ref()?;
        let needed = matches!(
            file.state,
            FileState::Written { .. }
                | FileState::Skipped(Outcome::Duplicate)
                | FileState::Skipped(Outcome::Stale)
        );
        needed.then(|| PartitionNeed {
            id: self.partition_id(route),
            entity: route.entity.clone(),
            location: route.partition_location.clone(),
        })
    }

    fn partition_id(&self, route: &Route) -> PartitionId {
        PartitionId {
            database: self.config.resources.glue_database.clone(),
            table: route.table_name.clone(),
            values: route.values(),
        }
    }

    /// Logs the record's files and acts on its verdict. Returns the message id when the record
    /// must be reported in `batchItemFailures`.
    async fn finish_record(
        &self,
        work: RecordWork<'_>,
        partition_results: &HashMap<PartitionId, Result<(), Failure>>,
        invocation: &Invocation,
    ) -> Option<String> {
        let message = work.message;
        let message_id = message.message_id.clone().unwrap_or_default();
        let verdict = match work.state {
            RecordState::TestEvent => {
                tracing::info!(message_id = %message_id, "s3:TestEvent skipped");
                None
            }
            RecordState::Failed(failure) => {
                self.telemetry.file(
                    &FileReport {
                        message_id: message_id.clone(),
                        entity: None,
                        source_bucket: None,
                        source_key: None,
                        output_key: None,
                        partition: None,
                        rows: 0,
                        bytes: 0,
                        duration: work.started.elapsed(),
                        outcome: outcome_of_failure(&failure),
                        reason: Some(failure.reason.clone()),
                    },
                    invocation,
                );
                Some(failure)
            }
            RecordState::Files(files) => {
                let mut failures_seen = Vec::new();
                for file in files {
                    let (report, failure) = self.file_report(&message_id, file, partition_results);
                    self.telemetry.file(&report, invocation);
                    failures_seen.extend(failure);
                }
                combine(failures_seen)
            }
        };
        let failure = verdict?;
        match failure.class {
            FailureClass::Transient => {
                self.delay(message, &message_id, &failure).await;
                Some(message_id)
            }
            FailureClass::Permanent => {
                let body = message.body.as_deref().unwrap_or_default();
                match self.failure_sink.dead_letter(body, &failure).await {
                    Ok(dlq_message_id) => {
                        tracing::warn!(
                            message_id = %message_id,
                            dlq_message_id = %dlq_message_id,
                            reason = %failure.reason,
                            "permanent failure sent to the DLQ"
                        );
                        None
                    }
                    Err(send_failure) => {
                        tracing::error!(
                            message_id = %message_id,
                            reason = %failure.reason,
                            error = %send_failure.reason,
                            "sending to the DLQ failed; the message is reported as failed instead"
                        );
                        Some(message_id)
                    }
                }
            }
        }
    }

    /// Pushes the next attempt out; a failure here is logged (the message then comes back after
    /// the queue's own visibility timeout, which is still a retry).
    async fn delay(&self, message: &SqsMessage, message_id: &str, failure: &Failure) {
        let receive_count = parse_receive_count(
            message
                .attributes
                .get("ApproximateReceiveCount")
                .map(String::as_str),
        );
        let (Some(arn), Some(receipt)) = (&message.event_source_arn, &message.receipt_handle)
        else {
            tracing::warn!(
                message_id,
                "no eventSourceARN/receiptHandle: retry not delayed"
            );
            return;
        };
        match self
            .failure_sink
            .delay_retry(arn, receipt, receive_count)
            .await
        {
            Ok(seconds) => tracing::warn!(
                message_id,
                receive_count,
                retry_in_seconds = seconds,
                reason = %failure.reason,
                "transient failure; retry delayed"
            ),
            Err(error) => tracing::warn!(
                message_id,
                reason = %failure.reason,
                error = %error.reason,
                "transient failure; ChangeMessageVisibility failed"
            ),
        }
    }

    fn file_report(
        &self,
        message_id: &str,
        file: FileWork,
        partition_results: &HashMap<PartitionId, Result<(), Failure>>,
    ) -> (FileReport, Option<Failure>) {
        let partition_failure = self.need_of(&file).and_then(|need| {
            partition_results
                .get(&need.id)
                .and_then(|result| result.as_ref().err().cloned())
        });
        let (outcome, rows, bytes, failure) = match (file.state, partition_failure) {
            (_, Some(failure)) | (FileState::Failed(failure), None) => {
                (outcome_of_failure(&failure), 0, 0, Some(failure))
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

fn outcome_of_failure(failure: &Failure) -> Outcome {
    if failure.is_transient() {
        Outcome::Retry
    } else {
        Outcome::Rejected
    }
}

/// One verdict for a message from its files' failures: any transient one means the message is
/// retried (files already done are skipped then); otherwise permanent ones are joined.
fn combine(failures: Vec<Failure>) -> Option<Failure> {
    if let Some(transient) = failures.iter().find(|f| f.is_transient()) {
        return Some(transient.clone());
    }
    if failures.is_empty() {
        return None;
    }
    Some(Failure::permanent(
        failures
            .iter()
            .map(|f| f.reason.as_str())
            .collect::<Vec<_>>()
            .join("; "),
    ))
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

    #[test]
    fn transient_wins_over_permanent() {
        let verdict = combine(vec![Failure::permanent("a"), Failure::transient("b")]).unwrap();
        assert!(verdict.is_transient());
        let joined = combine(vec![Failure::permanent("a"), Failure::permanent("b")]).unwrap();
        assert_eq!(joined.reason, "a; b");
        assert!(combine(vec![]).is_none());
    }

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
