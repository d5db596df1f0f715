//! Query executions: their lifecycle (QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED),
//! statistics, results and idempotency tokens. Plain data behind one mutex held only for map
//! updates; the wire layer renders it.
//!
//! Every change is a domain value ([`Execution`] on start, [`Completion`] on finish, fail or
//! cancel) that the service also appends to the data dir's log (see `journal`); replaying them
//! in order through [`Executions::insert`] and [`Executions::complete`] rebuilds the same
//! history, evictions included, because both are deterministic given the history.
//!
//! Memory is bounded twice: at most `cap` executions are kept (the oldest final one is evicted
//! first; AWS keeps 45 days of history, a local emulator keeps a count), and the result tables
//! of only the [`RESULTS_IN_MEMORY`] most recently used executions stay in memory; the others
//! are read back from their result file in S3 when GetQueryResults asks, as Athena itself does.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::task::AbortHandle;

use crate::engine::QueryFailure;
use crate::results::{ResultShape, ResultTable};
use crate::statements::StatementType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl QueryState {
    pub fn as_str(self) -> &'static str {
        match self {
            QueryState::Queued => "QUEUED",
            QueryState::Running => "RUNNING",
            QueryState::Succeeded => "SUCCEEDED",
            QueryState::Failed => "FAILED",
            QueryState::Cancelled => "CANCELLED",
        }
    }

    /// The state named `name` (`SUCCEEDED`, ...), as [`QueryState::as_str`] writes it.
    pub fn parse(name: &str) -> Option<Self> {
        [
            QueryState::Queued,
            QueryState::Running,
            QueryState::Succeeded,
            QueryState::Failed,
            QueryState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            QueryState::Succeeded | QueryState::Failed | QueryState::Cancelled
        )
    }
}

/// The parameters that make a StartQueryExecution call; a reused ClientRequestToken must carry
/// the same ones (IDEMPOTENT_PARAMETER_MISMATCH otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartParameters {
    pub query: String,
    pub database: Option<String>,
    pub catalog: String,
    pub workgroup: String,
    pub output_location: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Execution {
    pub id: String,
    /// The ClientRequestToken that started it, if any.
    pub token: Option<String>,
    pub parameters: StartParameters,
    pub statement_type: StatementType,
    /// The result location prefix used (ends with `/`).
    pub output_prefix: String,
    /// `<prefix><id>.csv` or `.txt`.
    pub output_location: String,
    pub state: QueryState,
    pub failure: Option<QueryFailure>,
    pub submitted: SystemTime,
    pub submitted_at: Instant,
    pub completed: Option<SystemTime>,
    pub engine_ms: u64,
    pub total_ms: u64,
    pub bytes_scanned: u64,
    pub manifest: Option<String>,
    /// What reading the result file back needs (SUCCEEDED executions).
    pub shape: Option<ResultShape>,
    /// The result table, while it is among the most recently used (see the module doc).
    pub result: Option<Arc<ResultTable>>,
    pub abort: Option<AbortHandle>,
}

impl Execution {
    /// A RUNNING execution with nothing measured yet: one just started, or one replayed from
    /// the log before its end (if any) is applied.
    pub fn running(
        id: String,
        token: Option<String>,
        parameters: StartParameters,
        statement_type: StatementType,
        (output_prefix, output_location): (String, String),
        submitted: SystemTime,
    ) -> Execution {
        Execution {
            id,
            token,
            parameters,
            statement_type,
            output_prefix,
            output_location,
            state: QueryState::Running,
            failure: None,
            submitted,
            submitted_at: Instant::now(),
            completed: None,
            engine_ms: 0,
            total_ms: 0,
            bytes_scanned: 0,
            manifest: None,
            shape: None,
            result: None,
            abort: None,
        }
    }
}

pub fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as f64 / 1000.0)
        .unwrap_or(0.0)
}

/// Executions kept by default (`serve --athena-history-cap`).
pub const DEFAULT_HISTORY_CAP: usize = 10_000;
/// Result tables kept in memory; older ones are read back from S3 on demand.
pub const RESULTS_IN_MEMORY: usize = 64;

/// How an execution ended: SUCCEEDED, FAILED or CANCELLED, with its statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub state: QueryState,
    pub completed: SystemTime,
    pub engine_ms: u64,
    pub total_ms: u64,
    pub bytes_scanned: u64,
    pub manifest: Option<String>,
    pub failure: Option<QueryFailure>,
    pub shape: Option<ResultShape>,
}

/// Every execution kept, in submission order, and the tokens that created them.
pub struct Executions {
    by_id: HashMap<String, Execution>,
    order: VecDeque<String>,
    tokens: HashMap<String, String>,
    cap: usize,
    /// Ids whose result table is in memory, least recently used first.
    cached: VecDeque<String>,
}

impl Default for Executions {
    fn default() -> Self {
        Executions::with_cap(DEFAULT_HISTORY_CAP)
    }
}

/// What a StartQueryExecution with a token finds.
pub enum TokenLookup {
    New,
    Existing(String),
    Mismatch,
}

/// What StopQueryExecution found.
#[derive(Debug, PartialEq)]
pub enum CancelOutcome {
    NotFound,
    /// Already SUCCEEDED, FAILED or CANCELLED: nothing changes (StopQueryExecution is idempotent).
    AlreadyFinal,
    Cancelled(Completion),
}

impl Executions {
    /// Keeps at most `cap` executions (at least 1).
    pub fn with_cap(cap: usize) -> Self {
        Executions {
            by_id: HashMap::new(),
            order: VecDeque::new(),
            tokens: HashMap::new(),
            cap: cap.max(1),
            cached: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn lookup_token(&self, token: &str, parameters: &StartParameters) -> TokenLookup {
        match self.tokens.get(token).and_then(|id| self.by_id.get(id)) {
            None => TokenLookup::New,
            Some(e) if &e.parameters == parameters => TokenLookup::Existing(e.id.clone()),
            Some(_) => TokenLookup::Mismatch,
        }
    }

    /// Adds an execution, then evicts the oldest final ones beyond the cap (running ones are
    /// never evicted: their task still reports to them).
    pub fn insert(&mut self, execution: Execution) {
        if let Some(token) = &execution.token {
            self.tokens.insert(token.clone(), execution.id.clone());
        }
        self.order.push_back(execution.id.clone());
        self.by_id.insert(execution.id.clone(), execution);
        while self.by_id.len() > self.cap {
            let Some(at) = self
                .order
                .iter()
                .position(|id| self.by_id.get(id).is_none_or(|e| e.state.is_final()))
            else {
                break;
            };
            if let Some(id) = self.order.remove(at) {
                self.evict(&id);
            }
        }
    }

    fn evict(&mut self, id: &str) {
        if let Some(e) = self.by_id.remove(id) {
            if let Some(token) = &e.token {
                if self.tokens.get(token).is_some_and(|t| t == id) {
                    self.tokens.remove(token);
                }
            }
        }
        self.cached.retain(|c| c != id);
    }

    pub fn get(&self, id: &str) -> Option<&Execution> {
        self.by_id.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Execution> {
        self.by_id.get_mut(id)
    }

    /// Every execution, oldest first (the log's snapshot).
    pub fn in_order(&self) -> impl Iterator<Item = &Execution> {
        self.order.iter().filter_map(|id| self.by_id.get(id))
    }

    /// Ids of `workgroup`'s executions, newest first.
    pub fn ids_in(&self, workgroup: &str) -> Vec<String> {
        self.order
            .iter()
            .rev()
            .filter(|id| {
                self.by_id
                    .get(*id)
                    .is_some_and(|e| e.parameters.workgroup == workgroup)
            })
            .cloned()
            .collect()
    }

    /// Keeps `result` in memory as execution `id`'s, dropping the least recently used beyond
    /// [`RESULTS_IN_MEMORY`].
    pub fn cache_result(&mut self, id: &str, result: Arc<ResultTable>) {
        let Some(e) = self.by_id.get_mut(id) else {
            return;
        };
        e.result = Some(result);
        self.cached.retain(|c| c != id);
        self.cached.push_back(id.to_owned());
        while self.cached.len() > RESULTS_IN_MEMORY {
            if let Some(old) = self.cached.pop_front() {
                if let Some(e) = self.by_id.get_mut(&old) {
                    e.result = None;
                }
            }
        }
    }

    /// Ends a running execution with the engine's outcome (unless it was cancelled meanwhile);
    /// returns the completion to record.
    pub fn finish(
        &mut self,
        id: &str,
        outcome: Result<crate::engine::QueryOutput, QueryFailure>,
        engine_ms: u64,
    ) -> Option<Completion> {
        let e = self.by_id.get(id).filter(|e| !e.state.is_final())?;
        let mut completion = Completion {
            state: QueryState::Succeeded,
            completed: SystemTime::now(),
            engine_ms,
            total_ms: e.submitted_at.elapsed().as_millis() as u64,
            bytes_scanned: 0,
            manifest: None,
            failure: None,
            shape: None,
        };
        let result = match outcome {
            Ok(output) => {
                completion.bytes_scanned = output.bytes_scanned;
                completion.manifest = output.manifest;
                completion.shape = Some(output.result.shape());
                Some(Arc::new(output.result))
            }
            Err(failure) => {
                completion.state = QueryState::Failed;
                completion.failure = Some(failure);
                None
            }
        };
        self.complete(id, completion.clone());
        if let Some(result) = result {
            self.cache_result(id, result);
        }
        Some(completion)
    }

    /// StopQueryExecution: cancels a query that has not finished.
    pub fn cancel(&mut self, id: &str) -> CancelOutcome {
        let Some(e) = self.by_id.get_mut(id) else {
            return CancelOutcome::NotFound;
        };
        if e.state.is_final() {
            return CancelOutcome::AlreadyFinal;
        }
        if let Some(abort) = e.abort.take() {
            abort.abort();
        }
        let completion = Completion {
            state: QueryState::Cancelled,
            completed: SystemTime::now(),
            engine_ms: e.engine_ms,
            total_ms: e.submitted_at.elapsed().as_millis() as u64,
            bytes_scanned: 0,
            manifest: None,
            failure: Some(QueryFailure::user(
                "USER_CANCELLED",
                "Query cancelled by user",
            )),
            shape: None,
        };
        self.complete(id, completion.clone());
        CancelOutcome::Cancelled(completion)
    }

    /// Applies a completion to an execution that is not final yet (at run time and on replay);
    /// `false` when there is no such execution or it already ended.
    pub fn complete(&mut self, id: &str, completion: Completion) -> bool {
        let Some(e) = self.by_id.get_mut(id).filter(|e| !e.state.is_final()) else {
            return false;
        };
        e.state = completion.state;
        e.completed = Some(completion.completed);
        e.engine_ms = completion.engine_ms;
        e.total_ms = completion.total_ms;
        e.bytes_scanned = completion.bytes_scanned;
        e.manifest = completion.manifest;
        e.failure = completion.failure;
        e.shape = completion.shape;
        e.abort = None;
        true
    }
}

#[cfg(test)]
pub(crate) mod tests;
