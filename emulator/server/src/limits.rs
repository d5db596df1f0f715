//! Request body limits of the JSON/query services, answered in each service's own error shape.
//!
//! These services' requests are buffered whole before they are parsed, so a client must not be
//! able to make the emulator hold an arbitrary amount: each service gets a cap just above its
//! largest legal request. The body is read frame by frame and refused as soon as it passes the
//! cap; what is left of it is read and thrown away (up to [`DRAIN_BYTES`]) before the error is
//! sent, so a client still writing its body reads a clean error response instead of a reset
//! connection. S3 is not here: its bodies stream to storage and are never buffered whole.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use http_body_util::BodyExt;
use serde_json::json;

/// How much of a refused body is read and discarded before the error is sent.
const DRAIN_BYTES: usize = 64 << 20;
/// How long discarding the rest of a refused body may take.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Whose request body is being read, and in which protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcBody<'a> {
    /// SQS's awsJson1_0 with the operation from `X-Amz-Target`.
    SqsJson(&'a str),
    /// SQS's query protocol (the action is in the body, so unknown until it is read).
    SqsQuery,
    Glue,
    Athena,
    Lambda,
}

impl RpcBody<'_> {
    /// The largest body accepted.
    pub fn max_bytes(self) -> usize {
        match self {
            // A message or a whole batch is at most 1 MiB (SQS quotas). Encoded, one byte can
            // take three: `%XX` in a form, and a 2-byte UTF-8 character is a 6-byte `\uXXXX`
            // escape in JSON (boto3 escapes non-ASCII). Plus the envelope.
            Self::SqsJson(_) | Self::SqsQuery => 3 * (1 << 20) + (256 << 10),
            // BatchCreatePartition (100 partitions, each with its columns) and CreateTable with
            // wide schemas stay far below this.
            Self::Glue => 4 << 20,
            // A query string is at most 262,144 bytes (StartQueryExecution).
            Self::Athena => 1 << 20,
            // Invoke's synchronous payload limit, 6 MB (Lambda quotas).
            Self::Lambda => 6_291_456,
        }
    }

    /// The service's answer to a body over [`RpcBody::max_bytes`].
    fn too_large(self) -> Response {
        let limit = self.max_bytes();
        let message = format!("The request body is larger than the {limit} bytes accepted here");
        match self {
            Self::SqsJson(op) => {
                emulator_sqs::wire_error(true, op, sqs_too_large(op, &message))
            }
            Self::SqsQuery => emulator_sqs::wire_error(
                false,
                "SendMessage",
                sqs_too_large("", &message),
            ),
            Self::Glue => json_error(StatusCode::BAD_REQUEST, "InvalidInputException", &message),
            Self::Athena => {
                json_error(StatusCode::BAD_REQUEST, "InvalidRequestException", &message)
            }
            // What Invoke answers for a payload over its limit.
            Self::Lambda => (
                StatusCode::PAYLOAD_TOO_LARGE,
                [("content-type", "application/json"), ("x-amzn-errortype", "RequestTooLargeException")],
                json!({
                    "Type": "User",
                    "message": format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
                })
                .to_string(),
            )
                .into_response(),
        }
    }
}

/// SendMessageBatch's own error for a batch over the limit; otherwise the invalid parameter
/// SendMessage reports for a message over MaximumMessageSize.
fn sqs_too_large(op: &str, message: &str) -> emulator_sqs::SqsError {
    use emulator_sqs::{ErrorCode, SqsError};
    if op.ends_with("Batch") {
        SqsError::new(ErrorCode::BatchRequestTooLong, message)
    } else {
        SqsError::new(ErrorCode::InvalidParameterValue, message)
    }
}

fn json_error(status: StatusCode, code: &'static str, message: &str) -> Response {
    (
        status,
        [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amzn-errortype", code),
        ],
        json!({ "__type": code, "Message": message }).to_string(),
    )
        .into_response()
}

/// Reads a whole body of at most `kind.max_bytes()`; a larger one is refused in the service's
/// shape, after the rest was read and discarded.
pub async fn read(mut body: Body, kind: RpcBody<'_>) -> Result<Bytes, Response> {
    let limit = kind.max_bytes();
    let mut buffer = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            (
                StatusCode::BAD_REQUEST,
                format!("could not read request body: {err}"),
            )
                .into_response()
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buffer.len() + data.len() > limit {
            tracing::warn!(?kind, limit, "request body over the limit refused");
            let _ = tokio::time::timeout(DRAIN_TIME, drain(body, buffer.len() + data.len())).await;
            return Err(kind.too_large());
        }
        buffer.extend_from_slice(&data);
    }
    Ok(buffer.freeze())
}

/// Reads and drops the rest of a body, up to [`DRAIN_BYTES`] in all.
async fn drain(mut body: Body, mut seen: usize) {
    while seen < DRAIN_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len()),
            _ => return,
        }
    }
}
