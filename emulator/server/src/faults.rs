//! Fault injection and crash drills, the way chaos tools express them.
//!
//! A rule `{service, operation, error, probability, latency_ms, times}` matches requests of one
//! service (and one operation, or every operation with `"*"`); each matching request is hit with
//! the rule's `probability`, at most `times` times. A hit waits `latency_ms`, then answers the
//! service's real wire error instead of running the operation, so the SDKs' retry classifiers
//! treat it as they treat AWS's: S3 `SlowDown` (503) and `InternalError` (500) as S3 XML, SQS
//! `ThrottlingException`/`RequestThrottled`/`OverLimit` in the JSON or query protocol the request
//! used, Glue `ThrottlingException`/`InternalServiceException` and Athena
//! `TooManyRequestsException`/`InternalServerException` as JSON with `__type`. A rule without
//! `error` only adds latency, and the next rules still apply.
//!
//! Rules come from `POST /_emulator/faults` (listed by GET, removed by DELETE) and from
//! `emulator serve --fault`. Rolls use one seeded RNG (`seed` in the POST body or
//! `--fault-seed`): the same seed and the same request order give the same faults.
//!
//! The check runs before the service sees the request, once its operation is known: from
//! `X-Amz-Target` for the JSON protocols, from the form's `Action` for SQS's query protocol, and
//! for S3 inside s3s once its router has resolved the operation (an
//! [`emulator_s3::auth::OperationGate`] attached to the request), before the body is read.
//! `POST /_emulator/functions/{name}/kill` kills a function's processes (SIGKILL) for crash drills.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::dispatch::{classify, form_action, read_body, Target};
use crate::limits::RpcBody;
use crate::server::Services;

/// A service whose requests rules can hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultService {
    S3,
    Sqs,
    Glue,
    Athena,
}

/// An injected error, by its AWS error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultError {
    SlowDown,
    InternalError,
    ServiceUnavailable,
    ThrottlingException,
    RequestThrottled,
    OverLimit,
    InternalServiceException,
    TooManyRequestsException,
    InternalServerException,
}

impl FaultError {
    const ALL: [FaultError; 9] = [
        Self::SlowDown,
        Self::InternalError,
        Self::ServiceUnavailable,
        Self::ThrottlingException,
        Self::RequestThrottled,
        Self::OverLimit,
        Self::InternalServiceException,
        Self::TooManyRequestsException,
        Self::InternalServerException,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::SlowDown => "SlowDown",
            Self::InternalError => "InternalError",
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::ThrottlingException => "ThrottlingException",
            Self::RequestThrottled => "RequestThrottled",
            Self::OverLimit => "OverLimit",
            Self::InternalServiceException => "InternalServiceException",
            Self::TooManyRequestsException => "TooManyRequestsException",
            Self::InternalServerException => "InternalServerException",
        }
    }
}

impl FaultService {
    fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "s3" => Some(Self::S3),
            "sqs" => Some(Self::Sqs),
            "glue" => Some(Self::Glue),
            "athena" => Some(Self::Athena),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::S3 => "s3",
            Self::Sqs => "sqs",
            Self::Glue => "glue",
            Self::Athena => "athena",
        }
    }

    /// The errors this service really answers with, that a rule may inject.
    fn errors(self) -> &'static [FaultError] {
        use FaultError::*;
        match self {
            Self::S3 => &[SlowDown, InternalError, ServiceUnavailable],
            Self::Sqs => &[
                ThrottlingException,
                RequestThrottled,
                OverLimit,
                InternalError,
            ],
            Self::Glue => &[ThrottlingException, InternalServiceException],
            Self::Athena => &[TooManyRequestsException, InternalServerException],
        }
    }

    /// The operations this emulator serves for the service (S3: as s3s names them), so a rule
    /// naming a misspelled operation is refused instead of never matching. (Long: a table.)
    fn operations(self) -> &'static [&'static str] {
        match self {
            Self::S3 => &[
                "AbortMultipartUpload",
                "CompleteMultipartUpload",
                "CopyObject",
                "CreateBucket",
                "CreateMultipartUpload",
                "DeleteBucket",
                "DeleteObject",
                "DeleteObjects",
                "GetBucketLocation",
                "GetBucketNotificationConfiguration",
                "GetObject",
                "HeadBucket",
                "HeadObject",
                "ListBuckets",
                "ListMultipartUploads",
                "ListObjects",
                "ListObjectsV2",
                "ListParts",
                "PutBucketNotificationConfiguration",
                "PutObject",
                "UploadPart",
            ],
            Self::Sqs => &[
                "AddPermission",
                "CancelMessageMoveTask",
                "ChangeMessageVisibility",
                "ChangeMessageVisibilityBatch",
                "CreateQueue",
                "DeleteMessage",
                "DeleteMessageBatch",
                "DeleteQueue",
                "GetQueueAttributes",
                "GetQueueUrl",
                "ListDeadLetterSourceQueues",
                "ListMessageMoveTasks",
                "ListQueueTags",
                "ListQueues",
                "PurgeQueue",
                "ReceiveMessage",
                "RemovePermission",
                "SendMessage",
                "SendMessageBatch",
                "SetQueueAttributes",
                "StartMessageMoveTask",
                "TagQueue",
                "UntagQueue",
            ],
            Self::Glue => &[
                "BatchCreatePartition",
                "BatchDeletePartition",
                "BatchGetPartition",
                "CreateDatabase",
                "CreatePartition",
                "CreateTable",
                "DeleteDatabase",
                "DeletePartition",
                "DeleteTable",
                "GetDatabase",
                "GetDatabases",
                "GetPartition",
                "GetPartitions",
                "GetTable",
                "GetTables",
                "UpdatePartition",
                "UpdateTable",
            ],
            Self::Athena => &[
                "BatchGetQueryExecution",
                "GetDataCatalog",
                "GetDatabase",
                "GetQueryExecution",
                "GetQueryResults",
                "GetTableMetadata",
                "GetWorkGroup",
                "ListDataCatalogs",
                "ListDatabases",
                "ListQueryExecutions",
                "ListTableMetadata",
                "ListWorkGroups",
                "StartQueryExecution",
                "StopQueryExecution",
            ],
        }
    }
}

/// One validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub service: FaultService,
    /// `None` matches every operation (`"*"`).
    pub operation: Option<String>,
    /// `None`: latency only.
    pub error: Option<FaultError>,
    /// 0.0..=1.0; each matching request is hit with this probability.
    pub probability: f64,
    pub latency: Duration,
    /// At most this many hits; `None` = unlimited.
    pub times: Option<u64>,
}

/// A rule as JSON gives it, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    service: String,
    #[serde(default)]
    operation: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    probability: Option<f64>,
    #[serde(default)]
    latency_ms: Option<u64>,
    #[serde(default)]
    times: Option<u64>,
}

/// Longest latency a rule may add: longer than any SDK's attempt timeout is pointless, and an
/// unbounded sleep would hold the connection forever.
const MAX_LATENCY_MS: u64 = 300_000;

impl TryFrom<RuleInput> for FaultRule {
    type Error = String;

    fn try_from(input: RuleInput) -> Result<Self, String> {
        let service = FaultService::parse(&input.service).ok_or_else(|| {
            format!(
                "unknown service {:?}: expected s3, sqs, glue or athena",
                input.service
            )
        })?;
        let operation = match input.operation.as_deref() {
            None | Some("*") => None,
            Some(op) if service.operations().contains(&op) => Some(op.to_owned()),
            Some(op) => {
                return Err(format!(
                    "{} has no operation {op:?} here; expected \"*\" or one of: {}",
                    service.name(),
                    service.operations().join(", ")
                ))
            }
        };
        let error = match input.error.as_deref() {
            None => None,
            Some(code) => Some(parse_error(service, code)?),
        };
        let probability = input.probability.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&probability) {
            return Err(format!("probability {probability} is not within 0.0..=1.0"));
        }
        let latency_ms = input.latency_ms.unwrap_or(0);
        if latency_ms > MAX_LATENCY_MS {
            return Err(format!(
                "latency_ms {latency_ms} is over the {MAX_LATENCY_MS} ms maximum"
            ));
        }
        if error.is_none() && latency_ms == 0 {
            return Err("a rule needs an error, a latency_ms, or both".to_owned());
        }
        if input.times == Some(0) {
            return Err("times must be at least 1 (omit it for no limit)".to_owned());
        }
        Ok(FaultRule {
            service,
            operation,
            error,
            probability,
            latency: Duration::from_millis(latency_ms),
            times: input.times,
        })
    }
}

fn parse_error(service: FaultService, code: &str) -> Result<FaultError, String> {
    FaultError::ALL
        .into_iter()
        .find(|e| e.code() == code && service.errors().contains(e))
        .ok_or_else(|| {
            let known: Vec<_> = service.errors().iter().map(|e| e.code()).collect();
            format!(
                "{} does not answer {code:?}; expected one of: {}",
                service.name(),
                known.join(", ")
            )
        })
}

impl FaultRule {
    /// The command line's compact form, `SERVICE:OPERATION:ERROR[:PROBABILITY][:latency_ms=N][:times=N]`
    /// (`-` as ERROR for latency only, `*` as OPERATION for every operation), or the rule's JSON
    /// object when the text starts with `{`.
    pub fn parse_cli(text: &str) -> Result<Self, String> {
        let input = if text.trim_start().starts_with('{') {
            serde_json::from_str::<RuleInput>(text).map_err(|e| format!("fault {text:?}: {e}"))?
        } else {
            compact_input(text)?
        };
        FaultRule::try_from(input).map_err(|e| format!("fault {text:?}: {e}"))
    }

    /// A rule of the config's `emulator.faults` (the same JSON shape, already deserialized by
    /// the config loader), checked exactly as `--fault` and `POST /_emulator/faults` check it.
    pub fn from_spec(spec: &pipeline_core::config::FaultRuleSpec) -> Result<Self, String> {
        FaultRule::try_from(RuleInput {
            service: spec.service.clone(),
            operation: spec.operation.clone(),
            error: spec.error.clone(),
            probability: spec.probability,
            latency_ms: spec.latency_ms,
            times: spec.times,
        })
    }

    fn matches(&self, service: FaultService, operation: &str) -> bool {
        self.service == service && self.operation.as_deref().is_none_or(|op| op == operation)
    }

    fn to_json(&self) -> Value {
        json!({
            "service": self.service.name(),
            "operation": self.operation.as_deref().unwrap_or("*"),
            "error": self.error.map(FaultError::code),
            "probability": self.probability,
            "latency_ms": self.latency.as_millis() as u64,
            "times": self.times,
        })
    }
}

fn compact_input(text: &str) -> Result<RuleInput, String> {
    let mut fields = text.split(':');
    let (Some(service), Some(operation), Some(error)) =
        (fields.next(), fields.next(), fields.next())
    else {
        return Err(format!(
            "fault {text:?}: expected SERVICE:OPERATION:ERROR[:PROBABILITY][:latency_ms=N][:times=N], \
             e.g. s3:GetObject:SlowDown:0.2"
        ));
    };
    let mut input = RuleInput {
        service: service.to_owned(),
        operation: Some(operation.to_owned()),
        error: (error != "-").then(|| error.to_owned()),
        probability: None,
        latency_ms: None,
        times: None,
    };
    for field in fields {
        let number = |value: &str| {
            value
                .parse::<u64>()
                .map_err(|_| format!("fault {text:?}: {field:?} is not a whole number"))
        };
        if let Some(value) = field.strip_prefix("latency_ms=") {
            input.latency_ms = Some(number(value)?);
        } else if let Some(value) = field.strip_prefix("times=") {
            input.times = Some(number(value)?);
        } else {
            let p = field.parse::<f64>().map_err(|_| {
                format!("fault {text:?}: {field:?} is no probability, latency_ms=N or times=N")
            })?;
            input.probability = Some(p);
        }
    }
    Ok(input)
}

/// A rule in force, with its counters.
#[derive(Debug)]
struct ActiveRule {
    id: u64,
    rule: FaultRule,
    /// Requests the rule matched (hit or not).
    matched: u64,
    hits: u64,
}

#[derive(Debug)]
struct RuleSet {
    rules: Vec<ActiveRule>,
    rng: StdRng,
    seed: Option<u64>,
    next_id: u64,
}

/// What the rules decided for one request.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Decision {
    pub latency: Duration,
    pub error: Option<FaultError>,
}

/// The rules in force. Cheap to clone; clones share the rules.
#[derive(Clone)]
pub struct Faults {
    state: Arc<Mutex<RuleSet>>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            state: Arc::new(Mutex::new(RuleSet {
                rules: Vec::new(),
                rng: StdRng::from_os_rng(),
                seed: None,
                next_id: 1,
            })),
        }
    }
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, RuleSet> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reseeds the RNG: from here on the rolls are a function of the seed and the request order.
    pub fn seed(&self, seed: u64) {
        let mut state = self.lock();
        state.rng = StdRng::seed_from_u64(seed);
        state.seed = Some(seed);
    }

    /// Adds rules (after the ones in force); returns their ids.
    pub fn add(&self, rules: Vec<FaultRule>) -> Vec<u64> {
        let mut state = self.lock();
        rules
            .into_iter()
            .map(|rule| {
                let id = state.next_id;
                state.next_id += 1;
                state.rules.push(ActiveRule {
                    id,
                    rule,
                    matched: 0,
                    hits: 0,
                });
                id
            })
            .collect()
    }

    /// Removes every rule; returns how many there were.
    pub fn clear(&self) -> usize {
        std::mem::take(&mut self.lock().rules).len()
    }

    fn remove(&self, id: u64) -> bool {
        let mut state = self.lock();
        let before = state.rules.len();
        state.rules.retain(|r| r.id != id);
        state.rules.len() != before
    }

    fn is_empty(&self) -> bool {
        self.lock().rules.is_empty()
    }

    /// The rules with their counters, as `GET /_emulator/faults` shows them.
    pub fn to_json(&self) -> Value {
        let state = self.lock();
        let rules: Vec<Value> = state
            .rules
            .iter()
            .map(|active| {
                let mut rule = active.rule.to_json();
                rule["id"] = active.id.into();
                rule["matched"] = active.matched.into();
                rule["hits"] = active.hits.into();
                rule
            })
            .collect();
        json!({ "seed": state.seed, "rules": rules })
    }

    /// Rolls every rule matching the request, in order: latencies add up, the first hit with an
    /// error decides the answer (later rules are not rolled). A rule with `times` left at zero
    /// is spent and skipped.
    pub fn decide(&self, service: FaultService, operation: &str) -> Decision {
        let mut state = self.lock();
        let RuleSet { rules, rng, .. } = &mut *state;
        let mut decision = Decision::default();
        for active in rules.iter_mut() {
            let spent = active.rule.times.is_some_and(|t| active.hits >= t);
            if spent || !active.rule.matches(service, operation) {
                continue;
            }
            active.matched += 1;
            if rng.random::<f64>() >= active.rule.probability {
                continue;
            }
            active.hits += 1;
            decision.latency += active.rule.latency;
            if let Some(error) = active.rule.error {
                decision.error = Some(error);
                break;
            }
        }
        decision
    }
}

/// Routes of the fault and crash-drill API.
pub fn routes() -> Router<Services> {
    Router::new()
        .route(
            "/_emulator/faults",
            post(add_rules).get(list_rules).delete(clear_rules),
        )
        .route("/_emulator/faults/{id}", delete(remove_rule))
        .route("/_emulator/functions/{name}/kill", post(kill_function))
}

/// Body of `POST /_emulator/faults`: one rule, a list of rules, or `{"rules": [...], "seed": N}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum AddBody {
    Many {
        rules: Vec<Value>,
        #[serde(default)]
        seed: Option<u64>,
    },
    List(Vec<Value>),
    One(Value),
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

async fn add_rules(State(services): State<Services>, body: Bytes) -> Response {
    let parsed: AddBody = match serde_json::from_slice(&body) {
        Ok(parsed) => parsed,
        Err(e) => return bad_request(format!("the body is not JSON: {e}")),
    };
    let (values, seed) = match parsed {
        AddBody::Many { rules, seed } => (rules, seed),
        AddBody::List(rules) => (rules, None),
        AddBody::One(rule) => (vec![rule], None),
    };
    let mut rules = Vec::with_capacity(values.len());
    for (index, value) in values.into_iter().enumerate() {
        let rule = serde_json::from_value::<RuleInput>(value)
            .map_err(|e| e.to_string())
            .and_then(FaultRule::try_from);
        match rule {
            Ok(rule) => rules.push(rule),
            Err(e) => return bad_request(format!("rule {index}: {e}")),
        }
    }
    if let Some(seed) = seed {
        services.faults.seed(seed);
    }
    let ids = services.faults.add(rules);
    tracing::info!(?ids, "fault rules added");
    let mut listing = services.faults.to_json();
    listing["added"] = json!(ids);
    Json(listing).into_response()
}

async fn list_rules(State(services): State<Services>) -> Response {
    Json(services.faults.to_json()).into_response()
}

async fn clear_rules(State(services): State<Services>) -> Response {
    Json(json!({ "removed": services.faults.clear() })).into_response()
}

async fn remove_rule(State(services): State<Services>, Path(id): Path<String>) -> Response {
    match id.parse::<u64>() {
        Ok(id) if services.faults.remove(id) => Json(json!({ "removed": 1 })).into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no fault rule with id {id}") })),
        )
            .into_response(),
    }
}

/// `POST /_emulator/functions/{name}/kill`: SIGKILLs every running process of the function,
/// busy or idle (`?only=busy`: only those running an invocation), and says which. The event
/// source mapping sees a crashed invocation (its batch returns after the visibility timeout, as
/// in Lambda); the next invocation starts a new process.
async fn kill_function(
    State(services): State<Services>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let busy_only = match query.as_deref() {
        None | Some("") => false,
        Some("only=busy") => true,
        Some(other) => {
            return bad_request(format!(
                "unknown query {other:?}: the only option is only=busy"
            ))
        }
    };
    match services.lambda.kill_function(&name, busy_only).await {
        Ok(killed) => {
            tracing::info!(function = %name, killed = killed.len(), "function processes killed");
            Json(json!({ "function": name, "killed": killed })).into_response()
        }
        Err(e) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

/// Middleware: applies the rules to every service request before dispatch hands it over.
pub async fn inject(State(services): State<Services>, request: Request, next: Next) -> Response {
    let faults = services.faults.clone();
    if faults.is_empty()
        || request.uri().path().starts_with("/_emulator/")
        || emulator_lambda::is_lambda_request(request.uri(), request.headers())
    {
        return next.run(request).await;
    }
    match classify(request.method(), request.headers()) {
        Target::Sqs(op) => {
            gate(
                &faults,
                FaultService::Sqs,
                &op,
                Protocol::SqsJson,
                request,
                next,
            )
            .await
        }
        Target::Glue(op) => {
            gate(
                &faults,
                FaultService::Glue,
                &op,
                Protocol::Json11,
                request,
                next,
            )
            .await
        }
        Target::Athena(op) => {
            gate(
                &faults,
                FaultService::Athena,
                &op,
                Protocol::Json11,
                request,
                next,
            )
            .await
        }
        Target::MaybeSqsQuery => {
            let (parts, body) = request.into_parts();
            let bytes = match read_body(body, RpcBody::SqsQuery).await {
                Ok(bytes) => bytes,
                Err(response) => return response,
            };
            let action = form_action(&bytes);
            let request = Request::from_parts(parts, Body::from(bytes));
            match action {
                Some(action) => {
                    gate(
                        &faults,
                        FaultService::Sqs,
                        &action,
                        Protocol::SqsQuery,
                        request,
                        next,
                    )
                    .await
                }
                None => next.run(request).await,
            }
        }
        Target::S3 => {
            let mut request = request;
            request.extensions_mut().insert(s3_gate(faults));
            next.run(request).await
        }
        Target::UnknownJson(_) => next.run(request).await,
    }
}

/// The wire shape an injected error takes.
#[derive(Debug, Clone, Copy)]
enum Protocol {
    SqsJson,
    SqsQuery,
    /// awsJson1_1 (Glue, Athena): `{"__type", "Message"}` plus `x-amzn-errortype`.
    Json11,
}

async fn gate(
    faults: &Faults,
    service: FaultService,
    operation: &str,
    protocol: Protocol,
    request: Request,
    next: Next,
) -> Response {
    let decision = faults.decide(service, operation);
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    match decision.error {
        None => next.run(request).await,
        Some(error) => {
            tracing::debug!(
                service = service.name(),
                operation,
                error = error.code(),
                "fault injected"
            );
            error_response(protocol, operation, error)
        }
    }
}

fn error_response(protocol: Protocol, operation: &str, error: FaultError) -> Response {
    let message = format!("{} (injected fault)", error_message(error));
    match protocol {
        Protocol::SqsJson | Protocol::SqsQuery => {
            use emulator_sqs::ErrorCode;
            let code = match error {
                FaultError::RequestThrottled => ErrorCode::RequestThrottled,
                FaultError::OverLimit => ErrorCode::OverLimit,
                FaultError::InternalError => ErrorCode::InternalError,
                _ => ErrorCode::ThrottlingException,
            };
            let json = matches!(protocol, Protocol::SqsJson);
            emulator_sqs::wire_error(json, operation, emulator_sqs::SqsError::new(code, message))
        }
        Protocol::Json11 => {
            let status = match error {
                FaultError::InternalServiceException | FaultError::InternalServerException => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
                _ => StatusCode::BAD_REQUEST,
            };
            (
                status,
                [
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amzn-errortype", error.code()),
                ],
                json!({ "__type": error.code(), "Message": message }).to_string(),
            )
                .into_response()
        }
    }
}

/// AWS's wording of each error.
fn error_message(error: FaultError) -> &'static str {
    match error {
        FaultError::SlowDown => "Please reduce your request rate.",
        FaultError::InternalError
        | FaultError::InternalServiceException
        | FaultError::InternalServerException => {
            "We encountered an internal error. Please try again."
        }
        FaultError::ServiceUnavailable => "Please reduce your request rate.",
        FaultError::ThrottlingException
        | FaultError::RequestThrottled
        | FaultError::TooManyRequestsException => "Rate exceeded",
        FaultError::OverLimit => "The maximum number of in flight messages is reached.",
    }
}

/// The check s3s runs once it knows the S3 operation (see [`emulator_s3::auth::OperationGate`]).
fn s3_gate(faults: Faults) -> emulator_s3::auth::OperationGate {
    emulator_s3::auth::OperationGate(Arc::new(move |operation: &str| {
        let decision = faults.decide(FaultService::S3, operation);
        let operation = operation.to_owned();
        Box::pin(async move {
            if !decision.latency.is_zero() {
                tokio::time::sleep(decision.latency).await;
            }
            let Some(error) = decision.error else {
                return Ok(());
            };
            tracing::debug!(service = "s3", %operation, error = error.code(), "fault injected");
            let code = match error {
                FaultError::SlowDown => s3s::S3ErrorCode::SlowDown,
                FaultError::ServiceUnavailable => s3s::S3ErrorCode::ServiceUnavailable,
                _ => s3s::S3ErrorCode::InternalError,
            };
            let message = format!("{} (injected fault)", error_message(error));
            Err(s3s::S3Error::with_message(code, message))
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> Result<FaultRule, String> {
        FaultRule::parse_cli(text)
    }

    #[test]
    fn compact_and_json_rules_parse_into_the_same_rule() {
        let compact = rule("s3:GetObject:SlowDown:0.2:times=3:latency_ms=50").unwrap();
        let json = rule(r#"{"service":"s3","operation":"GetObject","error":"SlowDown","probability":0.2,"times":3,"latency_ms":50}"#).unwrap();
        assert_eq!(compact, json);
        assert_eq!(compact.probability, 0.2);
        assert_eq!(compact.times, Some(3));
        let latency_only = rule("glue:*:-:latency_ms=10").unwrap();
        assert_eq!(latency_only.operation, None);
        assert_eq!(latency_only.error, None);
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        for (text, expected) in [
            ("s3:GetObject", "expected SERVICE:OPERATION:ERROR"),
            ("dynamodb:GetItem:ThrottlingException", "unknown service"),
            ("s3:GetObjetc:SlowDown", "no operation \"GetObjetc\""),
            (
                "s3:GetObject:ThrottlingException",
                "does not answer \"ThrottlingException\"",
            ),
            (
                "glue:GetPartition:SlowDown",
                "expected one of: ThrottlingException",
            ),
            ("s3:GetObject:SlowDown:1.5", "not within 0.0..=1.0"),
            ("s3:GetObject:-", "needs an error, a latency_ms, or both"),
            ("s3:GetObject:SlowDown:times=0", "at least 1"),
            ("s3:GetObject:SlowDown:often", "no probability"),
            (r#"{"service":"s3","colour":"red"}"#, "unknown field"),
        ] {
            let err = rule(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn seeded_rolls_repeat_and_times_bounds_the_hits() {
        let run = |seed| {
            let faults = Faults::default();
            faults.seed(seed);
            faults.add(vec![rule("s3:GetObject:SlowDown:0.5").unwrap()]);
            (0..64)
                .map(|_| faults.decide(FaultService::S3, "GetObject").error.is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        let hits = run(7).iter().filter(|h| **h).count();
        assert!((16..=48).contains(&hits), "{hits} of 64 at p=0.5");

        let faults = Faults::default();
        faults.add(vec![rule("sqs:ReceiveMessage:OverLimit:times=2").unwrap()]);
        let errors: Vec<_> = (0..4)
            .map(|_| faults.decide(FaultService::Sqs, "ReceiveMessage").error)
            .collect();
        assert_eq!(
            errors,
            [
                Some(FaultError::OverLimit),
                Some(FaultError::OverLimit),
                None,
                None
            ]
        );
        assert_eq!(
            faults.decide(FaultService::Sqs, "SendMessage"),
            Decision::default()
        );
    }

    #[test]
    fn latencies_add_up_until_the_first_error() {
        let faults = Faults::default();
        faults.add(vec![
            rule("glue:*:-:latency_ms=5").unwrap(),
            rule("glue:GetPartition:ThrottlingException:latency_ms=7").unwrap(),
            rule("glue:GetPartition:InternalServiceException").unwrap(),
        ]);
        let decision = faults.decide(FaultService::Glue, "GetPartition");
        assert_eq!(decision.latency, Duration::from_millis(12));
        assert_eq!(decision.error, Some(FaultError::ThrottlingException));
        let listing = faults.to_json();
        assert_eq!(
            listing["rules"][2]["matched"], 0,
            "not rolled after the first error"
        );
    }
}
