//! Parsing an SQS message body into the S3 objects it announces. Accepted shapes:
//! - an S3 event notification `{"Records":[...]}` (any number of records), keys URL-encoded:
//!   "The object key name value is URL encoded. For example, "red flower.jpg" becomes
//!   "red+flower.jpg"" (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html>),
//!   so keys are decoded as `application/x-www-form-urlencoded` (`+` is a space);
//! - the `s3:TestEvent` S3 sends when a notification configuration is set (recognised, skipped);
//! - an S3 event delivered through EventBridge (`"source":"aws.s3"`, `detail-type` such as
//!   `Object Created`). Its key is used as is: the EventBridge event structure page documents no
//!   encoding and its examples show plain keys
//!   (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html>);
//! - an SNS notification envelope (`"Type":"Notification"`) wrapping one of the above.
//!
//! Anything else is an [`EventError`], which is always permanent: retrying cannot fix the body.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;
use serde::Deserialize;
use serde_json::Value;

/// What one SQS message body announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedBody {
    /// The `s3:TestEvent` message: nothing to do, delete it.
    TestEvent,
    /// Zero or more objects.
    Objects(Vec<ObjectRef>),
}

/// One object an event refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    /// Decoded key, exactly as stored in S3.
    pub key: String,
    pub size: Option<i64>,
    pub etag: Option<String>,
    pub sequencer: Option<String>,
    /// S3 notification event name without the `s3:` prefix (`ObjectCreated:Put`). EventBridge
    /// `Object Created` events are mapped to the same names from their `reason`
    /// (`PutObject` -> `ObjectCreated:Put`); other EventBridge detail types keep their
    /// `detail-type` (`Object Deleted`).
    pub event_name: String,
    pub version_id: Option<String>,
}

impl ObjectRef {
    /// Whether the event reports a new object (the only kind the pipeline processes).
    pub fn is_object_created(&self) -> bool {
        self.event_name.starts_with("ObjectCreated:")
    }
}

/// A body that is not a usable S3 event. Always permanent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("message body is not JSON: {0}")]
    NotJson(String),
    #[error("message body is not an S3 event notification, an s3:TestEvent or an EventBridge S3 event: {0}")]
    Unrecognized(String),
    #[error("record {index} of the S3 notification is invalid: {reason}")]
    InvalidRecord { index: usize, reason: String },
    #[error("object key {key:?} is not URL-encoded the way S3 encodes keys: {reason}")]
    BadKeyEncoding { key: String, reason: String },
}

/// Parses one SQS message body.
pub fn parse_sqs_body(body: &str) -> Result<ParsedBody, EventError> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| EventError::NotJson(e.to_string()))?;
    parse_value(value, 0)
}

fn parse_value(value: Value, depth: u8) -> Result<ParsedBody, EventError> {
    let Value::Object(fields) = &value else {
        return Err(EventError::Unrecognized("body is not a JSON object".into()));
    };
    if fields.contains_key("Records") {
        return parse_notification(value);
    }
    if fields.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(ParsedBody::TestEvent);
    }
    if fields.contains_key("detail-type") {
        return parse_eventbridge(value);
    }
    // S3 -> SNS -> SQS without raw message delivery: the S3 message is the SNS `Message`.
    if fields.get("Type").and_then(Value::as_str) == Some("Notification") && depth == 0 {
        if let Some(message) = fields.get("Message").and_then(Value::as_str) {
            let inner: Value = serde_json::from_str(message)
                .map_err(|e| EventError::NotJson(format!("SNS Message: {e}")))?;
            return parse_value(inner, depth + 1);
        }
    }
    let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    keys.truncate(8);
    Err(EventError::Unrecognized(format!(
        "top-level fields {keys:?}"
    )))
}

fn parse_notification(value: Value) -> Result<ParsedBody, EventError> {
    let event: S3Event = serde_json::from_value(value)
        .map_err(|e| EventError::Unrecognized(format!("malformed S3 notification: {e}")))?;
    let mut objects = Vec::with_capacity(event.records.len());
    for (index, record) in event.records.into_iter().enumerate() {
        let invalid = |reason: &str| EventError::InvalidRecord {
            index,
            reason: reason.to_string(),
        };
        if let Some(source) = record.event_source.as_deref() {
            if source != "aws:s3" {
                return Err(invalid(&format!(
                    "eventSource is {source:?}, expected \"aws:s3\""
                )));
            }
        }
        let bucket = record
            .s3
            .bucket
            .name
            .filter(|name| !name.is_empty())
            .ok_or_else(|| invalid("s3.bucket.name is missing"))?;
        let encoded_key = record
            .s3
            .object
            .key
            .filter(|key| !key.is_empty())
            .ok_or_else(|| invalid("s3.object.key is missing"))?;
        let event_name = record
            .event_name
            .ok_or_else(|| invalid("eventName is missing"))?;
        objects.push(ObjectRef {
            bucket,
            key: decode_s3_key(&encoded_key)?,
            size: record.s3.object.size,
            etag: record.s3.object.e_tag,
            sequencer: record.s3.object.sequencer,
            event_name: event_name
                .strip_prefix("s3:")
                .unwrap_or(&event_name)
                .to_string(),
            version_id: record.s3.object.version_id,
        });
    }
    Ok(ParsedBody::Objects(objects))
}

/// The `detail` of an S3 event on EventBridge (fields per the EventBridge event structure page).
#[derive(Debug, Deserialize)]
struct S3EventBridgeDetail {
    bucket: S3EventBridgeBucket,
    object: S3EventBridgeObject,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct S3EventBridgeBucket {
    name: String,
}

#[derive(Debug, Deserialize)]
struct S3EventBridgeObject {
    key: String,
    #[serde(default)]
    size: Option<i64>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default, rename = "version-id")]
    version_id: Option<String>,
    #[serde(default)]
    sequencer: Option<String>,
}

fn parse_eventbridge(value: Value) -> Result<ParsedBody, EventError> {
    let event: EventBridgeEvent<Value> = serde_json::from_value(value)
        .map_err(|e| EventError::Unrecognized(format!("malformed EventBridge event: {e}")))?;
    if event.source != "aws.s3" {
        return Err(EventError::Unrecognized(format!(
            "EventBridge event from {:?}, expected \"aws.s3\"",
            event.source
        )));
    }
    let detail: S3EventBridgeDetail =
        serde_json::from_value(event.detail).map_err(|e| EventError::InvalidRecord {
            index: 0,
            reason: format!("EventBridge detail: {e}"),
        })?;
    if detail.bucket.name.is_empty() || detail.object.key.is_empty() {
        return Err(EventError::InvalidRecord {
            index: 0,
            reason: "EventBridge detail has an empty bucket name or object key".into(),
        });
    }
    let event_name = if event.detail_type == "Object Created" {
        // `reason` names the API that created the object (PutObject, POST Object, CopyObject,
        // CompleteMultipartUpload).
        let api = match detail.reason.as_deref() {
            Some("PutObject") | None => "Put",
            Some("POST Object") => "Post",
            Some("CopyObject") => "Copy",
            Some("CompleteMultipartUpload") => "CompleteMultipartUpload",
            Some(other) => other,
        };
        format!("ObjectCreated:{api}")
    } else {
        event.detail_type.clone()
    };
    Ok(ParsedBody::Objects(vec![ObjectRef {
        bucket: detail.bucket.name,
        key: detail.object.key,
        size: detail.object.size,
        etag: detail.object.etag,
        sequencer: detail.object.sequencer,
        event_name,
        version_id: detail.object.version_id,
    }]))
}

/// Decodes a key from an S3 notification: `+` is a space, then percent-decoding; the result must
/// be UTF-8, and a `%` must start a `%XX` escape (S3 encodes a literal `%` as `%25`).
pub fn decode_s3_key(encoded: &str) -> Result<String, EventError> {
    let bad = |reason: &str| EventError::BadKeyEncoding {
        key: encoded.to_string(),
        reason: reason.to_string(),
    };
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|pair| std::str::from_utf8(pair).ok())
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or_else(|| bad("'%' is not followed by two hex digits"))?;
                decoded.push(hex);
                i += 2;
            }
            other => decoded.push(other),
        }
        i += 1;
    }
    String::from_utf8(decoded).map_err(|_| bad("decoded bytes are not UTF-8"))
}

/// Encodes a key as S3 does in notifications (`application/x-www-form-urlencoded`: space -> `+`,
/// ASCII letters, digits and `*-._` kept, every other byte `%XX`). Used by the emulator and the
/// tests; the S3 docs name the encoding but not its exact unreserved set, so this follows the
/// WHATWG form serializer the `form_urlencoded` crate implements. [`decode_s3_key`] also accepts
/// keys where more characters (such as `/`) were left unencoded.
pub fn encode_s3_key(key: &str) -> String {
    form_urlencoded::byte_serialize(key.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent() {
        assert_eq!(decode_s3_key("red+flower.jpg").unwrap(), "red flower.jpg");
        assert_eq!(decode_s3_key("a%2Bb%2Fc%20d").unwrap(), "a+b/c d");
        assert_eq!(decode_s3_key("in/x%3D1/f.csv").unwrap(), "in/x=1/f.csv");
        assert_eq!(decode_s3_key("caf%C3%A9").unwrap(), "café");
        assert!(matches!(
            decode_s3_key("100%"),
            Err(EventError::BadKeyEncoding { .. })
        ));
        assert!(decode_s3_key("%zz").is_err());
        assert!(decode_s3_key("%FF")
            .unwrap_err()
            .to_string()
            .contains("UTF-8"));
    }

    #[test]
    fn encodes_like_a_form() {
        assert_eq!(encode_s3_key("red flower.jpg"), "red+flower.jpg");
        assert_eq!(encode_s3_key("a+b/c"), "a%2Bb%2Fc");
    }

    #[test]
    fn rejects_non_events() {
        assert!(matches!(
            parse_sqs_body("test"),
            Err(EventError::NotJson(_))
        ));
        assert!(matches!(
            parse_sqs_body("[1]"),
            Err(EventError::Unrecognized(_))
        ));
        assert!(matches!(
            parse_sqs_body("{\"foo\":2}"),
            Err(EventError::Unrecognized(_))
        ));
        assert!(matches!(
            parse_sqs_body("{\"Records\":[{\"nope\":1}]}"),
            Err(EventError::Unrecognized(_))
        ));
        let other_source = r#"{"detail-type":"X","source":"aws.ec2","detail":{}}"#;
        assert!(parse_sqs_body(other_source)
            .unwrap_err()
            .to_string()
            .contains("aws.ec2"));
    }

    #[test]
    fn empty_records_is_no_objects() {
        assert_eq!(
            parse_sqs_body("{\"Records\":[]}").unwrap(),
            ParsedBody::Objects(vec![])
        );
    }
}
