//! file-processor: the Lambda handler of the "skip the database" pipeline.
//!
//! It receives SQS batches of S3 event notifications and, for each new CSV in the source
//! bucket, validates it against its entity's schema while streaming it into the analytics
//! bucket under its partitioned key (`table/year=2024/month=03/day=15/file`, bytes equal to the
//! source; or `.../<stem>.parquet`, typed Parquet converted on the way, for entities with
//! `format: "parquet"`), then makes sure the Glue partition exists with that folder as its Location. The same
//! binary runs in AWS and against the local emulator: clients come from the standard config
//! loader, so `AWS_ENDPOINT_URL` points it at the emulator.
//!
//! Delivery is at least once, so duplicates, late and reordered events, partial failures and
//! poison messages are normal:
//! - [`idempotency`]: the output records its source (bucket, key, ETag, sequencer) as metadata;
//!   a redelivery is skipped after one HeadObject, an older event never overwrites a newer file,
//!   and **two different source keys that map to the same output key** (for example
//!   `a/sales_data_2024_03_15.csv` and `b/sales_data_2024_03_15.csv`) are a permanent error
//!   naming both keys: the second file goes to the DLQ, the first stays; nothing is silently
//!   overwritten. Rename one file (or give the entity a pattern that keeps them apart) and
//!   re-upload it.
//! - [`object`]: constant-memory streaming validation + multipart upload, aborted on error.
//! - [`parquet_output`]: the streaming CSV -> Parquet converter (two threads, bounded memory).
//! - [`staged_part`]: the converter's upload parts, staged in temporary files, not memory.
//! - [`partitions`]: BatchCreatePartition per table, AlreadyExists = success, warm cache.
//! - [`failures`]: per message, never per batch. Transient -> `batchItemFailures` + delayed
//!   retry (ChangeMessageVisibility, full-jitter backoff); permanent -> DLQ at once with
//!   `error_class`/`error_reason`, then success; transient on the last receive -> DLQ with its
//!   reason ([`verdict`] decides, purely).
//! - [`budget`]: the invocation's deadline: a copy that cannot finish stops cleanly before it
//!   (upload aborted) with a reason naming the size, the progress and what to change.
//! - [`telemetry`]: one JSON log line per file that is also a CloudWatch EMF document.
//! - [`clients`]: SDK clients with deliberate timeouts and retries.
//! - [`processor`]: the batch handler tying these together ([`Processor::handle_batch`]).
//!
//! ```no_run
//! # async fn demo(event: aws_lambda_events::event::sqs::SqsEvent) {
//! use file_processor::{Clients, Invocation, Processor, Settings};
//! let config = pipeline_core::Config::embedded_default().unwrap();
//! let settings = Settings::from_config(&config);
//! let processor = Processor::new(Clients::from_env().await, config, settings);
//! let response = processor.handle_batch(event, &Invocation::default()).await;
//! # }
//! ```

pub mod budget;
pub mod clients;
pub mod dead_letter;
pub mod failures;
pub mod idempotency;
pub mod object;
pub mod parquet_output;
pub mod partitions;
pub mod processor;
pub mod settings;
pub mod staged_part;
pub mod telemetry;
pub mod verdict;

pub use clients::Clients;
pub use failures::{DlqTarget, Failure};
pub use processor::Processor;
pub use settings::Settings;
pub use telemetry::{Invocation, Telemetry};

/// Loads the pipeline config: the file named by `PIPELINE_CONFIG`, else the embedded default.
pub fn load_config(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<pipeline_core::Config, pipeline_core::ConfigError> {
    match lookup("PIPELINE_CONFIG").filter(|path| !path.trim().is_empty()) {
        Some(path) => pipeline_core::Config::load(path.trim()),
        None => pipeline_core::Config::embedded_default(),
    }
}

/// Runs the handler under the Lambda Runtime API until the runtime stops: loads the config and
/// settings, builds the clients once, and serves invocations with one [`Processor`] kept warm
/// between them. Called by this crate's `bootstrap` binary and by `emulator function
/// file-processor`, so AWS and the emulator run the same code.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
    use lambda_runtime::{service_fn, Error, LambdaEvent};
    use std::sync::Arc;

    let env = |name: &str| std::env::var(name).ok();
    let config = load_config(&env)?;
    let settings = Settings::from_env(&config, &env)?;
    let swept = staged_part::sweep_orphans(&settings.upload.staging_dir, staged_part::ORPHAN_AGE);
    if swept > 0 {
        tracing::info!(
            files = swept,
            "removed upload parts staged by a process that was killed"
        );
    }
    let processor = Arc::new(Processor::new(Clients::from_env().await, config, settings));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let processor = processor.clone();
        async move {
            let invocation = Invocation::from_lambda(&event.context);
            Ok::<SqsBatchResponse, Error>(processor.handle_batch(event.payload, &invocation).await)
        }
    }))
    .await
}
