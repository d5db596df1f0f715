//! Athena end to end: the real `emulator` binary (as the README starts it, functions included),
//! CSV files dropped in the source bucket and processed by the pipeline, then queried through
//! the Athena API with aws-sdk-athena, boto3, the aws CLI, PyAthena and awswrangler.
//! One test binary for the crate: every binary that links the AWS SDK costs link time.

mod common;
mod python;
mod sdk;
