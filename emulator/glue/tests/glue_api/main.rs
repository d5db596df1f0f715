//! End-to-end tests of emulator-glue over HTTP with the real aws-sdk-glue client.
//! One test binary (modules per operation family) keeps link time down.

mod common;

mod catalog;
mod get_partitions;
mod partitions;
