//! In-memory SQS state, independent of any wire protocol: the queue registry, queues, messages,
//! receipt handles and the clock.

pub mod config;
pub mod message;
pub mod queue;
pub mod receipt;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

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
}

impl Registry {
    pub fn new(region: String, account_id: String) -> Self {
        Self {
            region,
            account_id,
            queues: RwLock::new(BTreeMap::new()),
        }
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
        queues.insert(name.to_string(), queue.clone());
        (queue, true)
    }

    pub fn remove(&self, name: &str) -> Option<Arc<Queue>> {
        self.write().remove(name)
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
