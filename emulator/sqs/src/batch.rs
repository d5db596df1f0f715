//! SendMessageBatch, DeleteMessageBatch, ChangeMessageVisibilityBatch.
//!
//! Request-level checks raise exceptions (EmptyBatchRequest, TooManyEntriesInBatchRequest,
//! InvalidBatchEntryId, BatchEntryIdsNotDistinct, BatchRequestTooLong); an entry that fails on
//! its own is reported in `Failed` and the call still returns 200
//! (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html).

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::errors::{ErrorCode, SqsError};
use crate::input;
use crate::messages;
use crate::{Ctx, Sqs};

/// Largest batch, and largest total payload of SendMessageBatch (1 MiB).
const MAX_ENTRIES: usize = 10;
const MAX_BATCH_BYTES: usize = 1_048_576;

/// Validates the entry list and returns each entry with its Id.
fn entries<'a>(input: &'a Value, entry_name: &str) -> Result<Vec<(&'a str, &'a Value)>, SqsError> {
    let entries = input::list(input, "Entries")?;
    if entries.is_empty() {
        return Err(SqsError::new(
            ErrorCode::EmptyBatchRequest,
            format!("There should be at least one {entry_name} in the request."),
        ));
    }
    if entries.len() > MAX_ENTRIES {
        return Err(SqsError::new(
            ErrorCode::TooManyEntriesInBatchRequest,
            format!(
                "Maximum number of entries per request are {MAX_ENTRIES}. You have sent {}.",
                entries.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let id = input::str_req(entry, "Id")?;
        // "alphanumeric characters, hyphens (-) and underscores (_)", up to 80 (quotas-messages).
        let valid = !id.is_empty()
            && id.len() <= 80
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(SqsError::new(
                ErrorCode::InvalidBatchEntryId,
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(SqsError::new(
                ErrorCode::BatchEntryIdsNotDistinct,
                format!("Id {id} repeated."),
            ));
        }
        out.push((id, entry));
    }
    Ok(out)
}

fn failure(id: &str, err: &SqsError) -> Value {
    json!({
        "Id": id,
        "SenderFault": err.code.fault() == "Sender",
        "Code": err.code.query_code(),
        "Message": err.message,
    })
}

fn result(successful: Vec<Value>, failed: Vec<Value>) -> Value {
    json!({"Successful": successful, "Failed": failed})
}

pub fn send_message_batch(sqs: &Sqs, ctx: &Ctx, input: &Value) -> Result<Value, SqsError> {
    let queue = sqs.queue_from_input(input)?;
    let entries = entries(input, "SendMessageBatchRequestEntry")?;
    let parsed: Vec<(&str, Result<messages::NewMessage, SqsError>)> = entries
        .into_iter()
        .map(|(id, entry)| (id, messages::parse_new_message(entry)))
        .collect();
    let total: usize = parsed
        .iter()
        .filter_map(|(_, message)| message.as_ref().ok())
        .map(messages::message_size)
        .sum();
    if total > MAX_BATCH_BYTES {
        return Err(SqsError::new(
            ErrorCode::BatchRequestTooLong,
            format!("Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent {total} bytes."),
        ));
    }
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for (id, message) in parsed {
        match message.and_then(|m| messages::enqueue(&queue, m, &ctx.sender_id)) {
            Ok(sent) => {
                let mut entry = sent.to_json();
                entry.insert("Id".into(), json!(id));
                successful.push(Value::Object(entry));
            }
            Err(err) if err.code == ErrorCode::QueueDoesNotExist => return Err(err),
            Err(err) => failed.push(failure(id, &err)),
        }
    }
    Ok(result(successful, failed))
}

pub fn delete_message_batch(sqs: &Sqs, input: &Value) -> Result<Value, SqsError> {
    let queue = sqs.queue_from_input(input)?;
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for (id, entry) in entries(input, "DeleteMessageBatchRequestEntry")? {
        let outcome = input::str_req(entry, "ReceiptHandle")
            .and_then(|handle| messages::delete_core(&queue, handle));
        match outcome {
            Ok(()) => successful.push(json!({"Id": id})),
            Err(err) if err.code == ErrorCode::QueueDoesNotExist => return Err(err),
            Err(err) => failed.push(failure(id, &err)),
        }
    }
    Ok(result(successful, failed))
}

pub fn change_message_visibility_batch(sqs: &Sqs, input: &Value) -> Result<Value, SqsError> {
    let queue = sqs.queue_from_input(input)?;
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for (id, entry) in entries(input, "ChangeMessageVisibilityBatchRequestEntry")? {
        let outcome = input::str_req(entry, "ReceiptHandle").and_then(|handle| {
            let timeout = input::int_opt(entry, "VisibilityTimeout")?
                .ok_or_else(|| SqsError::missing("VisibilityTimeout"))?;
            messages::change_visibility_core(&queue, handle, timeout)
        });
        match outcome {
            Ok(()) => successful.push(json!({"Id": id})),
            Err(err) if err.code == ErrorCode::QueueDoesNotExist => return Err(err),
            Err(err) => failed.push(failure(id, &err)),
        }
    }
    Ok(result(successful, failed))
}
