//! An optional observer of message movements, for the emulator's console (journeys, live events,
//! metrics). One observer per service, set once; with none set the hooks cost one atomic load.
//!
//! Events are emitted after the state change, with no queue lock held, so an observer may call
//! back into the service (e.g. [`Sqs::queue_depths`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::time::Instant;

use crate::state::epoch_ms;
use crate::{MessageAttributeValue, Sqs};

/// One movement of one message.
#[derive(Debug)]
pub enum SqsEvent<'a> {
    /// SendMessage, a batch entry, or an in-process send (S3 notifications).
    Sent {
        queue: &'a str,
        message_id: &'a str,
        body: &'a str,
        attributes: &'a BTreeMap<String, MessageAttributeValue>,
    },
    /// Delivered by a receive; `receive_count` includes this receive.
    Received {
        queue: &'a str,
        message_id: &'a str,
        body: &'a str,
        receive_count: u32,
    },
    /// Moved to the dead-letter queue by the source queue's redrive policy.
    DeadLettered {
        queue: &'a str,
        dead_letter_queue: &'a str,
        message_id: &'a str,
        body: &'a str,
        receive_count: u32,
    },
    /// Moved by a message move task (StartMessageMoveTask, i.e. a DLQ redrive).
    Moved {
        source: &'a str,
        destination: &'a str,
        message_id: &'a str,
        body: &'a str,
    },
}

/// Receives [`SqsEvent`]s. Called on the request's task: keep it short and never block.
pub trait SqsObserver: Send + Sync {
    fn observe(&self, event: SqsEvent<'_>);
}

/// A queue's message counts now (GetQueueAttributes' Approximate* numbers, plus the age of
/// the oldest message, which AWS publishes as the CloudWatch metric ApproximateAgeOfOldestMessage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    pub queue: String,
    pub visible: usize,
    pub in_flight: usize,
    pub delayed: usize,
    pub oldest_age_seconds: u64,
    /// Whether another queue's redrive policy names this one as its dead-letter queue.
    pub is_dead_letter_queue: bool,
}

impl Sqs {
    /// Sets the observer; `false` if one was already set (it stays).
    pub fn set_observer(&self, observer: Arc<dyn SqsObserver>) -> bool {
        self.inner.observer.set(observer).is_ok()
    }

    pub(crate) fn observing(&self) -> bool {
        self.inner.observer.get().is_some()
    }

    pub(crate) fn observe(&self, event: SqsEvent<'_>) {
        if let Some(observer) = self.inner.observer.get() {
            observer.observe(event);
        }
    }

    /// Every queue's counts, in name order.
    pub fn queue_depths(&self) -> Vec<QueueDepth> {
        let queues = self.registry().all();
        let dead_letter_arns: Vec<String> = queues
            .iter()
            .filter_map(|q| {
                let state = q.lock();
                state
                    .config
                    .redrive_policy
                    .as_ref()
                    .map(|p| p.dead_letter_target_arn.clone())
            })
            .collect();
        let (now, now_ms) = (Instant::now(), epoch_ms());
        let mut depths: Vec<QueueDepth> = queues
            .iter()
            .filter_map(|queue| {
                let mut state = queue.lock();
                if state.deleted {
                    return None;
                }
                let counts = state.counts(now);
                let oldest = state.oldest_sent_epoch_ms();
                Some(QueueDepth {
                    queue: queue.name.clone(),
                    visible: counts.visible,
                    in_flight: counts.in_flight,
                    delayed: counts.delayed,
                    oldest_age_seconds: oldest.map_or(0, |sent| now_ms.saturating_sub(sent) / 1000),
                    is_dead_letter_queue: dead_letter_arns.contains(&queue.arn),
                })
            })
            .collect();
        depths.sort_by(|a, b| a.queue.cmp(&b.queue));
        depths
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    /// Records each event as `kind queue message_id detail`.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl SqsObserver for Recorder {
        fn observe(&self, event: SqsEvent<'_>) {
            let line = match event {
                SqsEvent::Sent { queue, body, .. } => format!("sent {queue} {body}"),
                SqsEvent::Received {
                    queue,
                    receive_count,
                    ..
                } => format!("received {queue} {receive_count}"),
                SqsEvent::DeadLettered {
                    queue,
                    dead_letter_queue,
                    receive_count,
                    ..
                } => format!("dead-lettered {queue}->{dead_letter_queue} {receive_count}"),
                SqsEvent::Moved {
                    source,
                    destination,
                    ..
                } => format!("moved {source}->{destination}"),
            };
            self.0.lock().unwrap().push(line);
        }
    }

    #[tokio::test]
    async fn the_observer_sees_send_receives_and_the_redrive_policy_move() {
        let sqs = Sqs::new("us-east-1", "000000000000");
        let recorder = Arc::new(Recorder::default());
        assert!(sqs.set_observer(recorder.clone()));
        assert!(!sqs.set_observer(Arc::new(Recorder::default())), "set once");
        sqs.create_queue("work-dlq", &HashMap::new()).unwrap();
        let policy = format!(
            r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":1}}"#,
            sqs.queue_arn("work-dlq")
        );
        sqs.create_queue(
            "work",
            &HashMap::from([("RedrivePolicy".to_string(), policy)]),
        )
        .unwrap();
        sqs.send_to_arn(&sqs.queue_arn("work"), "body".into())
            .unwrap();
        let first = sqs.receive("work", 1, Duration::ZERO, None).await.unwrap();
        sqs.change_visibility("work", &first[0].receipt_handle, 0)
            .unwrap();
        assert!(sqs
            .receive("work", 1, Duration::ZERO, None)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            *recorder.0.lock().unwrap(),
            vec![
                "sent work body",
                "received work 1",
                "dead-lettered work->work-dlq 1"
            ]
        );
        let depths = sqs.queue_depths();
        let dlq = depths.iter().find(|d| d.queue == "work-dlq").unwrap();
        assert!(dlq.is_dead_letter_queue);
        assert_eq!((dlq.visible, dlq.in_flight, dlq.delayed), (1, 0, 0));
        let work = depths.iter().find(|d| d.queue == "work").unwrap();
        assert!(!work.is_dead_letter_queue);
        assert_eq!(work.visible + work.in_flight, 0);
    }
}
