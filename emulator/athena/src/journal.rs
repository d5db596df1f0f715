//! Durable query history for `serve --data-dir`: a record log in the data dir's `athena/log`
//! (the storage crate's CRC-framed append log with group commit).
//!
//! Records are small JSON objects: one `Started` per StartQueryExecution (the parameters, the
//! token, the result location) and one `Completed` when it ends (SUCCEEDED, FAILED or CANCELLED,
//! with statistics, the failure and the result's shape). Result rows are not recorded: the
//! engine writes them to S3 (durable through the S3 data dir) and GetQueryResults reads them
//! back from there, as Athena does. The first record names the record format's version; a log
//! of another version, or a record that does not parse, is refused at start (nothing changed).
//!
//! Records are appended under the executions' lock, right after the change they describe, so
//! the log's order is the order of effect and replaying it through the same state code
//! ([`crate::state::Executions`]) rebuilds the same history. At start the log is rewritten as
//! a snapshot of what was kept (at most the history cap), so it does not grow across restarts.
//! An execution that was QUEUED or RUNNING when the process stopped has no task any more; replay
//! fails it (see [`restarted_failure`]).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use emulator_storage::{Log, LogError};
use serde::{Deserialize, Serialize};

use crate::engine::QueryFailure;
use crate::results::ResultShape;
use crate::state::{Completion, Execution, Executions, QueryState, StartParameters};
use crate::statements::StatementType;

const LOG_FILE: &str = "log";
/// The record format this binary reads and writes.
pub const RECORD_VERSION: u32 = 1;

/// One record of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record")]
pub(crate) enum Record {
    /// Always the first record.
    Format {
        version: u32,
    },
    Started(Started),
    Completed(Completed),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Started {
    id: String,
    token: Option<String>,
    query: String,
    database: Option<String>,
    catalog: String,
    workgroup: String,
    /// The OutputLocation the request gave (part of the token's idempotent parameters).
    requested_output: Option<String>,
    statement_type: String,
    output_prefix: String,
    output_location: String,
    submitted_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Completed {
    id: String,
    state: String,
    completed_ms: u64,
    engine_ms: u64,
    total_ms: u64,
    bytes_scanned: u64,
    manifest: Option<String>,
    failure: Option<FailureRecord>,
    shape: Option<ResultShape>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FailureRecord {
    category: u8,
    error_type: String,
    message: String,
}

fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn statement_type_of(name: &str) -> Option<StatementType> {
    [
        StatementType::Dml,
        StatementType::Ddl,
        StatementType::Utility,
    ]
    .into_iter()
    .find(|t| t.as_str() == name)
}

impl Started {
    pub fn of(e: &Execution) -> Self {
        Started {
            id: e.id.clone(),
            token: e.token.clone(),
            query: e.parameters.query.clone(),
            database: e.parameters.database.clone(),
            catalog: e.parameters.catalog.clone(),
            workgroup: e.parameters.workgroup.clone(),
            requested_output: e.parameters.output_location.clone(),
            statement_type: e.statement_type.as_str().to_owned(),
            output_prefix: e.output_prefix.clone(),
            output_location: e.output_location.clone(),
            submitted_ms: to_ms(e.submitted),
        }
    }

    fn execution(self) -> Result<Execution, String> {
        let statement_type = statement_type_of(&self.statement_type)
            .ok_or_else(|| format!("unknown statement type {:?}", self.statement_type))?;
        Ok(Execution::running(
            self.id,
            self.token,
            StartParameters {
                query: self.query,
                database: self.database,
                catalog: self.catalog,
                workgroup: self.workgroup,
                output_location: self.requested_output,
            },
            statement_type,
            (self.output_prefix, self.output_location),
            from_ms(self.submitted_ms),
        ))
    }
}

impl Completed {
    pub fn of(id: &str, c: &Completion) -> Self {
        Completed {
            id: id.to_owned(),
            state: c.state.as_str().to_owned(),
            completed_ms: to_ms(c.completed),
            engine_ms: c.engine_ms,
            total_ms: c.total_ms,
            bytes_scanned: c.bytes_scanned,
            manifest: c.manifest.clone(),
            failure: c.failure.as_ref().map(|f| FailureRecord {
                category: f.category,
                error_type: f.error_type.to_string(),
                message: f.message.clone(),
            }),
            shape: c.shape.clone(),
        }
    }

    fn completion(self) -> Result<(String, Completion), String> {
        let state = QueryState::parse(&self.state)
            .filter(|s| s.is_final())
            .ok_or_else(|| format!("{:?} is not a final query state", self.state))?;
        let completion = Completion {
            state,
            completed: from_ms(self.completed_ms),
            engine_ms: self.engine_ms,
            total_ms: self.total_ms,
            bytes_scanned: self.bytes_scanned,
            manifest: self.manifest,
            failure: self.failure.map(|f| QueryFailure {
                category: f.category,
                error_type: f.error_type.into(),
                message: f.message,
            }),
            shape: self.shape,
        };
        Ok((self.id, completion))
    }
}

/// Why an execution left QUEUED or RUNNING without finishing: the emulator stopped. A system
/// error that may succeed if resubmitted (AthenaError category 1 "SYSTEM", error type 100
/// "Internal service error", Retryable; https://docs.aws.amazon.com/athena/latest/ug/error-reference.html).
pub fn restarted_failure() -> QueryFailure {
    QueryFailure {
        category: 1,
        error_type: "INTERNAL_SERVICE_ERROR".into(),
        message: "The emulator restarted while the query was running; submit it again".into(),
    }
}

/// The open log of a `--data-dir` Athena.
pub(crate) struct Journal {
    log: Log,
}

impl Journal {
    /// Replays `dir/log` into executions kept under `cap`, fails the ones left unfinished, and
    /// rewrites the log as a snapshot of the result.
    pub fn open(dir: &Path, cap: usize) -> std::io::Result<(Arc<Journal>, Executions)> {
        let path = dir.join(LOG_FILE);
        let damaged = |n: usize, why: String| {
            std::io::Error::other(format!(
                "{}: record {n} is not an Athena record of this layout ({why}); the data dir is \
                 damaged or newer than this emulator (nothing was changed)",
                path.display()
            ))
        };
        let mut executions = Executions::with_cap(cap);
        for (n, bytes) in emulator_storage::log::replay(&path)?.iter().enumerate() {
            let record: Record =
                serde_json::from_slice(bytes).map_err(|e| damaged(n, e.to_string()))?;
            match (n, record) {
                (0, Record::Format { version }) if version == RECORD_VERSION => {}
                (0, Record::Format { version }) => {
                    return Err(damaged(
                        0,
                        format!(
                            "record format version {version}, this emulator reads {RECORD_VERSION}"
                        ),
                    ))
                }
                (0, _) => return Err(damaged(0, "the first record is not the format's".into())),
                (_, Record::Format { .. }) => {
                    return Err(damaged(n, "a second format record".into()))
                }
                (_, Record::Started(started)) => {
                    executions.insert(started.execution().map_err(|e| damaged(n, e))?)
                }
                (_, Record::Completed(completed)) => {
                    let (id, completion) = completed.completion().map_err(|e| damaged(n, e))?;
                    executions.complete(&id, completion);
                }
            }
        }
        fail_unfinished(&mut executions);
        let log = Log::create(&path, snapshot(&executions))?;
        Ok((Arc::new(Journal { log }), executions))
    }

    pub fn append(&self, record: &Record) {
        match serde_json::to_vec(record) {
            Ok(bytes) => {
                self.log.append(&bytes);
            }
            Err(e) => tracing::error!(error = %e, "an Athena record could not be encoded"),
        }
    }

    pub async fn sync(&self) -> Result<(), LogError> {
        self.log.sync().await
    }
}

/// QUEUED or RUNNING executions of an earlier process become FAILED ([`restarted_failure`]).
fn fail_unfinished(executions: &mut Executions) {
    let now = SystemTime::now();
    let unfinished: Vec<(String, SystemTime)> = executions
        .in_order()
        .filter(|e| !e.state.is_final())
        .map(|e| (e.id.clone(), e.submitted))
        .collect();
    for (id, submitted) in unfinished {
        let total_ms = now
            .duration_since(submitted)
            .map_or(0, |d| d.as_millis() as u64);
        executions.complete(
            &id,
            Completion {
                state: QueryState::Failed,
                completed: now,
                engine_ms: 0,
                total_ms,
                bytes_scanned: 0,
                manifest: None,
                failure: Some(restarted_failure()),
                shape: None,
            },
        );
    }
}

/// The records that rebuild `executions`: the format, then each execution's start and end.
fn snapshot(executions: &Executions) -> Vec<Vec<u8>> {
    let mut records = vec![Record::Format {
        version: RECORD_VERSION,
    }];
    for e in executions.in_order() {
        records.push(Record::Started(Started::of(e)));
        if let Some(completed) = completion_of(e) {
            records.push(Record::Completed(Completed::of(&e.id, &completed)));
        }
    }
    records
        .iter()
        .filter_map(|r| serde_json::to_vec(r).ok())
        .collect()
}

fn completion_of(e: &Execution) -> Option<Completion> {
    e.state.is_final().then(|| Completion {
        state: e.state,
        completed: e.completed.unwrap_or(e.submitted),
        engine_ms: e.engine_ms,
        total_ms: e.total_ms,
        bytes_scanned: e.bytes_scanned,
        manifest: e.manifest.clone(),
        failure: e.failure.clone(),
        shape: e.shape.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::execution;

    fn start(journal: &Journal, executions: &mut Executions, id: &str, token: Option<&str>) {
        let e = execution(id, token);
        let started = Started::of(&e);
        executions.insert(e);
        journal.append(&Record::Started(started));
    }

    #[tokio::test]
    async fn replay_restores_finished_executions_and_fails_unfinished_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, mut executions) = Journal::open(dir.path(), 100).unwrap();
        start(&journal, &mut executions, "done", Some(&"t".repeat(32)));
        let output = crate::engine::QueryOutput {
            result: crate::results::ResultTable::utility(&["v"], vec![vec!["x".into()]]),
            bytes_scanned: 42,
            manifest: None,
        };
        let completion = executions.finish("done", Ok(output), 5).unwrap();
        journal.append(&Record::Completed(Completed::of("done", &completion)));
        start(&journal, &mut executions, "cut-off", None);
        journal.sync().await.unwrap();
        let before = executions.get("done").unwrap().clone();
        drop(journal);

        let (_journal, executions) = Journal::open(dir.path(), 100).unwrap();
        let done = executions.get("done").unwrap();
        assert_eq!(done.state, QueryState::Succeeded);
        assert_eq!(done.bytes_scanned, 42);
        assert_eq!(done.shape, before.shape);
        assert_eq!(done.token, before.token);
        assert_eq!(done.parameters, before.parameters);
        assert_eq!(done.completed.map(to_ms), before.completed.map(to_ms));
        let cut = executions.get("cut-off").unwrap();
        assert_eq!(cut.state, QueryState::Failed);
        assert_eq!(cut.failure, Some(restarted_failure()));
        assert_eq!(executions.ids_in("primary"), ["cut-off", "done"]);
        // The rewritten snapshot replays to the same history.
        drop(_journal);
        let (_journal, again) = Journal::open(dir.path(), 100).unwrap();
        assert_eq!(
            again.get("cut-off").unwrap().failure,
            Some(restarted_failure())
        );
    }

    #[test]
    fn another_record_format_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let record = serde_json::to_vec(&Record::Format { version: 99 }).unwrap();
        drop(Log::create(&dir.path().join(LOG_FILE), vec![record]).unwrap());
        let before = std::fs::read(dir.path().join(LOG_FILE)).unwrap();
        let err = Journal::open(dir.path(), 100).err().expect("refused");
        assert!(err.to_string().contains("version 99"), "{err}");
        assert_eq!(std::fs::read(dir.path().join(LOG_FILE)).unwrap(), before);
    }
}
