//! S3 event notifications to SQS queues: configuration (Put/GetBucketNotificationConfiguration),
//! the `s3:TestEvent` message, and event records delivered after an object changes.
//!
//! Record shape: S3 User Guide "Event message structure"
//! (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html),
//! version 2.1 as S3 uses for ObjectCreated/ObjectRemoved. Event names and wildcards:
//! https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html
//! Filters: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use s3s::dto::{
    FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};
use s3s::S3Result;
use serde_json::json;

use crate::errors::{host_id, invalid_argument, no_such_bucket};
use crate::Inner;

/// Where notifications go (the SQS emulator in the real server, a collector in tests).
pub trait NotificationSink: Send + Sync {
    /// Whether `arn` names an existing destination (S3 validates on configuration).
    fn destination_exists(&self, arn: &str) -> bool;
    /// Delivers one message body to `arn`.
    fn deliver(&self, arn: &str, body: String) -> Result<(), String>;
    /// Resolves once every message delivered so far is durable (in `--data-dir` mode the
    /// in-process SQS writes them to its log): S3 waits on it before acknowledging a write,
    /// so an acknowledged object's event is not lost in a crash either.
    fn delivered_durably(&self) -> futures::future::BoxFuture<'static, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

/// One QueueConfiguration of a bucket.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueNotification {
    pub id: String,
    pub queue_arn: String,
    /// Event types such as `s3:ObjectCreated:*` or `s3:ObjectCreated:Put`.
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

/// Event types S3 can publish to SQS (the subset this emulator can ever produce is
/// ObjectCreated:* and ObjectRemoved:*, but configurations naming the others are valid).
const KNOWN_EVENTS: &[&str] = &[
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:ReducedRedundancyLostObject",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:Replication:OperationNotTracked",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
];

/// Validates and stores a bucket's queue configurations, then sends each queue the test event.
pub(crate) fn apply_configuration(
    inner: &Inner,
    bucket_name: &str,
    mut configs: Vec<QueueNotification>,
    skip_destination_validation: bool,
    request_id: &str,
) -> S3Result<()> {
    let bucket = inner
        .store
        .bucket(bucket_name)
        .ok_or_else(|| no_such_bucket(bucket_name))?;
    for config in &mut configs {
        if config.id.is_empty() {
            // S3 assigns an id when the configuration has none.
            config.id = uuid::Uuid::new_v4().to_string();
        }
        if config.events.is_empty() {
            return Err(invalid_argument(
                "A notification configuration must name at least one event.",
            ));
        }
        for event in &config.events {
            if !KNOWN_EVENTS.contains(&event.as_str()) {
                return Err(invalid_argument(format!(
                    "The event is not supported for notifications: {event}"
                )));
            }
        }
        if !config.queue_arn.starts_with("arn:") || !config.queue_arn.contains(":sqs:") {
            return Err(invalid_argument(format!(
                "The ARN could not be parsed: {}",
                config.queue_arn
            )));
        }
    }
    if !skip_destination_validation {
        let unknown: Vec<&str> = configs
            .iter()
            .map(|c| c.queue_arn.as_str())
            .filter(|arn| !inner.sink.destination_exists(arn))
            .collect();
        if !unknown.is_empty() {
            return Err(invalid_argument(format!(
                "Unable to validate the following destination configurations: {}",
                unknown.join(", ")
            )));
        }
    }
    let destinations: BTreeSet<String> = configs.iter().map(|c| c.queue_arn.clone()).collect();
    bucket
        .set_notifications(configs)
        .map_err(crate::errors::storage_error)?;

    let test_event = json!({
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": event_time(SystemTime::now()),
        "Bucket": bucket_name,
        "RequestId": request_id,
        "HostId": host_id(request_id),
    })
    .to_string();
    for arn in destinations {
        if let Err(e) = inner.sink.deliver(&arn, test_event.clone()) {
            tracing::warn!(%arn, error = %e, "S3 test event delivery failed");
        }
    }
    Ok(())
}

/// Converts the wire configuration, validating filter rules as S3 does.
pub(crate) fn from_dto(config: NotificationConfiguration) -> S3Result<Vec<QueueNotification>> {
    let has_other = config
        .topic_configurations
        .as_ref()
        .is_some_and(|t| !t.is_empty())
        || config
            .lambda_function_configurations
            .as_ref()
            .is_some_and(|l| !l.is_empty());
    if has_other {
        // Only SQS destinations exist in this emulator, so S3 could not validate these.
        return Err(invalid_argument(
            "Unable to validate the following destination configurations: only SQS queue destinations are emulated",
        ));
    }
    let mut out = Vec::new();
    for q in config.queue_configurations.unwrap_or_default() {
        let (mut prefix, mut suffix) = (None, None);
        let rules = q
            .filter
            .and_then(|f| f.key)
            .and_then(|k| k.filter_rules)
            .unwrap_or_default();
        for rule in rules {
            let name = rule
                .name
                .as_ref()
                .map(|n| n.as_str().to_ascii_lowercase())
                .unwrap_or_default();
            let value = rule.value.unwrap_or_default();
            let slot = match name.as_str() {
                "prefix" => &mut prefix,
                "suffix" => &mut suffix,
                _ => {
                    return Err(invalid_argument(
                        "filter rule name must be either prefix or suffix",
                    ))
                }
            };
            if slot.is_some() {
                return Err(invalid_argument(format!(
                    "Cannot specify more than one {name} rule in a filter."
                )));
            }
            *slot = Some(value);
        }
        out.push(QueueNotification {
            id: q.id.unwrap_or_default(),
            queue_arn: q.queue_arn,
            events: q.events.into_iter().map(String::from).collect(),
            prefix,
            suffix,
        });
    }
    Ok(out)
}

/// Converts stored configurations back to the wire shape (rule names as S3 returns them).
pub(crate) fn to_dto(configs: &[QueueNotification]) -> Vec<QueueConfiguration> {
    configs
        .iter()
        .map(|c| {
            let mut rules = Vec::new();
            for (name, value) in [("Prefix", &c.prefix), ("Suffix", &c.suffix)] {
                if let Some(value) = value {
                    rules.push(FilterRule {
                        name: Some(FilterRuleName::from(name.to_owned())),
                        value: Some(value.clone()),
                    });
                }
            }
            QueueConfiguration {
                events: c
                    .events
                    .iter()
                    .map(|e| s3s::dto::Event::from(e.clone()))
                    .collect(),
                filter: (!rules.is_empty()).then_some(NotificationConfigurationFilter {
                    key: Some(S3KeyFilter {
                        filter_rules: Some(rules),
                    }),
                }),
                id: Some(c.id.clone()),
                queue_arn: c.queue_arn.clone(),
            }
        })
        .collect()
}

/// What happened to an object, for the event record.
pub(crate) struct ObjectEvent<'a> {
    /// Without the `s3:` prefix, e.g. `ObjectCreated:Put`.
    pub event_name: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    /// Size and unquoted ETag (absent for removals).
    pub size_etag: Option<(u64, &'a str)>,
    pub request_id: &'a str,
    pub source_ip: String,
    pub principal: String,
}

/// Delivers `event` to every queue whose configuration matches it. Call after the change is
/// stored and with no lock held; delivery failures are logged, never returned (S3 does not
/// fail the request because a notification could not be sent).
pub(crate) fn publish(inner: &Inner, configs: &[QueueNotification], event: &ObjectEvent<'_>) {
    let full_name = format!("s3:{}", event.event_name);
    let matching: Vec<&QueueNotification> = configs
        .iter()
        .filter(|c| c.events.iter().any(|e| event_matches(e, &full_name)))
        .filter(|c| c.prefix.as_deref().is_none_or(|p| event.key.starts_with(p)))
        .filter(|c| c.suffix.as_deref().is_none_or(|s| event.key.ends_with(s)))
        .collect();
    if matching.is_empty() {
        return;
    }
    let sequencer = next_sequencer();
    let time = event_time(SystemTime::now());
    for config in matching {
        let mut object = json!({ "key": encode_key(event.key), "sequencer": sequencer });
        if let Some((size, etag)) = event.size_etag {
            object["size"] = json!(size);
            object["eTag"] = json!(etag);
        }
        let body = json!({ "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": inner.region,
            "eventTime": time,
            "eventName": event.event_name,
            "userIdentity": { "principalId": event.principal },
            "requestParameters": { "sourceIPAddress": event.source_ip },
            "responseElements": {
                "x-amz-request-id": event.request_id,
                "x-amz-id-2": host_id(event.request_id),
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": config.id,
                "bucket": {
                    "name": event.bucket,
                    "ownerIdentity": { "principalId": crate::buckets::OWNER_ID },
                    "arn": format!("arn:aws:s3:::{}", event.bucket),
                },
                "object": object,
            },
        }]})
        .to_string();
        if let Err(e) = inner.sink.deliver(&config.queue_arn, body) {
            tracing::warn!(arn = %config.queue_arn, key = %event.key, error = %e, "S3 event notification delivery failed");
        }
    }
}

/// `s3:ObjectCreated:*` matches every `s3:ObjectCreated:...` event.
fn event_matches(configured: &str, event: &str) -> bool {
    match configured.strip_suffix('*') {
        Some(family) => event.starts_with(family),
        None => configured == event,
    }
}

/// The object key as S3 writes it into records: form encoding (space -> `+`, everything but
/// `A-Za-z0-9*-._` percent-encoded as UTF-8), except that `/` stays as is — what S3 sends
/// ("red flower.jpg" -> "red+flower.jpg"; `=` -> `%3D`; slashes unescaped, see
/// https://github.com/minio/minio/issues/11665 for a comparison against S3).
pub fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|segment| form_urlencoded::byte_serialize(segment.as_bytes()).collect::<String>())
        .collect::<Vec<_>>()
        .join("/")
}

/// ISO-8601 with milliseconds and `Z`, as in `eventTime`.
fn event_time(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

static LAST_SEQUENCER: AtomicU64 = AtomicU64::new(0);

/// Globally increasing hex sequencer (S3 only promises order per key; global order implies it).
/// Seeded from the clock so it also increases across emulator restarts.
fn next_sequencer() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let mut prev = LAST_SEQUENCER.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev.saturating_add(1));
        match LAST_SEQUENCER.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => return format!("{next:018X}"),
            Err(actual) => prev = actual,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_form_encoded_with_slashes_kept() {
        assert_eq!(encode_key("red flower.jpg"), "red+flower.jpg");
        assert_eq!(
            encode_key("sales/year=2024/a b+c.csv"),
            "sales/year%3D2024/a+b%2Bc.csv"
        );
        assert_eq!(encode_key("é/x"), "%C3%A9/x");
    }

    #[test]
    fn wildcards_match_their_family() {
        assert!(event_matches("s3:ObjectCreated:*", "s3:ObjectCreated:Put"));
        assert!(!event_matches(
            "s3:ObjectCreated:*",
            "s3:ObjectRemoved:Delete"
        ));
        assert!(event_matches(
            "s3:ObjectCreated:Copy",
            "s3:ObjectCreated:Copy"
        ));
        assert!(!event_matches(
            "s3:ObjectCreated:Copy",
            "s3:ObjectCreated:Put"
        ));
    }

    #[test]
    fn sequencers_increase() {
        let a = next_sequencer();
        let b = next_sequencer();
        assert_eq!(a.len(), b.len());
        assert!(b > a);
    }
}
