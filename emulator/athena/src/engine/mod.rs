//! Runs one statement against the emulator's Glue catalog and S3: queries through DataFusion,
//! Athena's DDL and utility statements against the catalog. Pure of the wire: it takes a parsed
//! [`Statement`] and returns a [`ResultTable`] or a [`QueryFailure`] in Athena's terms.

mod ctas;
mod schema;
mod table;
mod utility;

use std::sync::Arc;
use std::sync::LazyLock;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use emulator_s3::S3Emulator;
use regex::Regex;

pub use ctas::write_text;
pub use table::{file_format, FileFormat, GlueTable, ScanLog};

use crate::catalog::{Catalog, CatalogError};
use crate::results::ResultTable;
use crate::statements::Statement;
use crate::store::{S3Store, STORE_URL};

/// The catalog name queries see (`awsdatacatalog.db.table`); Athena calls it AwsDataCatalog.
pub const CATALOG_NAME: &str = "awsdatacatalog";

/// Why a query failed, as Athena reports it in Status.AthenaError and StateChangeReason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryFailure {
    /// 1 system, 2 user, 3 other.
    pub category: u8,
    /// Athena/Trino error name, e.g. TABLE_NOT_FOUND, COLUMN_NOT_FOUND, NOT_SUPPORTED (owned
    /// when read back from the data dir's log).
    pub error_type: std::borrow::Cow<'static, str>,
    pub message: String,
}

impl QueryFailure {
    pub fn user(error_type: &'static str, message: impl Into<String>) -> Self {
        QueryFailure {
            category: 2,
            error_type: error_type.into(),
            message: message.into(),
        }
    }

    pub fn system(message: impl Into<String>) -> Self {
        QueryFailure {
            category: 1,
            error_type: "GENERIC_INTERNAL_ERROR".into(),
            message: message.into(),
        }
    }

    /// `ERROR_TYPE: message`, Athena's StateChangeReason form.
    pub fn reason(&self) -> String {
        format!("{}: {}", self.error_type, self.message)
    }
}

impl From<CatalogError> for QueryFailure {
    fn from(e: CatalogError) -> Self {
        QueryFailure::user("HIVE_METASTORE_ERROR", e.to_string())
    }
}

/// What a statement produced.
#[derive(Debug, Clone, Default)]
pub struct QueryOutput {
    pub result: ResultTable,
    pub bytes_scanned: u64,
    /// CTAS: the S3 URL of the manifest listing the files written.
    pub manifest: Option<String>,
}

/// Where a statement runs: its default database and its identity.
#[derive(Debug, Clone)]
pub struct QueryScope {
    pub query_id: String,
    pub database: String,
    /// The result location prefix, `s3://bucket/prefix/` (ends with `/`).
    pub output_prefix: String,
}

#[derive(Clone)]
pub struct Engine {
    catalog: Catalog,
    s3: S3Emulator,
}

impl Engine {
    pub fn new(catalog: Catalog, s3: S3Emulator) -> Self {
        Engine { catalog, s3 }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn s3(&self) -> &S3Emulator {
        &self.s3
    }

    pub async fn run(
        &self,
        statement: &Statement,
        scope: &QueryScope,
    ) -> Result<QueryOutput, QueryFailure> {
        match statement {
            Statement::Query(sql) => self.query(sql, scope).await,
            Statement::Unsupported(what) => Err(QueryFailure::user(
                "NOT_SUPPORTED",
                format!("{what} is not supported by the local Athena"),
            )),
            other => utility::run(self, other, scope).await,
        }
    }

    /// A DataFusion session whose catalog is the Glue catalog and whose object store is S3.
    pub async fn session(
        &self,
        scope: &QueryScope,
        store: &S3Store,
        scan_log: &ScanLog,
    ) -> Result<SessionContext, QueryFailure> {
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG_NAME, &scope.database)
            .with_information_schema(false);
        // Athena folds identifiers to lower case, quoted or not; Glue names are lower case.
        config.options_mut().sql_parser.enable_ident_normalization = true;
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .build();
        let ctx = SessionContext::new_with_state(state);
        let url =
            ObjectStoreUrl::parse(STORE_URL).map_err(|e| QueryFailure::system(e.to_string()))?;
        ctx.runtime_env()
            .register_object_store(url.as_ref(), Arc::new(store.clone()));
        let databases = self.catalog.databases().await?;
        let names = databases
            .iter()
            .filter_map(|d| d["Name"].as_str().map(str::to_owned))
            .collect();
        ctx.register_catalog(
            CATALOG_NAME,
            Arc::new(schema::GlueCatalogProvider::new(
                self.catalog.clone(),
                self.s3.clone(),
                names,
                scan_log.clone(),
            )),
        );
        crate::functions::register(&ctx);
        Ok(ctx)
    }

    async fn query(&self, sql: &str, scope: &QueryScope) -> Result<QueryOutput, QueryFailure> {
        let store = S3Store::new(self.s3.clone());
        let (schema, batches) = self.collect(sql, scope, &store).await?;
        let result = ResultTable::from_batches(&schema, &batches)
            .map_err(|e| QueryFailure::system(format!("rendering the result: {e}")))?;
        Ok(QueryOutput {
            result,
            bytes_scanned: store.bytes_read(),
            manifest: None,
        })
    }

    /// Plans and runs a query, returning its schema and batches.
    pub async fn collect(
        &self,
        sql: &str,
        scope: &QueryScope,
        store: &S3Store,
    ) -> Result<(datafusion::arrow::datatypes::SchemaRef, Vec<RecordBatch>), QueryFailure> {
        let scan_log = ScanLog::default();
        let ctx = self.session(scope, store, &scan_log).await?;
        let options = datafusion::execution::context::SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let frame = ctx
            .sql_with_options(sql, options)
            .await
            .map_err(|e| failure_of(&e))?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        match frame.collect().await {
            Ok(batches) => Ok((schema, batches)),
            Err(e) => Err(blame_file(&ctx, &scan_log, &e)
                .await
                .unwrap_or_else(|| failure_of(&e))),
        }
    }
}

/// When reading data failed, reads each planned file alone to name the one that fails:
/// DataFusion's read errors do not say which object they came from.
async fn blame_file(
    ctx: &SessionContext,
    scan_log: &ScanLog,
    error: &DataFusionError,
) -> Option<QueryFailure> {
    let kind = root_kind(error);
    if !matches!(
        kind,
        "HIVE_BAD_DATA" | "HIVE_CANNOT_OPEN_SPLIT" | "GENERIC_USER_ERROR"
    ) {
        return None;
    }
    let planned: Vec<table::PlannedFile> = scan_log.lock().ok()?.clone();
    for file in &planned {
        if let Err(e) = table::read_alone(file, ctx.task_ctx()).await {
            let kind = root_kind(&e);
            return Some(QueryFailure::user(
                kind,
                format!("Error reading {}: {}", file.url, e.strip_backtrace().trim()),
            ));
        }
    }
    None
}

static TABLE_NOT_FOUND: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"table '([^']+)' not found").expect("valid pattern"));
static NO_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"No field named ([^ ]+?)\.?( Valid fields|$| Did you)").expect("valid pattern")
});

/// Maps a DataFusion error to Athena's error type and a message that names the culprit.
pub fn failure_of(error: &DataFusionError) -> QueryFailure {
    let text = error.strip_backtrace();
    let text = text.trim().to_owned();
    if let Some(c) = TABLE_NOT_FOUND.captures(&text) {
        return QueryFailure::user(
            "TABLE_NOT_FOUND",
            format!("Table '{}' does not exist", &c[1]),
        );
    }
    if let Some(c) = NO_FIELD.captures(&text) {
        return QueryFailure::user(
            "COLUMN_NOT_FOUND",
            format!(
                "Column '{}' cannot be resolved ({text})",
                c[1].trim_matches('"')
            ),
        );
    }
    let kind = root_kind(error);
    QueryFailure::user(kind, text)
}

fn root_kind(error: &DataFusionError) -> &'static str {
    match error.find_root() {
        DataFusionError::ObjectStore(_) => "HIVE_CANNOT_OPEN_SPLIT",
        DataFusionError::ArrowError(_, _) | DataFusionError::ParquetError(_) => "HIVE_BAD_DATA",
        DataFusionError::NotImplemented(_) => "NOT_SUPPORTED",
        DataFusionError::Plan(_)
        | DataFusionError::SchemaError(_, _)
        | DataFusionError::SQL(_, _) => "SYNTAX_ERROR",
        DataFusionError::ResourcesExhausted(_) => "EXCEEDED_MEMORY_LIMIT",
        _ => "GENERIC_USER_ERROR",
    }
}
