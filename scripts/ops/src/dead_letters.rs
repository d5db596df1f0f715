//! What a dead-lettered message says, decided without I/O: its reason, the objects it announces,
//! whether its body was kept in S3, and whether a redrive filter selects it.
//!
//! Two kinds of messages reach the DLQ. The handler sends permanent failures itself with
//! `error_class`/`error_reason` message attributes (file-processor's `failures` module); a body
//! too large to go with them is written to `s3://<analytics>/dead-letter-bodies/<sha256>` and
//! the DLQ gets a `{"dead_letter_body": {...}}` reference instead (its `dead_letter` module).
//! Messages the queue's redrive policy moved after `maxReceiveCount` receives carry no reason;
//! SQS adds the `DeadLetterQueueSourceArn` attribute to them.

use std::collections::HashMap;

use file_processor::dead_letter::{ERROR_CLASS, ERROR_REASON};
use pipeline_core::event::{parse_sqs_body, ParsedBody};
use serde::{Deserialize, Serialize};

use crate::cli::FilterArgs;

/// A message as received, in the terms the commands need (no SDK types: the decisions are tested
/// without a queue).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// String message attributes.
    pub attributes: HashMap<String, String>,
    /// System attributes (`SentTimestamp`, `ApproximateReceiveCount`, ...).
    pub system_attributes: HashMap<String, String>,
}

/// The reference the handler sends instead of a body too large for the DLQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBodyRef {
    pub s3_uri: String,
    pub bytes: u64,
    pub sha256: String,
    #[serde(default)]
    pub source_message_id: String,
}

impl StoredBodyRef {
    /// `(bucket, key)` of the stored body.
    pub fn location(&self) -> Option<(&str, &str)> {
        self.s3_uri.strip_prefix("s3://")?.split_once('/')
    }
}

/// One dead-lettered message, as `dlq list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub message_id: String,
    #[serde(skip)]
    pub receipt_handle: String,
    /// `permanent`/`transient`, from the attributes (or a JSON body's field).
    pub error_class: Option<String>,
    pub error_reason: Option<String>,
    /// The `s3://bucket/key` of every object the (original) body announces.
    pub objects: Vec<String>,
    /// Keys of those objects (for the `--key-prefix` filter).
    #[serde(skip)]
    pub keys: Vec<String>,
    /// Set when the body is a reference to a body kept in S3.
    pub stored_body: Option<StoredBodyRef>,
    /// The queue the redrive policy moved it from (`DeadLetterQueueSourceArn`).
    pub source_queue_arn: Option<String>,
    pub sent_timestamp_ms: Option<u64>,
    pub receive_count: Option<u64>,
    pub body_bytes: usize,
    /// What the body is when it announces no object (`s3:TestEvent`, unparsable: why).
    pub body_note: Option<String>,
}

/// Reads the reference of a stored body, if the body is one.
pub fn stored_body_ref(body: &str) -> Option<StoredBodyRef> {
    #[derive(Deserialize)]
    struct Envelope {
        dead_letter_body: StoredBodyRef,
    }
    serde_json::from_str::<Envelope>(body)
        .ok()
        .map(|e| e.dead_letter_body)
}

/// Describes a received message. `original_body` is the stored body when the message is a
/// reference and it was fetched (the objects are then read from it).
pub fn describe(message: &ReceivedMessage, original_body: Option<&str>) -> DeadLetter {
    let stored_body = stored_body_ref(&message.body);
    let body = original_body.unwrap_or(&message.body);
    let (error_class, error_reason) = reason_of(message);
    let (objects, keys, body_note) = match parse_sqs_body(body) {
        Ok(ParsedBody::Objects(refs)) => (
            refs.iter()
                .map(|o| pipeline_core::route::s3_uri(&o.bucket, &o.key))
                .collect(),
            refs.iter().map(|o| o.key.clone()).collect(),
            None,
        ),
        Ok(ParsedBody::TestEvent) => (vec![], vec![], Some("s3:TestEvent".to_string())),
        Err(_) if stored_body.is_some() && original_body.is_none() => (
            vec![],
            vec![],
            Some("body kept in S3, not read".to_string()),
        ),
        Err(error) => (vec![], vec![], Some(error.to_string())),
    };
    let number = |name: &str| message.system_attributes.get(name)?.parse().ok();
    DeadLetter {
        message_id: message.message_id.clone(),
        receipt_handle: message.receipt_handle.clone(),
        error_class,
        error_reason,
        objects,
        keys,
        stored_body,
        source_queue_arn: message
            .system_attributes
            .get("DeadLetterQueueSourceArn")
            .cloned(),
        sent_timestamp_ms: number("SentTimestamp"),
        receive_count: number("ApproximateReceiveCount"),
        body_bytes: message.body.len(),
        body_note,
    }
}

/// The class and reason: the handler's attributes, else top-level fields of a JSON body.
fn reason_of(message: &ReceivedMessage) -> (Option<String>, Option<String>) {
    let from_attributes = (
        message.attributes.get(ERROR_CLASS).cloned(),
        message.attributes.get(ERROR_REASON).cloned(),
    );
    if from_attributes.0.is_some() || from_attributes.1.is_some() {
        return from_attributes;
    }
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(&message.body) else {
        return (None, None);
    };
    let text = |name: &str| fields.get(name).and_then(|v| v.as_str()).map(String::from);
    (text(ERROR_CLASS), text(ERROR_REASON))
}

/// A redrive filter: every given criterion must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub error_class: Option<String>,
    pub key_prefix: Option<String>,
    pub reason_contains: Option<String>,
}

impl From<&FilterArgs> for Filter {
    fn from(args: &FilterArgs) -> Self {
        Filter {
            error_class: args.error_class.clone(),
            key_prefix: args.key_prefix.clone(),
            reason_contains: args.reason_contains.clone(),
        }
    }
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.error_class.is_none() && self.key_prefix.is_none() && self.reason_contains.is_none()
    }

    /// Whether the filter selects the message. A key prefix selects a message announcing at
    /// least one object under it; a message without a reason matches no class or reason filter.
    pub fn matches(&self, letter: &DeadLetter) -> bool {
        let class_ok = self.error_class.as_ref().is_none_or(|class| {
            letter
                .error_class
                .as_ref()
                .is_some_and(|c| c.eq_ignore_ascii_case(class))
        });
        let prefix_ok = self
            .key_prefix
            .as_ref()
            .is_none_or(|prefix| letter.keys.iter().any(|k| k.starts_with(prefix.as_str())));
        let reason_ok = self.reason_contains.as_ref().is_none_or(|text| {
            letter
                .error_reason
                .as_ref()
                .is_some_and(|r| r.contains(text.as_str()))
        });
        class_ok && prefix_ok && reason_ok
    }
}

/// Message attributes that go back with a redriven message: all but the handler's reason, which
/// described the failed attempt (a new failure sets them again).
pub fn redriven_attributes(message: &ReceivedMessage) -> Vec<(String, String)> {
    let mut kept: Vec<(String, String)> = message
        .attributes
        .iter()
        .filter(|(name, _)| name.as_str() != ERROR_CLASS && name.as_str() != ERROR_REASON)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    kept.sort();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str, attributes: &[(&str, &str)]) -> ReceivedMessage {
        ReceivedMessage {
            message_id: "m1".into(),
            receipt_handle: "rh".into(),
            body: body.into(),
            attributes: attributes
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            system_attributes: HashMap::from([
                ("ApproximateReceiveCount".into(), "3".into()),
                ("SentTimestamp".into(), "1710460800000".into()),
            ]),
        }
    }

    /// An S3 event as S3 sends it, for one object of bucket `src`.
    fn event(key: &str) -> String {
        let object = crate::backfill::SourceObject {
            key: key.into(),
            size: 1,
            etag: "e".into(),
            owner_id: None,
        };
        let config = pipeline_core::Config::embedded_default().unwrap();
        crate::backfill::event_body(&config, "src", &object, "R1", "2024-03-15T00:00:00.000Z")
    }

    #[test]
    fn reads_the_handlers_attributes_and_the_objects() {
        let letter = describe(
            &message(
                &event("in/sales_data_2024_03_15.csv"),
                &[("error_class", "permanent"), ("error_reason", "bad header")],
            ),
            None,
        );
        assert_eq!(letter.error_class.as_deref(), Some("permanent"));
        assert_eq!(letter.error_reason.as_deref(), Some("bad header"));
        assert_eq!(letter.objects, ["s3://src/in/sales_data_2024_03_15.csv"]);
        assert_eq!(letter.receive_count, Some(3));
        assert_eq!(letter.sent_timestamp_ms, Some(1_710_460_800_000));
        assert!(letter.stored_body.is_none());
    }

    #[test]
    fn a_reference_is_recognised_and_its_original_body_read() {
        let reference = serde_json::json!({"dead_letter_body": {
            "s3_uri": "s3://an/dead-letter-bodies/abc", "bytes": 5, "sha256": "abc",
            "source_message_id": "m0", "why": "too large"}})
        .to_string();
        let unread = describe(&message(&reference, &[("error_class", "permanent")]), None);
        let stored = unread.stored_body.clone().unwrap();
        assert_eq!(stored.location(), Some(("an", "dead-letter-bodies/abc")));
        assert!(unread.objects.is_empty());
        assert_eq!(
            unread.body_note.as_deref(),
            Some("body kept in S3, not read")
        );
        let read = describe(&message(&reference, &[]), Some(&event("a b.csv")));
        assert_eq!(read.keys, ["a b.csv"]);
    }

    #[test]
    fn no_reason_when_the_queue_moved_it_and_body_fields_when_json() {
        let moved = describe(&message("not json", &[]), None);
        assert_eq!((moved.error_class, moved.error_reason), (None, None));
        assert!(moved.body_note.unwrap().contains("not JSON"));
        let in_body = describe(
            &message(r#"{"error_class":"transient","error_reason":"x"}"#, &[]),
            None,
        );
        assert_eq!(in_body.error_class.as_deref(), Some("transient"));
    }

    #[test]
    fn filters_combine_and_need_their_field() {
        let letter = describe(
            &message(
                &event("in/sales.csv"),
                &[
                    ("error_class", "permanent"),
                    ("error_reason", "line 3: bad amount"),
                ],
            ),
            None,
        );
        let no_reason = describe(&message(&event("in/sales.csv"), &[]), None);
        let filter = |class: Option<&str>, prefix: Option<&str>, reason: Option<&str>| Filter {
            error_class: class.map(String::from),
            key_prefix: prefix.map(String::from),
            reason_contains: reason.map(String::from),
        };
        assert!(filter(None, None, None).is_empty());
        assert!(filter(None, None, None).matches(&no_reason));
        assert!(filter(Some("PERMANENT"), Some("in/"), Some("bad amount")).matches(&letter));
        assert!(!filter(Some("transient"), None, None).matches(&letter));
        assert!(!filter(None, Some("out/"), None).matches(&letter));
        assert!(!filter(Some("permanent"), None, None).matches(&no_reason));
        assert!(filter(None, Some("in/"), None).matches(&no_reason));
    }

    #[test]
    fn redriven_messages_lose_only_the_reason() {
        let kept = redriven_attributes(&message(
            "{}",
            &[
                ("error_class", "permanent"),
                ("error_reason", "r"),
                ("trace", "t1"),
            ],
        ));
        assert_eq!(kept, [("trace".to_string(), "t1".to_string())]);
    }
}
