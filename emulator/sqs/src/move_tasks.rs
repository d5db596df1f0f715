//! StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask: dead-letter queue redrive.
//!
//! A task moves the messages of a DLQ back to the queues they were dead-lettered from, or to
//! `DestinationArn`; only a queue that is some queue's dead-letter target may be the source, and
//! one task may run per source at a time
//! (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html).
//! Tasks run on a tokio task, at `MaxNumberOfMessagesPerSecond` when given (1..=500).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::errors::{ErrorCode, SqsError};
use crate::queues::source_queues_of;
use crate::request::StartMoveTask;
use crate::state::epoch_ms;
use crate::state::message::StoredMessage;
use crate::state::queue::{Queue, QueueDeleted};
use crate::Sqs;

/// Batch moved per step when no rate is given.
const UNLIMITED_STEP: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Running,
    Completed,
    Cancelling,
    Cancelled,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Cancelling => "CANCELLING",
            Self::Cancelled => "CANCELLED",
            Self::Failed => "FAILED",
        }
    }
}

#[derive(Debug)]
struct MoveTask {
    handle: String,
    source_arn: String,
    destination_arn: Option<String>,
    max_per_second: Option<u32>,
    started_epoch_ms: u64,
    to_move: u64,
    moved: AtomicU64,
    cancel_requested: AtomicBool,
    status: Mutex<(Status, Option<String>)>,
}

impl MoveTask {
    fn status(&self) -> (Status, Option<String>) {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn finish(&self, status: Status, reason: Option<String>) {
        *self.status.lock().unwrap_or_else(|p| p.into_inner()) = (status, reason);
    }

    fn to_json(&self) -> Value {
        let (status, reason) = self.status();
        let mut out = Map::new();
        if status == Status::Running {
            out.insert("TaskHandle".into(), json!(self.handle));
        }
        out.insert("Status".into(), json!(status.as_str()));
        out.insert("SourceArn".into(), json!(self.source_arn));
        if let Some(destination) = &self.destination_arn {
            out.insert("DestinationArn".into(), json!(destination));
        }
        if let Some(rate) = self.max_per_second {
            out.insert("MaxNumberOfMessagesPerSecond".into(), json!(rate));
        }
        out.insert(
            "ApproximateNumberOfMessagesMoved".into(),
            json!(self.moved.load(Ordering::Relaxed)),
        );
        out.insert(
            "ApproximateNumberOfMessagesToMove".into(),
            json!(self.to_move),
        );
        if let Some(reason) = reason {
            out.insert("FailureReason".into(), json!(reason));
        }
        out.insert("StartedTimestamp".into(), json!(self.started_epoch_ms));
        Value::Object(out)
    }
}

/// All move tasks of the service, oldest first.
#[derive(Debug, Default)]
pub struct MoveTasks {
    tasks: Mutex<Vec<Arc<MoveTask>>>,
}

impl MoveTasks {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<MoveTask>>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn not_found(parameter: &str) -> SqsError {
    SqsError::new(
        ErrorCode::ResourceNotFound,
        format!("The resource that you specified for the {parameter} parameter doesn't exist."),
    )
}

pub fn start_message_move_task(sqs: &Sqs, request: StartMoveTask) -> Result<Value, SqsError> {
    let StartMoveTask {
        source_arn,
        destination_arn,
        max_per_second,
    } = request;
    let source_arn = source_arn.as_str();
    let source = sqs
        .registry()
        .get_by_arn(source_arn)
        .ok_or_else(|| not_found("SourceArn"))?;
    if source_queues_of(sqs, source_arn).is_empty() {
        return Err(SqsError::invalid_parameter(
            "SourceArn",
            source_arn,
            "Source queue must be configured as a Dead Letter Queue.",
        ));
    }
    if let Some(arn) = &destination_arn {
        sqs.registry()
            .get_by_arn(arn)
            .ok_or_else(|| not_found("DestinationArn"))?;
    }

    let counts = source.lock().counts(Instant::now());
    let task = {
        let mut tasks = sqs.inner.move_tasks.lock();
        if tasks
            .iter()
            .any(|t| t.source_arn == source_arn && t.status().0 == Status::Running)
        {
            return Err(SqsError::new(
                ErrorCode::UnsupportedOperation,
                "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
            ));
        }
        let handle = STANDARD.encode(
            json!({"taskId": uuid::Uuid::new_v4().to_string(), "sourceArn": source_arn})
                .to_string(),
        );
        let task = Arc::new(MoveTask {
            handle,
            source_arn: source_arn.to_string(),
            destination_arn,
            max_per_second,
            started_epoch_ms: epoch_ms(),
            to_move: (counts.visible + counts.in_flight) as u64,
            moved: AtomicU64::new(0),
            cancel_requested: AtomicBool::new(false),
            status: Mutex::new((Status::Running, None)),
        });
        tasks.push(task.clone());
        task
    };
    tokio::spawn(run(sqs.clone(), source, task.clone()));
    Ok(json!({"TaskHandle": task.handle}))
}

async fn run(sqs: Sqs, source: Arc<Queue>, task: Arc<MoveTask>) {
    loop {
        if task.cancel_requested.load(Ordering::Relaxed) {
            task.finish(Status::Cancelled, None);
            return;
        }
        let moved = task.moved.load(Ordering::Relaxed);
        if moved >= task.to_move {
            task.finish(Status::Completed, None);
            return;
        }
        let step = task
            .max_per_second
            .map_or(UNLIMITED_STEP, |rate| rate as usize)
            .min((task.to_move - moved) as usize);
        let messages = match source.lock_live() {
            Ok(mut state) => state.take_visible(Instant::now(), step),
            Err(QueueDeleted) => {
                task.finish(Status::Failed, Some("Source queue was deleted.".into()));
                return;
            }
        };
        if messages.is_empty() {
            // What is left is in flight or gone; AWS counts are approximate too.
            task.finish(Status::Completed, None);
            return;
        }
        if let Err(reason) = move_messages(&sqs, &source, &task, messages) {
            task.finish(Status::Failed, Some(reason));
            return;
        }
        if task.max_per_second.is_some() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
}

/// Moves messages to their destination. A redriven message starts afresh (receive count 0, new
/// enqueue time): with its old count it would go straight back to the DLQ on its next receive.
fn move_messages(
    sqs: &Sqs,
    source: &Arc<Queue>,
    task: &MoveTask,
    messages: Vec<StoredMessage>,
) -> Result<(), String> {
    let mut pending = messages.into_iter();
    while let Some(mut message) = pending.next() {
        let target_arn = task
            .destination_arn
            .clone()
            .or_else(|| message.dead_letter_source_arn.clone());
        let target = target_arn
            .as_deref()
            .and_then(|arn| sqs.registry().get_by_arn(arn))
            .filter(|queue| queue.lock_live().is_ok());
        let Some(target) = target else {
            let reason = match target_arn {
                Some(arn) => format!("Destination queue {arn} does not exist."),
                None => "Message was not moved to the dead-letter queue by a redrive policy, so it has no source queue to return to.".to_string(),
            };
            let mut rest = vec![message];
            rest.extend(pending);
            source.lock().restore(rest);
            return Err(reason);
        };
        let now = Instant::now();
        message.receive_count = 0;
        message.first_receive_epoch_ms = None;
        message.first_received_at = None;
        message.receipt_nonce = None;
        message.visible_at = now;
        message.enqueued_at = now;
        message.dead_letter_source_arn = None;
        if sqs.observing() {
            sqs.observe(crate::observe::SqsEvent::Moved {
                source: &source.name,
                destination: &target.name,
                message_id: &message.message_id,
                body: &message.body,
            });
        }
        target.lock().restore(vec![message]);
        target.notify.notify_waiters();
        task.moved.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

pub fn list_message_move_tasks(sqs: &Sqs, source_arn: &str, max: usize) -> Result<Value, SqsError> {
    sqs.registry()
        .get_by_arn(source_arn)
        .ok_or_else(|| not_found("SourceArn"))?;
    let results: Vec<Value> = sqs
        .inner
        .move_tasks
        .lock()
        .iter()
        .rev()
        .filter(|t| t.source_arn == source_arn)
        .take(max)
        .map(|t| t.to_json())
        .collect();
    Ok(json!({"Results": results}))
}

pub fn cancel_message_move_task(sqs: &Sqs, handle: &str) -> Result<Value, SqsError> {
    let task = sqs
        .inner
        .move_tasks
        .lock()
        .iter()
        .find(|t| t.handle == handle)
        .cloned()
        .ok_or_else(|| not_found("TaskHandle"))?;
    {
        let mut status = task.status.lock().unwrap_or_else(|p| p.into_inner());
        if status.0 != Status::Running {
            return Err(SqsError::new(
                ErrorCode::UnsupportedOperation,
                "Only a task with status RUNNING can be cancelled.",
            ));
        }
        status.0 = Status::Cancelling;
    }
    task.cancel_requested.store(true, Ordering::Relaxed);
    Ok(json!({"ApproximateNumberOfMessagesMoved": task.moved.load(Ordering::Relaxed)}))
}
