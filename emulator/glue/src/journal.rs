//! Durable catalog for `serve --data-dir`: an operation log in the data dir's `glue/log`.
//!
//! Every catalog change is one operation (CreateTable, BatchCreatePartition, the bootstrap's
//! ensure-table, ...) that succeeded, recorded as `{operation, request body, clock}` in the
//! order the operations ran (they run one at a time under the journal's lock). Replaying the
//! records through the same operation code with the clock pinned to the recorded time
//! ([`crate::state::with_clock`]) rebuilds exactly the catalog that was acknowledged: creation
//! times, table versions and all. The operations are deterministic given the catalog, the body
//! and the clock; that is what makes replay of requests (rather than of resulting state) sound,
//! and it keeps the on-disk records in the shape clients send, which never changes.
//!
//! The wire layer waits for [`Journal::sync`] before answering, so a 200 for CreatePartition or
//! BatchCreatePartition is on disk; concurrent requests share one fsync (group commit).

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use emulator_storage::{Log, LogError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

const LOG_FILE: &str = "log";

/// One catalog change that succeeded.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    /// A wire operation name, or `EnsureDatabase`/`EnsureTable` (the in-process bootstrap).
    pub operation: String,
    pub body: Value,
    /// The catalog clock when it ran (epoch seconds).
    pub now: f64,
}

pub(crate) struct Journal {
    log: Log,
    /// Held while a change runs and is appended, so the log's order is the order of effect.
    order: Mutex<()>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("log", &self.log).finish()
    }
}

/// Operations that change the catalog (the rest only read it and are not recorded).
pub(crate) const CHANGES: &[&str] = &[
    "CreateDatabase",
    "DeleteDatabase",
    "CreateTable",
    "UpdateTable",
    "DeleteTable",
    "CreatePartition",
    "UpdatePartition",
    "DeletePartition",
    "BatchCreatePartition",
    "BatchDeletePartition",
];

impl Journal {
    /// Reads the records of `dir/log` (to replay) and opens the log for appends; the log is
    /// rewritten with the same records, which drops a torn tail a crash may have left.
    pub fn open(dir: &Path) -> std::io::Result<(Arc<Journal>, Vec<Record>)> {
        let path = dir.join(LOG_FILE);
        let raw = emulator_storage::log::replay(&path)?;
        let records = raw
            .iter()
            .enumerate()
            .map(|(n, bytes)| {
                serde_json::from_slice::<Record>(bytes).map_err(|e| {
                    std::io::Error::other(format!(
                        "{}: record {n} is not a Glue record of this layout ({e}); the data dir \
                         is damaged (nothing was changed)",
                        path.display()
                    ))
                })
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        let log = Log::create(&path, raw)?;
        Ok((
            Arc::new(Journal {
                log,
                order: Mutex::new(()),
            }),
            records,
        ))
    }

    /// Serializes changes: hold the guard from before the change until it is appended.
    pub fn order(&self) -> MutexGuard<'_, ()> {
        self.order.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn append(&self, record: &Record) {
        match serde_json::to_vec(record) {
            Ok(bytes) => {
                self.log.append(&bytes);
            }
            Err(e) => tracing::error!(error = %e, "a Glue record could not be encoded"),
        }
    }

    pub async fn sync(&self) -> Result<(), LogError> {
        self.log.sync().await
    }
}

#[cfg(test)]
mod tests {
    use crate::Glue;
    use serde_json::json;

    async fn call(glue: &Glue, operation: &str, body: serde_json::Value) -> serde_json::Value {
        let request = http::Request::builder()
            .method("POST")
            .header("x-amz-target", format!("AWSGlue.{operation}"))
            .body(bytes::Bytes::from(body.to_string()))
            .unwrap();
        let response = glue.handle(request).await;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert!(status.is_success(), "{operation}: {value}");
        value
    }

    #[tokio::test]
    async fn replay_rebuilds_the_catalog_with_its_times() {
        let dir = tempfile::tempdir().unwrap();
        let glue = Glue::open("us-east-1", "000000000000", dir.path()).unwrap();
        glue.ensure_database(json!({"Name": "db"})).unwrap();
        glue.ensure_table(
            "db",
            json!({"Name": "t", "PartitionKeys": [{"Name": "year", "Type": "string"}]}),
        )
        .unwrap();
        let partition = |year: &str| json!({"Values": [year]});
        call(
            &glue,
            "BatchCreatePartition",
            json!({"DatabaseName": "db", "TableName": "t",
                   "PartitionInputList": [partition("2023"), partition("2024"), partition("2025")]}),
        )
        .await;
        call(
            &glue,
            "DeletePartition",
            json!({"DatabaseName": "db", "TableName": "t", "PartitionValues": ["2023"]}),
        )
        .await;
        // A failed change is not recorded (and so not replayed).
        let failed = http::Request::builder()
            .method("POST")
            .header("x-amz-target", "AWSGlue.CreateTable")
            .body(bytes::Bytes::from(
                json!({"DatabaseName": "nodb", "TableInput": {"Name": "x"}}).to_string(),
            ))
            .unwrap();
        assert!(!glue.handle(failed).await.status().is_success());
        let before = call(
            &glue,
            "GetPartitions",
            json!({"DatabaseName": "db", "TableName": "t"}),
        )
        .await;
        drop(glue);

        let glue = Glue::open("us-east-1", "000000000000", dir.path()).unwrap();
        assert_eq!(
            glue.partition_values("db", "t").unwrap(),
            vec![vec!["2024".to_owned()], vec!["2025".to_owned()]]
        );
        let after = call(
            &glue,
            "GetPartitions",
            json!({"DatabaseName": "db", "TableName": "t"}),
        )
        .await;
        assert_eq!(before, after, "creation times replay exactly");
    }
}
