//! What a failed message becomes: the [`Failure`] type (class + a sentence for humans), the
//! classification of AWS SDK errors through the core's `failure` module, and the two ways a
//! failure leaves the handler: a permanent one is sent to the DLQ at once with `error_class` and
//! `error_reason` message attributes (a body too large to go with them is kept in S3 and
//! referenced, see [`crate::dead_letter`]); a transient one gets its next attempt pushed out with
//! ChangeMessageVisibility (jittered exponential backoff from `ApproximateReceiveCount`) and is
//! reported in `batchItemFailures`.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

// The SDK error and raw response types are the same for every service; aws-sdk-s3 re-exports them.
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use pipeline_core::failure::{self, FailureClass, RetryPolicy};
use tokio::sync::Mutex;

use crate::dead_letter::{self, DeadLetter, StoredBody};

/// One failure: whether retrying can help, and a sentence naming the file and the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub class: FailureClass,
    pub reason: String,
}

impl Failure {
    pub fn permanent(reason: impl Into<String>) -> Self {
        Failure {
            class: FailureClass::Permanent,
            reason: reason.into(),
        }
    }

    pub fn transient(reason: impl Into<String>) -> Self {
        Failure {
            class: FailureClass::Transient,
            reason: reason.into(),
        }
    }

    pub fn is_transient(&self) -> bool {
        self.class.is_transient()
    }

    /// `"permanent"` / `"transient"`: the value of the `error_class` attribute.
    pub fn class_name(&self) -> &'static str {
        class_name(self.class)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failure: {}", self.class_name(), self.reason)
    }
}

pub fn class_name(class: FailureClass) -> &'static str {
    match class {
        FailureClass::Permanent => "permanent",
        FailureClass::Transient => "transient",
    }
}

/// The error code and HTTP status of an SDK error, when the service answered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorFacts {
    pub code: Option<String>,
    pub status: Option<u16>,
    pub message: String,
}

/// Reads the code/status of any SDK error. Errors without a response (timeouts, connection
/// failures) have neither, which the core classifies as transient.
pub fn error_facts<E>(error: &SdkError<E, HttpResponse>) -> ErrorFacts
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(service) => ErrorFacts {
            code: service.err().code().map(str::to_string),
            status: Some(service.raw().status().as_u16()),
            message: service
                .err()
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| service.err().to_string()),
        },
        SdkError::ResponseError(response) => ErrorFacts {
            code: None,
            status: Some(response.raw().status().as_u16()),
            message: format!("unreadable response: {error}"),
        },
        // A request that cannot even be built is a bug or bad input on our side; the core's
        // rule (no code, no status) would call it transient, so it is made explicit here.
        SdkError::ConstructionFailure(_) => ErrorFacts {
            code: Some("ConstructionFailure".into()),
            status: Some(400),
            message: format!("request could not be built: {}", describe(error)),
        },
        _ => ErrorFacts {
            code: None,
            status: None,
            message: describe(error),
        },
    }
}

/// An error and its sources on one line (the SDK's `Display` alone says only "dispatch failure").
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Classifies an SDK error with the core's rules and words it as `"<what>: <code> (HTTP n): msg"`.
pub fn from_sdk<E>(what: &str, error: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let facts = error_facts(error);
    from_facts(what, &facts)
}

pub fn from_facts(what: &str, facts: &ErrorFacts) -> Failure {
    let class = failure::classify_aws_error(facts.code.as_deref(), facts.status);
    let mut reason = what.to_string();
    match (&facts.code, facts.status) {
        (Some(code), Some(status)) => reason.push_str(&format!(": {code} (HTTP {status})")),
        (Some(code), None) => reason.push_str(&format!(": {code}")),
        (None, Some(status)) => reason.push_str(&format!(": HTTP {status}")),
        (None, None) => {}
    }
    if !facts.message.is_empty() {
        reason.push_str(": ");
        reason.push_str(&facts.message);
    }
    Failure { class, reason }
}

/// Sends permanent failures to the DLQ and delays transient ones. Queue URLs (GetQueueUrl) and
/// the DLQ's MaximumMessageSize (GetQueueAttributes) are looked up once and kept for the life of
/// the process.
pub struct FailureSink {
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    dlq: DlqTarget,
    /// Where a body too large for the DLQ is kept (the analytics bucket).
    bodies_bucket: String,
    retry_policy: RetryPolicy,
    min_backoff_seconds: u32,
    urls: Mutex<HashMap<String, String>>,
    max_sizes: Mutex<HashMap<String, usize>>,
}

/// Where a dead-lettered message went: its DLQ message id, and the S3 copy of its body when the
/// body was too large to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLettered {
    pub dlq_message_id: String,
    pub stored_body: Option<StoredBody>,
}

/// Where permanent failures go: a URL given as is, or a queue name resolved with GetQueueUrl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DlqTarget {
    Url(String),
    Name(String),
}

impl FailureSink {
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        s3: aws_sdk_s3::Client,
        dlq: DlqTarget,
        bodies_bucket: String,
        retry_policy: RetryPolicy,
        min_backoff_seconds: u32,
    ) -> Self {
        FailureSink {
            sqs,
            s3,
            dlq,
            bodies_bucket,
            retry_policy,
            min_backoff_seconds,
            urls: Mutex::new(HashMap::new()),
            max_sizes: Mutex::new(HashMap::new()),
        }
    }

    /// Sends the message to the DLQ with `error_class` and `error_reason` attributes: the
    /// original body when it fits the DLQ's MaximumMessageSize with them, otherwise a reference
    /// to the body stored in S3 first. Any error is transient: the caller backs off and retries.
    pub async fn dead_letter(
        &self,
        body: &str,
        source_message_id: &str,
        failure: &Failure,
    ) -> Result<DeadLettered, Failure> {
        let url = match &self.dlq {
            DlqTarget::Url(url) => url.clone(),
            DlqTarget::Name(name) => self.queue_url(name, None).await?,
        };
        let max_size = self.max_message_size(&url).await?;
        let (letter, stored_body) = match dead_letter::inline(body, failure, max_size) {
            Some(letter) => (letter, None),
            None => {
                let stored = self.store_body(body, source_message_id, failure).await?;
                let letter = dead_letter::reference(&stored, source_message_id, failure, max_size);
                (letter, Some(stored))
            }
        };
        let dlq_message_id = match self.send(&url, &letter).await {
            Ok(id) => id,
            Err(failure) => {
                // The DLQ's limit may have been lowered since it was read: read it again on the
                // next attempt rather than retry with a stale size until the receives run out.
                self.max_sizes.lock().await.remove(&url);
                return Err(failure);
            }
        };
        Ok(DeadLettered {
            dlq_message_id,
            stored_body,
        })
    }

    /// Writes a body to `dead-letter-bodies/<sha256>` in the analytics bucket; S3 checks the
    /// SHA-256 sent with it, so the stored bytes are the body's.
    async fn store_body(
        &self,
        body: &str,
        source_message_id: &str,
        failure: &Failure,
    ) -> Result<StoredBody, Failure> {
        let mut hasher = aws_smithy_checksums::ChecksumAlgorithm::Sha256.into_impl();
        hasher.update(body.as_bytes());
        let digest = hasher.finalize();
        let stored = StoredBody {
            bucket: self.bodies_bucket.clone(),
            key: dead_letter::stored_key(&dead_letter::to_hex(&digest)),
            bytes: body.len(),
            sha256: dead_letter::to_hex(&digest),
        };
        self.s3
            .put_object()
            .bucket(&stored.bucket)
            .key(&stored.key)
            .content_type("text/plain; charset=utf-8")
            .checksum_sha256(aws_smithy_types::base64::encode(&digest))
            .metadata("source-message-id", truncate(source_message_id, 128))
            .metadata("error-class", failure.class_name())
            .body(bytes::Bytes::copy_from_slice(body.as_bytes()).into())
            .send()
            .await
            .map_err(|e| {
                let failed = from_sdk(&format!("storing the DLQ body at {}", stored.uri()), &e);
                Failure::transient(failed.reason)
            })?;
        Ok(stored)
    }

    async fn send(&self, url: &str, letter: &DeadLetter) -> Result<String, Failure> {
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| Failure::transient(format!("building a message attribute: {e}")))
        };
        let sent = self
            .sqs
            .send_message()
            .queue_url(url)
            .message_body(&letter.body)
            .message_attributes(dead_letter::ERROR_CLASS, attribute(letter.class)?)
            .message_attributes(dead_letter::ERROR_REASON, attribute(&letter.reason)?)
            .send()
            .await
            .map_err(|e| {
                // Whatever SQS says, the message must not be dropped: always retried.
                let failed = from_sdk(&format!("sending to the DLQ {url}"), &e);
                Failure::transient(failed.reason)
            })?;
        Ok(sent.message_id().unwrap_or_default().to_string())
    }

    /// The DLQ's MaximumMessageSize (bytes), read once per queue URL.
    async fn max_message_size(&self, url: &str) -> Result<usize, Failure> {
        if let Some(size) = self.max_sizes.lock().await.get(url) {
            return Ok(*size);
        }
        let name = QueueAttributeName::MaximumMessageSize;
        let got = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(name.clone())
            .send()
            .await
            .map_err(|e| {
                let failed = from_sdk(&format!("GetQueueAttributes on the DLQ {url}"), &e);
                Failure::transient(failed.reason)
            })?;
        let size = got
            .attributes()
            .and_then(|attributes| attributes.get(&name))
            .and_then(|value| value.parse::<usize>().ok())
            .ok_or_else(|| {
                Failure::transient(format!("the DLQ {url} reported no MaximumMessageSize"))
            })?;
        self.max_sizes.lock().await.insert(url.to_string(), size);
        Ok(size)
    }

    /// The backoff for a message received `receive_count` times: the core's full-jitter delay,
    /// raised to at least `min_backoff_seconds` (a 0 s draw would make the message visible at
    /// once and spend one of the queue's `maxReceiveCount` receives without any wait).
    pub fn backoff_seconds(&self, receive_count: u32) -> u32 {
        let drawn = self
            .retry_policy
            .backoff_seconds(receive_count, &mut rand::rng());
        drawn
            .max(self.min_backoff_seconds)
            .min(failure::MAX_VISIBILITY_TIMEOUT_SECONDS)
    }

    /// Sets the message's visibility timeout to the backoff; returns the seconds set.
    pub async fn delay_retry(
        &self,
        event_source_arn: &str,
        receipt_handle: &str,
        receive_count: u32,
    ) -> Result<u32, Failure> {
        let (name, account) = queue_from_arn(event_source_arn).ok_or_else(|| {
            Failure::permanent(format!(
                "eventSourceARN {event_source_arn:?} is not an SQS queue ARN"
            ))
        })?;
        let url = self.queue_url(&name, Some(&account)).await?;
        let seconds = self.backoff_seconds(receive_count);
        self.sqs
            .change_message_visibility()
            .queue_url(&url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(i32::try_from(seconds).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| from_sdk(&format!("ChangeMessageVisibility on {url}"), &e))?;
        Ok(seconds)
    }

    async fn queue_url(&self, name: &str, owner: Option<&str>) -> Result<String, Failure> {
        if let Some(url) = self.urls.lock().await.get(name) {
            return Ok(url.clone());
        }
        let found = self
            .sqs
            .get_queue_url()
            .queue_name(name)
            .set_queue_owner_aws_account_id(owner.map(str::to_string))
            .send()
            .await
            .map_err(|e| from_sdk(&format!("GetQueueUrl for queue {name}"), &e))?;
        let url = found
            .queue_url()
            .ok_or_else(|| Failure::transient(format!("GetQueueUrl for {name} returned no URL")))?
            .to_string();
        self.urls.lock().await.insert(name.to_string(), url.clone());
        Ok(url)
    }
}

/// `arn:aws:sqs:us-east-1:123456789012:name` -> (`name`, `123456789012`).
pub fn queue_from_arn(arn: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _partition, "sqs", _region, account, name] if !name.is_empty() => {
            Some((name.to_string(), account.to_string()))
        }
        _ => None,
    }
}

/// At most `max` bytes, cut on a char boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Time budget helper: how long until `deadline`, minus a margin, never negative.
pub fn remaining(deadline: std::time::SystemTime, margin: Duration) -> Duration {
    deadline
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default()
        .saturating_sub(margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_arn_parsing() {
        assert_eq!(
            queue_from_arn("arn:aws:sqs:us-east-1:000000000000:file_processing_queue"),
            Some(("file_processing_queue".into(), "000000000000".into()))
        );
        assert_eq!(queue_from_arn("arn:aws:sns:us-east-1:1:t"), None);
        assert_eq!(queue_from_arn("garbage"), None);
        assert_eq!(queue_from_arn("arn:aws:sqs:us-east-1:1:"), None);
    }

    #[test]
    fn facts_are_classified_by_the_core() {
        let throttled = ErrorFacts {
            code: Some("ThrottlingException".into()),
            status: Some(400),
            message: "Rate exceeded".into(),
        };
        let failure = from_facts("BatchCreatePartition on sales_data", &throttled);
        assert!(failure.is_transient());
        assert_eq!(
            failure.reason,
            "BatchCreatePartition on sales_data: ThrottlingException (HTTP 400): Rate exceeded"
        );
        let missing = ErrorFacts {
            code: Some("NoSuchKey".into()),
            status: Some(404),
            message: String::new(),
        };
        assert!(!from_facts("GetObject", &missing).is_transient());
        assert!(from_facts("GetObject", &ErrorFacts::default()).is_transient());
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("aü", 2), "a");
        assert_eq!(truncate("aü", 3), "aü");
    }
}
