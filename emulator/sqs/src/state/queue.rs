//! One queue: its configuration and message store, behind a short-lived lock.
//!
//! Every method here runs under the queue's `std::sync::Mutex` and never awaits; long polls wait
//! on the queue's `Notify` outside the lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::config::QueueConfig;
use super::journal::{Clock, Journal, MessageRecord, Record};
use super::message::StoredMessage;
use super::receipt;

/// A queue shared between requests.
#[derive(Debug)]
pub struct Queue {
    pub name: String,
    pub arn: String,
    /// Woken whenever a message may have become receivable (send, visibility change, deletion).
    pub notify: Notify,
    state: Mutex<QueueState>,
}

impl Queue {
    pub fn new(name: String, arn: String, state: QueueState) -> Self {
        Self {
            name,
            arn,
            notify: Notify::new(),
            state: Mutex::new(state),
        }
    }

    /// Locks the queue state. A poisoned lock is recovered: the state is plain data and every
    /// mutation leaves it consistent.
    pub fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Locks the state of a queue that has not been deleted meanwhile (a request holding the
    /// queue may race its DeleteQueue).
    pub fn lock_live(&self) -> Result<MutexGuard<'_, QueueState>, QueueDeleted> {
        let state = self.lock();
        if state.deleted {
            Err(QueueDeleted)
        } else {
            Ok(state)
        }
    }
}

/// The queue was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueDeleted;

/// Why ReceiveMessage got nothing: the queue holds its in-flight limit already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlightLimitReached {
    pub limit: usize,
}

/// Why a visibility change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisibilityRefused {
    /// No message has this receipt (deleted, or received again since).
    UnknownReceipt,
    NotInFlight,
    /// The change would keep the message invisible past 12 hours from its receive.
    BeyondLimit {
        requested_seconds: u64,
    },
}

/// Counts for the `ApproximateNumberOfMessages*` attributes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounts {
    pub visible: usize,
    pub in_flight: usize,
    pub delayed: usize,
}

/// A message handed to a consumer, with the receipt handle of this receive.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub message: StoredMessage,
    pub receipt_handle: String,
}

/// What one receive attempt produced.
#[derive(Debug, Default)]
pub struct ReceiveBatch {
    pub delivered: Vec<Delivered>,
    /// Messages over the redrive policy's maxReceiveCount, removed for the DLQ.
    pub dead_lettered: Vec<StoredMessage>,
    /// When the next invisible message turns visible (for long polls to wake).
    pub next_visible_at: Option<Instant>,
}

/// Mutable state of a queue.
#[derive(Debug)]
pub struct QueueState {
    /// The queue's name, written into receipt handles.
    pub queue_name: String,
    pub config: QueueConfig,
    pub tags: BTreeMap<String, String>,
    pub created_epoch_s: u64,
    pub last_modified_epoch_s: u64,
    pub last_purge: Option<Instant>,
    pub deleted: bool,
    messages: BTreeMap<u64, StoredMessage>,
    index: HashMap<String, u64>,
    next_seq: u64,
    /// The data dir's log, in `--data-dir` mode: every change below is recorded there.
    pub(crate) journal: Option<Journal>,
}

impl QueueState {
    pub fn new(
        queue_name: String,
        config: QueueConfig,
        tags: BTreeMap<String, String>,
        now_epoch_s: u64,
    ) -> Self {
        Self {
            queue_name,
            config,
            tags,
            created_epoch_s: now_epoch_s,
            last_modified_epoch_s: now_epoch_s,
            last_purge: None,
            deleted: false,
            messages: BTreeMap::new(),
            index: HashMap::new(),
            next_seq: 0,
            journal: None,
        }
    }

    fn record(&self, record: impl FnOnce() -> Record) {
        if let Some(journal) = &self.journal {
            journal.append(&record());
        }
    }

    /// Records the queue's configuration and tags (after creation or a change to either).
    pub fn record_queue(&self) {
        self.record(|| self.queue_record());
    }

    fn queue_record(&self) -> Record {
        Record::Queue {
            name: self.queue_name.clone(),
            config: self.config.clone(),
            tags: self.tags.clone(),
            created_s: self.created_epoch_s,
            modified_s: self.last_modified_epoch_s,
        }
    }

    /// Adds a message (arrival order is kept for best-effort ordering).
    pub fn insert(&mut self, message: StoredMessage) {
        self.record(|| Record::Message {
            queue: self.queue_name.clone(),
            message: MessageRecord::of(&message, Clock::now()),
        });
        let seq = self.next_seq;
        self.next_seq += 1;
        self.index.insert(message.message_id.clone(), seq);
        self.messages.insert(seq, message);
    }

    /// Takes a message out without recording it: it is moving to another queue, whose
    /// record of it supersedes this queue's (see `journal`).
    fn remove_seq(&mut self, seq: u64) -> Option<StoredMessage> {
        let message = self.messages.remove(&seq)?;
        self.index.remove(&message.message_id);
        Some(message)
    }

    /// Removes a message for good (deleted, expired), recording it.
    fn remove_seq_recorded(&mut self, seq: u64) -> Option<StoredMessage> {
        let message = self.remove_seq(seq)?;
        self.record(|| Record::Removed {
            queue: self.queue_name.clone(),
            id: message.message_id.clone(),
        });
        Some(message)
    }

    /// The records that recreate this queue and its messages (a snapshot).
    pub(crate) fn snapshot_records(&self, clock: Clock) -> Vec<Record> {
        let mut records = vec![self.queue_record()];
        records.extend(self.messages.values().map(|m| Record::Message {
            queue: self.queue_name.clone(),
            message: MessageRecord::of(m, clock),
        }));
        records
    }

    pub(crate) fn message_ids(&self) -> Vec<String> {
        self.index.keys().cloned().collect()
    }

    /// Replay: stores the message, in place when its id is already here.
    pub(crate) fn replay_upsert(&mut self, message: StoredMessage) {
        match self.index.get(&message.message_id) {
            Some(seq) => {
                self.messages.insert(*seq, message);
            }
            None => {
                let journal = self.journal.take();
                self.insert(message);
                self.journal = journal;
            }
        }
    }

    pub(crate) fn replay_remove(&mut self, id: &str) {
        if let Some(seq) = self.index.get(id).copied() {
            self.remove_seq(seq);
        }
    }

    pub(crate) fn replay_message_mut(&mut self, id: &str) -> Option<&mut StoredMessage> {
        let seq = self.index.get(id)?;
        self.messages.get_mut(seq)
    }

    pub(crate) fn replay_purge(&mut self) {
        self.messages.clear();
        self.index.clear();
    }

    /// Drops messages older than the retention period, measured from their first enqueue.
    pub fn expire(&mut self, now: Instant) {
        let retention = Duration::from_secs(u64::from(self.config.message_retention_period));
        let expired: Vec<u64> = self
            .messages
            .iter()
            .filter(|(_, m)| m.enqueued_at + retention <= now)
            .map(|(seq, _)| *seq)
            .collect();
        for seq in expired {
            self.remove_seq_recorded(seq);
        }
    }

    pub fn counts(&mut self, now: Instant) -> MessageCounts {
        self.expire(now);
        let mut counts = MessageCounts::default();
        for message in self.messages.values() {
            if message.is_visible(now) {
                counts.visible += 1;
            } else if message.is_delayed(now) {
                counts.delayed += 1;
            } else {
                counts.in_flight += 1;
            }
        }
        counts
    }

    /// Receives up to `max` visible messages, making each invisible for `visibility`.
    ///
    /// Redrive: a visible message whose receive count already reached `max_receive_count` is
    /// removed into `dead_lettered` instead of being delivered, i.e. it moves on the receive
    /// after its maxReceiveCount-th ("when the ReceiveCount for a message exceeds the
    /// maxReceiveCount", https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html).
    pub fn receive(
        &mut self,
        now: Instant,
        now_epoch_ms: u64,
        max: usize,
        visibility: Duration,
        max_receive_count: Option<u32>,
        in_flight_limit: usize,
    ) -> Result<ReceiveBatch, InFlightLimitReached> {
        self.expire(now);
        let in_flight = self
            .messages
            .values()
            .filter(|m| m.is_in_flight(now))
            .count();
        // "there can be a maximum of approximately 120,000 in flight messages ... If you reach
        // this limit, Amazon SQS returns the OverLimit error" (API_ReceiveMessage).
        if in_flight >= in_flight_limit {
            return Err(InFlightLimitReached {
                limit: in_flight_limit,
            });
        }
        let budget = max.min(in_flight_limit - in_flight);
        let mut batch = ReceiveBatch::default();
        let mut to_dead_letter = Vec::new();
        for (seq, message) in self.messages.iter_mut() {
            if batch.delivered.len() >= budget {
                break;
            }
            if !message.is_visible(now) {
                batch.next_visible_at = Some(match batch.next_visible_at {
                    Some(at) => at.min(message.visible_at),
                    None => message.visible_at,
                });
                continue;
            }
            if max_receive_count.is_some_and(|limit| message.receive_count >= limit) {
                to_dead_letter.push(*seq);
                continue;
            }
            message.receive_count += 1;
            message.first_receive_epoch_ms.get_or_insert(now_epoch_ms);
            message.first_received_at.get_or_insert(now);
            message.visible_at = now + visibility;
            let nonce = uuid::Uuid::new_v4().simple().to_string();
            let receipt_handle = receipt::encode(&self.queue_name, &message.message_id, &nonce);
            message.receipt_nonce = Some(nonce);
            if let Some(journal) = &self.journal {
                journal.append(&Record::Received {
                    queue: self.queue_name.clone(),
                    id: message.message_id.clone(),
                    receive_count: message.receive_count,
                    visible_ms: now_epoch_ms + visibility.as_millis() as u64,
                    first_receive_ms: message.first_receive_epoch_ms,
                    nonce: message.receipt_nonce.clone(),
                });
            }
            batch.delivered.push(Delivered {
                message: message.clone(),
                receipt_handle,
            });
        }
        for seq in to_dead_letter {
            if let Some(message) = self.remove_seq(seq) {
                batch.dead_lettered.push(message);
            }
        }
        Ok(batch)
    }

    /// DeleteMessage: the most recent handle deletes; an older handle of the same message (or a
    /// handle of a message already gone) succeeds without effect, as the API reference says.
    pub fn delete(&mut self, receipt: &receipt::Receipt) {
        let Some(&seq) = self.index.get(&receipt.message_id) else {
            return;
        };
        let current = self
            .messages
            .get(&seq)
            .is_some_and(|m| m.receipt_nonce.as_deref() == Some(receipt.nonce.as_str()));
        if current {
            self.remove_seq_recorded(seq);
        }
    }

    /// ChangeMessageVisibility: the timeout counts from now; 0 makes the message visible at once.
    pub fn change_visibility(
        &mut self,
        receipt: &receipt::Receipt,
        timeout: Duration,
        now: Instant,
    ) -> Result<(), VisibilityRefused> {
        let message = self
            .index
            .get(&receipt.message_id)
            .and_then(|seq| self.messages.get_mut(seq))
            .filter(|m| m.receipt_nonce.as_deref() == Some(receipt.nonce.as_str()))
            .ok_or(VisibilityRefused::UnknownReceipt)?;
        if !message.is_in_flight(now) {
            return Err(VisibilityRefused::NotInFlight);
        }
        // The total visibility of one receive may not pass 12 hours from that receive
        // (API_ChangeMessageVisibility: "greater than the maximum time left ... returns an error").
        let received_at = message.first_received_at.unwrap_or(now);
        let limit = Duration::from_secs(u64::from(super::config::MAX_VISIBILITY_TIMEOUT));
        if now + timeout > received_at + limit {
            return Err(VisibilityRefused::BeyondLimit {
                requested_seconds: timeout.as_secs(),
            });
        }
        message.visible_at = now + timeout;
        let clock = Clock::now();
        self.record(|| Record::Visibility {
            queue: self.queue_name.clone(),
            id: receipt.message_id.clone(),
            visible_ms: clock.to_ms(now + timeout),
        });
        Ok(())
    }

    pub fn purge(&mut self) {
        self.messages.clear();
        self.index.clear();
        self.record(|| Record::Purged {
            queue: self.queue_name.clone(),
        });
    }

    /// Removes up to `max` visible messages (message move tasks take them out of a DLQ).
    pub fn take_visible(&mut self, now: Instant, max: usize) -> Vec<StoredMessage> {
        self.expire(now);
        let seqs: Vec<u64> = self
            .messages
            .iter()
            .filter(|(_, m)| m.is_visible(now))
            .take(max)
            .map(|(seq, _)| *seq)
            .collect();
        seqs.into_iter()
            .filter_map(|seq| self.remove_seq(seq))
            .collect()
    }

    /// Puts messages back (a move that could not be completed), in front of newer ones.
    pub fn restore(&mut self, messages: Vec<StoredMessage>) {
        for message in messages {
            self.insert(message);
        }
    }
}

/// For the console's queue metrics (`crate::observe`).
impl QueueState {
    /// SentTimestamp of the oldest message held (any state), as epoch milliseconds.
    pub fn oldest_sent_epoch_ms(&self) -> Option<u64> {
        self.messages.values().map(|m| m.sent_epoch_ms).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, now: Instant) -> StoredMessage {
        StoredMessage {
            message_id: id.to_string(),
            body: "b".into(),
            md5_of_body: String::new(),
            attributes: BTreeMap::new(),
            system_attributes: BTreeMap::new(),
            sender_id: "s".into(),
            sent_epoch_ms: 0,
            enqueued_at: now,
            visible_at: now,
            receive_count: 0,
            first_receive_epoch_ms: None,
            first_received_at: None,
            receipt_nonce: None,
            dead_letter_source_arn: None,
        }
    }

    fn queue_state() -> QueueState {
        QueueState::new("q".into(), QueueConfig::default(), BTreeMap::new(), 0)
    }

    #[test]
    fn retention_expires_messages_from_enqueue_time() {
        let mut state = queue_state();
        state.config.message_retention_period = 60;
        let now = Instant::now();
        state.insert(message("old", now));
        state.insert(message("new", now + Duration::from_secs(30)));
        let later = now + Duration::from_secs(61);
        let counts = state.counts(later);
        assert_eq!(counts.visible, 1);
        let batch = state
            .receive(later, 0, 10, Duration::from_secs(30), None, 10)
            .unwrap();
        assert_eq!(batch.delivered.len(), 1);
        assert_eq!(batch.delivered[0].message.message_id, "new");
    }

    #[test]
    fn redrive_happens_on_the_receive_after_max_receive_count() {
        let mut state = queue_state();
        let mut now = Instant::now();
        state.insert(message("m", now));
        for expected in 1..=2 {
            let batch = state
                .receive(now, 0, 1, Duration::ZERO, Some(2), 100)
                .unwrap();
            assert_eq!(batch.delivered[0].message.receive_count, expected);
            now += Duration::from_millis(1);
        }
        let batch = state
            .receive(now, 0, 1, Duration::ZERO, Some(2), 100)
            .unwrap();
        assert!(batch.delivered.is_empty());
        assert_eq!(batch.dead_lettered.len(), 1);
        assert_eq!(state.counts(now), MessageCounts::default());
    }

    #[test]
    fn stale_handle_does_not_delete() {
        let mut state = queue_state();
        let now = Instant::now();
        state.insert(message("m", now));
        let first = state.receive(now, 0, 1, Duration::ZERO, None, 100).unwrap();
        let second = state.receive(now, 0, 1, Duration::ZERO, None, 100).unwrap();
        let decode = |d: &Delivered| receipt::decode(&d.receipt_handle).unwrap();
        state.delete(&decode(&first.delivered[0]));
        assert_eq!(state.counts(now).visible, 1);
        state.delete(&decode(&second.delivered[0]));
        assert_eq!(state.counts(now).visible, 0);
    }
}
