//! `serve --data-dir` (issue 11 item 1): state survives restarts and `kill -9`.
//!
//! `restart` runs the server in-process twice on one data dir; `kill` runs the real `emulator`
//! binary under load and kills it with SIGKILL at random points; `athena` kills the binary
//! after queries ran and checks their history on the next start (only the binary links Athena).

mod athena;
mod kill;
mod restart;
mod spill;

use emulator::{EmulatorServer, ServeOptions};

/// The pipeline's emulator (config resources, no functions) on `dir`.
pub async fn start_on(dir: &std::path::Path) -> anyhow::Result<EmulatorServer> {
    EmulatorServer::start(ServeOptions {
        bind: "127.0.0.1:0".parse().unwrap(),
        config: Some(super::common::config()),
        config_path: None,
        run_functions: false,
        data_dir: Some(dir.to_owned()),
    })
    .await
}
