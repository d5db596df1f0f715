//! Glue service errors and their wire encoding (awsJson1_1).
//!
//! aws-sdk-rust reads the error code from the `x-amzn-errortype` header first, then the body's
//! `code`, then `__type` (after dropping any `namespace#` prefix and `:url` suffix), and the
//! message from `message`/`Message`. We send both the header and `__type`, so `err.code()` and the
//! typed `is_*_exception()` helpers work, and boto3/CLI (which read `__type`) agree.

use http::StatusCode;

/// An error a Glue operation returns to the caller, named after the AWS exception it stands for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlueError {
    /// The named database/table/partition already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// The named database/table/partition does not exist.
    #[error("{0}")]
    EntityNotFound(String),
    /// The request is well-formed but semantically wrong (bad expression, wrong value count...).
    #[error("{0}")]
    InvalidInput(String),
    /// A modelled constraint failed (required member missing, list too long, out-of-range number).
    /// AWS reports these as `ValidationException`, e.g. BatchDeletePartition with more than 25
    /// entries ("Member must have length less than or equal to 25").
    #[error("{0}")]
    Validation(String),
    /// The body is not the JSON the operation expects.
    #[error("{0}")]
    Serialization(String),
    /// The `x-amz-target` header names no operation this service knows.
    #[error("{0}")]
    UnknownOperation(String),
    /// The service failed (here: the data dir could not record a change); retryable, 500.
    #[error("{0}")]
    InternalService(String),
}

impl GlueError {
    /// The AWS error code (`__type`).
    pub fn code(&self) -> &'static str {
        match self {
            GlueError::AlreadyExists(_) => "AlreadyExistsException",
            GlueError::EntityNotFound(_) => "EntityNotFoundException",
            GlueError::InvalidInput(_) => "InvalidInputException",
            GlueError::Validation(_) => "ValidationException",
            GlueError::Serialization(_) => "SerializationException",
            GlueError::UnknownOperation(_) => "UnknownOperationException",
            GlueError::InternalService(_) => "InternalServiceException",
        }
    }

    /// Client errors are 400; a failure of the service itself is 500.
    pub fn status(&self) -> StatusCode {
        match self {
            GlueError::InternalService(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        match self {
            GlueError::AlreadyExists(m)
            | GlueError::EntityNotFound(m)
            | GlueError::InvalidInput(m)
            | GlueError::Validation(m)
            | GlueError::Serialization(m)
            | GlueError::UnknownOperation(m)
            | GlueError::InternalService(m) => m,
        }
    }

    /// The JSON body AWS sends for this error.
    pub fn to_body(&self) -> serde_json::Value {
        serde_json::json!({ "__type": self.code(), "Message": self.message() })
    }

    pub(crate) fn database_not_found(name: &str) -> Self {
        GlueError::EntityNotFound(format!("Database {name} not found."))
    }

    pub(crate) fn table_not_found(db: &str, table: &str) -> Self {
        GlueError::EntityNotFound(format!("Table {table} not found in database {db}."))
    }

    pub(crate) fn partition_not_found(values: &[String]) -> Self {
        GlueError::EntityNotFound(format!("Partition not found: values {values:?}."))
    }
}
