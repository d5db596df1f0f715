//! End-to-end tests of emulator-lambda over HTTP with the real SDK clients and real function
//! processes. One test binary (modules per area) keeps link time down.

mod common;

mod event_source;
mod invoke_api;
mod python_runtime;
