//! pipeline-ops: the operator's commands for the pipeline, the same against AWS and the local
//! emulator (the official SDK clients; `--endpoint-url` picks the emulator):
//!
//! - `dlq list` / `dlq redrive` ([`dead_letters`] decides, [`dlq`] talks to SQS and S3),
//! - `backfill` ([`backfill`]): S3 events for objects already in the source bucket,
//! - `repair` ([`repair`]): the analytics bucket's partition folders vs the Glue partitions.
//!
//! Every command computes its plan with pure functions from listings, then applies it; the plan
//! and the outcome are one report, printed as a table or as JSON ([`output`]).

pub mod backfill;
pub mod cli;
pub mod dead_letters;
pub mod dlq;
pub mod output;
pub mod repair;
pub mod sqs;

use anyhow::Context;
use aws_config::meta::region::RegionProviderChain;
use aws_config::Region;
use file_processor::Clients;
use pipeline_core::config::Config;

use crate::cli::{Cli, Command, DlqCommand};

/// What a command needs: the config and the clients.
pub struct Ops {
    pub config: Config,
    pub clients: Clients,
}

impl Ops {
    /// Loads the config (`--config` or the shipped one) and builds the clients: the handler's
    /// loader (timeouts, retries), `--endpoint-url` when given, path-style S3 whenever an endpoint
    /// is configured (local endpoints have no virtual-host buckets).
    pub async fn from_cli(cli: &Cli) -> anyhow::Result<Ops> {
        let config = match &cli.config {
            Some(path) => Config::load(path)
                .with_context(|| format!("loading the pipeline config {}", path.display()))?,
            None => Config::embedded_default().context("loading the shipped pipeline config")?,
        };
        let region = match &cli.region {
            Some(region) => RegionProviderChain::first_try(Region::new(region.clone())),
            None => RegionProviderChain::default_provider()
                .or_else(Region::new(config.aws.region.clone())),
        };
        let mut loader = file_processor::clients::config_loader().region(region);
        if let Some(url) = &cli.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        let path_style =
            file_processor::clients::s3_endpoint_configured(&sdk, &|name| std::env::var(name).ok());
        Ok(Ops {
            config,
            clients: Clients::from_sdk_config(&sdk, path_style),
        })
    }
}

/// Runs one command and prints its report. `Ok(false)` when the command ran but some of its
/// actions failed (the report names them): the process then exits non-zero.
pub async fn run(cli: Cli) -> anyhow::Result<bool> {
    let ops = Ops::from_cli(&cli).await?;
    let format = cli.output;
    match &cli.command {
        Command::Dlq(DlqCommand::List(args)) => {
            let report = dlq::list(&ops, &args.scan).await?;
            output::print(format, &report, output::dlq_table(&report));
            Ok(true)
        }
        Command::Dlq(DlqCommand::Redrive(args)) => {
            let report = dlq::redrive(&ops, args).await?;
            output::print(format, &report, output::redrive_table(&report));
            Ok(report.failed.is_empty())
        }
        Command::Backfill(args) => {
            let report = backfill::run(&ops, args).await?;
            output::print(format, &report, output::backfill_table(&report));
            Ok(report.failed.is_empty())
        }
        Command::Repair(args) => {
            let report = repair::run(&ops, args).await?;
            output::print(format, &report, output::repair_table(&report));
            Ok(report.failures.is_empty())
        }
    }
}
