//! In-memory SQS state, independent of any wire protocol: the queue registry, queues, messages,
//! receipt handles and the clock.

pub mod config;
pub mod journal;
pub mod message;
pub mod queue;
pub mod receipt;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use journal::Journal;
use queue::Queue;

/// Approximate in-flight limit of a standard queue (API_ReceiveMessage, "OverLimit").
pub const DEFAULT_IN_FLIGHT_LIMIT: usize = 120_000;
/// Long polls that may wait at once, over all queues. Each holds a connection and a task for
/// up to 20 s; without a bound, a client opening polls in a loop grows the process without
/// limit. AWS documents no such limit, so the bound is generous and going over it is no error.
pub const DEFAULT_LONG_POLL_LIMIT: usize = 10_000;

/// Milliseconds since the Unix epoch, for `SentTimestamp` and friends.
pub fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// Seconds since the Unix epoch, for `CreatedTimestamp`/`LastModifiedTimestamp`.
pub fn epoch_s() -> u64 {
    epoch_ms() / 1000
}

/// All queues of one account and region, by name.
#[derive(Debug)]
pub struct Registry {
    pub region: String,
    pub account_id: String,
    queues: RwLock<BTreeMap<String, Arc<Queue>>>,
    /// The data dir's log, in `--data-dir` mode.
    journal: Option<Journal>,
}

impl Registry {
    pub fn new(region: String, account_id: String) -> Self {
        Self {
            region,
            account_id,
            queues: RwLock::new(BTreeMap::new()),
            journal: None,
        }
    }

    /// The queues recorded in the data dir's `sqs/` directory `dir`, which records every
    /// change from now on (see [`journal`]).
    pub fn open(
        region: String,
        account_id: String,
        dir: &std::path::Path,
    ) -> std::io::Result<Self> {
        let (journal, states) = Journal::open(dir)?;
        let mut registry = Self::new(region, account_id);
        let queues = states
            .into_iter()
            .map(|(name, state)| {
                let arn = registry.arn(&name);
                (name.clone(), Arc::new(Queue::new(name, arn, state)))
            })
            .collect();
        registry.queues = RwLock::new(queues);
        registry.journal = Some(journal);
        Ok(registry)
    }

    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    pub fn arn(&self, name: &str) -> String {
        format!("arn:aws:sqs:{}:{}:{}", self.region, self.account_id, name)
    }

    /// The queue name an ARN of this account and region points at.
    pub fn name_from_arn<'a>(&self, arn: &'a str) -> Option<&'a str> {
        let rest = arn.strip_prefix("arn:")?;
        let mut parts = rest.splitn(5, ':');
        let (_partition, service, region, account, name) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        (service == "sqs" && region == self.region && account == self.account_id).then_some(name)
    }

    pub fn get(&self, name: &str) -> Option<Arc<Queue>> {
        self.read().get(name).cloned()
    }

    pub fn get_by_arn(&self, arn: &str) -> Option<Arc<Queue>> {
        self.name_from_arn(arn).and_then(|name| self.get(name))
    }

    /// Inserts `make()` under `name` unless a queue already has it; returns the queue there.
    pub fn get_or_insert(&self, name: &str, make: impl FnOnce() -> Queue) -> (Arc<Queue>, bool) {
        let mut queues = self.write();
        if let Some(queue) = queues.get(name) {
            return (queue.clone(), false);
        }
        let queue = Arc::new(make());
        {
            let mut state = queue.lock();
            state.journal = self.journal.clone();
            state.record_queue();
        }
        queues.insert(name.to_string(), queue.clone());
        (queue, true)
    }

    pub fn remove(&self, name: &str) -> Option<Arc<Queue>> {
        let removed = self.write().remove(name);
        if let (Some(journal), Some(_)) = (&self.journal, &removed) {
            journal.append(&journal::Record::QueueDeleted {
                name: name.to_owned(),
            });
        }
        removed
    }

    /// Snapshot of all queues in name order.
    pub fn all(&self) -> Vec<Arc<Queue>> {
        self.read().values().cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Queue>>> {
        self.queues.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Queue>>> {
        self.queues.write().unwrap_or_else(|p| p.into_inner())
    }
}
