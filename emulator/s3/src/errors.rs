//! AWS error constructors and request-id helpers shared by the operation modules.
//!
//! Codes and messages follow the S3 API "Error responses" list
//! (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).

use http::{HeaderMap, HeaderValue};
use s3s::{S3Error, S3ErrorCode};

pub fn no_such_bucket(bucket: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NoSuchBucket,
        format!("The specified bucket does not exist: {bucket}"),
    )
}

pub fn no_such_key() -> S3Error {
    S3Error::with_message(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
}

pub fn no_such_upload() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
}

pub fn invalid_argument(message: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, message.into())
}

pub fn invalid_request(message: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidRequest, message.into())
}

/// The body is not well-formed XML or does not follow S3's schema for the operation.
pub fn malformed_xml(reason: impl std::fmt::Display) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::MalformedXML,
        format!(
            "The XML you provided was not well-formed or did not validate against our published \
             schema: {reason}"
        ),
    )
}

/// The data dir (or the spill directory) could not be written or read: S3's 500 InternalError,
/// which the SDKs retry. The cause goes to the log, not to the client.
pub fn storage_error(e: std::io::Error) -> S3Error {
    tracing::error!(error = %e, "S3 storage I/O failed");
    S3Error::with_message(
        S3ErrorCode::InternalError,
        "We encountered an internal error. Please try again.",
    )
}

/// A fresh request id in S3's shape (16 upper-case hex characters).
pub fn new_request_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    id[..16].to_owned()
}

/// The `x-amz-id-2` host id that goes with a request id.
pub fn host_id(request_id: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("emulator/{request_id}"))
}

/// Response headers S3 puts on every answer.
pub fn request_headers(request_id: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amz-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&host_id(request_id)) {
        headers.insert("x-amz-id-2", v);
    }
    headers
}

/// Stamps the request id into an error document, as S3 does.
pub fn with_request_id(mut err: S3Error, request_id: &str) -> S3Error {
    err.set_request_id(request_id);
    err
}
