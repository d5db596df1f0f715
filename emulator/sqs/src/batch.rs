//! SendMessageBatch, DeleteMessageBatch, ChangeMessageVisibilityBatch.
//!
//! Request-level checks (in `request`) raise exceptions; an entry that fails on its own is
//! reported in `Failed` and the call still returns 200
//! (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html).
//! A queue deleted while the batch runs fails the whole call, as a missing queue does.

use serde_json::{json, Map, Value};

use crate::errors::{ErrorCode, SqsError};
use crate::messages::{self, NewMessage};
use crate::request::{Batch, ChangeVisibility};
use crate::{Ctx, Sqs};

pub fn send_message_batch(
    sqs: &Sqs,
    ctx: &Ctx,
    batch: Batch<NewMessage>,
) -> Result<Value, SqsError> {
    let queue = sqs.existing_queue(&batch.queue)?;
    run(batch, |message| {
        messages::enqueue_observed(sqs, &queue, message, &ctx.sender_id).map(|sent| sent.to_json())
    })
}

pub fn delete_message_batch(sqs: &Sqs, batch: Batch<String>) -> Result<Value, SqsError> {
    let queue = sqs.existing_queue(&batch.queue)?;
    run(batch, |handle| {
        messages::delete_core(&queue, &handle).map(|()| Map::new())
    })
}

pub fn change_message_visibility_batch(
    sqs: &Sqs,
    batch: Batch<ChangeVisibility>,
) -> Result<Value, SqsError> {
    let queue = sqs.existing_queue(&batch.queue)?;
    run(batch, |change| {
        messages::change_visibility_core(&queue, &change.receipt_handle, change.timeout)
            .map(|()| Map::new())
    })
}

/// Applies `apply` to each parsed entry in order: `Successful` gets the entry's reply with its
/// Id, `Failed` the entries that were refused, at parsing or here.
fn run<T>(
    batch: Batch<T>,
    apply: impl Fn(T) -> Result<Map<String, Value>, SqsError>,
) -> Result<Value, SqsError> {
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for (id, entry) in batch.entries {
        match entry.and_then(&apply) {
            Ok(mut reply) => {
                reply.insert("Id".into(), json!(id));
                successful.push(Value::Object(reply));
            }
            Err(err) if err.code == ErrorCode::QueueDoesNotExist => return Err(err),
            Err(err) => failed.push(failure(&id, &err)),
        }
    }
    Ok(json!({"Successful": successful, "Failed": failed}))
}

fn failure(id: &str, err: &SqsError) -> Value {
    json!({
        "Id": id,
        "SenderFault": err.code.fault() == "Sender",
        "Code": err.code.query_code(),
        "Message": err.message,
    })
}
