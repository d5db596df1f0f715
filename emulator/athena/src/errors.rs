//! Athena's API errors (awsJson1_1 `__type` + `Message`, and `AthenaErrorCode` on
//! InvalidRequestException), as listed for each operation in botocore's athena service-2.json.

use axum::body::Body;
use http::StatusCode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// InvalidRequestException with an AthenaErrorCode such as MALFORMED_QUERY,
    /// IDEMPOTENT_PARAMETER_MISMATCH or INVALID_INPUT.
    #[error("{message}")]
    InvalidRequest { code: &'static str, message: String },
    /// MetadataException: the catalog could not answer (unknown catalog, database or table).
    #[error("{0}")]
    Metadata(String),
    /// The request body is not the JSON the operation takes.
    #[error("{0}")]
    Serialization(String),
    #[error("{0}")]
    UnknownOperation(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::InvalidRequest {
            code: "INVALID_INPUT",
            message: message.into(),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest { .. } => "InvalidRequestException",
            ApiError::Metadata(_) => "MetadataException",
            ApiError::Serialization(_) => "SerializationException",
            ApiError::UnknownOperation(_) => "UnknownOperationException",
            ApiError::Internal(_) => "InternalServerException",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub fn to_response(&self) -> http::Response<Body> {
        let mut body = serde_json::json!({
            "__type": self.type_name(),
            "Message": self.to_string(),
        });
        if let ApiError::InvalidRequest { code, .. } = self {
            body["AthenaErrorCode"] = serde_json::Value::String((*code).to_owned());
        }
        http::Response::builder()
            .status(self.status())
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amzn-errortype", self.type_name())
            .body(Body::from(body.to_string()))
            .unwrap_or_default()
    }
}
