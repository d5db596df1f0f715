//! The Lambda `bootstrap` binary: installs Lambda's default log subscriber and runs the handler.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    file_processor::run().await
}
