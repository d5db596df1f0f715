//! The SQS event source mapping: polls a queue in-process and invokes the function with batches.
//!
//! Semantics from "Using Lambda with Amazon SQS" and its pages on configuration and scaling
//! (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html,
//! https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html,
//! https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html):
//! - long polling (20 s); a batch is sent when BatchSize messages are gathered, the
//!   MaximumBatchingWindowInSeconds expires, or the payload would pass 6 MB;
//! - at most MaximumConcurrency invocations of the mapping run at once: a poller only receives
//!   when a slot is free, so no message sits invisible waiting for one;
//! - messages of a successful batch are deleted; with ReportBatchItemFailures only those not
//!   listed (see `batch_response`); a function error, timeout or crash deletes nothing. Failed
//!   messages are left alone: they reappear after the queue's visibility timeout and the queue's
//!   redrive policy moves them to the DLQ after maxReceiveCount receives.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use emulator_sqs::{ReceivedMessage, Sqs};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::batch_response::{self, BatchOutcome};
use crate::function::Function;
use crate::runtime_api::MAX_RESPONSE_BYTES;
use crate::spec::SqsTrigger;
use crate::sqs_event;

/// Lambda's event source mappings long-poll with the maximum wait.
const LONG_POLL: Duration = Duration::from_secs(20);
/// Pause after a receive error (e.g. the queue does not exist yet) before polling again.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// Invocation payload limit: a batch stops growing before its records pass it.
const MAX_PAYLOAD_BYTES: usize = MAX_RESPONSE_BYTES;
/// Room kept for each record's keys and metadata beside its body.
const RECORD_OVERHEAD_BYTES: usize = 1024;

/// Polls `trigger.queue` and invokes `function` until `stop` turns true (or its sender is
/// dropped).
pub async fn run(
    sqs: Sqs,
    region: String,
    function: Arc<Function>,
    trigger: SqsTrigger,
    mut stop: watch::Receiver<bool>,
) {
    let queue = trigger.queue_name().to_owned();
    let queue_arn = sqs.queue_arn(&queue);
    let slots = Arc::new(Semaphore::new(trigger.maximum_concurrency as usize));
    let mut running = JoinSet::new();
    tracing::info!(
        function = %function.spec.name, queue = %queue,
        batch_size = trigger.batch_size, window_s = trigger.maximum_batching_window_seconds,
        max_concurrency = trigger.maximum_concurrency,
        report_batch_item_failures = trigger.report_batch_item_failures,
        "SQS event source mapping started"
    );
    loop {
        if *stop.borrow() {
            break;
        }
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        // Reap finished invocations so the set does not grow without bound.
        while running.try_join_next().is_some() {}
        let batch = tokio::select! {
            batch = collect_batch(&sqs, &queue, &trigger) => batch,
            _ = stop.changed() => break,
        };
        let messages = match batch {
            Ok(messages) if messages.is_empty() => continue,
            Ok(messages) => messages,
            Err(err) => {
                tracing::warn!(function = %function.spec.name, queue = %queue, error = %err, "cannot receive from the queue");
                tokio::select! {
                    _ = tokio::time::sleep(RETRY_PAUSE) => continue,
                    _ = stop.changed() => break,
                }
            }
        };
        let sqs = sqs.clone();
        let function = function.clone();
        let (queue, queue_arn, region) = (queue.clone(), queue_arn.clone(), region.clone());
        let report_failures = trigger.report_batch_item_failures;
        running.spawn(async move {
            let _slot = permit;
            process_batch(
                &sqs,
                &queue,
                &queue_arn,
                &region,
                &function,
                messages,
                report_failures,
            )
            .await;
        });
    }
    // Invocations in progress are cut short: their processes are killed (as at a crash) and their
    // messages come back after the visibility timeout, so nothing is lost.
    running.shutdown().await;
    tracing::info!(function = %function.spec.name, queue = %queue, "SQS event source mapping stopped");
}

/// Receives up to BatchSize messages: one long poll, then, with a batching window, more
/// receives until the batch is full, the window is over, or the payload limit is near.
async fn collect_batch(
    sqs: &Sqs,
    queue: &str,
    trigger: &SqsTrigger,
) -> Result<Vec<ReceivedMessage>, emulator_sqs::SqsError> {
    let batch_size = trigger.batch_size as usize;
    let mut batch = sqs
        .receive(queue, batch_size.min(10), LONG_POLL, None)
        .await?;
    if batch.is_empty() {
        return Ok(batch);
    }
    let window_ends = Instant::now() + trigger.batching_window();
    while batch.len() < batch_size && payload_size(&batch) < MAX_PAYLOAD_BYTES {
        let now = Instant::now();
        if now >= window_ends {
            break;
        }
        let wanted = (batch_size - batch.len()).min(10);
        let more = sqs.receive(queue, wanted, window_ends - now, None).await?;
        batch.extend(more);
    }
    // Messages past the payload limit go back to the queue at once for the next batch.
    let mut size = 0;
    let mut keep = 0;
    for message in &batch {
        size += message.body.len() + RECORD_OVERHEAD_BYTES;
        if size > MAX_PAYLOAD_BYTES && keep > 0 {
            break;
        }
        keep += 1;
    }
    for surplus in batch.split_off(keep) {
        let _ = sqs.change_visibility(queue, &surplus.receipt_handle, 0);
    }
    Ok(batch)
}

fn payload_size(batch: &[ReceivedMessage]) -> usize {
    batch
        .iter()
        .map(|m| m.body.len() + RECORD_OVERHEAD_BYTES)
        .sum()
}

/// Invokes the function with one batch and deletes the messages that succeeded.
async fn process_batch(
    sqs: &Sqs,
    queue: &str,
    queue_arn: &str,
    region: &str,
    function: &Function,
    messages: Vec<ReceivedMessage>,
    report_failures: bool,
) {
    let event = sqs_event::build(&messages, queue_arn, region);
    let payload = match serde_json::to_vec(&event) {
        Ok(payload) => Bytes::from(payload),
        Err(err) => {
            // Serializing strings and maps cannot fail; if it ever did, retrying is right.
            tracing::error!(error = %err, "cannot serialize the SQS event; batch left for retry");
            return;
        }
    };
    let result = function.invoke(payload).await;
    let outcome = match &result.failure {
        Some(kind) => BatchOutcome::AllFailed(format!("invocation failed: {}", kind.error_type())),
        None if report_failures => {
            let ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
            batch_response::interpret(&result.payload, &ids)
        }
        None => BatchOutcome::AllSucceeded,
    };
    let mut deleted = 0;
    for message in &messages {
        if !outcome.succeeded(&message.message_id) {
            continue;
        }
        match sqs.delete(queue, &message.receipt_handle) {
            Ok(()) => deleted += 1,
            Err(err) => tracing::warn!(
                function = %function.spec.name, message_id = %message.message_id, error = %err,
                "cannot delete a processed message; it will be delivered again"
            ),
        }
    }
    // With `--data-dir`, the poller goes on only once its deletes are on disk, as it would
    // after a DeleteMessageBatch answered: a crash then re-delivers at most the batches in flight.
    if deleted > 0 {
        if let Err(err) = sqs.durable().await {
            tracing::warn!(
                function = %function.spec.name, error = %err,
                "deleted messages may not survive a restart; they would be delivered again"
            );
        }
    }
    let left = messages.len() - deleted;
    match &outcome {
        BatchOutcome::AllFailed(reason) => tracing::warn!(
            function = %function.spec.name, request_id = %result.request_id,
            batch = messages.len(), %reason,
            "batch failed; its messages return to the queue after the visibility timeout"
        ),
        _ if left > 0 => tracing::info!(
            function = %function.spec.name, request_id = %result.request_id,
            batch = messages.len(), deleted, failed = left,
            "partial batch failure; failed messages return after the visibility timeout"
        ),
        _ => tracing::debug!(
            function = %function.spec.name, request_id = %result.request_id,
            batch = messages.len(), "batch processed"
        ),
    }
}
