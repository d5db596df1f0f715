//! The Glue catalog as DataFusion's catalog: one schema per Glue database, tables loaded from
//! Glue (definition and partitions) when a query names them, so a query sees the catalog as it
//! is when the query is planned.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::error::DataFusionError;
use emulator_s3::S3Emulator;

use super::table::{GlueTable, ScanLog};
use crate::catalog::Catalog;

#[derive(Debug)]
pub struct GlueCatalogProvider {
    catalog: CatalogHandle,
    s3: S3Handle,
    databases: Vec<String>,
    scan_log: ScanLog,
}

/// Debug-printable wrappers: the services themselves are not `Debug`.
#[derive(Clone)]
struct CatalogHandle(Catalog);
#[derive(Clone)]
struct S3Handle(S3Emulator);

impl std::fmt::Debug for CatalogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GlueCatalog")
    }
}

impl std::fmt::Debug for S3Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("S3")
    }
}

impl GlueCatalogProvider {
    pub fn new(
        catalog: Catalog,
        s3: S3Emulator,
        databases: Vec<String>,
        scan_log: ScanLog,
    ) -> Self {
        GlueCatalogProvider {
            catalog: CatalogHandle(catalog),
            s3: S3Handle(s3),
            databases,
            scan_log,
        }
    }
}

impl CatalogProvider for GlueCatalogProvider {
    fn schema_names(&self) -> Vec<String> {
        self.databases.clone()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        let name = name.to_lowercase();
        self.databases.contains(&name).then(|| {
            Arc::new(GlueSchemaProvider {
                catalog: self.catalog.clone(),
                s3: self.s3.clone(),
                database: name,
                scan_log: self.scan_log.clone(),
            }) as Arc<dyn SchemaProvider>
        })
    }
}

#[derive(Debug)]
struct GlueSchemaProvider {
    catalog: CatalogHandle,
    s3: S3Handle,
    database: String,
    scan_log: ScanLog,
}

#[async_trait]
impl SchemaProvider for GlueSchemaProvider {
    fn table_names(&self) -> Vec<String> {
        // Only needed for information_schema, which is off; tables are looked up by name.
        Vec::new()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        let catalog = &self.catalog.0;
        let glue_error = |e: crate::catalog::CatalogError| {
            DataFusionError::Plan(format!("HIVE_METASTORE_ERROR: {e}"))
        };
        let Some(table) = catalog
            .table(&self.database, name)
            .await
            .map_err(glue_error)?
        else {
            return Ok(None);
        };
        let partitions = if table.partition_keys.is_empty() {
            Vec::new()
        } else {
            catalog
                .partitions(&self.database, &table.name)
                .await
                .map_err(glue_error)?
        };
        let provider =
            GlueTable::try_new(table, partitions, self.s3.0.clone(), self.scan_log.clone())
                .map_err(DataFusionError::NotImplemented)?;
        Ok(Some(Arc::new(provider)))
    }

    fn table_exist(&self, _name: &str) -> bool {
        false
    }
}
