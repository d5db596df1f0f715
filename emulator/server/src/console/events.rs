//! The console's typed events and the bus that numbers, keeps and broadcasts them.
//!
//! Every event gets the next id (1, 2, ...) and goes into a bounded ring buffer (oldest evicted
//! first) and to the live subscribers, in id order: ids are assigned and events sent under one
//! lock, so a subscriber never sees 7 before 6. A reconnecting client asks for everything after
//! its last id ([`EventBus::subscribe_after`]); when that id has already been evicted the answer
//! is [`Gone`] with the oldest id still held, so the client reloads state instead of silently
//! missing events (the SSE endpoint maps it to `410 Gone`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::broadcast;

/// One source object version: bucket, key and version (`<etag>:<sequencer>`; S3 orders events
/// of one key by sequencer).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FileRef {
    pub bucket: String,
    pub key: String,
    pub version: String,
}

impl FileRef {
    /// `bucket/key@version`: the journey's id in the API.
    pub fn id(&self) -> String {
        format!("{}/{}@{}", self.bucket, self.key, self.version)
    }
}

/// What happened. The serde tag is the SSE event name (`file.received`, ...).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum EventKind {
    /// A source object was stored and a notification announced it.
    #[serde(rename = "file.received")]
    FileReceived {
        file: FileRef,
        size: Option<i64>,
        /// The config's entity for the key, when it routes to one.
        entity: Option<String>,
    },
    /// A message announcing the file was sent to a queue.
    #[serde(rename = "file.queued")]
    FileQueued {
        file: FileRef,
        queue: String,
        message_id: String,
    },
    /// A receive delivered the file's message (`receive_count` counts this one).
    #[serde(rename = "file.processing")]
    FileProcessing {
        file: FileRef,
        queue: String,
        message_id: String,
        receive_count: u32,
    },
    /// The handler wrote the file's output.
    #[serde(rename = "file.processed")]
    FileProcessed {
        file: FileRef,
        request_id: String,
        entity: String,
        rows: u64,
        bytes: u64,
        output_key: Option<String>,
        partition: Option<String>,
        duration_ms: u64,
    },
    /// The handler skipped the file: `reason` is `duplicate`, `stale` or `superseded`.
    #[serde(rename = "file.skipped")]
    FileSkipped {
        file: FileRef,
        request_id: String,
        entity: String,
        reason: String,
    },
    /// A transient failure (handler said retry, or the invocation failed): the message returns.
    #[serde(rename = "file.retrying")]
    FileRetrying {
        file: FileRef,
        request_id: String,
        reason: String,
    },
    /// The file's message reached a dead-letter queue.
    #[serde(rename = "file.dead_lettered")]
    FileDeadLettered {
        file: FileRef,
        queue: String,
        message_id: String,
        error_reason: String,
    },
    /// A message move task took the file's message from a DLQ back to `queue`.
    #[serde(rename = "file.redriven")]
    FileRedriven {
        file: FileRef,
        from_queue: String,
        queue: String,
        message_id: String,
    },
    /// An execution environment finished its init (a cold start).
    #[serde(rename = "function.started")]
    FunctionStarted {
        function: String,
        instance: Option<u64>,
        init_ms: Option<f64>,
    },
    /// An invocation timed out, crashed or failed init: its environment was destroyed.
    #[serde(rename = "function.crashed")]
    FunctionCrashed {
        function: String,
        request_id: String,
        error_type: String,
    },
    /// An invocation ended.
    #[serde(rename = "invocation.finished")]
    InvocationFinished {
        function: String,
        request_id: String,
        duration_ms: f64,
        /// `ok`, `error`, `timeout` or `crash`.
        outcome: String,
        error_type: Option<String>,
        cold_start: bool,
        files: Vec<FileRef>,
    },
    /// CreatePartition/BatchCreatePartition added a partition.
    #[serde(rename = "partition.created")]
    PartitionCreated {
        database: String,
        table: String,
        values: Vec<String>,
        location: Option<String>,
    },
    /// An Athena query reached SUCCEEDED or FAILED.
    #[serde(rename = "query.finished")]
    QueryFinished {
        query_execution_id: String,
        state: String,
        query: String,
        duration_ms: u64,
        bytes_scanned: u64,
    },
}

impl EventKind {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::FileReceived { .. } => "file.received",
            EventKind::FileQueued { .. } => "file.queued",
            EventKind::FileProcessing { .. } => "file.processing",
            EventKind::FileProcessed { .. } => "file.processed",
            EventKind::FileSkipped { .. } => "file.skipped",
            EventKind::FileRetrying { .. } => "file.retrying",
            EventKind::FileDeadLettered { .. } => "file.dead_lettered",
            EventKind::FileRedriven { .. } => "file.redriven",
            EventKind::FunctionStarted { .. } => "function.started",
            EventKind::FunctionCrashed { .. } => "function.crashed",
            EventKind::InvocationFinished { .. } => "invocation.finished",
            EventKind::PartitionCreated { .. } => "partition.created",
            EventKind::QueryFinished { .. } => "query.finished",
        }
    }

    /// The file the event is about, for file events.
    pub fn file(&self) -> Option<&FileRef> {
        match self {
            EventKind::FileReceived { file, .. }
            | EventKind::FileQueued { file, .. }
            | EventKind::FileProcessing { file, .. }
            | EventKind::FileProcessed { file, .. }
            | EventKind::FileSkipped { file, .. }
            | EventKind::FileRetrying { file, .. }
            | EventKind::FileDeadLettered { file, .. }
            | EventKind::FileRedriven { file, .. } => Some(file),
            _ => None,
        }
    }
}

/// A numbered event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub id: u64,
    /// Epoch milliseconds.
    pub time_ms: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// A cursor older than the ring buffer: the events after it are partly gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Gone {
    pub last_event_id: u64,
    pub oldest_available_id: u64,
}

/// What a subscriber gets: the held events after its cursor, then the live ones.
pub type Resume = (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>);

/// The ring buffer, numbering and live fan-out. Callers hold it behind the console's lock.
pub struct EventBus {
    ring: VecDeque<Arc<Event>>,
    capacity: usize,
    next_id: u64,
    live: broadcast::Sender<Arc<Event>>,
}

/// Live events a slow subscriber may lag behind by before it is cut off (it then reconnects
/// with its last id and is replayed from the ring, or told 410).
const LIVE_BACKLOG: usize = 4096;

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        Self {
            ring: VecDeque::with_capacity(capacity.min(65_536)),
            capacity: capacity.max(1),
            next_id: 1,
            live: broadcast::channel(LIVE_BACKLOG).0,
        }
    }

    /// Numbers, keeps and broadcasts one event.
    pub fn publish(&mut self, kind: EventKind) -> Arc<Event> {
        let event = Arc::new(Event {
            id: self.next_id,
            time_ms: now_ms(),
            kind,
        });
        self.next_id += 1;
        if self.ring.len() == self.capacity {
            self.ring.pop_front();
        }
        self.ring.push_back(event.clone());
        // No subscriber is not an error.
        let _ = self.live.send(event.clone());
        event
    }

    /// The id of the newest event (0 before any).
    pub fn last_id(&self) -> u64 {
        self.next_id - 1
    }

    /// Every held event after `last_event_id`, in order, plus a live receiver whose events
    /// start right after them (subscribed under the same lock, so nothing falls in between).
    /// `None` means from now on (no replay).
    pub fn subscribe_after(&self, last_event_id: Option<u64>) -> Result<Resume, Gone> {
        let receiver = self.live.subscribe();
        let Some(after) = last_event_id else {
            return Ok((Vec::new(), receiver));
        };
        let oldest = self.ring.front().map_or(self.next_id, |e| e.id);
        // Events after..oldest were evicted (or the cursor is from the future: also reload).
        if after.saturating_add(1) < oldest || after > self.last_id() {
            return Err(Gone {
                last_event_id: after,
                oldest_available_id: oldest,
            });
        }
        let replay = self.ring.iter().filter(|e| e.id > after).cloned().collect();
        Ok((replay, receiver))
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(n: u64) -> EventKind {
        EventKind::FunctionStarted {
            function: format!("f{n}"),
            instance: Some(n),
            init_ms: None,
        }
    }

    #[test]
    fn ids_increase_and_replay_starts_after_the_cursor() {
        let mut bus = EventBus::new(10);
        for n in 0..5 {
            bus.publish(started(n));
        }
        let (replay, _) = bus.subscribe_after(Some(2)).unwrap();
        let ids: Vec<u64> = replay.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![3, 4, 5]);
        let (replay, _) = bus.subscribe_after(Some(5)).unwrap();
        assert!(replay.is_empty());
        let (replay, _) = bus.subscribe_after(None).unwrap();
        assert!(replay.is_empty());
    }

    #[test]
    fn an_evicted_cursor_is_gone_with_the_oldest_id() {
        let mut bus = EventBus::new(3);
        for n in 0..6 {
            bus.publish(started(n));
        }
        // Held: 4, 5, 6. After 3 is complete; after 2 misses 3.
        assert_eq!(bus.subscribe_after(Some(3)).unwrap().0.len(), 3);
        assert_eq!(
            bus.subscribe_after(Some(2)).unwrap_err(),
            Gone {
                last_event_id: 2,
                oldest_available_id: 4
            }
        );
        assert!(bus.subscribe_after(Some(99)).is_err());
        // Cursor 0 on a bus that evicted nothing is fine.
        let mut fresh = EventBus::new(3);
        fresh.publish(started(1));
        assert_eq!(fresh.subscribe_after(Some(0)).unwrap().0.len(), 1);
    }

    #[tokio::test]
    async fn live_events_follow_the_replay_without_gap() {
        let mut bus = EventBus::new(10);
        bus.publish(started(1));
        let (replay, mut live) = bus.subscribe_after(Some(0)).unwrap();
        bus.publish(started(2));
        assert_eq!(replay[0].id, 1);
        assert_eq!(live.recv().await.unwrap().id, 2);
    }
}
