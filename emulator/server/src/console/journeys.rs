//! File journeys: for every source object version, the events of its way through the pipeline
//! and the status they add up to.
//!
//! [`next_status`] is the whole state machine, a pure function of the current status and one
//! event; [`JourneyStore`] keeps the journeys, bounded by a cap with oldest-first eviction.
//! Events of one file can arrive slightly out of order (a long poll may receive a message
//! before the sender's `file.queued` is recorded), so a late `file.queued` never moves a
//! journey back.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde::Serialize;

use super::events::{Event, EventKind, FileRef};

/// Where a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Received,
    Queued,
    Processing,
    Retrying,
    Processed,
    Skipped,
    DeadLettered,
    Redriven,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Received,
        Status::Queued,
        Status::Processing,
        Status::Retrying,
        Status::Processed,
        Status::Skipped,
        Status::DeadLettered,
        Status::Redriven,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::Queued => "queued",
            Status::Processing => "processing",
            Status::Retrying => "retrying",
            Status::Processed => "processed",
            Status::Skipped => "skipped",
            Status::DeadLettered => "dead_lettered",
            Status::Redriven => "redriven",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the pipeline is done with the file (until someone redrives or re-sends it).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Processed | Status::Skipped | Status::DeadLettered
        )
    }
}

/// The status after `event`, given the status before it (`None` for a new journey).
pub fn next_status(current: Option<Status>, event: &EventKind) -> Option<Status> {
    let next = match event {
        EventKind::FileReceived { .. } => return current.or(Some(Status::Received)),
        // Queued only moves a file forward from received, or starts it over after the pipeline
        // was done with it (a re-sent or backfilled event); it never overrides a receive.
        EventKind::FileQueued { .. } => match current {
            None | Some(Status::Received) => Status::Queued,
            Some(s) if s.is_final() => Status::Queued,
            Some(s) => s,
        },
        EventKind::FileProcessing { .. } => Status::Processing,
        EventKind::FileProcessed { .. } => Status::Processed,
        EventKind::FileSkipped { .. } => Status::Skipped,
        EventKind::FileRetrying { .. } => match current {
            // A failed invocation after the handler already decided is no retry of the file.
            Some(s) if s.is_final() => s,
            _ => Status::Retrying,
        },
        EventKind::FileDeadLettered { .. } => Status::DeadLettered,
        EventKind::FileRedriven { .. } => Status::Redriven,
        _ => return current,
    };
    Some(next)
}

/// One file's journey.
#[derive(Debug, Clone, Serialize)]
pub struct Journey {
    pub id: String,
    pub file: FileRef,
    /// Creation order; the listing's page token.
    pub seq: u64,
    pub status: Status,
    pub entity: Option<String>,
    pub first_ms: u64,
    pub last_ms: u64,
    /// Receives of the file's messages so far.
    pub receives: u32,
    pub error_reason: Option<String>,
    pub output_key: Option<String>,
    pub partition: Option<String>,
    /// Request ids of the invocations that had this file, in order.
    pub invocations: Vec<String>,
    /// Its events, oldest first (at most [`MAX_STEPS`]; the first ones are kept).
    #[serde(skip)]
    pub steps: Vec<Arc<Event>>,
}

/// Steps kept per journey: a file retried for days must not grow without bound.
pub const MAX_STEPS: usize = 200;

impl Journey {
    fn new(file: FileRef, seq: u64, at: u64, status: Status) -> Self {
        Self {
            id: file.id(),
            file,
            seq,
            status,
            entity: None,
            first_ms: at,
            last_ms: at,
            receives: 0,
            error_reason: None,
            output_key: None,
            partition: None,
            invocations: Vec::new(),
            steps: Vec::new(),
        }
    }

    /// Applies one event of this file (the status by [`next_status`], then the details).
    pub fn apply(&mut self, event: &Arc<Event>) {
        if let Some(status) = next_status(Some(self.status), &event.kind) {
            self.status = status;
        }
        self.last_ms = event.time_ms;
        match &event.kind {
            EventKind::FileReceived {
                entity: Some(entity),
                ..
            } => self.entity = Some(entity.clone()),
            EventKind::FileProcessing { receive_count, .. } => {
                self.receives = self.receives.max(*receive_count);
            }
            EventKind::FileProcessed {
                entity,
                output_key,
                partition,
                request_id,
                ..
            } => {
                self.entity = Some(entity.clone());
                self.output_key = output_key.clone();
                self.partition = partition.clone();
                self.note_invocation(request_id);
            }
            EventKind::FileSkipped {
                entity, request_id, ..
            } => {
                self.entity = Some(entity.clone());
                self.note_invocation(request_id);
            }
            EventKind::FileRetrying { request_id, .. } => self.note_invocation(request_id),
            EventKind::FileDeadLettered { error_reason, .. } => {
                self.error_reason = Some(error_reason.clone());
            }
            EventKind::InvocationFinished { request_id, .. } => self.note_invocation(request_id),
            _ => {}
        }
        if self.steps.len() < MAX_STEPS {
            self.steps.push(event.clone());
        }
    }

    fn note_invocation(&mut self, request_id: &str) {
        if !request_id.is_empty() && !self.invocations.iter().any(|r| r == request_id) {
            self.invocations.push(request_id.to_owned());
        }
    }
}

/// Filters of the listing.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub status: Option<Status>,
    pub entity: Option<String>,
    /// Key prefix.
    pub prefix: Option<String>,
    pub bucket: Option<String>,
}

impl Filter {
    fn matches(&self, journey: &Journey) -> bool {
        self.status.is_none_or(|s| s == journey.status)
            && self
                .entity
                .as_deref()
                .is_none_or(|e| journey.entity.as_deref() == Some(e))
            && self
                .prefix
                .as_deref()
                .is_none_or(|p| journey.file.key.starts_with(p))
            && self
                .bucket
                .as_deref()
                .is_none_or(|b| journey.file.bucket == b)
    }
}

/// All journeys, at most `cap`; the oldest (by creation) is evicted first.
pub struct JourneyStore {
    cap: usize,
    next_seq: u64,
    by_id: HashMap<FileRef, Journey>,
    order: VecDeque<FileRef>,
    evicted: u64,
}

impl JourneyStore {
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            next_seq: 1,
            by_id: HashMap::new(),
            order: VecDeque::new(),
            evicted: 0,
        }
    }

    /// Applies a file event to its journey, creating the journey when the event starts one.
    pub fn apply(&mut self, event: &Arc<Event>) {
        let Some(file) = event.kind.file() else {
            return;
        };
        if !self.by_id.contains_key(file) {
            let Some(status) = next_status(None, &event.kind) else {
                return;
            };
            if self.order.len() >= self.cap {
                if let Some(oldest) = self.order.pop_front() {
                    self.by_id.remove(&oldest);
                    self.evicted += 1;
                }
            }
            let journey = Journey::new(file.clone(), self.next_seq, event.time_ms, status);
            self.next_seq += 1;
            self.order.push_back(file.clone());
            self.by_id.insert(file.clone(), journey);
        }
        if let Some(journey) = self.by_id.get_mut(file) {
            journey.apply(event);
        }
    }

    /// Applies an invocation's end to the journeys of the files it carried.
    pub fn apply_to(&mut self, files: &[FileRef], event: &Arc<Event>) {
        for file in files {
            if let Some(journey) = self.by_id.get_mut(file) {
                journey.apply(event);
            }
        }
    }

    pub fn get(&self, file: &FileRef) -> Option<&Journey> {
        self.by_id.get(file)
    }

    /// Every version of `bucket/key`, newest first.
    pub fn versions(&self, bucket: &str, key: &str) -> Vec<&Journey> {
        let mut found: Vec<&Journey> = self
            .by_id
            .values()
            .filter(|j| j.file.bucket == bucket && j.file.key == key)
            .collect();
        found.sort_by_key(|j| std::cmp::Reverse(j.seq));
        found
    }

    /// Newest first: up to `limit` journeys matching `filter` created before `before` (a page
    /// token: the `seq` of the last journey of the previous page), and the next token.
    pub fn list(
        &self,
        filter: &Filter,
        before: Option<u64>,
        limit: usize,
    ) -> (Vec<&Journey>, Option<u64>) {
        let mut page = Vec::new();
        for file in self.order.iter().rev() {
            let Some(journey) = self.by_id.get(file) else {
                continue;
            };
            if before.is_some_and(|b| journey.seq >= b) || !filter.matches(journey) {
                continue;
            }
            if page.len() == limit {
                let next = page.last().map(|j: &&Journey| j.seq);
                return (page, next);
            }
            page.push(journey);
        }
        (page, None)
    }

    /// Journeys per status.
    pub fn counts(&self) -> HashMap<Status, usize> {
        let mut counts = HashMap::new();
        for journey in self.by_id.values() {
            *counts.entry(journey.status).or_default() += 1;
        }
        counts
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn evicted(&self) -> u64 {
        self.evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(key: &str) -> FileRef {
        FileRef {
            bucket: "src".into(),
            key: key.into(),
            version: "etag:01".into(),
        }
    }

    fn queued(f: &FileRef) -> EventKind {
        EventKind::FileQueued {
            file: f.clone(),
            queue: "q".into(),
            message_id: "m1".into(),
        }
    }

    fn processing(f: &FileRef, n: u32) -> EventKind {
        EventKind::FileProcessing {
            file: f.clone(),
            queue: "q".into(),
            message_id: "m1".into(),
            receive_count: n,
        }
    }

    fn run(kinds: Vec<EventKind>) -> JourneyStore {
        let mut store = JourneyStore::new(10);
        for (i, kind) in kinds.into_iter().enumerate() {
            store.apply(&Arc::new(Event {
                id: i as u64 + 1,
                time_ms: i as u64,
                kind,
            }));
        }
        store
    }

    #[test]
    fn a_bad_file_retries_then_ends_dead_lettered_with_its_reason() {
        let f = file("a.csv");
        let store = run(vec![
            EventKind::FileReceived {
                file: f.clone(),
                size: Some(3),
                entity: Some("sales".into()),
            },
            queued(&f),
            processing(&f, 1),
            EventKind::FileRetrying {
                file: f.clone(),
                request_id: "r1".into(),
                reason: "timeout".into(),
            },
            processing(&f, 2),
            EventKind::FileDeadLettered {
                file: f.clone(),
                queue: "dlq".into(),
                message_id: "m2".into(),
                error_reason: "bad header".into(),
            },
        ]);
        let journey = store.get(&f).unwrap();
        assert_eq!(journey.status, Status::DeadLettered);
        assert_eq!(journey.receives, 2);
        assert_eq!(journey.error_reason.as_deref(), Some("bad header"));
        assert_eq!(journey.invocations, vec!["r1".to_string()]);
        assert_eq!(journey.steps.len(), 6);
        assert_eq!(journey.entity.as_deref(), Some("sales"));
    }

    #[test]
    fn a_late_queued_event_does_not_undo_a_receive_and_redrive_starts_over() {
        let f = file("b.csv");
        let mut status = next_status(None, &processing(&f, 1));
        status = next_status(status, &queued(&f));
        assert_eq!(status, Some(Status::Processing));
        let redriven = EventKind::FileRedriven {
            file: f.clone(),
            from_queue: "dlq".into(),
            queue: "q".into(),
            message_id: "m".into(),
        };
        assert_eq!(
            next_status(Some(Status::DeadLettered), &redriven),
            Some(Status::Redriven)
        );
        assert_eq!(
            next_status(Some(Status::Processed), &queued(&f)),
            Some(Status::Queued)
        );
        let retry = EventKind::FileRetrying {
            file: f.clone(),
            request_id: "r".into(),
            reason: "crash".into(),
        };
        assert_eq!(
            next_status(Some(Status::Skipped), &retry),
            Some(Status::Skipped)
        );
    }

    #[test]
    fn the_cap_evicts_the_oldest_and_pages_go_newest_first() {
        let mut store = JourneyStore::new(3);
        for (i, key) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            store.apply(&Arc::new(Event {
                id: i as u64,
                time_ms: 0,
                kind: queued(&file(key)),
            }));
        }
        assert_eq!(store.len(), 3);
        assert_eq!(store.evicted(), 2);
        assert!(store.get(&file("a")).is_none());
        let (page, next) = store.list(&Filter::default(), None, 2);
        let keys: Vec<&str> = page.iter().map(|j| j.file.key.as_str()).collect();
        assert_eq!(keys, vec!["e", "d"]);
        let (page, next) = store.list(&Filter::default(), next, 2);
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].file.key, "c");
        assert_eq!(next, None);
        let only_d = Filter {
            prefix: Some("d".into()),
            ..Filter::default()
        };
        assert_eq!(store.list(&only_d, None, 10).0.len(), 1);
    }
}
