//! emulator-athena: Amazon Athena for the local emulator. Queries run for real, with Apache
//! DataFusion, over the tables of the emulator's Glue catalog and the objects in its S3 (read
//! in-process), behind Athena's awsJson1_1 wire protocol (`X-Amz-Target: AmazonAthena.<Op>`),
//! so the SDKs, boto3, the aws CLI, PyAthena and awswrangler work unmodified.
//!
//! [`statements`] classifies a query string, [`engine`] runs it (DataFusion for queries, the
//! Glue catalog for DDL and utility statements), [`state`] keeps the executions, [`results`]
//! renders results as Athena does, and [`protocol`] is the wire layer.

pub mod catalog;
pub mod engine;
mod errors;
mod functions;
pub mod observe;
mod protocol;
pub mod results;
pub mod state;
pub mod statements;
pub mod store;
pub mod types;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use emulator_glue::Glue;
use emulator_s3::S3Emulator;

pub use errors::ApiError;
pub use observe::{FinishedQuery, QueryObserver};

use crate::engine::{Engine, QueryFailure, QueryOutput, QueryScope};
use crate::state::{Execution, Executions, QueryState, StartParameters, TokenLookup};
use crate::statements::{Statement, StatementType};

/// Athena's default DML query timeout is 30 minutes; a query running longer fails.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The engine version every workgroup reports (clients read EffectiveEngineVersion).
pub const ENGINE_VERSION: &str = "Athena engine version 3";

/// A workgroup: where its results go and whether clients may override that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkGroup {
    pub name: String,
    pub description: String,
    /// `s3://bucket/prefix/`.
    pub output_location: String,
    pub enforce_configuration: bool,
}

/// The workgroups to serve.
#[derive(Debug, Clone)]
pub struct AthenaConfig {
    pub workgroups: Vec<WorkGroup>,
}

/// The Athena service. Cheap to clone: every clone shares one set of executions.
#[derive(Clone)]
pub struct Athena {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    workgroups: Vec<WorkGroup>,
    created: SystemTime,
    executions: Mutex<Executions>,
    /// The console's observer (see [`observe`]), when one is set.
    observer: std::sync::OnceLock<Arc<dyn QueryObserver>>,
}

/// A StartQueryExecution request, parsed.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub query: String,
    pub token: Option<String>,
    pub database: Option<String>,
    pub catalog: Option<String>,
    pub workgroup: Option<String>,
    pub output_location: Option<String>,
}

fn with_slash(location: &str) -> String {
    if location.ends_with('/') {
        location.to_owned()
    } else {
        format!("{location}/")
    }
}

impl Athena {
    pub fn new(glue: Glue, s3: S3Emulator, config: AthenaConfig) -> Self {
        let mut workgroups = config.workgroups;
        for w in &mut workgroups {
            w.output_location = with_slash(&w.output_location);
        }
        Athena {
            inner: Arc::new(Inner {
                engine: Engine::new(catalog::Catalog::new(glue), s3),
                workgroups,
                created: SystemTime::now(),
                executions: Mutex::default(),
                observer: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Serves one awsJson1_1 request (`POST /`, `x-amz-target: AmazonAthena.<Op>`).
    pub async fn handle(
        &self,
        req: http::Request<bytes::Bytes>,
    ) -> http::Response<axum::body::Body> {
        protocol::handle(self, req).await
    }

    pub fn workgroups(&self) -> &[WorkGroup] {
        &self.inner.workgroups
    }

    pub fn workgroup(&self, name: &str) -> Result<&WorkGroup, ApiError> {
        self.inner
            .workgroups
            .iter()
            .find(|w| w.name == name)
            .ok_or_else(|| ApiError::invalid(format!("WorkGroup {name} is not found.")))
    }

    pub fn created(&self) -> SystemTime {
        self.inner.created
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn executions(&self) -> MutexGuard<'_, Executions> {
        self.inner
            .executions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// StartQueryExecution: checks the request and the query's syntax, records the execution
    /// and runs it on a task. Returns the QueryExecutionId.
    pub fn start_query(&self, request: StartRequest) -> Result<String, ApiError> {
        let workgroup = self
            .workgroup(request.workgroup.as_deref().unwrap_or("primary"))?
            .clone();
        let parameters = StartParameters {
            query: request.query.clone(),
            database: request.database.clone(),
            catalog: request
                .catalog
                .clone()
                .unwrap_or_else(|| "AwsDataCatalog".to_owned()),
            workgroup: workgroup.name.clone(),
            output_location: request.output_location.clone(),
        };
        if let Some(token) = &request.token {
            match self.executions().lookup_token(token, &parameters) {
                TokenLookup::Existing(id) => return Ok(id),
                TokenLookup::Mismatch => {
                    return Err(ApiError::InvalidRequest {
                        code: "IDEMPOTENT_PARAMETER_MISMATCH",
                        message: "Idempotent parameters do not match".into(),
                    })
                }
                TokenLookup::New => {}
            }
        }
        if !parameters.catalog.eq_ignore_ascii_case("awsdatacatalog") {
            return Err(ApiError::invalid(format!(
                "Catalog {} is not found; the local Athena serves AwsDataCatalog",
                parameters.catalog
            )));
        }
        let statement =
            statements::parse(&request.query).map_err(|message| ApiError::InvalidRequest {
                code: "MALFORMED_QUERY",
                message,
            })?;
        let output_prefix = match (&request.output_location, workgroup.enforce_configuration) {
            (Some(location), false) => with_slash(location),
            _ => workgroup.output_location.clone(),
        };
        let id = uuid::Uuid::new_v4().to_string();
        let statement_type = statement.statement_type();
        let extension = if statement_type == StatementType::Dml {
            "csv"
        } else {
            "txt"
        };
        let execution = Execution {
            id: id.clone(),
            parameters,
            statement_type,
            output_location: format!("{output_prefix}{id}.{extension}"),
            output_prefix: output_prefix.clone(),
            state: QueryState::Running,
            failure: None,
            submitted: SystemTime::now(),
            submitted_at: Instant::now(),
            completed: None,
            engine_ms: 0,
            total_ms: 0,
            bytes_scanned: 0,
            manifest: None,
            result: None,
            abort: None,
        };
        let scope = QueryScope {
            query_id: id.clone(),
            database: request
                .database
                .clone()
                .unwrap_or_else(|| "default".to_owned())
                .to_lowercase(),
            output_prefix,
        };
        self.executions().insert(execution, request.token.clone());
        self.spawn(statement, scope);
        Ok(id)
    }

    /// Runs the statement on its own task; a watcher records the outcome, so a panic in the
    /// engine fails the query instead of leaving it RUNNING.
    fn spawn(&self, statement: Statement, scope: QueryScope) {
        let engine = self.inner.engine.clone();
        let id = scope.query_id.clone();
        let run_scope = scope.clone();
        let task = tokio::spawn(async move { engine.run(&statement, &run_scope).await });
        let abort = task.abort_handle();
        if let Some(e) = self.executions().get_mut(&id) {
            e.abort = Some(abort.clone());
        }
        let athena = self.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let outcome = match tokio::time::timeout(QUERY_TIMEOUT, task).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(join)) if join.is_cancelled() => return,
                Ok(Err(join)) => Err(QueryFailure::system(format!(
                    "the query engine failed: {join}"
                ))),
                Err(_) => {
                    abort.abort();
                    Err(QueryFailure::user(
                        "EXCEEDED_TIME_LIMIT",
                        format!(
                            "Query exceeded the maximum execution time of {} minutes",
                            QUERY_TIMEOUT.as_secs() / 60
                        ),
                    ))
                }
            };
            let engine_ms = started.elapsed().as_millis() as u64;
            let outcome = outcome.and_then(|output| athena.write_result_file(&id, output));
            athena.executions().finish(&id, outcome, engine_ms);
            athena.report_finished(&id);
        });
    }

    /// Writes `<id>.csv` (queries) or `<id>.txt` (DDL, utility) where the execution says.
    fn write_result_file(
        &self,
        id: &str,
        output: QueryOutput,
    ) -> Result<QueryOutput, QueryFailure> {
        let Some((location, statement_type)) = self
            .executions()
            .get(id)
            .map(|e| (e.output_location.clone(), e.statement_type))
        else {
            return Ok(output);
        };
        let text = if statement_type == StatementType::Dml {
            output.result.to_csv()
        } else {
            output.result.to_text()
        };
        engine::write_text(&self.inner.engine, &location, text).map_err(|f| {
            QueryFailure::user(
                "GENERIC_USER_ERROR",
                format!(
                    "Unable to write the query result to {location}: {}",
                    f.message
                ),
            )
        })?;
        Ok(output)
    }
}
