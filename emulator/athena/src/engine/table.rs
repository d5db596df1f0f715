//! A Glue table as a DataFusion table: the columns of its StorageDescriptor followed by its
//! partition keys, read from the Locations of the partitions registered in Glue (as Athena
//! does: a folder under the table that is not a registered partition is not read).
//!
//! Filters on partition keys are evaluated against each partition's values at planning time, so
//! a pruned partition's objects are never listed nor opened; the pruning is exact, so DataFusion
//! does not re-apply those filters.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, DataFusionError, Result, ScalarValue};
use datafusion::config::CsvOptions;
use datafusion::datasource::listing::helpers::{expr_applicable_for_cols, filter_partitioned_file};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    CsvSource, FileGroup, FileScanConfigBuilder, FileSource, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::projection::ProjectionExpr;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::ExecutionPlan;
use emulator_s3::S3Emulator;

use crate::catalog::{PartitionDef, TableDef};
use crate::store::{object_path, split_s3_url, STORE_URL};
use crate::types::arrow_type;

/// How the table's files are laid out, from its SerDe.
#[derive(Debug, Clone)]
pub enum FileFormat {
    Csv(Box<CsvOptions>),
    Parquet,
}

/// Reads the SerDe of `table` into a file format; `Err` names what is not supported.
pub fn file_format(table: &TableDef) -> std::result::Result<FileFormat, String> {
    let serde = table.serde_library.to_ascii_lowercase();
    let input = table.input_format.to_ascii_lowercase();
    if serde.contains("parquet") || input.contains("parquet") {
        return Ok(FileFormat::Parquet);
    }
    let lazy_simple = serde.contains("lazysimpleserde");
    if !(serde.contains("opencsvserde") || lazy_simple) {
        return Err(format!(
            "table {}.{}: SerDe '{}' is not supported (OpenCSVSerde, LazySimpleSerDe and \
             ParquetHiveSerDe are)",
            table.database, table.name, table.serde_library
        ));
    }
    let char_param =
        |names: &[&str], default: Option<u8>| -> std::result::Result<Option<u8>, String> {
            match names.iter().find_map(|n| table.serde_parameter(n)) {
                None => Ok(default),
                Some(v) if v.len() == 1 => Ok(Some(v.as_bytes()[0])),
                Some(v) => Err(format!(
                    "table {}.{}: SerDe parameter {} = '{v}' must be one ASCII character",
                    table.database, table.name, names[0]
                )),
            }
        };
    let header_lines = table
        .parameter("skip.header.line.count")
        .map(|v| v.trim().parse::<u32>())
        .transpose()
        .map_err(|_| {
            format!(
                "table {}.{}: skip.header.line.count is not a number",
                table.database, table.name
            )
        })?
        .unwrap_or(0);
    if header_lines > 1 {
        return Err(format!(
            "table {}.{}: skip.header.line.count = {header_lines} is not supported (0 or 1 are)",
            table.database, table.name
        ));
    }
    let mut options = CsvOptions {
        has_header: Some(header_lines == 1),
        ..CsvOptions::default()
    };
    if lazy_simple {
        options.delimiter =
            char_param(&["field.delim", "serialization.format"], Some(1))?.unwrap_or(1);
        // LazySimpleSerDe has no quoting; a byte that cannot occur in text turns it off.
        options.quote = 0;
        options.escape = char_param(&["escape.delim"], None)?;
    } else {
        options.delimiter = char_param(&["separatorChar"], Some(b','))?.unwrap_or(b',');
        options.quote = char_param(&["quoteChar"], Some(b'"'))?.unwrap_or(b'"');
        options.escape = char_param(&["escapeChar"], Some(b'\\'))?;
        options.double_quote = Some(true);
    }
    Ok(FileFormat::Csv(Box::new(options)))
}

/// A file a query planned to read, kept so that a failed query can find the file to blame.
#[derive(Clone)]
pub struct PlannedFile {
    /// `s3://bucket/key`.
    pub url: String,
    pub file: PartitionedFile,
    pub source: Arc<dyn FileSource>,
}

impl std::fmt::Debug for PlannedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

/// Every file the scans of one query planned.
pub type ScanLog = Arc<std::sync::Mutex<Vec<PlannedFile>>>;

pub struct GlueTable {
    table: TableDef,
    partitions: Vec<PartitionDef>,
    format: FileFormat,
    file_schema: SchemaRef,
    partition_fields: Vec<FieldRef>,
    schema: SchemaRef,
    s3: S3Emulator,
    scan_log: ScanLog,
}

impl std::fmt::Debug for GlueTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GlueTable({}.{})", self.table.database, self.table.name)
    }
}

fn fields(
    table: &TableDef,
    columns: &[crate::catalog::ColumnDef],
) -> std::result::Result<Vec<FieldRef>, String> {
    columns
        .iter()
        .map(|c| {
            arrow_type(&c.type_name)
                .map(|t| Arc::new(Field::new(&c.name, t, true)))
                .map_err(|e| {
                    format!(
                        "table {}.{} column {}: {e}",
                        table.database, table.name, c.name
                    )
                })
        })
        .collect()
}

impl GlueTable {
    pub fn try_new(
        table: TableDef,
        partitions: Vec<PartitionDef>,
        s3: S3Emulator,
        scan_log: ScanLog,
    ) -> std::result::Result<Self, String> {
        let format = file_format(&table)?;
        let file_fields = fields(&table, &table.columns)?;
        let partition_fields = fields(&table, &table.partition_keys)?;
        let file_schema = Arc::new(Schema::new(file_fields.clone()));
        let schema = Arc::new(Schema::new(
            file_fields
                .into_iter()
                .chain(partition_fields.iter().cloned())
                .collect::<Vec<_>>(),
        ));
        Ok(GlueTable {
            table,
            partitions,
            format,
            file_schema,
            partition_fields,
            schema,
            s3,
            scan_log,
        })
    }

    fn partition_names(&self) -> Vec<&str> {
        self.partition_fields
            .iter()
            .map(|f| f.name().as_str())
            .collect()
    }

    /// The partitions whose values satisfy every filter on partition keys, as
    /// `(values, location)`; an unpartitioned table is one partition at the table location.
    fn selected_partitions(&self, filters: &[Expr]) -> Result<Vec<(Vec<ScalarValue>, String)>> {
        if self.partition_fields.is_empty() {
            return Ok(vec![(Vec::new(), self.table.location.clone())]);
        }
        let names = self.partition_names();
        let partition_filters: Vec<Expr> = filters
            .iter()
            .filter(|f| expr_applicable_for_cols(&names, f))
            .cloned()
            .collect();
        let partition_schema = DFSchema::try_from(Schema::new(self.partition_fields.clone()))?;
        let mut selected = Vec::new();
        for partition in &self.partitions {
            let values = partition
                .values
                .iter()
                .zip(&self.partition_fields)
                .map(|(v, f)| ScalarValue::try_from_string(v.clone(), f.data_type()))
                .collect::<Result<Vec<_>>>()
                .map_err(|e| {
                    DataFusionError::Execution(format!(
                        "HIVE_INVALID_PARTITION_VALUE: partition {:?} of {}.{}: {e}",
                        partition.values, self.table.database, self.table.name
                    ))
                })?;
            let probe = PartitionedFile::new("probe", 0).with_partition_values(values.clone());
            if filter_partitioned_file(probe, &partition_filters, &partition_schema)?.is_some() {
                selected.push((values, partition.location.clone()));
            }
        }
        Ok(selected)
    }

    /// The data files under one location. Like Athena, names starting with `_` or `.` and
    /// folder placeholders are not data.
    fn files_at(&self, location: &str, values: &[ScalarValue]) -> Result<Vec<PartitionedFile>> {
        let (bucket, prefix) = split_s3_url(location).ok_or_else(|| {
            DataFusionError::Execution(format!(
                "HIVE_METASTORE_ERROR: location '{location}' of {}.{} is not an s3:// URL",
                self.table.database, self.table.name
            ))
        })?;
        let prefix = if prefix.is_empty() || prefix.ends_with('/') {
            prefix.to_owned()
        } else {
            format!("{prefix}/")
        };
        let objects = match self.s3.objects_with_prefix(bucket, &prefix) {
            Ok(objects) => objects,
            // A missing bucket reads as no files, as a missing prefix does.
            Err(_) => return Ok(Vec::new()),
        };
        Ok(objects
            .into_iter()
            .filter(|(key, object)| {
                let name = key.rsplit('/').next().unwrap_or_default();
                !name.is_empty()
                    && !name.starts_with('_')
                    && !name.starts_with('.')
                    && object.size() > 0
            })
            .map(|(key, object)| {
                PartitionedFile::new(object_path(bucket, &key).to_string(), object.size())
                    .with_partition_values(values.to_vec())
            })
            .collect())
    }

    /// OpenCSVSerDe reads an empty field as an empty string, never as NULL, but arrow-csv reads
    /// empty fields as NULL (DataFusion's CSV source does not pass `null_regex` on), so string
    /// columns of the file get `coalesce(column, '')`.
    fn empty_strings_not_null(
        &self,
        scan: Arc<dyn ExecutionPlan>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let schema = scan.schema();
        let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
        let props = datafusion::execution::context::ExecutionProps::new();
        let planning =
            datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext::default();
        let mut exprs = Vec::new();
        for field in schema.fields() {
            let column = Expr::Column(datafusion::common::Column::from_name(field.name()));
            let is_file_string = field.data_type() == &DataType::Utf8
                && self.file_schema.field_with_name(field.name()).is_ok();
            let expr = if is_file_string {
                // CASE rather than coalesce: physical planning wants coalesce simplified first.
                datafusion::logical_expr::when(
                    column.clone().is_null(),
                    datafusion::logical_expr::lit(""),
                )
                .otherwise(column)?
            } else {
                column
            };
            let physical = datafusion::physical_expr::create_physical_expr(
                &expr, &df_schema, &props, &planning,
            )?;
            exprs.push(ProjectionExpr::new(physical, field.name().clone()));
        }
        Ok(Arc::new(ProjectionExec::try_new(exprs, scan)?))
    }

    fn file_source(&self) -> Arc<dyn FileSource> {
        let table_schema = TableSchema::builder(self.file_schema.clone())
            .with_table_partition_cols(self.partition_fields.clone())
            .build();
        match &self.format {
            FileFormat::Csv(options) => {
                Arc::new(CsvSource::new(table_schema).with_csv_options(options.as_ref().clone()))
            }
            FileFormat::Parquet => Arc::new(ParquetSource::new(table_schema)),
        }
    }
}

/// `s3://bucket/key` of a file planned by [`GlueTable::files_at`].
fn s3_url_of(file: &PartitionedFile) -> String {
    let location = &file.object_meta.location;
    let parts: Vec<String> = location
        .parts()
        .map(|p| crate::store::decode_part(p.as_ref()))
        .collect();
    format!("s3://{}", parts.join("/"))
}

/// Reads one planned file on its own; `Err` is why it cannot be read.
pub async fn read_alone(
    planned: &PlannedFile,
    task: Arc<datafusion::execution::TaskContext>,
) -> Result<()> {
    let config =
        FileScanConfigBuilder::new(ObjectStoreUrl::parse(STORE_URL)?, planned.source.clone())
            .with_file(planned.file.clone())
            .build();
    let plan: Arc<dyn ExecutionPlan> = DataSourceExec::from_data_source(config);
    datafusion::physical_plan::collect(plan, task)
        .await
        .map(|_| ())
}

#[async_trait]
impl TableProvider for GlueTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut files = Vec::new();
        for (values, location) in self.selected_partitions(filters)? {
            files.extend(self.files_at(&location, &values)?);
        }
        let source = self.file_source();
        if let Ok(mut log) = self.scan_log.lock() {
            log.extend(files.iter().map(|file| PlannedFile {
                url: s3_url_of(file),
                file: file.clone(),
                source: source.clone(),
            }));
        }
        if files.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => self.schema.clone(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let groups = state.config().target_partitions().max(1);
        let mut file_groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); groups.min(files.len())];
        let group_count = file_groups.len();
        for (i, file) in files.into_iter().enumerate() {
            file_groups[i % group_count].push(file);
        }
        let config = FileScanConfigBuilder::new(ObjectStoreUrl::parse(STORE_URL)?, source)
            .with_file_groups(file_groups.into_iter().map(FileGroup::new).collect())
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        let scan: Arc<dyn ExecutionPlan> = DataSourceExec::from_data_source(config);
        match self.format {
            FileFormat::Csv(_) => self.empty_strings_not_null(scan),
            FileFormat::Parquet => Ok(scan),
        }
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        let names = self.partition_names();
        Ok(filters
            .iter()
            .map(|f| {
                if !names.is_empty() && expr_applicable_for_cols(&names, f) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }
}
