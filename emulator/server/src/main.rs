//! `emulator` binary: parses the command line and runs the local AWS emulator until Ctrl-C.
//! The binary, not the library, installs Athena: only this executable links the query engine
//! (DataFusion), so the test binaries that use the `emulator` library stay small; built with
//! `--no-default-features`, it has no Athena at all.

use clap::Parser;
use emulator::Extensions;

#[cfg(feature = "athena")]
mod athena {
    use std::sync::Arc;

    use emulator::{RpcService, Services};
    use pipeline_core::config::Config;

    /// Athena behind the server's plug-in interface.
    struct AthenaService(emulator_athena::Athena);

    impl RpcService for AthenaService {
        fn handle(
            &self,
            request: http::Request<bytes::Bytes>,
        ) -> futures::future::BoxFuture<'static, axum::response::Response> {
            let athena = self.0.clone();
            Box::pin(async move { athena.handle(request).await })
        }
    }

    /// The config's workgroup (configuration enforced, as Terraform creates it) and `primary`,
    /// both writing results to `s3://<analytics bucket>/query-results/`.
    pub fn install_athena(services: &Services, config: Option<&Config>) -> Arc<dyn RpcService> {
        let fallback = Config::embedded_default().ok();
        let config = config.or(fallback.as_ref());
        let (output_location, workgroup) = match config {
            Some(c) => (
                format!("s3://{}/query-results/", c.resources.analytics_bucket),
                Some(c.resources.workgroup_name.clone()),
            ),
            None => ("s3://query-results/".to_owned(), None),
        };
        let mut workgroups = vec![emulator_athena::WorkGroup {
            name: "primary".to_owned(),
            description: "The default workgroup".to_owned(),
            output_location: output_location.clone(),
            enforce_configuration: false,
        }];
        if let Some(name) = workgroup.filter(|n| n != "primary") {
            workgroups.push(emulator_athena::WorkGroup {
                name,
                description: "The pipeline's workgroup (from the config)".to_owned(),
                output_location,
                enforce_configuration: true,
            });
        }
        let athena = emulator_athena::Athena::new(
            services.glue.clone(),
            services.s3.clone(),
            emulator_athena::AthenaConfig { workgroups },
        );
        Arc::new(AthenaService(athena))
    }
}

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
    #[cfg(feature = "athena")]
    let extensions = Extensions {
        athena: Some(std::sync::Arc::new(athena::install_athena)),
        ..Extensions::default()
    };
    #[cfg(not(feature = "athena"))]
    let extensions = Extensions::default();
    emulator::cli::run_with(cli, extensions).await
}
