//! Starting and stopping the emulator's HTTP server: one listener, every service behind it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use emulator_glue::Glue;
use emulator_lambda::Lambda;
use emulator_s3::S3Emulator;
use emulator_sqs::Sqs;
use pipeline_core::config::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::bootstrap;
use crate::console::{Console, ConsoleOptions};
use crate::dispatch;
use crate::faults::Faults;
use crate::functions;
use crate::notify::SqsNotificationSink;

/// What to serve and where.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to bind; `127.0.0.1:0` picks a free port (tests do this).
    pub bind: SocketAddr,
    /// The pipeline config whose resources are created at start-up; `None` starts empty.
    pub config: Option<Config>,
    /// Where `config` was read from, handed to the functions; `None` = the embedded default.
    pub config_path: Option<std::path::PathBuf>,
    /// Start the config's functions and their SQS event source mappings.
    pub run_functions: bool,
    /// Keep state in this directory across restarts (`--data-dir`); `None` = in memory.
    pub data_dir: Option<std::path::PathBuf>,
}

/// A JSON-protocol service the binary plugs in (Athena), so this library does not link it:
/// test binaries that use the library stay free of the query engine.
pub trait RpcService: Send + Sync {
    fn handle(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> futures::future::BoxFuture<'static, axum::response::Response>;
}

/// What the Athena installer gets besides the services.
#[derive(Debug, Clone, Copy)]
pub struct AthenaSetup<'a> {
    /// `None` = started `--empty`.
    pub config: Option<&'a Config>,
    /// Where to keep the query history (the data dir's `athena/`); `None` = in memory.
    pub history_dir: Option<&'a std::path::Path>,
    /// Executions kept (`--athena-history-cap`).
    pub history_cap: usize,
}

/// Builds the Athena service over the other services.
pub type AthenaInstaller =
    Arc<dyn Fn(&Services, AthenaSetup<'_>) -> anyhow::Result<Arc<dyn RpcService>> + Send + Sync>;

/// Optional services the binary adds to the library's.
#[derive(Clone)]
pub struct Extensions {
    pub athena: Option<AthenaInstaller>,
    /// Athena executions kept (`serve --athena-history-cap`; the oldest final one goes first).
    pub athena_history_cap: usize,
    /// Bounds of the console's journeys and event replay buffer.
    pub console: ConsoleOptions,
    /// Fault rules in force from the first request (`serve --fault`); none when `None`.
    pub faults: Option<Faults>,
}

impl Default for Extensions {
    fn default() -> Self {
        Extensions {
            athena: None,
            athena_history_cap: 10_000,
            console: ConsoleOptions::default(),
            faults: None,
        }
    }
}

/// The service states, shared by every connection. Cloning is cheap (each holds an `Arc`).
#[derive(Clone)]
pub struct Services {
    pub region: String,
    pub account_id: String,
    pub s3: S3Emulator,
    pub s3_service: emulator_s3::S3HttpService,
    pub sqs: Sqs,
    pub glue: Glue,
    pub lambda: Lambda,
    /// Athena, when the binary installed it (see [`Extensions`]).
    pub athena: Option<Arc<dyn RpcService>>,
    /// Events, journeys and metrics of the console (see [`crate::console`]).
    pub console: Console,
    /// Injected faults (see [`crate::faults`]).
    pub faults: Faults,
    pub started: Instant,
    /// The data dir (`--data-dir`), opened and of a known layout; `None` = in memory.
    pub data_dir: Option<emulator_storage::DataDir>,
}

impl Services {
    /// In-memory services.
    pub fn new(region: &str, account_id: &str) -> Self {
        Self::with_console(region, account_id, ConsoleOptions::default())
    }

    /// The services, in memory, reporting to a console with these bounds.
    pub fn with_console(region: &str, account_id: &str, console: ConsoleOptions) -> Self {
        let sqs = Sqs::new(region, account_id);
        let s3 = S3Emulator::new(region, Arc::new(SqsNotificationSink::new(sqs.clone())));
        let glue = Glue::new(region, account_id);
        Self::with(region, account_id, (s3, sqs, glue), console)
    }

    /// Services keeping their state in `data_dir` (S3 objects as files, SQS and Glue as logs),
    /// loading what an earlier run left there; in memory without one.
    pub fn open(
        region: &str,
        account_id: &str,
        data_dir: Option<&std::path::Path>,
        console: ConsoleOptions,
    ) -> anyhow::Result<Self> {
        let Some(dir) = data_dir else {
            return Ok(Self::with_console(region, account_id, console));
        };
        let data = emulator_storage::DataDir::open(dir)?;
        let in_dir = |name: &str| {
            data.service_dir(name)
                .with_context(|| format!("creating {}/{name}", dir.display()))
        };
        let sqs = Sqs::open(region, account_id, &in_dir("sqs")?).context("loading SQS state")?;
        let sink = Arc::new(SqsNotificationSink::new(sqs.clone()));
        let s3 = S3Emulator::open(region, sink, &in_dir("s3")?).context("loading S3 state")?;
        let glue =
            Glue::open(region, account_id, &in_dir("glue")?).context("loading Glue state")?;
        let mut services = Self::with(region, account_id, (s3, sqs, glue), console);
        services.data_dir = Some(data);
        Ok(services)
    }

    fn with(
        region: &str,
        account_id: &str,
        (s3, sqs, glue): (S3Emulator, Sqs, Glue),
        console: ConsoleOptions,
    ) -> Self {
        let s3_service = s3.service();
        let lambda = Lambda::new(region, account_id, sqs.clone());
        let console = Console::new(console);
        console.attach(&sqs, &lambda, &glue);
        Self {
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            s3,
            s3_service,
            lambda,
            sqs,
            glue,
            athena: None,
            console,
            faults: Faults::default(),
            started: Instant::now(),
            data_dir: None,
        }
    }
}

/// A running emulator. Dropping it does not stop it; call [`EmulatorServer::shutdown`].
pub struct EmulatorServer {
    pub addr: SocketAddr,
    pub services: Services,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl EmulatorServer {
    /// Binds, bootstraps the config's resources, and starts serving in the background.
    pub async fn start(options: ServeOptions) -> anyhow::Result<Self> {
        Self::start_with(options, Extensions::default()).await
    }

    /// [`EmulatorServer::start`] with the binary's optional services installed.
    pub async fn start_with(options: ServeOptions, extensions: Extensions) -> anyhow::Result<Self> {
        let (region, account_id) = match &options.config {
            Some(config) => (config.aws.region.clone(), config.aws.account_id.clone()),
            None => ("us-east-1".to_owned(), "000000000000".to_owned()),
        };
        let mut services = Services::open(
            &region,
            &account_id,
            options.data_dir.as_deref(),
            extensions.console.clone(),
        )?;
        if let Some(faults) = &extensions.faults {
            services.faults = faults.clone();
        }
        if let Some(config) = &options.config {
            services.console.set_config(config);
        }
        if let Some(install) = &extensions.athena {
            let history_dir = match &services.data_dir {
                Some(data) => Some(data.service_dir("athena").context("creating athena/")?),
                None => None,
            };
            let setup = AthenaSetup {
                config: options.config.as_ref(),
                history_dir: history_dir.as_deref(),
                history_cap: extensions.athena_history_cap,
            };
            services.athena = Some(install(&services, setup).context("starting Athena")?);
        }
        if let Some(config) = &options.config {
            bootstrap::apply(&services, config)
                .context("bootstrapping resources from the config")?;
        }
        let listener = TcpListener::bind(options.bind)
            .await
            .with_context(|| format!("binding {}", options.bind))?;
        let addr = listener.local_addr()?;
        let app = dispatch::router(services.clone());
        // Functions reach the emulator over loopback even when it listens on every interface.
        let function_addr = if addr.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        } else {
            addr
        };
        services
            .lambda
            .set_endpoint_url(format!("http://{function_addr}"));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        let server = Self {
            addr,
            services,
            shutdown: Some(tx),
            task,
        };
        if let (Some(config), true) = (&options.config, options.run_functions) {
            for spec in functions::specs(config, options.config_path.as_deref())? {
                let name = spec.name.clone();
                server
                    .services
                    .lambda
                    .add_function(spec)
                    .with_context(|| format!("adding function {name}"))?;
            }
            server
                .services
                .lambda
                .start_event_source_mappings()
                .await
                .context("starting event source mappings")?;
        }
        Ok(server)
    }

    /// `http://127.0.0.1:<port>`: what clients use as their endpoint URL.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until the server stops on its own (it only does on an I/O error).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        (&mut self.task).await??;
        Ok(())
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        // Functions first: their in-flight invocations still need the services to answer.
        self.services.lambda.shutdown().await;
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await??;
        Ok(())
    }
}
