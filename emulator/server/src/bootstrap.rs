//! Creates the pipeline's resources from the config: buckets, queue + DLQ with its redrive
//! policy, the bucket notification, and the Glue database and tables from the core's catalog
//! model (the same function the handler and Terraform use, so all three agree).
//!
//! Every step is idempotent, so re-running on existing state is harmless: buckets and queues
//! that exist are kept, table definitions are brought up to date and their partitions kept.

use std::collections::HashMap;

use anyhow::{anyhow, Context};
use emulator_s3::QueueNotification;
use pipeline_core::catalog;
use pipeline_core::config::Config;

use crate::server::Services;

pub fn apply(services: &Services, config: &Config) -> anyhow::Result<()> {
    let r = &config.resources;
    for bucket in [&r.source_bucket, &r.analytics_bucket] {
        services
            .s3
            .create_bucket(bucket)
            .map_err(|e| anyhow!("{e}"))
            .with_context(|| format!("creating bucket {bucket}"))?;
    }

    // The DLQ keeps failures for the longest retention SQS allows (14 days), so nothing a
    // person has not looked at expires before the default 4 days would let them notice.
    let dlq_attributes =
        HashMap::from([("MessageRetentionPeriod".to_owned(), "1209600".to_owned())]);
    services
        .sqs
        .create_queue(&r.dead_letter_queue, &dlq_attributes)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("creating queue {}", r.dead_letter_queue))?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": services.sqs.queue_arn(&r.dead_letter_queue),
        "maxReceiveCount": r.max_receive_count,
    });
    let queue_attributes = HashMap::from([
        (
            "VisibilityTimeout".to_owned(),
            r.visibility_timeout_seconds.to_string(),
        ),
        ("RedrivePolicy".to_owned(), redrive.to_string()),
    ]);
    services
        .sqs
        .create_queue(&r.sqs_queue, &queue_attributes)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("creating queue {}", r.sqs_queue))?;

    let queue_arn = services.sqs.queue_arn(&r.sqs_queue);
    // One configuration per literal file suffix; the core drops overlapping ones, which AWS
    // rejects, and Terraform reads the same list.
    let notifications = config
        .notification_suffixes()
        .into_iter()
        .map(|suffix| QueueNotification {
            id: format!("pipeline-objects-created{}", suffix.replace('.', "-")),
            queue_arn: queue_arn.clone(),
            events: vec!["s3:ObjectCreated:*".to_owned()],
            prefix: None,
            suffix: (!suffix.is_empty()).then_some(suffix),
        })
        .collect();
    services
        .s3
        .put_queue_notifications(&r.source_bucket, notifications)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("configuring notifications on {}", r.source_bucket))?;

    let database = serde_json::to_value(catalog::database_input(config))?;
    services
        .glue
        .ensure_database(database)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("creating Glue database {}", r.glue_database))?;
    for entity in config.entities.values() {
        let table = serde_json::to_value(catalog::table_input(config, entity))?;
        services
            .glue
            .ensure_table(&r.glue_database, table)
            .map_err(|e| anyhow!("{e}"))
            .with_context(|| format!("creating Glue table {}", entity.table_name))?;
    }
    Ok(())
}
