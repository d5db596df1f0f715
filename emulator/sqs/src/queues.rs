//! Queue lifecycle: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, PurgeQueue, tags and
//! ListDeadLetterSourceQueues.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::errors::{ErrorCode, SqsError};
use crate::request::{list_queues_token, CreateQueue, ListQueues, Tags};
use crate::state::config::{redrive_allowed, QueueConfig};
use crate::state::epoch_s;
use crate::state::queue::{Queue, QueueState};
use crate::{Ctx, Sqs};

pub fn create_queue(sqs: &Sqs, ctx: &Ctx, request: CreateQueue) -> Result<Value, SqsError> {
    create_queue_core(sqs, &request.name, &request.attributes, &request.tags)?;
    Ok(json!({"QueueUrl": sqs.queue_url(&ctx.host, &request.name)}))
}

/// Queue names: 1-80 of alphanumerics, hyphens, underscores (`.fifo` suffix for FIFO queues,
/// which this emulator does not offer).
fn validate_name(name: &str) -> Result<(), SqsError> {
    if name.ends_with(".fifo") {
        return Err(SqsError::new(
            ErrorCode::InvalidParameterValue,
            "FIFO queues are not supported by this emulator; create a standard queue.",
        ));
    }
    let valid = !name.is_empty()
        && name.len() <= 80
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(SqsError::new(
            ErrorCode::InvalidParameterValue,
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ))
    }
}

/// Checks a RedrivePolicy target: it must exist and its RedriveAllowPolicy must admit `source_arn`.
pub fn check_dead_letter_target(
    sqs: &Sqs,
    source_arn: &str,
    dlq_arn: &str,
) -> Result<(), SqsError> {
    let reason = |r: &str| SqsError::invalid_attribute_value("RedrivePolicy", Some(r));
    let dlq = sqs
        .registry()
        .get_by_arn(dlq_arn)
        .ok_or_else(|| reason("Dead letter target does not exist."))?;
    let allow = dlq
        .lock()
        .config
        .passthrough
        .get("RedriveAllowPolicy")
        .cloned();
    if redrive_allowed(allow.as_deref(), source_arn) {
        Ok(())
    } else {
        Err(reason(&format!(
            "Queue {dlq_arn} does not allow this queue to use it as a dead-letter queue."
        )))
    }
}

/// Applies attributes to a copy of `base`, validating each.
pub fn configured(
    sqs: &Sqs,
    queue_arn: &str,
    base: &QueueConfig,
    attributes: &BTreeMap<String, String>,
) -> Result<QueueConfig, SqsError> {
    let mut config = base.clone();
    let check = |dlq_arn: &str| check_dead_letter_target(sqs, queue_arn, dlq_arn);
    for (name, value) in attributes {
        config.apply(name, value, &check)?;
    }
    Ok(config)
}

/// Creates the queue, or accepts an existing one whose attributes equal the given ones:
/// "If you specify the name of an existing queue and provide the exact same names and values for
/// all its attributes, CreateQueue returns the URL of the existing queue ... with different
/// attribute names or values, CreateQueue returns an error"
/// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html).
pub fn create_queue_core(
    sqs: &Sqs,
    name: &str,
    attributes: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
) -> Result<Arc<Queue>, SqsError> {
    validate_name(name)?;
    if tags.len() > 50 {
        return Err(SqsError::new(
            ErrorCode::InvalidParameterValue,
            "Too many tags added for queue. Maximum 50 tags per queue.",
        ));
    }
    let arn = sqs.registry().arn(name);
    if let Some(existing) = sqs.registry().get(name) {
        return same_or_conflict(sqs, existing, attributes);
    }
    let config = configured(sqs, &arn, &QueueConfig::default(), attributes)?;
    let (queue, created) = sqs.registry().get_or_insert(name, || {
        Queue::new(
            name.to_string(),
            arn.clone(),
            QueueState::new(name.to_string(), config, tags.clone(), epoch_s()),
        )
    });
    if created {
        Ok(queue)
    } else {
        // Another request created it between our look-up and insert.
        same_or_conflict(sqs, queue, attributes)
    }
}

fn same_or_conflict(
    sqs: &Sqs,
    existing: Arc<Queue>,
    attributes: &BTreeMap<String, String>,
) -> Result<Arc<Queue>, SqsError> {
    let current = existing.lock().config.clone();
    let wanted = configured(sqs, &existing.arn, &current, attributes)?;
    let (now_map, wanted_map) = (current.to_map(), wanted.to_map());
    match wanted_map.iter().find(|(k, v)| now_map.get(*k) != Some(*v)) {
        None if now_map.len() == wanted_map.len() => Ok(existing),
        found => Err(SqsError::new(
            ErrorCode::QueueNameExists,
            format!(
                "A queue already exists with the same name and a different value for attribute {}",
                found.map_or("RedrivePolicy", |(k, _)| k.as_str())
            ),
        )),
    }
}

pub fn get_queue_url(sqs: &Sqs, ctx: &Ctx, name: &str) -> Result<Value, SqsError> {
    let queue = sqs.existing_queue(name)?;
    Ok(json!({"QueueUrl": sqs.queue_url(&ctx.host, &queue.name)}))
}

/// ListQueues: up to 1,000 URLs; with MaxResults it pages with NextToken.
pub fn list_queues(sqs: &Sqs, ctx: &Ctx, request: ListQueues) -> Value {
    let names: Vec<String> = sqs
        .registry()
        .all()
        .iter()
        .map(|q| q.name.clone())
        .filter(|name| name.starts_with(&request.prefix))
        .filter(|name| request.after.as_ref().is_none_or(|after| name > after))
        .collect();
    let limit = request.max_results.unwrap_or(1000);
    let page: Vec<&String> = names.iter().take(limit).collect();
    let mut out = Map::new();
    if !page.is_empty() {
        let urls: Vec<String> = page.iter().map(|n| sqs.queue_url(&ctx.host, n)).collect();
        out.insert("QueueUrls".into(), json!(urls));
    }
    if request.max_results.is_some() && names.len() > page.len() {
        if let Some(last) = page.last() {
            out.insert("NextToken".into(), json!(list_queues_token(last)));
        }
    }
    Value::Object(out)
}

pub fn delete_queue(sqs: &Sqs, name: &str) -> Result<Value, SqsError> {
    let queue = sqs.existing_queue(name)?;
    if let Some(removed) = sqs.registry().remove(&queue.name) {
        removed.lock().deleted = true;
        // Long polls on the queue end with QueueDoesNotExist.
        removed.notify.notify_waiters();
    }
    Ok(json!({}))
}

/// PurgeQueue deletes every message, in flight or not; a second purge within 60 s is
/// PurgeQueueInProgress (API_PurgeQueue).
pub fn purge_queue(sqs: &Sqs, name: &str) -> Result<Value, SqsError> {
    let queue = sqs.existing_queue(name)?;
    let mut state = queue.lock();
    let now = Instant::now();
    if state
        .last_purge
        .is_some_and(|at| now.duration_since(at) < Duration::from_secs(60))
    {
        return Err(SqsError::new(
            ErrorCode::PurgeQueueInProgress,
            format!(
                "Only one PurgeQueue operation on {} is allowed every 60 seconds.",
                queue.name
            ),
        ));
    }
    state.purge();
    state.last_purge = Some(now);
    Ok(json!({}))
}

pub fn tag_queue(sqs: &Sqs, name: &str, tags: Tags) -> Result<Value, SqsError> {
    let queue = sqs.existing_queue(name)?;
    let mut state = queue.lock();
    let mut merged = state.tags.clone();
    merged.extend(tags);
    if merged.len() > 50 {
        return Err(SqsError::new(
            ErrorCode::InvalidParameterValue,
            "Too many tags added for queue. Maximum 50 tags per queue.",
        ));
    }
    state.tags = merged;
    state.record_queue();
    Ok(json!({}))
}

pub fn untag_queue(sqs: &Sqs, name: &str, keys: &[String]) -> Result<Value, SqsError> {
    let queue = sqs.existing_queue(name)?;
    let mut state = queue.lock();
    for key in keys {
        state.tags.remove(key);
    }
    state.record_queue();
    Ok(json!({}))
}

pub fn list_queue_tags(sqs: &Sqs, name: &str) -> Result<Value, SqsError> {
    let queue = sqs.existing_queue(name)?;
    let tags = queue.lock().tags.clone();
    if tags.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({"Tags": tags}))
}

/// The queues whose RedrivePolicy targets this one. awsJson1_0 spells the member `queueUrls`.
pub fn list_dead_letter_source_queues(sqs: &Sqs, ctx: &Ctx, name: &str) -> Result<Value, SqsError> {
    let queue = sqs.existing_queue(name)?;
    let urls: Vec<String> = source_queues_of(sqs, &queue.arn)
        .iter()
        .map(|q| sqs.queue_url(&ctx.host, &q.name))
        .collect();
    Ok(json!({"queueUrls": urls}))
}

/// Queues whose redrive policy names `dlq_arn`.
pub fn source_queues_of(sqs: &Sqs, dlq_arn: &str) -> Vec<Arc<Queue>> {
    sqs.registry()
        .all()
        .into_iter()
        .filter(|q| {
            q.lock()
                .config
                .redrive_policy
                .as_ref()
                .is_some_and(|p| p.dead_letter_target_arn == dlq_arn)
        })
        .collect()
}
