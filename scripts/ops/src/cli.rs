//! The command line: global options (endpoint, config, output) and one subcommand per operation.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "pipeline-ops",
    version,
    about = "Operate the pipeline on AWS or the local emulator: inspect and redrive the DLQ, backfill S3 events, repair the Glue partitions"
)]
pub struct Cli {
    /// Endpoint for every service (the emulator: http://127.0.0.1:4566). Without it the SDK's own
    /// resolution applies: AWS_ENDPOINT_URL(_<SERVICE>) or the real AWS endpoints.
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// The pipeline config naming buckets, queues and tables; default the shipped config.
    #[arg(long, global = true, env = "PIPELINE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Region; default the SDK's (AWS_REGION, profile), else the config's `aws.region`.
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// How results are printed.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The dead-letter queue.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Enqueue S3 ObjectCreated events for objects already in the source bucket.
    Backfill(BackfillArgs),
    /// Reconcile the analytics bucket with the Glue partitions.
    Repair(RepairArgs),
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List the dead-lettered messages with their reasons (they stay in the DLQ).
    List(ListArgs),
    /// Send dead-lettered messages back to the pipeline queue.
    Redrive(RedriveArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    /// Read at most this many messages.
    #[arg(long, default_value_t = 10_000)]
    pub max_messages: usize,
    /// Seconds the scanned messages stay invisible to other consumers while this command runs
    /// (they are made visible again at the end; if the command dies, after this time).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(i32).range(1..=43_200))]
    pub hold_seconds: i32,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// Only messages whose `error_class` is this (`permanent`, `transient`).
    #[arg(long)]
    pub error_class: Option<String>,
    /// Only messages announcing an object whose key starts with this.
    #[arg(long)]
    pub key_prefix: Option<String>,
    /// Only messages whose `error_reason` contains this text.
    #[arg(long)]
    pub reason_contains: Option<String>,
}

#[derive(Debug, Args)]
pub struct RedriveArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Copy message by message (receive, send, delete) even without a filter. Needed for messages
    /// whose body was kept in S3 (`dlq list` shows their `stored_body`): the copy restores it.
    #[arg(long)]
    pub copy: bool,
    /// Say what would move, move nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub scan: ScanArgs,
    /// How long to wait for a StartMessageMoveTask to finish.
    #[arg(long, default_value_t = 300)]
    pub wait_seconds: u64,
}

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// The entity (config key, e.g. `sales`) whose files are enqueued.
    #[arg(long)]
    pub entity: String,
    /// Only keys under this prefix of the source bucket.
    #[arg(long)]
    pub prefix: Option<String>,
    /// List what would be enqueued, enqueue nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct RepairArgs {
    /// Only this entity (config key); default all.
    #[arg(long)]
    pub entity: Option<String>,
    /// Print the plan, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete partitions that have no objects (they are only reported otherwise).
    #[arg(long)]
    pub delete_empty: bool,
}
