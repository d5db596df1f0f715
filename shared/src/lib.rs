//! pipeline-core: the pure (no network) core of the "skip the database" pipeline, shared by the
//! Lambda handler, the local emulator and the `pipeline-config` tool that feeds Terraform.
//!
//! - [`config`]: the shared `pipeline.json` (loading, placeholders, validation)
//! - [`schema`]: column types, their Glue type strings and CSV value validation
//! - [`event`]: S3 notifications (direct or via EventBridge) inside SQS message bodies
//! - [`sequencer`]: ordering S3 events of one key
//! - [`partition_date`]: date-like partition values (year/month/day/hour) must be a real date
//! - [`route`]: object key -> entity, partition values, output key and partition folder
//! - [`csv_check`]: streaming CSV validation against an entity's schema
//! - [`catalog`]: Glue `DatabaseInput`/`TableInput`/`PartitionInput` for the entities
//! - [`failure`]: permanent vs transient failures and the retry backoff
//! - [`names`]: AWS naming rules

pub mod catalog;
pub mod config;
pub mod csv_check;
pub mod event;
pub mod failure;
pub mod names;
pub mod partition_date;
pub mod route;
pub mod schema;
pub mod sequencer;

pub use config::{Config, ConfigError, Entity};
