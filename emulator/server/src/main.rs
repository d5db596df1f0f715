//! `emulator` binary: parses the command line and runs the local AWS emulator until Ctrl-C.
//! The binary, not the library, installs Athena: only this executable links the query engine
//! (DataFusion), so the test binaries that use the `emulator` library stay small; built with
//! `--no-default-features`, it has no Athena at all.

use clap::Parser;
use emulator::Extensions;

#[cfg(feature = "athena")]
mod athena {
    use std::sync::Arc;

    use anyhow::Context;
    use emulator::{AthenaSetup, RpcService, Services};
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
    /// both writing results to `s3://<analytics bucket>/query-results/`; the query history in
    /// the data dir when there is one.
    pub fn install_athena(
        services: &Services,
        setup: AthenaSetup<'_>,
    ) -> anyhow::Result<Arc<dyn RpcService>> {
        let fallback = Config::embedded_default().ok();
        let config = setup.config.or(fallback.as_ref());
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
        let athena_config = emulator_athena::AthenaConfig {
            workgroups,
            history_cap: setup.history_cap,
        };
        let (glue, s3) = (services.glue.clone(), services.s3.clone());
        let athena = match setup.history_dir {
            Some(dir) => {
                emulator_athena::Athena::open(glue, s3, athena_config, dir).with_context(|| {
                    format!("loading the Athena query history in {}", dir.display())
                })?
            }
            None => emulator_athena::Athena::new(glue, s3, athena_config),
        };
        athena.set_observer(Arc::new(QueriesToConsole(services.console.clone())));
        Ok(Arc::new(AthenaService(athena)))
    }

    /// Finished queries become the console's `query.finished` events.
    struct QueriesToConsole(emulator::console::Console);

    impl emulator_athena::QueryObserver for QueriesToConsole {
        fn query_finished(&self, query: &emulator_athena::FinishedQuery) {
            self.0
                .publish(emulator::console::events::EventKind::QueryFinished {
                    query_execution_id: query.query_execution_id.clone(),
                    state: query.state.clone(),
                    query: query.query.clone(),
                    duration_ms: query.total_ms,
                    bytes_scanned: query.bytes_scanned,
                });
        }
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
