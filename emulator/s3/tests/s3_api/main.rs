//! End-to-end tests of emulator-s3 over HTTP with the real aws-sdk-s3 client.
//! One test binary (modules per operation family) keeps link time down.

mod common;

mod auth;
mod buckets;
mod checksums;
mod conditional_writes;
mod list;
mod multipart;
mod notifications;
mod objects;
