//! Integration tests: the real aws-sdk-sqs client (and raw query-protocol requests) against an
//! axum server running `Sqs::handle` on 127.0.0.1:0. One binary, one module per operation family.

mod batch;
mod common;
mod in_process;
mod messages;
mod polling;
mod query_protocol;
mod queues;
mod redrive;
