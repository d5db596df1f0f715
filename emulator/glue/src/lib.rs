//! emulator-glue: the AWS Glue Data Catalog (databases, tables, partitions) behind the real
//! awsJson1_1 wire protocol, so unmodified aws-sdk-rust, boto3 and the aws CLI can talk to it.
//!
//! State lives in [`state`], the wire encoding in [`protocol`], and each operation family in its
//! own module. The catalog sits behind one `std::sync::Mutex`, held only for the synchronous body
//! of one operation and never across an `.await`.

mod databases;
mod errors;
pub mod expression;
pub mod observe;
mod partitions;
mod protocol;
mod state;
mod tables;

use std::sync::{Arc, Mutex, MutexGuard};

pub use errors::GlueError;
pub use observe::{CreatedPartition, GlueObserver};
pub use state::{CatalogStats, PartitionKey};

/// The Glue service. Cheap to clone: every clone shares one catalog.
#[derive(Clone)]
pub struct Glue {
    inner: Arc<Inner>,
}

struct Inner {
    region: String,
    account_id: String,
    catalog: Mutex<state::Catalog>,
    /// The console's observer (see [`observe`]), when one is set.
    observer: std::sync::OnceLock<Arc<dyn GlueObserver>>,
}

impl Glue {
    /// An empty catalog for `account_id` in `region`.
    pub fn new(region: impl Into<String>, account_id: impl Into<String>) -> Self {
        Glue {
            inner: Arc::new(Inner {
                region: region.into(),
                account_id: account_id.into(),
                catalog: Mutex::new(state::Catalog::default()),
                observer: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The region this catalog answers for.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The account id, returned as `CatalogId` on every database, table and partition.
    pub fn account_id(&self) -> &str {
        &self.inner.account_id
    }

    /// Serves one awsJson1_1 request (`POST /`, `x-amz-target: AWSGlue.<Op>`).
    pub async fn handle(
        &self,
        req: http::Request<bytes::Bytes>,
    ) -> http::Response<axum::body::Body> {
        protocol::handle(self, req)
    }

    /// Creates the database described by `database_input` (a Glue `DatabaseInput` JSON object),
    /// or updates its definition when it already exists (its tables are kept). Safe to re-run.
    pub fn ensure_database(&self, database_input: serde_json::Value) -> Result<(), GlueError> {
        databases::ensure_database(self, database_input)
    }

    /// Creates the table described by `table_input` (a Glue `TableInput` JSON object) in
    /// `database`, or replaces its definition when it exists (its partitions are kept).
    /// Safe to re-run. The database must exist.
    pub fn ensure_table(
        &self,
        database: &str,
        table_input: serde_json::Value,
    ) -> Result<(), GlueError> {
        tables::ensure_table(self, database, table_input)
    }

    /// Numbers of databases, tables and partitions, for the health endpoint.
    pub fn stats(&self) -> CatalogStats {
        self.catalog().stats()
    }

    /// The values of every partition of `database.table` in catalog order, or `None` when the
    /// table does not exist. Lets in-process callers (health, tests) look without HTTP.
    pub fn partition_values(&self, database: &str, table: &str) -> Option<Vec<Vec<String>>> {
        let catalog = self.catalog();
        let table = catalog
            .databases
            .get(&database.to_lowercase())?
            .tables
            .get(&table.to_lowercase())?;
        Some(table.partitions.keys().cloned().collect())
    }

    /// Locks the catalog. A panic in another request cannot leave it half-written in a way that
    /// matters more than refusing every later request would, so a poisoned lock is recovered.
    pub(crate) fn catalog(&self) -> MutexGuard<'_, state::Catalog> {
        self.inner
            .catalog
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
