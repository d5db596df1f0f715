//! SQS effects shared by the commands: queue lookups, batched sends/deletes/visibility changes
//! with their per-entry outcomes, and the pure batching rule.
//!
//! Batch calls take at most 10 entries, and SendMessageBatch also bounds the sum of its bodies
//! and attributes by the maximum message size ("The maximum allowed individual message size and
//! the maximum total payload size (the sum of the individual lengths of all of the batched
//! messages) are both 1 MiB":
//! <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html>).
//! Per-entry failures come back in `Failed`, not as an error of the call.

use std::collections::HashMap;

use anyhow::Context;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry,
};
use file_processor::failures::describe;

/// Most entries per batch call.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// Most bytes of bodies and attributes per SendMessageBatch. 256 KiB, the limit before SQS
/// raised it to 1 MiB (August 2025), so older queues and regions accept it too.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// One message to send: a caller-chosen id (unique within the call), body and string attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub id: String,
    pub body: String,
    pub attributes: Vec<(String, String)>,
}

impl Outgoing {
    fn size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(name, value)| name.len() + "String".len() + value.len())
                .sum::<usize>()
    }
}

/// Splits messages into batches of at most [`MAX_BATCH_ENTRIES`] and [`MAX_BATCH_BYTES`]
/// (a single larger message gets a batch of its own), keeping their order.
pub fn batches(messages: Vec<Outgoing>) -> Vec<Vec<Outgoing>> {
    let mut out: Vec<Vec<Outgoing>> = Vec::new();
    let mut bytes = 0;
    for message in messages {
        let size = message.size();
        let full = out.last().is_none_or(|batch| {
            batch.len() >= MAX_BATCH_ENTRIES
                || (bytes + size > MAX_BATCH_BYTES && !batch.is_empty())
        });
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(batch) = out.last_mut() {
            batch.push(message);
        }
    }
    out
}

/// The URL of the queue `name` (GetQueueUrl).
pub async fn queue_url(sqs: &aws_sdk_sqs::Client, name: &str) -> anyhow::Result<String> {
    let found = sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("GetQueueUrl for queue {name}: {}", describe(&e)))?;
    found
        .queue_url()
        .map(str::to_string)
        .with_context(|| format!("GetQueueUrl for {name} returned no URL"))
}

/// One queue attribute (GetQueueAttributes).
pub async fn queue_attribute(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    name: QueueAttributeName,
) -> anyhow::Result<String> {
    let got = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("GetQueueAttributes on {url}: {}", describe(&e)))?;
    got.attributes()
        .and_then(|attributes| attributes.get(&name))
        .cloned()
        .with_context(|| format!("{url} reported no {name}"))
}

/// Sends one batch; returns the ids sent and `(id, reason)` of those that were not.
pub async fn send_batch(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    batch: &[Outgoing],
) -> (Vec<String>, Vec<(String, String)>) {
    let mut entries = Vec::with_capacity(batch.len());
    for message in batch {
        let mut attributes = HashMap::new();
        for (name, value) in &message.attributes {
            let built = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build();
            if let Ok(value) = built {
                attributes.insert(name.clone(), value);
            }
        }
        let entry = SendMessageBatchRequestEntry::builder()
            .id(&message.id)
            .message_body(&message.body)
            .set_message_attributes((!attributes.is_empty()).then_some(attributes))
            .build();
        match entry {
            Ok(entry) => entries.push(entry),
            Err(e) => return all_failed(batch, &format!("building the request: {e}")),
        }
    }
    let sent = sqs
        .send_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await;
    match sent {
        Ok(output) => (
            output
                .successful()
                .iter()
                .map(|s| s.id().to_string())
                .collect(),
            output
                .failed()
                .iter()
                .map(|f| (f.id().to_string(), entry_error(f.code(), f.message())))
                .collect(),
        ),
        Err(e) => all_failed(
            batch,
            &format!("SendMessageBatch to {url}: {}", describe(&e)),
        ),
    }
}

fn all_failed(batch: &[Outgoing], reason: &str) -> (Vec<String>, Vec<(String, String)>) {
    let failed = batch
        .iter()
        .map(|m| (m.id.clone(), reason.to_string()))
        .collect();
    (Vec::new(), failed)
}

fn entry_error(code: &str, message: Option<&str>) -> String {
    match message {
        Some(message) => format!("{code}: {message}"),
        None => code.to_string(),
    }
}

/// Deletes `(id, receipt handle)` pairs, 10 per call; returns `(id, reason)` of the failures.
pub async fn delete_batch(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    handles: &[(String, String)],
) -> Vec<(String, String)> {
    let mut failures = Vec::new();
    for chunk in handles.chunks(MAX_BATCH_ENTRIES) {
        let entries: Vec<DeleteMessageBatchRequestEntry> = chunk
            .iter()
            .enumerate()
            .filter_map(|(index, (_, handle))| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(handle)
                    .build()
                    .ok()
            })
            .collect();
        let deleted = sqs
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await;
        match deleted {
            Ok(output) => failures.extend(output.failed().iter().filter_map(|f| {
                let (id, _) = chunk.get(f.id().parse::<usize>().ok()?)?;
                Some((id.clone(), entry_error(f.code(), f.message())))
            })),
            Err(e) => {
                let reason = format!("DeleteMessageBatch on {url}: {}", describe(&e));
                failures.extend(chunk.iter().map(|(id, _)| (id.clone(), reason.clone())));
            }
        }
    }
    failures
}

/// Makes messages visible again at once (visibility timeout 0), 10 per call. Returns how many
/// could not be released; they become visible when their hold ends anyway.
pub async fn release(sqs: &aws_sdk_sqs::Client, url: &str, handles: &[String]) -> usize {
    let mut failed = 0;
    for chunk in handles.chunks(MAX_BATCH_ENTRIES) {
        let entries: Vec<ChangeMessageVisibilityBatchRequestEntry> = chunk
            .iter()
            .enumerate()
            .filter_map(|(index, handle)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .build()
                    .ok()
            })
            .collect();
        let changed = sqs
            .change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await;
        failed += match changed {
            Ok(output) => output.failed().len(),
            Err(e) => {
                tracing::warn!(%url, error = %describe(&e), "releasing messages failed");
                chunk.len()
            }
        };
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: usize, bytes: usize) -> Outgoing {
        Outgoing {
            id: id.to_string(),
            body: "x".repeat(bytes),
            attributes: vec![],
        }
    }

    #[test]
    fn batches_of_ten_at_most_and_within_the_byte_limit() {
        let sizes: Vec<usize> = batches((0..23).map(|i| message(i, 100)).collect())
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, [10, 10, 3]);
        let big = batches(vec![
            message(0, 200 * 1024),
            message(1, 100 * 1024),
            message(2, 300 * 1024),
            message(3, 10),
        ]);
        let ids: Vec<Vec<&str>> = big
            .iter()
            .map(|b| b.iter().map(|m| m.id.as_str()).collect())
            .collect();
        assert_eq!(ids, [vec!["0"], vec!["1"], vec!["2"], vec!["3"]]);
        assert!(batches(vec![]).is_empty());
    }
}
