//! Durable SQS state for `serve --data-dir`: every change to a queue or message is a record in
//! the data dir's `sqs/log` (an `emulator_storage::Log`), appended under the queue's lock so
//! the log's order is the order the changes happened in.
//!
//! What is recorded: queues (configuration incl. redrive policy, tags), messages when they are
//! stored (body, attributes, delay, receive count), each receive (receive count, visibility
//! deadline, the receipt nonce, so handles issued before a restart still delete), visibility
//! changes, deletions, purges. Expiry by retention is not recorded: it follows from the
//! enqueue time. A message that moves between queues (redrive to the DLQ, a move task) is
//! recorded only in its destination: at replay a message id lives in the queue of its latest
//! record, so a crash in the middle of a move leaves the message in one of the two queues,
//! never in none.
//!
//! Times are kept as `tokio::time::Instant`s in memory and as epoch milliseconds on disk.
//!
//! The wire layer waits for [`Journal::sync`] before answering, so a 200 for SendMessage,
//! DeleteMessage or ChangeMessageVisibility (and their batches) is on disk; concurrent requests
//! share one fsync (group commit). At start the log is replayed and rewritten as a snapshot.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use emulator_storage::{Log, LogError};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::config::QueueConfig;
use super::message::{AttributeValue, StoredMessage};
use super::queue::QueueState;

/// The log file inside the data dir's `sqs/` directory.
pub const LOG_FILE: &str = "log";

/// The shared handle queues append through.
#[derive(Debug, Clone)]
pub struct Journal {
    log: Arc<Log>,
}

/// One change, as stored in the log.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t")]
pub(crate) enum Record {
    Queue {
        name: String,
        config: QueueConfig,
        tags: BTreeMap<String, String>,
        created_s: u64,
        modified_s: u64,
    },
    QueueDeleted {
        name: String,
    },
    Message {
        queue: String,
        message: MessageRecord,
    },
    Received {
        queue: String,
        id: String,
        receive_count: u32,
        visible_ms: u64,
        first_receive_ms: Option<u64>,
        nonce: Option<String>,
    },
    Visibility {
        queue: String,
        id: String,
        visible_ms: u64,
    },
    Removed {
        queue: String,
        id: String,
    },
    Purged {
        queue: String,
    },
}

/// A message with its instants as epoch milliseconds.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct MessageRecord {
    id: String,
    body: String,
    md5_of_body: String,
    attributes: BTreeMap<String, AttributeValue>,
    system_attributes: BTreeMap<String, AttributeValue>,
    sender_id: String,
    sent_ms: u64,
    enqueued_ms: u64,
    visible_ms: u64,
    receive_count: u32,
    first_receive_ms: Option<u64>,
    first_received_at_ms: Option<u64>,
    nonce: Option<String>,
    dead_letter_source_arn: Option<String>,
}

/// Maps instants to epoch milliseconds and back, around one reading of both clocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    instant: Instant,
    epoch_ms: u64,
}

impl Clock {
    pub fn now() -> Clock {
        Clock {
            instant: Instant::now(),
            epoch_ms: super::epoch_ms(),
        }
    }

    pub fn to_ms(self, at: Instant) -> u64 {
        if at >= self.instant {
            self.epoch_ms + (at - self.instant).as_millis() as u64
        } else {
            self.epoch_ms
                .saturating_sub((self.instant - at).as_millis() as u64)
        }
    }

    /// An instant before the process's monotonic clock began becomes "now" (only retention of
    /// a very old message is affected: it restarts).
    pub fn to_instant(self, ms: u64) -> Instant {
        if ms >= self.epoch_ms {
            self.instant + Duration::from_millis(ms - self.epoch_ms)
        } else {
            self.instant
                .checked_sub(Duration::from_millis(self.epoch_ms - ms))
                .unwrap_or(self.instant)
        }
    }
}

impl MessageRecord {
    pub fn of(m: &StoredMessage, clock: Clock) -> Self {
        MessageRecord {
            id: m.message_id.clone(),
            body: m.body.clone(),
            md5_of_body: m.md5_of_body.clone(),
            attributes: m.attributes.clone(),
            system_attributes: m.system_attributes.clone(),
            sender_id: m.sender_id.clone(),
            sent_ms: m.sent_epoch_ms,
            enqueued_ms: clock.to_ms(m.enqueued_at),
            visible_ms: clock.to_ms(m.visible_at),
            receive_count: m.receive_count,
            first_receive_ms: m.first_receive_epoch_ms,
            first_received_at_ms: m.first_received_at.map(|at| clock.to_ms(at)),
            nonce: m.receipt_nonce.clone(),
            dead_letter_source_arn: m.dead_letter_source_arn.clone(),
        }
    }

    fn into_message(self, clock: Clock) -> StoredMessage {
        StoredMessage {
            message_id: self.id,
            body: self.body,
            md5_of_body: self.md5_of_body,
            attributes: self.attributes,
            system_attributes: self.system_attributes,
            sender_id: self.sender_id,
            sent_epoch_ms: self.sent_ms,
            enqueued_at: clock.to_instant(self.enqueued_ms),
            visible_at: clock.to_instant(self.visible_ms),
            receive_count: self.receive_count,
            first_receive_epoch_ms: self.first_receive_ms,
            first_received_at: self.first_received_at_ms.map(|ms| clock.to_instant(ms)),
            receipt_nonce: self.nonce,
            dead_letter_source_arn: self.dead_letter_source_arn,
        }
    }
}

impl Journal {
    /// Replays `dir/log` into queue states, rewrites the log as a snapshot of them and opens
    /// it for appends. Each state comes back with this journal attached.
    pub fn open(dir: &Path) -> std::io::Result<(Journal, BTreeMap<String, QueueState>)> {
        let path = dir.join(LOG_FILE);
        let clock = Clock::now();
        let mut replay = Replay::default();
        for (n, bytes) in emulator_storage::log::replay(&path)?.iter().enumerate() {
            let record: Record = serde_json::from_slice(bytes).map_err(|e| {
                std::io::Error::other(format!(
                    "{}: record {n} is not an SQS record of this layout ({e}); the data dir \
                     is damaged (nothing was changed)",
                    path.display()
                ))
            })?;
            replay.apply(record, clock);
        }
        let snapshot: Vec<Vec<u8>> = replay
            .queues
            .values()
            .flat_map(|state| state.snapshot_records(clock))
            .filter_map(|record| serde_json::to_vec(&record).ok())
            .collect();
        let journal = Journal {
            log: Arc::new(Log::create(&path, snapshot)?),
        };
        let mut queues = replay.queues;
        for state in queues.values_mut() {
            state.journal = Some(journal.clone());
        }
        Ok((journal, queues))
    }

    pub(crate) fn append(&self, record: &Record) {
        match serde_json::to_vec(record) {
            Ok(bytes) => {
                self.log.append(&bytes);
            }
            Err(e) => tracing::error!(error = %e, "an SQS record could not be encoded"),
        }
    }

    /// Waits until every change recorded so far is on disk.
    pub async fn sync(&self) -> Result<(), LogError> {
        self.log.sync().await
    }
}

/// State rebuilt from records.
#[derive(Default)]
struct Replay {
    queues: BTreeMap<String, QueueState>,
    /// Which queue holds each message id.
    location: HashMap<String, String>,
}

impl Replay {
    fn apply(&mut self, record: Record, clock: Clock) {
        match record {
            Record::Queue {
                name,
                config,
                tags,
                created_s,
                modified_s,
            } => {
                let state = self.queues.entry(name.clone()).or_insert_with(|| {
                    QueueState::new(name, config.clone(), tags.clone(), created_s)
                });
                state.config = config;
                state.tags = tags;
                state.last_modified_epoch_s = modified_s;
            }
            Record::QueueDeleted { name } => {
                if let Some(state) = self.queues.remove(&name) {
                    for id in state.message_ids() {
                        self.location.remove(&id);
                    }
                }
            }
            Record::Message { queue, message } => {
                let id = message.id.clone();
                if let Some(previous) = self.location.get(&id).filter(|q| **q != queue) {
                    if let Some(state) = self.queues.get_mut(previous) {
                        state.replay_remove(&id);
                    }
                }
                if let Some(state) = self.queues.get_mut(&queue) {
                    state.replay_upsert(message.into_message(clock));
                    self.location.insert(id, queue);
                }
            }
            Record::Received {
                queue,
                id,
                receive_count,
                visible_ms,
                first_receive_ms,
                nonce,
            } => {
                if let Some(m) = self.message(&queue, &id) {
                    m.receive_count = receive_count;
                    m.visible_at = clock.to_instant(visible_ms);
                    m.first_receive_epoch_ms = first_receive_ms;
                    if m.first_received_at.is_none() {
                        m.first_received_at = first_receive_ms.map(|ms| clock.to_instant(ms));
                    }
                    m.receipt_nonce = nonce;
                }
            }
            Record::Visibility {
                queue,
                id,
                visible_ms,
            } => {
                if let Some(m) = self.message(&queue, &id) {
                    m.visible_at = clock.to_instant(visible_ms);
                }
            }
            Record::Removed { queue, id } => {
                if let Some(state) = self.queues.get_mut(&queue) {
                    state.replay_remove(&id);
                }
                if self.location.get(&id) == Some(&queue) {
                    self.location.remove(&id);
                }
            }
            Record::Purged { queue } => {
                if let Some(state) = self.queues.get_mut(&queue) {
                    for id in state.message_ids() {
                        self.location.remove(&id);
                    }
                    state.replay_purge();
                }
            }
        }
    }

    fn message(&mut self, queue: &str, id: &str) -> Option<&mut StoredMessage> {
        self.queues.get_mut(queue)?.replay_message_mut(id)
    }
}

#[cfg(test)]
mod tests {
    use super::super::queue::Queue;
    use super::super::{receipt, Registry};
    use super::*;

    fn message(id: &str) -> StoredMessage {
        let now = Instant::now();
        StoredMessage {
            message_id: id.to_owned(),
            body: format!("body of {id}"),
            md5_of_body: String::new(),
            attributes: BTreeMap::new(),
            system_attributes: BTreeMap::new(),
            sender_id: "s".into(),
            sent_epoch_ms: 1,
            enqueued_at: now,
            visible_at: now,
            receive_count: 0,
            first_receive_epoch_ms: None,
            first_received_at: None,
            receipt_nonce: None,
            dead_letter_source_arn: None,
        }
    }

    fn open(dir: &Path) -> Registry {
        Registry::open("us-east-1".into(), "000000000000".into(), dir).unwrap()
    }

    fn queue(registry: &Registry, name: &str) -> Arc<Queue> {
        let arn = registry.arn(name);
        registry
            .get_or_insert(name, || {
                Queue::new(
                    name.into(),
                    arn,
                    QueueState::new(name.into(), QueueConfig::default(), BTreeMap::new(), 0),
                )
            })
            .0
    }

    #[tokio::test]
    async fn replay_restores_messages_receives_deletes_and_moves() {
        let dir = tempfile::tempdir().unwrap();
        let registry = open(dir.path());
        let (main, dlq) = (queue(&registry, "main"), queue(&registry, "dlq"));
        let handle = {
            let mut state = main.lock();
            for id in ["a", "b", "c", "moved"] {
                state.insert(message(id));
            }
            let now = Instant::now();
            let batch = state
                .receive(
                    now,
                    super::super::epoch_ms(),
                    2,
                    Duration::from_secs(300),
                    None,
                    100,
                )
                .unwrap();
            assert_eq!(batch.delivered[0].message.message_id, "a");
            let b = receipt::decode(&batch.delivered[1].receipt_handle).unwrap();
            state.delete(&b);
            batch.delivered[0].receipt_handle.clone()
        };
        // A move: taken out of `main` unrecorded, recorded in `dlq` only.
        let moved = main.lock().take_visible(Instant::now(), 10);
        assert_eq!(moved.len(), 2);
        let (keep, go): (Vec<_>, Vec<_>) = moved.into_iter().partition(|m| m.message_id == "c");
        main.lock().restore(keep);
        for m in go {
            dlq.lock().insert(m);
        }
        registry.journal().unwrap().sync().await.unwrap();
        drop((main, dlq, registry));

        let registry = open(dir.path());
        let (main, dlq) = (registry.get("main").unwrap(), registry.get("dlq").unwrap());
        let later = Instant::now();
        assert_eq!(main.lock().counts(later).visible, 1, "c");
        assert_eq!(main.lock().counts(later).in_flight, 1, "a, still in flight");
        assert_eq!(dlq.lock().counts(later).visible, 1, "moved");
        // The handle issued before the restart deletes.
        main.lock().delete(&receipt::decode(&handle).unwrap());
        assert_eq!(main.lock().counts(later).in_flight, 0);
        registry.journal().unwrap().sync().await.unwrap();
        drop((main, dlq, registry));
        // The snapshot written at the second start replays too.
        let registry = open(dir.path());
        assert_eq!(registry.get("main").unwrap().lock().message_ids(), ["c"]);
        assert_eq!(registry.get("dlq").unwrap().lock().message_ids(), ["moved"]);
    }
}
