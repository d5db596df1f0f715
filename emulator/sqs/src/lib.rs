//! emulator-sqs: Amazon SQS standard queues for the local emulator.
//!
//! [`Sqs::handle`] serves both wire protocols (awsJson1_0 with `x-amz-target: AmazonSQS.<Op>`,
//! and the query protocol with `Action=<Op>` forms and XML replies). The in-process methods
//! ([`Sqs::create_queue`], [`Sqs::send_to_arn`], [`Sqs::receive`], [`Sqs::delete`],
//! [`Sqs::change_visibility`], ...) share the same state, so S3 notifications, the bootstrap and
//! the Lambda event source mapping see exactly what SDK clients see.
//!
//! Layout: `state/` holds queues and messages (no wire format); `json_protocol`/`query_protocol`
//! decode requests into one input shape and encode results; `request` parses that shape into a
//! typed request per operation before any state is touched; one file per operation family.

mod attributes;
mod batch;
pub mod errors;
mod input;
mod json_protocol;
pub mod md5;
mod messages;
mod move_tasks;
pub mod observe;
mod query_protocol;
mod queues;
mod request;
mod state;
mod validation;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{header, Request, Response};
use serde_json::Value;

pub use errors::{ErrorCode, SqsError};
pub use observe::{QueueDepth, SqsEvent, SqsObserver};
pub use state::message::AttributeValue as MessageAttributeValue;

use request::SqsRequest;
use state::queue::Queue;
use state::Registry;

/// A message received in-process (the fields a Lambda SQS event record is built from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub md5_of_body: String,
    /// System attributes: `ApproximateReceiveCount`, `SentTimestamp`, `SenderId`,
    /// `ApproximateFirstReceiveTimestamp` (and `AWSTraceHeader` when the sender set one).
    pub attributes: BTreeMap<String, String>,
    pub message_attributes: BTreeMap<String, MessageAttributeValue>,
}

/// The SQS service of one account and region. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Sqs {
    inner: Arc<SqsInner>,
}

pub(crate) struct SqsInner {
    pub(crate) registry: Registry,
    pub(crate) in_flight_limit: AtomicUsize,
    /// Long polls waiting now, and how many may wait at once (see [`messages::LongPollSlot`]).
    pub(crate) long_polls: AtomicUsize,
    pub(crate) long_poll_limit: AtomicUsize,
    pub(crate) move_tasks: move_tasks::MoveTasks,
    /// The console's observer (see [`observe`]), when one is set.
    pub(crate) observer: std::sync::OnceLock<Arc<dyn SqsObserver>>,
}

impl std::fmt::Debug for Sqs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqs")
            .field("region", &self.inner.registry.region)
            .field("account_id", &self.inner.registry.account_id)
            .finish_non_exhaustive()
    }
}

/// Per-request context: who is calling and which host name queue URLs use.
pub(crate) struct Ctx {
    pub host: String,
    pub sender_id: String,
}

impl Sqs {
    pub fn new(region: impl Into<String>, account_id: impl Into<String>) -> Self {
        Self::with_registry(Registry::new(region.into(), account_id.into()))
    }

    /// SQS whose queues and messages live in `dir` (the data dir's `sqs/`): what an earlier
    /// run recorded there is replayed, and every change is recorded (see `state::journal`).
    pub fn open(
        region: impl Into<String>,
        account_id: impl Into<String>,
        dir: &std::path::Path,
    ) -> std::io::Result<Self> {
        Ok(Self::with_registry(Registry::open(
            region.into(),
            account_id.into(),
            dir,
        )?))
    }

    fn with_registry(registry: Registry) -> Self {
        Self {
            inner: Arc::new(SqsInner {
                registry,
                in_flight_limit: AtomicUsize::new(state::DEFAULT_IN_FLIGHT_LIMIT),
                long_polls: AtomicUsize::new(0),
                long_poll_limit: AtomicUsize::new(state::DEFAULT_LONG_POLL_LIMIT),
                move_tasks: move_tasks::MoveTasks::default(),
                observer: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Overrides how many long polls may wait at once (default
    /// [`state::DEFAULT_LONG_POLL_LIMIT`]); more are answered as short polls.
    pub fn set_long_poll_limit(&self, limit: usize) {
        self.inner.long_poll_limit.store(limit, Ordering::Relaxed);
    }

    /// Overrides the in-flight limit per queue (default 120,000, as AWS), e.g. to exercise
    /// `OverLimit` in tests without receiving 120,000 messages.
    pub fn set_in_flight_limit(&self, limit: usize) {
        self.inner
            .in_flight_limit
            .store(limit.max(1), Ordering::Relaxed);
    }

    /// Serves one HTTP request of either SQS protocol.
    pub async fn handle(&self, req: Request<Bytes>) -> Response<Body> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let ctx = Ctx {
            host: req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost:4566")
                .to_string(),
            sender_id: sender_id(&req, &self.inner.registry.account_id),
        };
        let target = req
            .headers()
            .get("x-amz-target")
            .and_then(|h| h.to_str().ok())
            .map(str::to_string);
        if let Some(target) = target {
            let op = target
                .strip_prefix("AmazonSQS.")
                .unwrap_or(&target)
                .to_string();
            let result = match json_protocol::parse_input(req.body()) {
                Ok(mut input) => {
                    default_queue_url(&mut input, req.uri().path(), &ctx.host);
                    self.dispatch(&ctx, &op, &input).await
                }
                Err(err) => Err(err),
            };
            return json_protocol::response(&request_id, result);
        }
        let (action, mut input) = query_protocol::parse_request(req.uri().query(), req.body());
        let Some(action) = action else {
            let err = SqsError::new(
                ErrorCode::MissingParameter,
                "The request must contain the parameter Action.",
            );
            return query_protocol::response("Unknown", &request_id, Err(err));
        };
        default_queue_url(&mut input, req.uri().path(), &ctx.host);
        let result = self.dispatch(&ctx, &action, &input).await;
        query_protocol::response(&action, &request_id, result)
    }

    async fn dispatch(&self, ctx: &Ctx, op: &str, input: &Value) -> Result<Value, SqsError> {
        let request = SqsRequest::parse(op, input)?;
        let result = self.execute(ctx, request).await;
        // Whatever the request changed is on disk before it is answered (group commit).
        self.durable().await?;
        result
    }

    /// Waits until every change made so far is on disk (`--data-dir` mode; at once otherwise).
    /// S3 waits on this before acknowledging a write whose event it sent here.
    pub async fn durable(&self) -> Result<(), SqsError> {
        let Some(journal) = self.registry().journal() else {
            return Ok(());
        };
        journal.sync().await.map_err(|e| {
            tracing::error!(error = %e, "SQS changes could not be made durable");
            SqsError::new(
                ErrorCode::InternalError,
                "The data dir could not record the change; it may not survive a restart.",
            )
        })
    }

    async fn execute(&self, ctx: &Ctx, request: SqsRequest) -> Result<Value, SqsError> {
        match request {
            SqsRequest::CreateQueue(r) => queues::create_queue(self, ctx, r),
            SqsRequest::GetQueueUrl { queue_name } => queues::get_queue_url(self, ctx, &queue_name),
            SqsRequest::ListQueues(r) => Ok(queues::list_queues(self, ctx, r)),
            SqsRequest::DeleteQueue { queue } => queues::delete_queue(self, &queue),
            SqsRequest::PurgeQueue { queue } => queues::purge_queue(self, &queue),
            SqsRequest::TagQueue { queue, tags } => queues::tag_queue(self, &queue, tags),
            SqsRequest::UntagQueue { queue, keys } => queues::untag_queue(self, &queue, &keys),
            SqsRequest::ListQueueTags { queue } => queues::list_queue_tags(self, &queue),
            SqsRequest::ListDeadLetterSourceQueues { queue } => {
                queues::list_dead_letter_source_queues(self, ctx, &queue)
            }
            SqsRequest::GetQueueAttributes { queue, names } => {
                attributes::get_queue_attributes(self, &queue, &names)
            }
            SqsRequest::SetQueueAttributes { queue, attributes } => {
                attributes::set_queue_attributes(self, &queue, &attributes)
            }
            SqsRequest::SendMessage { queue, message } => {
                messages::send_message(self, ctx, &queue, message)
            }
            SqsRequest::ReceiveMessage(r) => messages::receive_message(self, r).await,
            SqsRequest::DeleteMessage {
                queue,
                receipt_handle,
            } => messages::delete_message(self, &queue, &receipt_handle),
            SqsRequest::ChangeMessageVisibility(r) => messages::change_message_visibility(self, r),
            SqsRequest::SendMessageBatch(r) => batch::send_message_batch(self, ctx, r),
            SqsRequest::DeleteMessageBatch(r) => batch::delete_message_batch(self, r),
            SqsRequest::ChangeMessageVisibilityBatch(r) => {
                batch::change_message_visibility_batch(self, r)
            }
            SqsRequest::StartMessageMoveTask(r) => move_tasks::start_message_move_task(self, r),
            SqsRequest::ListMessageMoveTasks { source_arn, max } => {
                move_tasks::list_message_move_tasks(self, &source_arn, max)
            }
            SqsRequest::CancelMessageMoveTask { task_handle } => {
                move_tasks::cancel_message_move_task(self, &task_handle)
            }
        }
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub(crate) fn in_flight_limit(&self) -> usize {
        self.inner.in_flight_limit.load(Ordering::Relaxed)
    }

    pub(crate) fn queue_url(&self, host: &str, name: &str) -> String {
        format!("http://{host}{}", self.queue_path(name))
    }

    fn queue_path(&self, name: &str) -> String {
        format!("/{}/{}", self.inner.registry.account_id, name)
    }

    pub(crate) fn existing_queue(&self, name: &str) -> Result<Arc<Queue>, SqsError> {
        self.registry()
            .get(name)
            .ok_or_else(SqsError::queue_does_not_exist)
    }

    // ----- in-process API -------------------------------------------------------------------

    /// Creates a standard queue, or returns the existing one when every given attribute matches
    /// its current value (AWS's idempotent CreateQueue); otherwise `QueueNameExists`.
    /// Returns the queue URL path `/<account>/<name>`.
    pub fn create_queue(
        &self,
        name: &str,
        attributes: &HashMap<String, String>,
    ) -> Result<String, SqsError> {
        let attributes: BTreeMap<String, String> = attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        queues::create_queue_core(self, name, &attributes, &BTreeMap::new())?;
        Ok(self.queue_path(name))
    }

    /// `arn:aws:sqs:<region>:<account>:<name>`.
    pub fn queue_arn(&self, name: &str) -> String {
        self.registry().arn(name)
    }

    pub fn queue_exists_arn(&self, arn: &str) -> bool {
        self.registry().get_by_arn(arn).is_some()
    }

    /// Sends a plain message (no attributes) to the queue with this ARN; returns its MessageId.
    /// The queue's DelaySeconds and MaximumMessageSize apply as for SendMessage.
    pub fn send_to_arn(&self, arn: &str, body: String) -> Result<String, SqsError> {
        let queue = self
            .registry()
            .get_by_arn(arn)
            .ok_or_else(SqsError::queue_does_not_exist)?;
        let message = messages::NewMessage {
            body,
            attributes: BTreeMap::new(),
            system_attributes: BTreeMap::new(),
            delay_seconds: None,
        };
        let sender = self.registry().account_id.clone();
        Ok(messages::enqueue_observed(self, &queue, message, &sender)?.message_id)
    }

    /// Receives up to `max` (1..=10) messages, long-polling up to `wait` (at most 20 s) for the
    /// first to arrive. `visibility` overrides the queue's VisibilityTimeout for these messages.
    /// Each receive increments ApproximateReceiveCount and issues a new receipt handle; messages
    /// past the redrive policy's maxReceiveCount move to the dead-letter queue instead.
    pub async fn receive(
        &self,
        name: &str,
        max: usize,
        wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>, SqsError> {
        let queue = self.existing_queue(name)?;
        let max = max.clamp(1, 10);
        let wait = wait.min(Duration::from_secs(u64::from(
            state::config::MAX_WAIT_TIME_SECONDS,
        )));
        let delivered = messages::receive_core(self, &queue, max, wait, visibility).await?;
        Ok(delivered
            .into_iter()
            .map(|d| ReceivedMessage {
                attributes: messages::system_attributes(&d.message, &["All".to_string()]),
                message_id: d.message.message_id,
                receipt_handle: d.receipt_handle,
                body: d.message.body,
                md5_of_body: d.message.md5_of_body,
                message_attributes: d.message.attributes,
            })
            .collect())
    }

    /// Deletes a received message (same rules as DeleteMessage: a malformed handle is
    /// `ReceiptHandleIsInvalid`; a stale handle succeeds without deleting).
    pub fn delete(&self, name: &str, receipt_handle: &str) -> Result<(), SqsError> {
        let queue = self.existing_queue(name)?;
        messages::delete_core(&queue, receipt_handle)
    }

    /// Changes the visibility timeout of a received message (0 makes it visible at once).
    pub fn change_visibility(
        &self,
        name: &str,
        receipt_handle: &str,
        secs: u32,
    ) -> Result<(), SqsError> {
        let queue = self.existing_queue(name)?;
        messages::change_visibility_core(&queue, receipt_handle, i64::from(secs))
    }
}

/// The wire response of `error` for a request of either protocol (`json`: awsJson1_0, else
/// the query protocol's XML for `action`): what the server answers for SQS requests it refuses
/// before they reach [`Sqs::handle`] (an injected fault, a body over the size limit).
pub fn wire_error(json: bool, action: &str, error: SqsError) -> Response<Body> {
    let request_id = uuid::Uuid::new_v4().to_string();
    if json {
        json_protocol::response(&request_id, Err(error))
    } else {
        query_protocol::response(action, &request_id, Err(error))
    }
}

/// Query-protocol clients may post to the queue URL itself instead of passing `QueueUrl`.
fn default_queue_url(input: &mut Value, path: &str, host: &str) {
    let path = path.trim_matches('/');
    if path.is_empty() || input.get("QueueUrl").is_some() {
        return;
    }
    if let Value::Object(map) = input {
        map.insert(
            "QueueUrl".to_string(),
            Value::String(format!("http://{host}/{path}")),
        );
    }
}

/// SenderId: the access key id from a SigV4 `Authorization` header, else the account id.
fn sender_id(req: &Request<Bytes>, account_id: &str) -> String {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|cred| cred.split('/').next())
        .filter(|key| !key.is_empty())
        .unwrap_or(account_id)
        .to_string()
}
