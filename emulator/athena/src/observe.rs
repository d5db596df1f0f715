//! An optional observer of finished queries, for the emulator's console (live events). Set once
//! with [`crate::Athena::set_observer`]; called after the execution lock is released.

use std::sync::Arc;

/// A query that reached SUCCEEDED or FAILED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedQuery {
    pub query_execution_id: String,
    /// `SUCCEEDED` or `FAILED`.
    pub state: String,
    pub query: String,
    /// Submission to completion.
    pub total_ms: u64,
    pub bytes_scanned: u64,
}

/// Receives finished queries. Keep it short and never block.
pub trait QueryObserver: Send + Sync {
    fn query_finished(&self, query: &FinishedQuery);
}

impl crate::Athena {
    /// Sets the observer; `false` if one was already set (it stays).
    pub fn set_observer(&self, observer: Arc<dyn QueryObserver>) -> bool {
        self.inner.observer.set(observer).is_ok()
    }

    /// Tells the observer (if any) that execution `id` finished.
    pub(crate) fn report_finished(&self, id: &str) {
        let Some(observer) = self.inner.observer.get() else {
            return;
        };
        let finished = self.executions().get(id).map(|e| FinishedQuery {
            query_execution_id: e.id.clone(),
            state: e.state.as_str().to_owned(),
            query: e.parameters.query.clone(),
            total_ms: e.total_ms,
            bytes_scanned: e.bytes_scanned,
        });
        if let Some(finished) = finished {
            observer.query_finished(&finished);
        }
    }
}
