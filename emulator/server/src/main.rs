//! `emulator` binary: parses the command line and runs the local AWS emulator until Ctrl-C.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = emulator::cli::Cli::parse();
    match cli.command {
        // A function process logs the way Lambda's runtime does (AWS_LAMBDA_LOG_FORMAT etc.).
        emulator::cli::Command::Function { .. } => {
            lambda_runtime::tracing::init_default_subscriber()
        }
        _ => emulator::logging::init(cli.log_format),
    }
    emulator::cli::run(cli).await
}
