//! `backfill --entity E [--prefix P]`: an S3 `ObjectCreated:Put` event for every object already in
//! the source bucket whose file name matches the entity's pattern, sent to the pipeline queue as
//! S3 would send it (one record per message, SendMessageBatch with 10 per call), so the handler
//! processes the files exactly as if they had just been uploaded: for files that predate the
//! bucket notification, or that were rejected before a fix and are no longer in the DLQ.
//!
//! The record is S3's "Event message structure" version 2.1
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html>),
//! the shape the emulator's S3 sends (emulator/s3/src/notifications.rs): key form-encoded per
//! path segment, unquoted ETag, size. Two fields differ on purpose:
//! - no `sequencer`: only S3 knows an object's sequencer, and one made up here could order wrong
//!   against real ones. Without it the handler's idempotency compares ETags: the same content
//!   already written is skipped as a duplicate, other content is written;
//! - `configurationId` is `pipeline-ops-backfill` (and the principal is this tool), so a
//!   backfilled event can be told apart from a notification in logs and dead letters.

use pipeline_core::config::{Config, Entity};
use serde::Serialize;
use serde_json::json;

use crate::cli::BackfillArgs;
use crate::sqs::{self, Outgoing};
use crate::Ops;

/// The `configurationId` of backfilled events.
pub const CONFIGURATION_ID: &str = "pipeline-ops-backfill";
/// `userIdentity.principalId` and `requestParameters.sourceIPAddress` of backfilled events.
pub const PRINCIPAL: &str = "pipeline-ops";

/// An object of the source bucket, from ListObjectsV2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceObject {
    pub key: String,
    pub size: i64,
    /// Unquoted.
    pub etag: String,
    /// The object owner's canonical id, when the listing gave it.
    pub owner_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackfillReport {
    pub entity: String,
    pub bucket: String,
    pub prefix: Option<String>,
    pub queue_url: String,
    pub dry_run: bool,
    /// Objects listed under the prefix.
    pub listed: u64,
    /// Keys whose file name matches the entity's pattern (in listing order).
    pub matched: Vec<String>,
    pub enqueued: u64,
    pub failed: Vec<BackfillFailure>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackfillFailure {
    pub key: String,
    pub reason: String,
}

/// The objects whose file name (last `/` segment) the entity's anchored pattern matches.
pub fn select<'a>(entity: &Entity, objects: &'a [SourceObject]) -> Vec<&'a SourceObject> {
    objects
        .iter()
        .filter(|object| {
            let file_name = object.key.rsplit('/').next().unwrap_or_default();
            !file_name.is_empty() && entity.match_file_name(file_name).is_some()
        })
        .collect()
}

/// The SQS body S3 would send for the object's creation (see the module doc for the two
/// differences). `request_id` names this backfill run; `event_time` is ISO-8601 with ms and `Z`.
pub fn event_body(
    config: &Config,
    bucket: &str,
    object: &SourceObject,
    request_id: &str,
    event_time: &str,
) -> String {
    let mut bucket_json = json!({
        "name": bucket,
        "arn": format!("arn:aws:s3:::{bucket}"),
    });
    if let Some(owner) = &object.owner_id {
        bucket_json["ownerIdentity"] = json!({ "principalId": owner });
    }
    json!({ "Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": config.aws.region,
        "eventTime": event_time,
        "eventName": "ObjectCreated:Put",
        "userIdentity": { "principalId": PRINCIPAL },
        "requestParameters": { "sourceIPAddress": PRINCIPAL },
        "responseElements": { "x-amz-request-id": request_id, "x-amz-id-2": request_id },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": CONFIGURATION_ID,
            "bucket": bucket_json,
            "object": { "key": encode_key(&object.key), "size": object.size, "eTag": object.etag },
        },
    }]})
    .to_string()
}

/// The key as S3 writes it into records: each `/`-separated segment form-encoded (space `+`),
/// slashes kept.
pub fn encode_key(key: &str) -> String {
    key.split('/')
        .map(pipeline_core::event::encode_s3_key)
        .collect::<Vec<_>>()
        .join("/")
}

pub async fn run(ops: &Ops, args: &BackfillArgs) -> anyhow::Result<BackfillReport> {
    let entity = ops.config.entities.get(&args.entity).ok_or_else(|| {
        let known: Vec<&str> = ops.config.entities.keys().map(String::as_str).collect();
        anyhow::anyhow!(
            "no entity {:?} in the config (entities: {})",
            args.entity,
            known.join(", ")
        )
    })?;
    let bucket = ops.config.resources.source_bucket.clone();
    let queue_url = sqs::queue_url(&ops.clients.sqs, &ops.config.resources.sqs_queue).await?;
    let objects = list_objects(&ops.clients.s3, &bucket, args.prefix.as_deref()).await?;
    let selected = select(entity, &objects);
    let mut report = BackfillReport {
        entity: args.entity.clone(),
        bucket: bucket.clone(),
        prefix: args.prefix.clone(),
        queue_url: queue_url.clone(),
        dry_run: args.dry_run,
        listed: objects.len() as u64,
        matched: selected.iter().map(|o| o.key.clone()).collect(),
        enqueued: 0,
        failed: vec![],
    };
    if args.dry_run {
        return Ok(report);
    }
    let request_id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    let event_time = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let outgoing: Vec<Outgoing> = selected
        .iter()
        .enumerate()
        .map(|(index, object)| Outgoing {
            id: index.to_string(),
            body: event_body(&ops.config, &bucket, object, &request_id, &event_time),
            attributes: vec![],
        })
        .collect();
    for batch in sqs::batches(outgoing) {
        let (sent, failed) = sqs::send_batch(&ops.clients.sqs, &queue_url, &batch).await;
        report.enqueued += sent.len() as u64;
        for (id, reason) in failed {
            let key = id
                .parse::<usize>()
                .ok()
                .and_then(|i| selected.get(i))
                .map(|o| o.key.clone())
                .unwrap_or(id);
            report.failed.push(BackfillFailure { key, reason });
        }
    }
    Ok(report)
}

/// Every object under `prefix` (ListObjectsV2, paged), with its owner.
async fn list_objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: Option<&str>,
) -> anyhow::Result<Vec<SourceObject>> {
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .set_prefix(prefix.map(str::to_string))
        .fetch_owner(true)
        .into_paginator()
        .send();
    let mut objects = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            anyhow::anyhow!(
                "ListObjectsV2 on {bucket}: {}",
                file_processor::failures::describe(&e)
            )
        })?;
        objects.extend(page.contents().iter().filter_map(|object| {
            Some(SourceObject {
                key: object.key()?.to_string(),
                size: object.size().unwrap_or(0),
                etag: object
                    .e_tag()
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_string(),
                owner_id: object.owner().and_then(|o| o.id()).map(str::to_string),
            })
        }));
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline_core::event::{parse_sqs_body, ParsedBody};
    use serde_json::Value;

    fn object(key: &str) -> SourceObject {
        SourceObject {
            key: key.into(),
            size: 42,
            etag: "abc".into(),
            owner_id: None,
        }
    }

    #[test]
    fn selects_by_the_anchored_file_name_pattern() {
        let config = Config::embedded_default().unwrap();
        let objects = [
            object("sales_data_2024_03_15.csv"),
            object("in/2024/sales_data_2024_03_16.csv"),
            object("sales_data_2024_03_15.csv.bak"),
            object("inventory_eu_2024_03_15.csv"),
            object("folder/"),
        ];
        let keys: Vec<&str> = select(&config.entities["sales"], &objects)
            .iter()
            .map(|o| o.key.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "sales_data_2024_03_15.csv",
                "in/2024/sales_data_2024_03_16.csv"
            ]
        );
    }

    #[test]
    fn the_event_parses_as_the_object_it_announces() {
        let config = Config::embedded_default().unwrap();
        let body = event_body(
            &config,
            "src",
            &object("in dir/sales_data_2024_03_15.csv"),
            "R1",
            "2024-03-15T00:00:00.000Z",
        );
        let ParsedBody::Objects(objects) = parse_sqs_body(&body).unwrap() else {
            panic!("not objects");
        };
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].key, "in dir/sales_data_2024_03_15.csv");
        assert_eq!(objects[0].etag.as_deref(), Some("abc"));
        assert_eq!(objects[0].size, Some(42));
        assert_eq!(objects[0].sequencer, None);
        assert!(objects[0].is_object_created());
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            value["Records"][0]["s3"]["object"]["key"],
            "in+dir/sales_data_2024_03_15.csv"
        );
    }
}
