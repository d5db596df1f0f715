//! SQS error codes and the error type every operation returns.
//!
//! Each code knows its awsJson1_0 `__type` (shape id) and its legacy query-protocol code, which
//! the JSON protocol also sends in `x-amzn-query-error: <code>;Sender` so query-compatible SDKs
//! surface the legacy code (aws-sdk-sqs matches on it, e.g. `AWS.SimpleQueueService.NonExistentQueue`
//! -> `QueueDoesNotExist`). Shape ids and legacy codes are the `@awsQueryError` codes of the SQS
//! API model (see
//! https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-api-responses.html
//! and each operation's "Errors" section in the API reference).

use std::fmt;

use crate::state::queue::{InFlightLimitReached, QueueDeleted, VisibilityRefused};

/// The SQS error codes this emulator produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    QueueDoesNotExist,
    QueueNameExists,
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidParameterValue,
    MissingParameter,
    InvalidMessageContents,
    ReceiptHandleIsInvalid,
    MessageNotInflight,
    TooManyEntriesInBatchRequest,
    BatchEntryIdsNotDistinct,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    BatchRequestTooLong,
    OverLimit,
    /// "The request was denied due to request throttling" (SQS model, retried by the SDKs as
    /// a throttling error).
    RequestThrottled,
    /// The common throttling error of AWS JSON services (SQS API reference, Common Errors).
    ThrottlingException,
    PurgeQueueInProgress,
    ResourceNotFound,
    UnsupportedOperation,
    InvalidAction,
    MalformedRequest,
    InternalError,
}

impl ErrorCode {
    /// The `__type` of an awsJson1_0 error body.
    pub fn json_type(self) -> &'static str {
        match self {
            Self::QueueDoesNotExist => "com.amazonaws.sqs#QueueDoesNotExist",
            Self::QueueNameExists => "com.amazonaws.sqs#QueueNameExists",
            Self::InvalidAttributeName => "com.amazonaws.sqs#InvalidAttributeName",
            Self::InvalidAttributeValue => "com.amazonaws.sqs#InvalidAttributeValue",
            // Not in the SQS model: AWS answers with the Coral service exception
            // (observed `com.amazon.coral.service#InvalidParameterValueException`).
            Self::InvalidParameterValue => {
                "com.amazon.coral.service#InvalidParameterValueException"
            }
            Self::MissingParameter => "com.amazon.coral.service#MissingParameterException",
            Self::InvalidMessageContents => "com.amazonaws.sqs#InvalidMessageContents",
            Self::ReceiptHandleIsInvalid => "com.amazonaws.sqs#ReceiptHandleIsInvalid",
            Self::MessageNotInflight => "com.amazonaws.sqs#MessageNotInflight",
            Self::TooManyEntriesInBatchRequest => "com.amazonaws.sqs#TooManyEntriesInBatchRequest",
            Self::BatchEntryIdsNotDistinct => "com.amazonaws.sqs#BatchEntryIdsNotDistinct",
            Self::EmptyBatchRequest => "com.amazonaws.sqs#EmptyBatchRequest",
            Self::InvalidBatchEntryId => "com.amazonaws.sqs#InvalidBatchEntryId",
            Self::BatchRequestTooLong => "com.amazonaws.sqs#BatchRequestTooLong",
            Self::OverLimit => "com.amazonaws.sqs#OverLimit",
            Self::RequestThrottled => "com.amazonaws.sqs#RequestThrottled",
            Self::ThrottlingException => "com.amazon.coral.availability#ThrottlingException",
            Self::PurgeQueueInProgress => "com.amazonaws.sqs#PurgeQueueInProgress",
            Self::ResourceNotFound => "com.amazonaws.sqs#ResourceNotFoundException",
            Self::UnsupportedOperation => "com.amazonaws.sqs#UnsupportedOperation",
            Self::InvalidAction => "com.amazon.coral.service#UnknownOperationException",
            Self::MalformedRequest => "com.amazon.coral.service#SerializationException",
            Self::InternalError => "com.amazon.coral.service#InternalFailure",
        }
    }

    /// The legacy query-protocol error code (`<Code>` in XML, first half of `x-amzn-query-error`).
    pub fn query_code(self) -> &'static str {
        match self {
            Self::QueueDoesNotExist => "AWS.SimpleQueueService.NonExistentQueue",
            Self::QueueNameExists => "QueueAlreadyExists",
            Self::InvalidAttributeName => "InvalidAttributeName",
            Self::InvalidAttributeValue => "InvalidAttributeValue",
            Self::InvalidParameterValue => "InvalidParameterValue",
            Self::MissingParameter => "MissingParameter",
            Self::InvalidMessageContents => "InvalidMessageContents",
            Self::ReceiptHandleIsInvalid => "ReceiptHandleIsInvalid",
            Self::MessageNotInflight => "AWS.SimpleQueueService.MessageNotInflight",
            Self::TooManyEntriesInBatchRequest => {
                "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
            }
            Self::BatchEntryIdsNotDistinct => "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            Self::EmptyBatchRequest => "AWS.SimpleQueueService.EmptyBatchRequest",
            Self::InvalidBatchEntryId => "AWS.SimpleQueueService.InvalidBatchEntryId",
            Self::BatchRequestTooLong => "AWS.SimpleQueueService.BatchRequestTooLong",
            Self::OverLimit => "OverLimit",
            Self::RequestThrottled => "RequestThrottled",
            Self::ThrottlingException => "ThrottlingException",
            Self::PurgeQueueInProgress => "AWS.SimpleQueueService.PurgeQueueInProgress",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::UnsupportedOperation => "AWS.SimpleQueueService.UnsupportedOperation",
            Self::InvalidAction => "InvalidAction",
            Self::MalformedRequest => "MalformedQueryString",
            Self::InternalError => "InternalError",
        }
    }

    /// HTTP status of the error response.
    pub fn status(self) -> u16 {
        match self {
            Self::OverLimit => 403,
            Self::InternalError => 500,
            _ => 400,
        }
    }

    /// `Sender` (client fault) or `Receiver` (server fault).
    pub fn fault(self) -> &'static str {
        match self {
            Self::InternalError => "Receiver",
            _ => "Sender",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.query_code())
    }
}

/// An SQS error: a code plus AWS's human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SqsError {
    pub code: ErrorCode,
    pub message: String,
}

impl SqsError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn queue_does_not_exist() -> Self {
        Self::new(
            ErrorCode::QueueDoesNotExist,
            "The specified queue does not exist.",
        )
    }

    pub fn missing(parameter: &str) -> Self {
        Self::new(
            ErrorCode::MissingParameter,
            format!("The request must contain the parameter {parameter}."),
        )
    }

    /// AWS's wording for a parameter out of range: `Value X for parameter P is invalid. Reason: R`.
    pub fn invalid_parameter(parameter: &str, value: impl fmt::Display, reason: &str) -> Self {
        Self::new(
            ErrorCode::InvalidParameterValue,
            format!("Value {value} for parameter {parameter} is invalid. Reason: {reason}"),
        )
    }

    pub fn invalid_attribute_value(attribute: &str, reason: Option<&str>) -> Self {
        let message = match reason {
            Some(reason) => {
                format!("Invalid value for the parameter {attribute}. Reason: {reason}")
            }
            None => format!("Invalid value for the parameter {attribute}."),
        };
        Self::new(ErrorCode::InvalidAttributeValue, message)
    }

    pub fn invalid_receipt_handle(handle: &str) -> Self {
        Self::new(
            ErrorCode::ReceiptHandleIsInvalid,
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        )
    }
}

// The state's outcomes as the API words them.

impl From<QueueDeleted> for SqsError {
    fn from(_: QueueDeleted) -> Self {
        Self::queue_does_not_exist()
    }
}

impl From<InFlightLimitReached> for SqsError {
    /// "there can be a maximum of approximately 120,000 in flight messages ... If you reach
    /// this limit, Amazon SQS returns the OverLimit error" (API_ReceiveMessage).
    fn from(reached: InFlightLimitReached) -> Self {
        Self::new(
            ErrorCode::OverLimit,
            format!(
                "The maximum number of in flight messages ({}) is reached.",
                reached.limit
            ),
        )
    }
}

impl SqsError {
    /// A refused ChangeMessageVisibility of `handle`.
    pub(crate) fn visibility_refused(refused: VisibilityRefused, handle: &str) -> Self {
        match refused {
            VisibilityRefused::UnknownReceipt => Self::invalid_parameter(
                "ReceiptHandle",
                handle,
                "Message does not exist or is not available for visibility timeout change.",
            ),
            VisibilityRefused::NotInFlight => Self::new(
                ErrorCode::MessageNotInflight,
                "The message referred to isn't in flight.",
            ),
            VisibilityRefused::BeyondLimit { requested_seconds } => Self::invalid_parameter(
                "VisibilityTimeout",
                requested_seconds,
                "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]",
            ),
        }
    }
}
