//! The local AWS emulator: S3, SQS, Glue, Lambda (and Athena, installed by the binary) on one port, bootstrapped from the pipeline config.
//!
//! Each service lives in its own crate (`emulator-s3`, `emulator-sqs`, `emulator-glue`) with its
//! state apart from its wire encoding; this crate only owns what joins them: the command line,
//! the one-port dispatch, the bootstrap from `shared/pipeline.json`, and the health endpoint.

pub mod bootstrap;
pub mod cli;
pub mod console;
pub mod dispatch;
pub mod faults;
pub mod functions;
pub mod limits;
pub mod logging;
pub mod notify;
pub mod query;
pub mod server;

pub use console::ConsoleOptions;
pub use server::{
    AthenaInstaller, AthenaSetup, EmulatorServer, Extensions, RpcService, ServeOptions, Services,
};
