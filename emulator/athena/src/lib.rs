//! emulator-athena: Amazon Athena for the local emulator. Queries run for real, with Apache
//! DataFusion, over the tables of the emulator's Glue catalog and the objects in its S3 (read
//! in-process), behind Athena's awsJson1_1 wire protocol (`X-Amz-Target: AmazonAthena.<Op>`),
//! so the SDKs, boto3, the aws CLI, PyAthena and awswrangler work unmodified.
//!
//! [`statements`] classifies a query string, [`engine`] runs it (DataFusion for queries, the
//! Glue catalog for DDL and utility statements), [`state`] keeps the executions, [`results`]
//! renders results as Athena does, and [`protocol`] is the wire layer. With a data dir
//! ([`Athena::open`]) the query history is also kept in a log there (see `journal`) and survives
//! restarts.

pub mod catalog;
pub mod engine;
mod errors;
mod functions;
mod journal;
pub mod observe;
mod protocol;
pub mod requests;
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
use crate::journal::{Completed, Journal, Record, Started};
use crate::state::{CancelOutcome, Execution, Executions, StartParameters, TokenLookup};
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

/// The workgroups to serve, and how many executions to keep.
#[derive(Debug, Clone)]
pub struct AthenaConfig {
    pub workgroups: Vec<WorkGroup>,
    /// Executions kept (the oldest final one is evicted first); see [`state::DEFAULT_HISTORY_CAP`].
    pub history_cap: usize,
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
    /// The data dir's log, when the history is durable ([`Athena::open`]).
    journal: Option<Arc<Journal>>,
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

/// The statement a query string asks for; a syntax error is InvalidRequestException with
/// AthenaErrorCode MALFORMED_QUERY, as Athena refuses it at StartQueryExecution.
pub fn parse_statement(query: &str) -> Result<Statement, ApiError> {
    statements::parse(query).map_err(|message| ApiError::InvalidRequest {
        code: "MALFORMED_QUERY",
        message,
    })
}

fn with_slash(location: &str) -> String {
    if location.ends_with('/') {
        location.to_owned()
    } else {
        format!("{location}/")
    }
}

impl Athena {
    /// An Athena whose query history lives in memory.
    pub fn new(glue: Glue, s3: S3Emulator, config: AthenaConfig) -> Self {
        let executions = Executions::with_cap(config.history_cap);
        Self::with(glue, s3, config, executions, None)
    }

    /// An Athena whose query history is kept in `dir` (the data dir's `athena/`): what an
    /// earlier run recorded there is replayed, and every start and end is recorded from now on.
    pub fn open(
        glue: Glue,
        s3: S3Emulator,
        config: AthenaConfig,
        dir: &std::path::Path,
    ) -> std::io::Result<Self> {
        let (journal, executions) = Journal::open(dir, config.history_cap)?;
        Ok(Self::with(glue, s3, config, executions, Some(journal)))
    }

    fn with(
        glue: Glue,
        s3: S3Emulator,
        config: AthenaConfig,
        executions: Executions,
        journal: Option<Arc<Journal>>,
    ) -> Self {
        let mut workgroups = config.workgroups;
        for w in &mut workgroups {
            w.output_location = with_slash(&w.output_location);
        }
        Athena {
            inner: Arc::new(Inner {
                engine: Engine::new(catalog::Catalog::new(glue), s3),
                workgroups,
                created: SystemTime::now(),
                executions: Mutex::new(executions),
                journal,
                observer: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Waits until every change recorded so far is on disk (at once without a data dir): the
    /// wire layer calls it before answering, so nothing a client saw can be lost.
    pub async fn sync(&self) -> Result<(), ApiError> {
        let Some(journal) = &self.inner.journal else {
            return Ok(());
        };
        journal.sync().await.map_err(|e| {
            ApiError::Internal(format!("the query history could not be made durable: {e}"))
        })
    }

    /// Records `record` (with a data dir). Call it holding the executions' lock, right after
    /// the change, so the log's order is the order of effect.
    fn record(&self, record: impl FnOnce() -> Record) {
        if let Some(journal) = &self.inner.journal {
            journal.append(&record());
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
        let statement = parse_statement(&request.query)?;
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
        let execution = Execution::running(
            id.clone(),
            request.token.clone(),
            parameters,
            statement_type,
            (
                output_prefix.clone(),
                format!("{output_prefix}{id}.{extension}"),
            ),
            SystemTime::now(),
        );
        let scope = QueryScope {
            query_id: id.clone(),
            database: request
                .database
                .clone()
                .unwrap_or_else(|| "default".to_owned())
                .to_lowercase(),
            output_prefix,
        };
        {
            let mut executions = self.executions();
            let started = Started::of(&execution);
            executions.insert(execution);
            self.record(|| Record::Started(started));
        }
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
            athena.finish(&id, outcome, engine_ms);
            athena.report_finished(&id);
        });
    }

    /// Records the engine's outcome (unless the query was cancelled meanwhile).
    fn finish(&self, id: &str, outcome: Result<QueryOutput, QueryFailure>, engine_ms: u64) {
        let mut executions = self.executions();
        if let Some(completion) = executions.finish(id, outcome, engine_ms) {
            self.record(|| Record::Completed(Completed::of(id, &completion)));
        }
    }

    /// StopQueryExecution: cancels a query that has not finished; idempotent. `false` when
    /// there is no such execution.
    pub fn cancel(&self, id: &str) -> bool {
        let mut executions = self.executions();
        match executions.cancel(id) {
            CancelOutcome::NotFound => false,
            CancelOutcome::AlreadyFinal => true,
            CancelOutcome::Cancelled(completion) => {
                self.record(|| Record::Completed(Completed::of(id, &completion)));
                true
            }
        }
    }

    /// A SUCCEEDED execution's result: from memory, or read back from its result file in S3
    /// (then kept in memory among the most recently used).
    pub fn result_of(&self, id: &str) -> Result<Arc<results::ResultTable>, ApiError> {
        let (result, shape, location) = {
            let executions = self.executions();
            let e = executions
                .get(id)
                .ok_or_else(|| ApiError::invalid(format!("QueryExecution {id} was not found")))?;
            (e.result.clone(), e.shape.clone(), e.output_location.clone())
        };
        if let Some(result) = result {
            return Ok(result);
        }
        let shape = shape.ok_or_else(|| {
            ApiError::Internal(format!("QueryExecution {id} has no recorded result"))
        })?;
        let unreadable = |why: String| {
            ApiError::invalid(format!("Unable to read the query result {location}: {why}"))
        };
        let (bucket, key) =
            store::split_s3_url(&location).ok_or_else(|| unreadable("not an s3:// URL".into()))?;
        let object = self
            .inner
            .engine
            .s3()
            .object(bucket, key)
            .map_err(|e| unreadable(e.to_string()))?
            .ok_or_else(|| unreadable("NoSuchKey".into()))?;
        let bytes = object
            .body
            .read_all()
            .map_err(|e| unreadable(e.to_string()))?;
        let table = Arc::new(shape.read_back(&bytes).map_err(unreadable)?);
        self.executions().cache_result(id, table.clone());
        Ok(table)
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
