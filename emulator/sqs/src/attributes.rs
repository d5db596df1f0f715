//! GetQueueAttributes and SetQueueAttributes.
//!
//! Attribute names and meanings: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html
//! The counts are derived from message state at the time of the call.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::errors::SqsError;
use crate::queues::configured;
use crate::request::Tags;
use crate::state::epoch_s;
use crate::Sqs;

/// GetQueueAttributes (the names are checked by `request`).
pub fn get_queue_attributes(sqs: &Sqs, name: &str, names: &[String]) -> Result<Value, SqsError> {
    let queue = sqs.existing_queue(name)?;
    let all = names.iter().any(|n| n == "All");
    let mut attributes: BTreeMap<String, String> = {
        let mut state = queue.lock();
        let counts = state.counts(Instant::now());
        let mut map = state.config.to_map();
        map.insert(
            "ApproximateNumberOfMessages".into(),
            counts.visible.to_string(),
        );
        map.insert(
            "ApproximateNumberOfMessagesNotVisible".into(),
            counts.in_flight.to_string(),
        );
        map.insert(
            "ApproximateNumberOfMessagesDelayed".into(),
            counts.delayed.to_string(),
        );
        map.insert("CreatedTimestamp".into(), state.created_epoch_s.to_string());
        map.insert(
            "LastModifiedTimestamp".into(),
            state.last_modified_epoch_s.to_string(),
        );
        map.insert("QueueArn".into(), queue.arn.clone());
        map
    };
    if !all {
        attributes.retain(|k, _| names.contains(k));
    }
    if attributes.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({ "Attributes": attributes }))
}

/// SetQueueAttributes: all attributes are validated before any is applied.
pub fn set_queue_attributes(sqs: &Sqs, name: &str, attributes: &Tags) -> Result<Value, SqsError> {
    let queue = sqs.existing_queue(name)?;
    // Validate against a snapshot without holding the lock (the DLQ check locks the DLQ, which
    // may be this very queue), then apply the same, now known-valid, attributes under the lock.
    let snapshot = queue.lock().config.clone();
    configured(sqs, &queue.arn, &snapshot, attributes)?;
    let mut state = queue.lock();
    let accept = |_: &str| Ok(());
    let mut config = state.config.clone();
    for (name, value) in attributes {
        config.apply(name, value, &accept)?;
    }
    state.config = config;
    state.last_modified_epoch_s = epoch_s();
    state.record_queue();
    drop(state);
    // A shorter delay or a removed redrive policy can make messages receivable.
    queue.notify.notify_waiters();
    Ok(json!({}))
}
