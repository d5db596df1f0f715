//! `emulator` binary: parses the command line and runs the local AWS emulator until Ctrl-C.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = emulator::cli::Cli::parse();
    emulator::logging::init(cli.log_format);
    emulator::cli::run(cli).await
}
