//! What a dead-lettered message looks like, decided without I/O: the original body inline when it
//! fits the DLQ with its reason, otherwise a small reference to the body kept in S3.
//!
//! SQS counts the body AND every message attribute's name, data type and value against the
//! queue's MaximumMessageSize ("All parts of the message attribute, including Name, Type, and
//! Value, are part of the message size restriction (1 MiB or 1,048,576 bytes)":
//! <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_MessageAttributeValue.html>).
//! A poison message near the limit therefore cannot be copied to the DLQ with its
//! `error_class`/`error_reason`: the send fails, and after maxReceiveCount the queue's own redrive
//! moves it without any reason.
//!
//! Choice: such a body is written whole to the analytics bucket under
//! [`DEAD_LETTER_BODIES_PREFIX`] (content-addressed by its SHA-256, so a retried attempt writes
//! the same object), and the DLQ gets a JSON reference (S3 URI, size, SHA-256, source message id)
//! with the usual attributes. Nothing is lost (the bytes are in S3, checked by S3 against the
//! SHA-256 on upload) and the reason always fits. An excerpt would lose the rest of the body;
//! the source bucket is not used because objects written there would be new pipeline input.
//! The reference is only sent after the object is stored: if the upload fails, the message is
//! retried with backoff like any transient failure.

pub use pipeline_core::route::DEAD_LETTER_BODIES_PREFIX;
use serde_json::json;

use crate::failures::{truncate, Failure};

/// Name of the attribute holding the failure class.
pub const ERROR_CLASS: &str = "error_class";
/// Name of the attribute holding the reason.
pub const ERROR_REASON: &str = "error_reason";
/// Data type of both attributes.
pub const STRING_TYPE: &str = "String";
/// A reason is cut to this many bytes even when more would fit: it is a sentence for humans.
pub const MAX_REASON_BYTES: usize = 4096;
/// MaximumMessageSize bounds (CreateQueue API reference): what GetQueueAttributes can return.
pub const MIN_MESSAGE_SIZE: usize = 1024;
pub const MAX_MESSAGE_SIZE: usize = 1_048_576;
/// Longest source message id copied into a reference (SQS ids are 36 characters).
const MAX_MESSAGE_ID_BYTES: usize = 128;

/// Bytes a message counts against MaximumMessageSize: the body plus, per attribute, its name,
/// data type and value.
pub fn message_size(body: &str, attributes: &[(&str, &str)]) -> usize {
    body.len()
        + attributes
            .iter()
            .map(|(name, value)| name.len() + STRING_TYPE.len() + value.len())
            .sum::<usize>()
}

/// Where an oversized body is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBody {
    pub bucket: String,
    pub key: String,
    pub bytes: usize,
    /// Lowercase hex.
    pub sha256: String,
}

impl StoredBody {
    pub fn uri(&self) -> String {
        pipeline_core::route::s3_uri(&self.bucket, &self.key)
    }
}

/// The message to send to the DLQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub body: String,
    pub class: &'static str,
    pub reason: String,
}

/// The body as is, when it and the attributes (reason cut to [`MAX_REASON_BYTES`]) fit
/// `max_message_size`; `None` means the body must be stored first.
pub fn inline(body: &str, failure: &Failure, max_message_size: usize) -> Option<DeadLetter> {
    let reason = truncate(&failure.reason, MAX_REASON_BYTES);
    let size = message_size(
        body,
        &[(ERROR_CLASS, failure.class_name()), (ERROR_REASON, reason)],
    );
    if !body.is_empty() && size <= clamp(max_message_size) {
        return Some(DeadLetter {
            body: body.to_string(),
            class: failure.class_name(),
            reason: reason.to_string(),
        });
    }
    // A reference that was moved back to the work queue goes back as it is, its reason cut to
    // what fits: stored again, it would become a reference to a reference, which a copy redrive
    // could never turn back into the original body.
    referenced_uri(body)?;
    let reason = fitted_reason(body, failure, max_message_size)?;
    Some(DeadLetter {
        body: body.to_string(),
        class: failure.class_name(),
        reason,
    })
}

/// The reason cut to what fits `max_message_size` beside `body` and the class; `None` if not
/// even one byte of it does (an attribute value may not be empty).
fn fitted_reason(body: &str, failure: &Failure, max_message_size: usize) -> Option<String> {
    let fixed = message_size(
        body,
        &[(ERROR_CLASS, failure.class_name()), (ERROR_REASON, "")],
    );
    let room = clamp(max_message_size)
        .saturating_sub(fixed)
        .min(MAX_REASON_BYTES);
    let reason = truncate(&failure.reason, room);
    (!reason.is_empty()).then(|| reason.to_string())
}

/// The object key of a stored body: the prefix and the body's SHA-256.
pub fn stored_key(sha256_hex: &str) -> String {
    format!("{DEAD_LETTER_BODIES_PREFIX}{sha256_hex}")
}

/// The reference sent instead of a stored body; the reason is cut to what still fits.
pub fn reference(
    stored: &StoredBody,
    source_message_id: &str,
    failure: &Failure,
    max_message_size: usize,
) -> DeadLetter {
    let body = json!({
        "dead_letter_body": {
            "s3_uri": stored.uri(),
            "bytes": stored.bytes,
            "sha256": stored.sha256,
            "source_message_id": truncate(source_message_id, MAX_MESSAGE_ID_BYTES),
            "why": "the body and its error attributes exceed the DLQ's MaximumMessageSize; \
                    the original body is the S3 object",
        }
    })
    .to_string();
    // An attribute value may not be empty; one byte always fits the 1 KiB minimum.
    let reason = fitted_reason(&body, failure, max_message_size).unwrap_or_else(|| "?".into());
    DeadLetter {
        body,
        class: failure.class_name(),
        reason,
    }
}

/// The S3 URI a dead-letter reference (see [`reference`]) points at, if `body` is one.
pub fn referenced_uri(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let uri = value.get("dead_letter_body")?.get("s3_uri")?.as_str()?;
    Some(uri.to_owned())
}

/// Longest earlier reason carried into the reason of a redriven message that failed again.
const MAX_EARLIER_REASON_BYTES: usize = 1024;

/// Why a message whose body is not a usable S3 event failed. A dead-letter reference that was
/// moved back to the work queue (a StartMessageMoveTask redrive moves the reference, not the
/// body it stands for) says so and how to send the stored body instead; a message that carries
/// an `error_reason` from an earlier trip to the DLQ keeps it, so a second trip does not lose the
/// first explanation.
pub fn unusable_body_reason(
    message_id: &str,
    body: &str,
    error: &dyn std::fmt::Display,
    earlier_reason: Option<&str>,
) -> String {
    let mut reason = match referenced_uri(body) {
        Some(uri) => format!(
            "SQS message {message_id}: the body is a dead-letter reference to {uri} (a body kept \
             in S3 because it did not fit the DLQ with its reason), not an S3 event; redrive it \
             with `pipeline-ops dlq redrive --copy`, which sends the stored body instead"
        ),
        None => format!(
            "SQS message {message_id}: the body is not a usable S3 event notification: {error}"
        ),
    };
    if let Some(earlier) = earlier_reason.filter(|earlier| !earlier.is_empty()) {
        reason.push_str("; before it was redriven it was dead-lettered because: ");
        reason.push_str(truncate(earlier, MAX_EARLIER_REASON_BYTES));
    }
    reason
}

/// A queue's MaximumMessageSize within the bounds SQS allows.
fn clamp(max_message_size: usize) -> usize {
    max_message_size.clamp(MIN_MESSAGE_SIZE, MAX_MESSAGE_SIZE)
}

/// Lowercase hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(bytes: usize) -> StoredBody {
        StoredBody {
            bucket: "my-company-analytics".into(),
            key: stored_key(&"ab".repeat(32)),
            bytes,
            sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn size_counts_body_and_attribute_names_types_and_values() {
        assert_eq!(message_size("body", &[]), 4);
        // 4 + ("error_class" 11 + "String" 6 + "permanent" 9)
        assert_eq!(message_size("body", &[("error_class", "permanent")]), 30);
    }

    #[test]
    fn a_body_that_fits_with_its_reason_goes_inline() {
        let failure = Failure::permanent("bad header");
        let letter = inline("{}", &failure, 1024).unwrap();
        assert_eq!(letter.body, "{}");
        assert_eq!(letter.reason, "bad header");
        assert_eq!(letter.class, "permanent");
        let long = Failure::permanent("x".repeat(10_000));
        assert_eq!(
            inline("{}", &long, MAX_MESSAGE_SIZE).unwrap().reason.len(),
            4096
        );
    }

    #[test]
    fn a_body_near_the_limit_does_not_go_inline() {
        let failure = Failure::permanent("not an S3 event");
        let attributes = message_size(
            "",
            &[
                (ERROR_CLASS, "permanent"),
                (ERROR_REASON, "not an S3 event"),
            ],
        );
        let fits = "x".repeat(MAX_MESSAGE_SIZE - attributes);
        assert!(inline(&fits, &failure, MAX_MESSAGE_SIZE).is_some());
        let one_more = "x".repeat(MAX_MESSAGE_SIZE - attributes + 1);
        assert!(inline(&one_more, &failure, MAX_MESSAGE_SIZE).is_none());
        // The queue's own limit counts, not the largest SQS allows.
        assert!(inline(&"x".repeat(2000), &failure, 1024).is_none());
        // An empty body cannot be sent at all (SQS requires one): it is stored too.
        assert!(inline("", &failure, MAX_MESSAGE_SIZE).is_none());
    }

    fn reason_with_earlier(earlier: &str) -> String {
        unusable_body_reason("m9", "{}", &"no Records", Some(earlier))
    }

    #[test]
    fn a_redriven_reference_says_what_it_is_and_keeps_the_earlier_reason() {
        let letter = reference(&stored(5), "m1", &Failure::permanent("bad header"), 1024);
        assert_eq!(
            referenced_uri(&letter.body).as_deref(),
            Some(stored(5).uri().as_str())
        );
        let reason = unusable_body_reason("m2", &letter.body, &"unused", Some("bad header"));
        assert!(reason.starts_with("SQS message m2: the body is a dead-letter reference to s3://my-company-analytics/dead-letter-bodies/"), "{reason}");
        assert!(
            reason.contains("pipeline-ops dlq redrive --copy"),
            "{reason}"
        );
        assert!(
            reason.ends_with("; before it was redriven it was dead-lettered because: bad header"),
            "{reason}"
        );
        // Any other body: the parse error, and no earlier reason when there is none.
        assert_eq!(
            unusable_body_reason("m3", "{}", &"no Records", None),
            "SQS message m3: the body is not a usable S3 event notification: no Records"
        );
        assert_eq!(referenced_uri("{\"dead_letter_body\": 1}"), None);
        // Dead-lettered again, the reference goes inline with its reason cut to fit, never
        // stored as a body of its own.
        let again = Failure::permanent(reason_with_earlier(&"x".repeat(5000)));
        let letter2 = inline(&letter.body, &again, 1024).unwrap();
        assert_eq!(letter2.body, letter.body);
        assert!(again.reason.starts_with(&letter2.reason));
        assert_eq!(
            message_size(
                &letter2.body,
                &[
                    (ERROR_CLASS, letter2.class),
                    (ERROR_REASON, &letter2.reason)
                ]
            ),
            1024
        );
        // A body that only looks like a reference and leaves no room is stored as usual.
        let padded = format!(
            "{{\"dead_letter_body\":{{\"s3_uri\":\"{}\"}}}}",
            "s".repeat(2000)
        );
        assert!(inline(&padded, &again, 1024).is_none());
        let long = "é".repeat(5000);
        let reason = unusable_body_reason("m4", "x", &"not JSON", Some(&long));
        assert!(reason.len() < 1024 + 200, "{}", reason.len());
    }

    #[test]
    fn a_reference_always_fits_and_carries_the_reason() {
        for max in [0, 1024, 2048, MAX_MESSAGE_SIZE, usize::MAX] {
            for reason_len in [1, 500, 5000] {
                let failure = Failure::transient("é".repeat(reason_len));
                let letter = reference(&stored(1_048_000), &"m".repeat(500), &failure, max);
                let size = message_size(
                    &letter.body,
                    &[(ERROR_CLASS, letter.class), (ERROR_REASON, &letter.reason)],
                );
                assert!(size <= clamp(max), "{size} > {max}");
                assert!(!letter.reason.is_empty());
                assert!(failure.reason.starts_with(&letter.reason));
                assert_eq!(letter.class, "transient");
                let body: serde_json::Value = serde_json::from_str(&letter.body).unwrap();
                let stored_body = &body["dead_letter_body"];
                assert_eq!(
                    stored_body["s3_uri"],
                    format!(
                        "s3://my-company-analytics/dead-letter-bodies/{}",
                        "ab".repeat(32)
                    )
                );
                assert_eq!(stored_body["bytes"], 1_048_000);
                assert_eq!(stored_body["sha256"], "ab".repeat(32));
            }
        }
        let full = reference(&stored(5), "m1", &Failure::permanent("short reason"), 1024);
        assert_eq!(full.reason, "short reason");
    }

    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        assert_eq!(to_hex(&[0, 0xab, 0x0f]), "00ab0f");
    }
}
