//! A stored message and its attribute values.
//!
//! A message is in one of three states, derived from its fields and the clock
//! (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html):
//! delayed (never received, `visible_at` in the future), visible, or in flight (received, its
//! visibility timeout not yet over).

use std::collections::BTreeMap;

use tokio::time::Instant;

/// A message attribute value (`DataType` + `StringValue` or `BinaryValue`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttributeValue {
    /// `String`, `Number`, `Binary`, optionally followed by `.custom-label`.
    pub data_type: String,
    pub string_value: Option<String>,
    pub binary_value: Option<Vec<u8>>,
}

impl AttributeValue {
    /// Whether the data type is `Binary` or a custom `Binary.*` type.
    pub fn is_binary(&self) -> bool {
        base_type(&self.data_type) == "Binary"
    }
}

/// The base type of a data type (`Number.float` -> `Number`).
pub fn base_type(data_type: &str) -> &str {
    data_type.split('.').next().unwrap_or(data_type)
}

/// A message held by a queue.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub message_id: String,
    pub body: String,
    pub md5_of_body: String,
    pub attributes: BTreeMap<String, AttributeValue>,
    pub system_attributes: BTreeMap<String, AttributeValue>,
    pub sender_id: String,
    /// `SentTimestamp` in epoch milliseconds; kept when the message moves to a DLQ.
    pub sent_epoch_ms: u64,
    /// Enqueue instant: retention is measured from it, also after a move to a DLQ
    /// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/setting-up-dead-letter-queue-retention.html).
    pub enqueued_at: Instant,
    pub visible_at: Instant,
    pub receive_count: u32,
    pub first_receive_epoch_ms: Option<u64>,
    pub first_received_at: Option<Instant>,
    /// Nonce of the most recently issued receipt handle.
    pub receipt_nonce: Option<String>,
    /// ARN of the queue the redrive policy moved this message from, for move tasks.
    pub dead_letter_source_arn: Option<String>,
}

impl StoredMessage {
    pub fn is_visible(&self, now: Instant) -> bool {
        self.visible_at <= now
    }

    pub fn is_delayed(&self, now: Instant) -> bool {
        self.receive_count == 0 && self.visible_at > now
    }

    pub fn is_in_flight(&self, now: Instant) -> bool {
        self.receive_count > 0 && self.visible_at > now
    }
}
