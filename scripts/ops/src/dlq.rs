//! `dlq list` and `dlq redrive`: the effects around [`crate::dead_letters`].
//!
//! SQS has no peek: reading a message is receiving it. The scan receives every message (up to
//! `--max-messages`) with a visibility timeout of `--hold-seconds`, so no message is returned
//! twice and other consumers do not see them meanwhile, and makes them visible again at the end
//! (ChangeMessageVisibility to 0). Each receive raises the message's ApproximateReceiveCount;
//! the DLQ has no redrive policy of its own, so that moves nothing.
//!
//! Redrive without a filter is StartMessageMoveTask, what AWS offers for a DLQ (destination: the
//! pipeline queue, named explicitly because the handler's own DLQ messages were sent, not moved,
//! so they have no "original source"). With a filter (or `--copy`) it is receive -> send to the
//! pipeline queue -> delete from the DLQ, and a message is deleted only after its send
//! succeeded; bodies kept in S3 are restored (SHA-256 checked) before they are sent.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use file_processor::failures::describe;
use serde::Serialize;

use crate::cli::{RedriveArgs, ScanArgs};
use crate::dead_letters::{self, DeadLetter, Filter, ReceivedMessage, StoredBodyRef};
use crate::sqs::{self, Outgoing};
use crate::Ops;

/// `dlq list`.
#[derive(Debug, Clone, Serialize)]
pub struct ListReport {
    pub queue_url: String,
    pub messages: Vec<DeadLetter>,
    /// Messages that could not be made visible again (they are after `--hold-seconds`).
    pub not_released: usize,
}

/// `dlq redrive`.
#[derive(Debug, Clone, Serialize)]
pub struct RedriveReport {
    /// `move-task` (StartMessageMoveTask) or `copy` (receive, send, delete).
    pub method: &'static str,
    pub dry_run: bool,
    pub source_queue_url: String,
    pub destination_queue_url: String,
    /// Messages read from the DLQ (copy) or in it when the task started (move-task).
    pub scanned: u64,
    /// Messages selected by the filter.
    pub selected: u64,
    /// Messages now in the pipeline queue.
    pub moved: u64,
    /// DLQ message ids of the moved messages (copy only).
    pub moved_ids: Vec<String>,
    pub failed: Vec<RedriveFailure>,
    /// The move task's final status (`COMPLETED`, `FAILED`, ...).
    pub task_status: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RedriveFailure {
    pub message_id: String,
    pub reason: String,
}

pub async fn list(ops: &Ops, scan_args: &ScanArgs) -> anyhow::Result<ListReport> {
    let sqs = &ops.clients.sqs;
    let url = sqs::queue_url(sqs, &ops.config.resources.dead_letter_queue).await?;
    let received = scan(sqs, &url, scan_args).await?;
    let mut messages = Vec::with_capacity(received.len());
    for message in &received {
        let (letter, _) = read(ops, message).await;
        messages.push(letter);
    }
    let handles: Vec<String> = received.iter().map(|m| m.receipt_handle.clone()).collect();
    let not_released = sqs::release(sqs, &url, &handles).await;
    Ok(ListReport {
        queue_url: url,
        messages,
        not_released,
    })
}

pub async fn redrive(ops: &Ops, args: &RedriveArgs) -> anyhow::Result<RedriveReport> {
    let sqs = &ops.clients.sqs;
    let dlq_url = sqs::queue_url(sqs, &ops.config.resources.dead_letter_queue).await?;
    let main_url = sqs::queue_url(sqs, &ops.config.resources.sqs_queue).await?;
    let filter = Filter::from(&args.filter);
    if filter.is_empty() && !args.copy {
        return move_task(ops, args, &dlq_url, &main_url).await;
    }
    copy(ops, args, &filter, &dlq_url, &main_url).await
}

/// Receives every message (up to `max_messages`), holding each for `hold_seconds`.
async fn scan(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    args: &ScanArgs,
) -> anyhow::Result<Vec<ReceivedMessage>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    while out.len() < args.max_messages {
        let want = (args.max_messages - out.len()).min(sqs::MAX_BATCH_ENTRIES);
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(i32::try_from(want).unwrap_or(10))
            .visibility_timeout(args.hold_seconds)
            // A short wait: a short poll samples only some SQS servers and may come back empty
            // while messages remain; a long poll asks them all.
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("ReceiveMessage on {url}: {}", describe(&e)))?;
        if got.messages().is_empty() {
            break;
        }
        for message in got.messages() {
            let received = to_received(message);
            if seen.insert(received.message_id.clone()) {
                out.push(received);
            }
        }
    }
    Ok(out)
}

fn to_received(message: &aws_sdk_sqs::types::Message) -> ReceivedMessage {
    ReceivedMessage {
        message_id: message.message_id().unwrap_or_default().to_string(),
        receipt_handle: message.receipt_handle().unwrap_or_default().to_string(),
        body: message.body().unwrap_or_default().to_string(),
        // String and Number attributes; binary ones have no text to show or filter on.
        attributes: message
            .message_attributes()
            .map(|all| {
                all.iter()
                    .filter_map(|(name, value)| Some((name.clone(), value.string_value()?.into())))
                    .collect()
            })
            .unwrap_or_default(),
        system_attributes: message
            .attributes()
            .map(|all| {
                all.iter()
                    .map(|(name, value)| (name.as_str().to_string(), value.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Describes a message, reading its stored body first when it is a reference. Returns the body
/// to redrive (`Err(reason)` when a stored body cannot be read).
async fn read(ops: &Ops, message: &ReceivedMessage) -> (DeadLetter, Result<String, String>) {
    let Some(stored) = dead_letters::stored_body_ref(&message.body) else {
        return (
            dead_letters::describe(message, None),
            Ok(message.body.clone()),
        );
    };
    match fetch_stored_body(&ops.clients.s3, &stored).await {
        Ok(body) => (dead_letters::describe(message, Some(&body)), Ok(body)),
        Err(error) => {
            let reason = format!("{error:#}");
            let mut letter = dead_letters::describe(message, None);
            letter.body_note = Some(format!("stored body unreadable: {reason}"));
            (letter, Err(reason))
        }
    }
}

/// GetObject of a stored body; its size and SHA-256 must be the reference's.
async fn fetch_stored_body(
    s3: &aws_sdk_s3::Client,
    stored: &StoredBodyRef,
) -> anyhow::Result<String> {
    let (bucket, key) = stored
        .location()
        .with_context(|| format!("{:?} is not an s3:// URI", stored.s3_uri))?;
    let got = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("GetObject {}: {}", stored.s3_uri, describe(&e)))?;
    let bytes = got
        .body
        .collect()
        .await
        .with_context(|| format!("reading {}", stored.s3_uri))?
        .into_bytes();
    let mut hasher = aws_smithy_checksums::ChecksumAlgorithm::Sha256.into_impl();
    hasher.update(&bytes);
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if digest != stored.sha256.to_ascii_lowercase() || bytes.len() as u64 != stored.bytes {
        bail!(
            "{} has SHA-256 {digest} and {} bytes, the reference says {} and {}",
            stored.s3_uri,
            bytes.len(),
            stored.sha256,
            stored.bytes
        );
    }
    String::from_utf8(bytes.to_vec()).with_context(|| format!("{} is not UTF-8", stored.s3_uri))
}

/// Unfiltered redrive: one StartMessageMoveTask to the pipeline queue, then its outcome from
/// ListMessageMoveTasks (most recent task first; a finished task no longer shows its handle).
async fn move_task(
    ops: &Ops,
    args: &RedriveArgs,
    dlq_url: &str,
    main_url: &str,
) -> anyhow::Result<RedriveReport> {
    let sqs = &ops.clients.sqs;
    let waiting: u64 = sqs::queue_attribute(
        sqs,
        dlq_url,
        QueueAttributeName::ApproximateNumberOfMessages,
    )
    .await?
    .parse()
    .unwrap_or(0);
    let mut report = RedriveReport {
        method: "move-task",
        dry_run: args.dry_run,
        source_queue_url: dlq_url.to_string(),
        destination_queue_url: main_url.to_string(),
        scanned: waiting,
        selected: waiting,
        moved: 0,
        moved_ids: vec![],
        failed: vec![],
        task_status: None,
    };
    if args.dry_run {
        return Ok(report);
    }
    let source_arn = sqs::queue_attribute(sqs, dlq_url, QueueAttributeName::QueueArn).await?;
    let destination_arn = sqs::queue_attribute(sqs, main_url, QueueAttributeName::QueueArn).await?;
    sqs.start_message_move_task()
        .source_arn(&source_arn)
        .destination_arn(&destination_arn)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("StartMessageMoveTask from {source_arn}: {}", describe(&e)))?;
    let deadline = Instant::now() + Duration::from_secs(args.wait_seconds);
    loop {
        let listed = sqs
            .list_message_move_tasks()
            .source_arn(&source_arn)
            .max_results(1)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("ListMessageMoveTasks: {}", describe(&e)))?;
        let task = listed
            .results()
            .first()
            .context("the move task is not listed")?;
        let status = task.status().unwrap_or("UNKNOWN").to_string();
        report.moved = u64::try_from(task.approximate_number_of_messages_moved()).unwrap_or(0);
        if status != "RUNNING" || Instant::now() >= deadline {
            if status == "FAILED" {
                report.failed.push(RedriveFailure {
                    message_id: String::new(),
                    reason: task.failure_reason().unwrap_or("task failed").to_string(),
                });
            }
            report.task_status = Some(status);
            return Ok(report);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Filtered redrive: scan, select, send the selected to the pipeline queue, delete what was
/// sent, release the rest.
async fn copy(
    ops: &Ops,
    args: &RedriveArgs,
    filter: &Filter,
    dlq_url: &str,
    main_url: &str,
) -> anyhow::Result<RedriveReport> {
    let sqs = &ops.clients.sqs;
    let received = scan(sqs, dlq_url, &args.scan).await?;
    let mut report = RedriveReport {
        method: "copy",
        dry_run: args.dry_run,
        source_queue_url: dlq_url.to_string(),
        destination_queue_url: main_url.to_string(),
        scanned: received.len() as u64,
        selected: 0,
        moved: 0,
        moved_ids: vec![],
        failed: vec![],
        task_status: None,
    };
    let mut outgoing = Vec::new();
    let mut keep = Vec::new();
    for (index, message) in received.iter().enumerate() {
        let (letter, body) = read(ops, message).await;
        if !filter.matches(&letter) {
            keep.push(message.receipt_handle.clone());
            continue;
        }
        report.selected += 1;
        match body {
            Ok(body) if !args.dry_run => outgoing.push(Outgoing {
                id: index.to_string(),
                body,
                attributes: dead_letters::redriven_attributes(message),
            }),
            Ok(_) => keep.push(message.receipt_handle.clone()),
            Err(reason) => {
                report.failed.push(RedriveFailure {
                    message_id: message.message_id.clone(),
                    reason,
                });
                keep.push(message.receipt_handle.clone());
            }
        }
    }
    for batch in sqs::batches(outgoing) {
        send_then_delete(
            sqs,
            &received,
            &batch,
            dlq_url,
            main_url,
            &mut report,
            &mut keep,
        )
        .await;
    }
    sqs::release(sqs, dlq_url, &keep).await;
    Ok(report)
}

/// Sends one batch; deletes from the DLQ exactly the messages whose send succeeded.
async fn send_then_delete(
    sqs: &aws_sdk_sqs::Client,
    received: &[ReceivedMessage],
    batch: &[Outgoing],
    dlq_url: &str,
    main_url: &str,
    report: &mut RedriveReport,
    keep: &mut Vec<String>,
) {
    let original = |id: &str| id.parse::<usize>().ok().and_then(|i| received.get(i));
    let (sent, failed) = sqs::send_batch(sqs, main_url, batch).await;
    for (id, reason) in failed {
        if let Some(message) = original(&id) {
            keep.push(message.receipt_handle.clone());
            report.failed.push(RedriveFailure {
                message_id: message.message_id.clone(),
                reason: format!("not sent: {reason}"),
            });
        }
    }
    let handles: Vec<(String, String)> = sent
        .iter()
        .filter_map(|id| original(id))
        .map(|m| (m.message_id.clone(), m.receipt_handle.clone()))
        .collect();
    report.moved += handles.len() as u64;
    report
        .moved_ids
        .extend(handles.iter().map(|(id, _)| id.clone()));
    for (message_id, reason) in sqs::delete_batch(sqs, dlq_url, &handles).await {
        // Sent but still in the DLQ: it reappears there after the hold; a second redrive is
        // a duplicate delivery, which the handler skips.
        report.failed.push(RedriveFailure {
            message_id,
            reason: format!("sent, but not deleted from the DLQ: {reason}"),
        });
    }
}
