//! Command line: `emulator serve` runs the emulator with the pipeline's resources created.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pipeline_core::config::Config;

use crate::faults::{FaultRule, Faults};
use crate::logging::LogFormat;
use crate::query::QueryArgs;
use crate::server::{EmulatorServer, Extensions, ServeOptions};

#[derive(Debug, Parser)]
#[command(
    name = "emulator",
    version,
    about = "Local S3, SQS and Glue for the skip-the-database pipeline"
)]
pub struct Cli {
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve S3, SQS and Glue on one port, with the config's buckets, queues,
    /// notification and tables created.
    Serve(ServeArgs),
    /// Run a handler linked into this binary as a Lambda function process (what `serve` starts
    /// for a function without a `command`); it speaks the Runtime API at AWS_LAMBDA_RUNTIME_API.
    Function {
        /// One of the linked handlers: file-processor.
        name: String,
    },
    /// Run one SQL statement on a running emulator through the Athena API and print the result.
    Query(QueryArgs),
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Pipeline config; without it the config embedded in the binary (shared/pipeline.json) is used.
    #[arg(long, env = "PIPELINE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on. Loopback by default: the emulator is not an access boundary
    /// (secret `test` signs for any access key).
    #[arg(long, env = "EMULATOR_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (4566 is what local AWS tools expect).
    #[arg(long, env = "EMULATOR_PORT", default_value_t = 4566)]
    pub port: u16,
    /// Start with no resources (and no functions) instead of the config's.
    #[arg(long)]
    pub empty: bool,
    /// Create the config's resources but start none of its functions.
    #[arg(long)]
    pub no_functions: bool,
    /// File journeys the console keeps (/_emulator/files); the oldest is evicted first.
    #[arg(long, env = "EMULATOR_JOURNEY_CAP", default_value_t = 10_000)]
    pub journey_cap: usize,
    /// Athena query executions kept (GetQueryExecution, ListQueryExecutions, idempotency
    /// tokens); beyond it the oldest finished one is evicted first.
    #[arg(long, env = "EMULATOR_ATHENA_HISTORY_CAP", default_value_t = 10_000)]
    pub athena_history_cap: usize,
    /// Events kept for resuming /_emulator/events with Last-Event-ID; an older cursor gets 410.
    #[arg(long, env = "EMULATOR_EVENT_BUFFER", default_value_t = 10_000)]
    pub event_buffer: usize,
    /// Inject a fault (repeatable): SERVICE:OPERATION:ERROR[:PROBABILITY][:latency_ms=N][:times=N],
    /// e.g. `s3:GetObject:SlowDown:0.2`, `*` for every operation, `-` as ERROR for latency only;
    /// or the rule as JSON. Also `POST /_emulator/faults` at run time (README "Fault injection").
    #[arg(long = "fault", value_name = "RULE", value_parser = FaultRule::parse_cli)]
    pub faults: Vec<FaultRule>,
    /// Seed of the faults' dice: the same seed and request order inject the same faults.
    #[arg(long, value_name = "N")]
    pub fault_seed: Option<u64>,
    /// Keep S3 objects, SQS queues and messages, the Glue catalog and the Athena query history
    /// in DIR across restarts
    /// (every acknowledged write is on disk first). Without it, state is in memory.
    #[arg(long, env = "EMULATOR_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    run_with(cli, Extensions::default()).await
}

/// [`run`] with the binary's optional services (Athena) installed in `serve`.
pub async fn run_with(cli: Cli, extensions: Extensions) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args, extensions).await,
        Command::Query(args) => {
            let workgroup = Config::embedded_default()
                .map(|c| c.resources.workgroup_name)
                .unwrap_or_else(|_| "primary".to_owned());
            let result = crate::query::run_query(&args, &workgroup).await?;
            print!("{}", crate::query::render(&result, args.output));
            Ok(())
        }
        Command::Function { name } => match name.as_str() {
            "file-processor" => file_processor::run()
                .await
                .map_err(|e| anyhow::anyhow!("{e}")),
            other => anyhow::bail!(
                "no linked handler named {other:?}; linked: {}",
                crate::functions::LINKED_HANDLERS.join(", ")
            ),
        },
    }
}

async fn serve(args: ServeArgs, mut extensions: Extensions) -> anyhow::Result<()> {
    extensions.console.journey_cap = args.journey_cap.max(1);
    extensions.console.event_buffer = args.event_buffer.max(1);
    extensions.athena_history_cap = args.athena_history_cap.max(1);
    let config = match &args.config {
        Some(path) => Config::load(path).with_context(|| format!("loading {}", path.display()))?,
        None => Config::embedded_default().context("loading the embedded default config")?,
    };
    extensions.faults = Some(faults_in_force(&args, &config)?);
    let options = ServeOptions {
        bind: SocketAddr::new(args.host, args.port),
        config: (!args.empty).then(|| config.clone()),
        config_path: args.config.clone(),
        run_functions: !args.empty && !args.no_functions,
        data_dir: args.data_dir.clone(),
    };
    let server = EmulatorServer::start_with(options, extensions).await?;
    print_banner(&server, &config, args.empty);
    stop_signal().await?;
    tracing::info!("shutting down");
    server.shutdown().await
}

/// Ctrl-C, or SIGTERM (`kill`, `docker stop`, a CI runner's cancel): both shut down cleanly,
/// so the in-memory mode's spill directory and the functions' processes go with the emulator.
async fn stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C"),
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")
    }
}

/// The fault rules in force from the first request: the config's `emulator.faults` first, then
/// every `--fault` (rules are rolled in that order; the first hit with an error decides). The
/// seed is `--fault-seed`, else the config's `emulator.fault_seed`. A bad rule in the config
/// stops `serve` with the reason and the file it is in.
pub fn faults_in_force(args: &ServeArgs, config: &Config) -> anyhow::Result<Faults> {
    let source = match &args.config {
        Some(path) => path.display().to_string(),
        None => "the embedded default config".to_owned(),
    };
    let mut rules = config
        .emulator
        .faults
        .iter()
        .enumerate()
        .map(|(n, spec)| {
            FaultRule::from_spec(spec)
                .map_err(|e| anyhow::anyhow!("{source}: emulator.faults[{n}]: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    rules.extend(args.faults.iter().cloned());
    let faults = Faults::default();
    if let Some(seed) = args.fault_seed.or(config.emulator.fault_seed) {
        faults.seed(seed);
    }
    faults.add(rules);
    Ok(faults)
}

fn print_banner(server: &EmulatorServer, config: &Config, empty: bool) {
    let url = server.endpoint_url();
    let r = &config.resources;
    let athena = if server.services.athena.is_some() {
        ", Athena"
    } else {
        ""
    };
    println!("emulator listening on {url} (S3, SQS, Glue, Lambda{athena}; health: {url}/_emulator/health)");
    println!(
        "  console: {url}/_emulator/ui/  metrics: {url}/metrics  events: {url}/_emulator/events"
    );
    if empty {
        println!("started empty (--empty): no resources created");
        return;
    }
    println!(
        "  buckets: {} (source), {} (analytics)",
        r.source_bucket, r.analytics_bucket
    );
    println!(
        "  queues:  {} -> DLQ {} after {} receives",
        r.sqs_queue, r.dead_letter_queue, r.max_receive_count
    );
    println!(
        "  glue:    database {} with tables {}",
        r.glue_database,
        table_list(config)
    );
    println!();
    println!(
        "try it (secret key `test` with any access key id; region {}):",
        config.aws.region
    );
    println!(
        "  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION={}",
        config.aws.region
    );
    println!(
        "  aws --endpoint-url {url} s3 cp sales_data_2024_03_15.csv s3://{}/",
        r.source_bucket
    );
    println!(
        "  aws --endpoint-url {url} s3 ls --recursive s3://{}/",
        r.analytics_bucket
    );
    println!(
        "  aws --endpoint-url {url} glue get-partitions --database-name {} --table-name {}",
        r.glue_database,
        // The table of the file the `cp` line uploads, when the config has that entity.
        config
            .entities
            .get("sales")
            .or(config.entities.values().next())
            .map(|e| e.table_name.as_str())
            .unwrap_or("<table>")
    );
    if server.services.athena.is_some() {
        println!(
            "  emulator query --endpoint-url {url} --database {} \"SELECT count(*) FROM {}\"",
            r.glue_database,
            config
                .entities
                .get("sales")
                .or(config.entities.values().next())
                .map(|e| e.table_name.as_str())
                .unwrap_or("<table>")
        );
    }
}

fn table_list(config: &Config) -> String {
    config
        .entities
        .values()
        .map(|e| e.table_name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
