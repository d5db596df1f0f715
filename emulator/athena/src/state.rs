//! Query executions: their lifecycle (QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED),
//! statistics, results and idempotency tokens. Plain data behind one mutex held only for map
//! updates; the wire layer renders it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::task::AbortHandle;

use crate::engine::QueryFailure;
use crate::results::ResultTable;
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
    pub result: Option<Arc<ResultTable>>,
    pub abort: Option<AbortHandle>,
}

pub fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as f64 / 1000.0)
        .unwrap_or(0.0)
}

/// Every execution, in submission order, and the tokens that created them.
#[derive(Default)]
pub struct Executions {
    by_id: HashMap<String, Execution>,
    order: Vec<String>,
    tokens: HashMap<String, String>,
}

/// What a StartQueryExecution with a token finds.
pub enum TokenLookup {
    New,
    Existing(String),
    Mismatch,
}

impl Executions {
    pub fn lookup_token(&self, token: &str, parameters: &StartParameters) -> TokenLookup {
        match self.tokens.get(token).and_then(|id| self.by_id.get(id)) {
            None => TokenLookup::New,
            Some(e) if &e.parameters == parameters => TokenLookup::Existing(e.id.clone()),
            Some(_) => TokenLookup::Mismatch,
        }
    }

    pub fn insert(&mut self, execution: Execution, token: Option<String>) {
        if let Some(token) = token {
            self.tokens.insert(token, execution.id.clone());
        }
        self.order.push(execution.id.clone());
        self.by_id.insert(execution.id.clone(), execution);
    }

    pub fn get(&self, id: &str) -> Option<&Execution> {
        self.by_id.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Execution> {
        self.by_id.get_mut(id)
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

    /// Marks a running execution finished (unless it was cancelled meanwhile).
    pub fn finish(
        &mut self,
        id: &str,
        outcome: Result<crate::engine::QueryOutput, QueryFailure>,
        engine_ms: u64,
    ) {
        let Some(e) = self.by_id.get_mut(id) else {
            return;
        };
        if e.state.is_final() {
            return;
        }
        e.completed = Some(SystemTime::now());
        e.engine_ms = engine_ms;
        e.total_ms = e.submitted_at.elapsed().as_millis() as u64;
        e.abort = None;
        match outcome {
            Ok(output) => {
                e.state = QueryState::Succeeded;
                e.bytes_scanned = output.bytes_scanned;
                e.manifest = output.manifest;
                e.result = Some(Arc::new(output.result));
            }
            Err(failure) => {
                e.state = QueryState::Failed;
                e.failure = Some(failure);
            }
        }
    }

    /// StopQueryExecution: cancels a query that has not finished; idempotent.
    pub fn cancel(&mut self, id: &str) -> bool {
        let Some(e) = self.by_id.get_mut(id) else {
            return false;
        };
        if !e.state.is_final() {
            if let Some(abort) = e.abort.take() {
                abort.abort();
            }
            e.state = QueryState::Cancelled;
            e.completed = Some(SystemTime::now());
            e.total_ms = e.submitted_at.elapsed().as_millis() as u64;
            e.failure = Some(QueryFailure::user(
                "USER_CANCELLED",
                "Query cancelled by user",
            ));
        }
        true
    }
}
