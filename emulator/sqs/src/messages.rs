//! SendMessage, ReceiveMessage (long polling, redrive), DeleteMessage, ChangeMessageVisibility,
//! and the message validation SendMessageBatch shares.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::errors::{ErrorCode, SqsError};
use crate::input;
use crate::md5::{md5_hex, md5_of_attributes};
use crate::observe::SqsEvent;
use crate::request::{ChangeVisibility, ReceiveMessage};
use crate::state::config::{MAX_DELAY_SECONDS, MAX_VISIBILITY_TIMEOUT};
use crate::state::message::{AttributeValue, StoredMessage};
use crate::state::queue::{Delivered, Queue, QueueDeleted};
use crate::state::{epoch_ms, receipt};
use crate::validation;
use crate::{Ctx, Sqs};

/// A validated message about to be enqueued.
#[derive(Debug)]
pub struct NewMessage {
    pub body: String,
    pub attributes: BTreeMap<String, AttributeValue>,
    pub system_attributes: BTreeMap<String, AttributeValue>,
    pub delay_seconds: Option<u32>,
}

/// What SendMessage returns.
pub struct SendResult {
    pub message_id: String,
    pub md5_of_body: String,
    pub md5_of_attributes: Option<String>,
    pub md5_of_system_attributes: Option<String>,
}

impl SendResult {
    pub fn to_json(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("MessageId".into(), json!(self.message_id));
        out.insert("MD5OfMessageBody".into(), json!(self.md5_of_body));
        if let Some(md5) = &self.md5_of_attributes {
            out.insert("MD5OfMessageAttributes".into(), json!(md5));
        }
        if let Some(md5) = &self.md5_of_system_attributes {
            out.insert("MD5OfMessageSystemAttributes".into(), json!(md5));
        }
        out
    }
}

pub fn send_message(
    sqs: &Sqs,
    ctx: &Ctx,
    name: &str,
    message: NewMessage,
) -> Result<Value, SqsError> {
    let queue = sqs.existing_queue(name)?;
    Ok(Value::Object(
        enqueue_observed(sqs, &queue, message, &ctx.sender_id)?.to_json(),
    ))
}

/// Reads and validates MessageBody, DelaySeconds, MessageAttributes, MessageSystemAttributes.
pub fn parse_new_message(input: &Value) -> Result<NewMessage, SqsError> {
    let body = input::str_req(input, "MessageBody")?.to_string();
    validation::validate_body(&body)?;
    let delay_seconds = input::ranged_int(
        input,
        "DelaySeconds",
        0,
        i64::from(MAX_DELAY_SECONDS),
        "DelaySeconds must be >= 0 and <= 900.",
    )?
    .map(|n| n as u32);
    let attributes = validation::parse_attributes(input.get("MessageAttributes"), false)?;
    let system_attributes =
        validation::parse_attributes(input.get("MessageSystemAttributes"), true)?;
    Ok(NewMessage {
        body,
        attributes,
        system_attributes,
        delay_seconds,
    })
}

/// Bytes a message counts against MaximumMessageSize: body plus attribute names, types, values.
pub fn message_size(message: &NewMessage) -> usize {
    message.body.len()
        + message
            .attributes
            .iter()
            .map(|(name, value)| {
                name.len()
                    + value.data_type.len()
                    + value.string_value.as_ref().map_or(0, String::len)
                    + value.binary_value.as_ref().map_or(0, Vec::len)
            })
            .sum::<usize>()
}

/// Stores a validated message and wakes long polls.
pub fn enqueue(
    queue: &Arc<Queue>,
    message: NewMessage,
    sender_id: &str,
) -> Result<SendResult, SqsError> {
    let size = message_size(&message);
    let now = Instant::now();
    let result = {
        let mut state = queue.lock_live()?;
        let max = state.config.maximum_message_size as usize;
        if size > max {
            return Err(SqsError::new(
                ErrorCode::InvalidParameterValue,
                format!("One or more parameters are invalid. Reason: Message must be shorter than {max} bytes."),
            ));
        }
        let delay = message.delay_seconds.unwrap_or(state.config.delay_seconds);
        let stored = StoredMessage {
            message_id: uuid::Uuid::new_v4().to_string(),
            md5_of_body: md5_hex(message.body.as_bytes()),
            body: message.body,
            attributes: message.attributes,
            system_attributes: message.system_attributes,
            sender_id: sender_id.to_string(),
            sent_epoch_ms: epoch_ms(),
            enqueued_at: now,
            visible_at: now + Duration::from_secs(u64::from(delay)),
            receive_count: 0,
            first_receive_epoch_ms: None,
            first_received_at: None,
            receipt_nonce: None,
            dead_letter_source_arn: None,
        };
        let result = SendResult {
            message_id: stored.message_id.clone(),
            md5_of_body: stored.md5_of_body.clone(),
            md5_of_attributes: md5_of_attributes(&stored.attributes),
            md5_of_system_attributes: md5_of_attributes(&stored.system_attributes),
        };
        state.insert(stored);
        result
    };
    queue.notify.notify_waiters();
    Ok(result)
}

/// [`enqueue`], then tells the observer (if any) what was sent.
pub fn enqueue_observed(
    sqs: &Sqs,
    queue: &Arc<Queue>,
    message: NewMessage,
    sender_id: &str,
) -> Result<SendResult, SqsError> {
    if !sqs.observing() {
        return enqueue(queue, message, sender_id);
    }
    let (body, attributes) = (message.body.clone(), message.attributes.clone());
    let sent = enqueue(queue, message, sender_id)?;
    sqs.observe(SqsEvent::Sent {
        queue: &queue.name,
        message_id: &sent.message_id,
        body: &body,
        attributes: &attributes,
    });
    Ok(sent)
}

pub async fn receive_message(sqs: &Sqs, request: ReceiveMessage) -> Result<Value, SqsError> {
    let queue = sqs.existing_queue(&request.queue)?;
    let wait = match request.wait_seconds {
        Some(seconds) => seconds,
        None => u64::from(queue.lock().config.receive_message_wait_time_seconds),
    };
    let visibility = request.visibility_seconds.map(Duration::from_secs);
    let (max, wanted, attribute_filter) = (
        request.max,
        &request.system_attribute_names,
        &request.message_attribute_names,
    );
    let delivered = receive_core(sqs, &queue, max, Duration::from_secs(wait), visibility).await?;
    let messages: Vec<Value> = delivered
        .iter()
        .map(|d| message_json(d, wanted, attribute_filter))
        .collect();
    let mut out = Map::new();
    if !messages.is_empty() {
        out.insert("Messages".into(), Value::Array(messages));
    }
    Ok(Value::Object(out))
}

/// Receives with long polling. Waits on the queue's `Notify` (woken by sends, visibility
/// changes and deletion) or until the next invisible message turns visible, never holding the
/// queue lock while waiting. "Long polling ... returns messages as soon as they become
/// available" (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html).
pub async fn receive_core(
    sqs: &Sqs,
    queue: &Arc<Queue>,
    max: usize,
    wait: Duration,
    visibility: Option<Duration>,
) -> Result<Vec<Delivered>, SqsError> {
    let slot = (!wait.is_zero()).then(|| LongPollSlot::take(sqs)).flatten();
    let wait = if slot.is_some() { wait } else { Duration::ZERO };
    let deadline = Instant::now() + wait;
    loop {
        // Register interest before looking, so a send between the look and the wait wakes us.
        let notified = queue.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();

        let (delivered, next_visible_at) = receive_once(sqs, queue, max, visibility)?;
        if !delivered.is_empty() {
            return Ok(delivered);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Vec::new());
        }
        let wake_at = next_visible_at.map_or(deadline, |at| at.min(deadline));
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(wake_at) => {}
        }
    }
}

/// A place among the long polls allowed to wait at once ([`crate::state::DEFAULT_LONG_POLL_LIMIT`]),
/// given back when the poll ends or its request is dropped. A poll that finds no place is
/// answered as a short poll: it returns at once with what is there, possibly nothing, which is
/// an answer SQS gives too and every consumer loops on; an error would fail clients AWS serves.
pub(crate) struct LongPollSlot<'a> {
    count: &'a std::sync::atomic::AtomicUsize,
}

impl<'a> LongPollSlot<'a> {
    fn take(sqs: &'a Sqs) -> Option<Self> {
        use std::sync::atomic::Ordering;
        let limit = sqs.inner.long_poll_limit.load(Ordering::Relaxed);
        let count = &sqs.inner.long_polls;
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| LongPollSlot { count })
    }
}

impl Drop for LongPollSlot<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// One non-blocking receive, including the redrive of messages over maxReceiveCount.
fn receive_once(
    sqs: &Sqs,
    queue: &Arc<Queue>,
    max: usize,
    visibility: Option<Duration>,
) -> Result<(Vec<Delivered>, Option<Instant>), SqsError> {
    let (redrive, default_visibility) = {
        let state = queue.lock_live()?;
        (
            state.config.redrive_policy.clone(),
            state.config.visibility_timeout,
        )
    };
    // Redrive only to a DLQ that exists; a missing one leaves messages where they are.
    let dead_letter_queue = redrive
        .as_ref()
        .and_then(|policy| sqs.registry().get_by_arn(&policy.dead_letter_target_arn))
        .filter(|dlq| !Arc::ptr_eq(dlq, queue));
    let max_receive_count = dead_letter_queue
        .as_ref()
        .and(redrive.as_ref())
        .map(|policy| policy.max_receive_count);
    let visibility =
        visibility.unwrap_or_else(|| Duration::from_secs(u64::from(default_visibility)));
    let batch = queue.lock_live()?.receive(
        Instant::now(),
        epoch_ms(),
        max,
        visibility,
        max_receive_count,
        sqs.in_flight_limit(),
    )?;
    if let Some(dlq) = dead_letter_queue.filter(|_| !batch.dead_lettered.is_empty()) {
        if sqs.observing() {
            for message in &batch.dead_lettered {
                sqs.observe(SqsEvent::DeadLettered {
                    queue: &queue.name,
                    dead_letter_queue: &dlq.name,
                    message_id: &message.message_id,
                    body: &message.body,
                    receive_count: message.receive_count,
                });
            }
        }
        move_to_dead_letter_queue(queue, &dlq, batch.dead_lettered);
    }
    for delivered in &batch.delivered {
        sqs.observe(SqsEvent::Received {
            queue: &queue.name,
            message_id: &delivered.message.message_id,
            body: &delivered.message.body,
            receive_count: delivered.message.receive_count,
        });
    }
    Ok((batch.delivered, batch.next_visible_at))
}

/// Moves messages into the DLQ keeping MessageId, body, attributes, SentTimestamp, the enqueue
/// time (retention) and the receive count ("across all queues").
fn move_to_dead_letter_queue(source: &Arc<Queue>, dlq: &Arc<Queue>, messages: Vec<StoredMessage>) {
    let now = Instant::now();
    let messages: Vec<StoredMessage> = messages
        .into_iter()
        .map(|mut message| {
            message.visible_at = now;
            message.receipt_nonce = None;
            message.dead_letter_source_arn = Some(source.arn.clone());
            message
        })
        .collect();
    let leftover = match dlq.lock_live() {
        Ok(mut state) => {
            state.restore(messages);
            None
        }
        Err(QueueDeleted) => Some(messages),
    };
    match leftover {
        // The DLQ vanished meanwhile: keep the messages in the source rather than lose them.
        Some(messages) => source.lock().restore(messages),
        None => dlq.notify.notify_waiters(),
    }
}

/// The JSON form of a received message.
pub fn message_json(
    delivered: &Delivered,
    wanted: &[String],
    attribute_filter: &[String],
) -> Value {
    let message = &delivered.message;
    let mut out = Map::new();
    out.insert("MessageId".into(), json!(message.message_id));
    out.insert("ReceiptHandle".into(), json!(delivered.receipt_handle));
    out.insert("MD5OfBody".into(), json!(message.md5_of_body));
    out.insert("Body".into(), json!(message.body));
    let attributes = system_attributes(message, wanted);
    if !attributes.is_empty() {
        out.insert("Attributes".into(), json!(attributes));
    }
    let selected: BTreeMap<String, AttributeValue> = message
        .attributes
        .iter()
        .filter(|(name, _)| attribute_selected(name, attribute_filter))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    // The digest covers the attributes returned, which is what SDKs verify against.
    if let Some(md5) = md5_of_attributes(&selected) {
        out.insert("MD5OfMessageAttributes".into(), json!(md5));
        let encoded: Map<String, Value> = selected
            .iter()
            .map(|(name, value)| (name.clone(), attribute_json(value)))
            .collect();
        out.insert("MessageAttributes".into(), Value::Object(encoded));
    }
    Value::Object(out)
}

fn attribute_json(value: &AttributeValue) -> Value {
    let mut out = Map::new();
    out.insert("DataType".into(), json!(value.data_type));
    if let Some(text) = &value.string_value {
        out.insert("StringValue".into(), json!(text));
    }
    if let Some(bytes) = &value.binary_value {
        out.insert("BinaryValue".into(), json!(STANDARD.encode(bytes)));
    }
    Value::Object(out)
}

/// `All`, `.*`, `prefix.*` or an exact name (API_ReceiveMessage, MessageAttributeNames).
fn attribute_selected(name: &str, filter: &[String]) -> bool {
    filter.iter().any(|f| {
        f == "All"
            || f == ".*"
            || f == name
            || f.strip_suffix(".*").is_some_and(|prefix| {
                name.starts_with(prefix) && name[prefix.len()..].starts_with('.')
            })
    })
}

/// The requested system attributes of a received message (`All` gives every one).
pub fn system_attributes(message: &StoredMessage, wanted: &[String]) -> BTreeMap<String, String> {
    let all = wanted.iter().any(|w| w == "All");
    let want = |name: &str| all || wanted.iter().any(|w| w == name);
    let mut out = BTreeMap::new();
    if want("SenderId") {
        out.insert("SenderId".into(), message.sender_id.clone());
    }
    if want("SentTimestamp") {
        out.insert("SentTimestamp".into(), message.sent_epoch_ms.to_string());
    }
    if want("ApproximateReceiveCount") {
        out.insert(
            "ApproximateReceiveCount".into(),
            message.receive_count.to_string(),
        );
    }
    if want("ApproximateFirstReceiveTimestamp") {
        if let Some(ms) = message.first_receive_epoch_ms {
            out.insert("ApproximateFirstReceiveTimestamp".into(), ms.to_string());
        }
    }
    if want("AWSTraceHeader") {
        if let Some(value) = message
            .system_attributes
            .get("AWSTraceHeader")
            .and_then(|v| v.string_value.clone())
        {
            out.insert("AWSTraceHeader".into(), value);
        }
    }
    out
}

pub fn delete_message(sqs: &Sqs, name: &str, receipt_handle: &str) -> Result<Value, SqsError> {
    let queue = sqs.existing_queue(name)?;
    delete_core(&queue, receipt_handle)?;
    Ok(json!({}))
}

/// Decodes a handle and checks it belongs to `queue`.
fn decode_for(queue: &Queue, handle: &str) -> Result<receipt::Receipt, SqsError> {
    let receipt =
        receipt::decode(handle).ok_or_else(|| SqsError::invalid_receipt_handle(handle))?;
    if receipt.queue_name != queue.name {
        return Err(SqsError::new(
            ErrorCode::ReceiptHandleIsInvalid,
            format!("The input receipt handle \"{handle}\" is not valid for this queue."),
        ));
    }
    Ok(receipt)
}

pub fn delete_core(queue: &Arc<Queue>, handle: &str) -> Result<(), SqsError> {
    let receipt = decode_for(queue, handle)?;
    queue.lock_live()?.delete(&receipt);
    Ok(())
}

pub fn change_message_visibility(sqs: &Sqs, request: ChangeVisibility) -> Result<Value, SqsError> {
    let queue = sqs.existing_queue(&request.queue)?;
    change_visibility_core(&queue, &request.receipt_handle, request.timeout)?;
    Ok(json!({}))
}

pub fn change_visibility_core(
    queue: &Arc<Queue>,
    handle: &str,
    timeout: i64,
) -> Result<(), SqsError> {
    if !(0..=i64::from(MAX_VISIBILITY_TIMEOUT)).contains(&timeout) {
        return Err(SqsError::invalid_parameter(
            "VisibilityTimeout",
            timeout,
            "Must be between 0 and 43200, if provided.",
        ));
    }
    let receipt = decode_for(queue, handle)?;
    queue
        .lock_live()?
        .change_visibility(
            &receipt,
            Duration::from_secs(timeout as u64),
            Instant::now(),
        )
        .map_err(|refused| SqsError::visibility_refused(refused, handle))?;
    // Long polls recompute when the next message turns visible (at once for 0).
    queue.notify.notify_waiters();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_filters() {
        let filter = vec!["foo.*".to_string(), "exact".to_string()];
        assert!(attribute_selected("foo.bar", &filter));
        assert!(!attribute_selected("foobar", &filter));
        assert!(attribute_selected("exact", &filter));
        assert!(attribute_selected("anything", &["All".to_string()]));
    }
}
