//! emulator-lambda: runs real Lambda function binaries locally, unmodified.
//!
//! - Every execution environment is an OS process started with Lambda's environment
//!   (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, ..., `AWS_ENDPOINT_URL` = the
//!   emulator) and served the real Runtime API on its own `127.0.0.1:0` listener
//!   (`runtime_api`, `instance`), so `lambda_runtime`, `awslambdaric` or any custom runtime works.
//! - [`Lambda::start_event_source_mappings`] feeds functions from SQS queues in-process with
//!   AWS's event source mapping semantics (`event_source`, `sqs_event`, `batch_response`).
//! - [`Lambda::handle`] serves the `/2015-03-31/...` control-plane routes (Invoke,
//!   ListFunctions, GetFunction, ...) for `aws lambda invoke` and the SDKs (`invoke_api`).
//!
//! Functions come from [`FunctionSpec`]s (serde, snake_case), e.g. a `functions` section of
//! `shared/pipeline.json`.

mod batch_response;
mod event_source;
mod function;
mod instance;
mod invoke_api;
mod logs;
pub mod observe;
mod runtime_api;
pub mod spec;
mod sqs_event;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Body;
use bytes::Bytes;
use emulator_sqs::Sqs;
use http::{HeaderMap, Request, Response, Uri};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use batch_response::{interpret as interpret_batch_response, BatchOutcome};
pub use function::FunctionStats;
pub use instance::{FailureKind, InvocationResult, KilledProcess};
pub use invoke_api::API_PREFIX;
pub use observe::LambdaObserver;
pub use spec::{FunctionSpec, SpecError, SqsTrigger};

use function::Function;
use instance::HostSettings;

/// Errors of the in-process API.
#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    #[error(transparent)]
    InvalidSpec(#[from] SpecError),
    #[error("function {0} already exists")]
    AlreadyExists(String),
    #[error("function not found: {0}")]
    NotFound(String),
    #[error("function {function}: its SQS trigger names queue {queue}, which does not exist")]
    QueueNotFound { function: String, queue: String },
    /// CreateEventSourceMapping's InvalidParameterValueException.
    #[error("function {function}: queue visibility timeout: {visibility} seconds is less than function timeout: {timeout} seconds")]
    VisibilityBelowTimeout {
        function: String,
        visibility: u64,
        timeout: u32,
    },
}

/// The Lambda service of one account and region. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Lambda {
    inner: Arc<Inner>,
}

struct Inner {
    region: String,
    account_id: String,
    sqs: Sqs,
    host: Arc<Mutex<HostSettings>>,
    functions: RwLock<BTreeMap<String, Arc<Function>>>,
    mappings: Mutex<BTreeMap<String, JoinHandle<()>>>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for Lambda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lambda")
            .field("region", &self.inner.region)
            .field("functions", &self.function_names())
            .finish_non_exhaustive()
    }
}

impl Lambda {
    /// A Lambda service with no functions. Event source mappings read from `sqs`.
    pub fn new(region: impl Into<String>, account_id: impl Into<String>, sqs: Sqs) -> Self {
        let region = region.into();
        let account_id = account_id.into();
        let host = HostSettings {
            region: region.clone(),
            endpoint_url: None,
            observer: None,
        };
        Self {
            inner: Arc::new(Inner {
                region,
                account_id,
                sqs,
                host: Arc::new(Mutex::new(host)),
                functions: RwLock::new(BTreeMap::new()),
                mappings: Mutex::new(BTreeMap::new()),
                stop: watch::channel(false).0,
            }),
        }
    }

    /// The URL functions get as `AWS_ENDPOINT_URL` (the emulator's, e.g. `http://127.0.0.1:4566`).
    /// Applies to environments started from now on; set it before the first invocation.
    pub fn set_endpoint_url(&self, url: impl Into<String>) {
        lock(&self.inner.host).endpoint_url = Some(url.into());
    }

    /// Sets the observer of invocations and log lines (see [`observe`]). Applies to
    /// invocations and environments started from now on.
    pub fn set_observer(&self, observer: std::sync::Arc<dyn LambdaObserver>) {
        lock(&self.inner.host).observer = Some(observe::ObserverHandle(observer));
    }

    /// Deploys a function (validated as CreateFunction would). Nothing starts until it is
    /// invoked or its event source mapping is started.
    pub fn add_function(&self, spec: FunctionSpec) -> Result<(), LambdaError> {
        spec.validate()?;
        let mut functions = write(&self.inner.functions);
        if functions.contains_key(&spec.name) {
            return Err(LambdaError::AlreadyExists(spec.name));
        }
        let arn = self.function_arn(&spec.name);
        let function = Function::new(spec, arn, self.inner.host.clone());
        functions.insert(function.spec.name.clone(), Arc::new(function));
        Ok(())
    }

    /// Starts polling for every function with an enabled `sqs_trigger` whose mapping is not
    /// running yet. Returns how many were started. As CreateEventSourceMapping, it refuses a
    /// queue that does not exist and a queue whose visibility timeout is below the function
    /// timeout (a batch would reappear while still being processed); nothing starts then.
    pub async fn start_event_source_mappings(&self) -> Result<usize, LambdaError> {
        let running: Vec<String> = lock(&self.inner.mappings).keys().cloned().collect();
        let to_start: Vec<(Arc<Function>, SqsTrigger)> = self
            .functions()
            .into_iter()
            .filter(|f| !running.contains(&f.spec.name))
            .filter_map(|f| {
                let trigger = f.spec.sqs_trigger.clone().filter(|t| t.enabled)?;
                Some((f, trigger))
            })
            .collect();
        for (function, trigger) in &to_start {
            let arn = self.inner.sqs.queue_arn(trigger.queue_name());
            if !self.inner.sqs.queue_exists_arn(&arn) {
                return Err(LambdaError::QueueNotFound {
                    function: function.spec.name.clone(),
                    queue: trigger.queue.clone(),
                });
            }
            let visibility = queue_visibility_timeout(&self.inner.sqs, trigger.queue_name()).await;
            if visibility.is_some_and(|v| v < u64::from(function.spec.timeout_seconds)) {
                return Err(LambdaError::VisibilityBelowTimeout {
                    function: function.spec.name.clone(),
                    visibility: visibility.unwrap_or_default(),
                    timeout: function.spec.timeout_seconds,
                });
            }
        }
        let mut mappings = lock(&self.inner.mappings);
        for (function, trigger) in &to_start {
            let task = tokio::spawn(event_source::run(
                self.inner.sqs.clone(),
                self.inner.region.clone(),
                function.clone(),
                trigger.clone(),
                self.inner.stop.subscribe(),
            ));
            mappings.insert(function.spec.name.clone(), task);
        }
        Ok(to_start.len())
    }

    /// Invokes a function synchronously (RequestResponse) with a JSON payload.
    pub async fn invoke(
        &self,
        name: &str,
        payload: Bytes,
    ) -> Result<InvocationResult, LambdaError> {
        let function = self
            .function(name)
            .ok_or_else(|| LambdaError::NotFound(name.to_owned()))?;
        Ok(function.invoke(payload).await)
    }

    /// Kills every running process of a function with SIGKILL (only those running an
    /// invocation when `busy_only`), as a crash drill, and says which (see [`Function::kill_all`]).
    pub async fn kill_function(
        &self,
        name: &str,
        busy_only: bool,
    ) -> Result<Vec<KilledProcess>, LambdaError> {
        let function = self
            .function(name)
            .ok_or_else(|| LambdaError::NotFound(name.to_owned()))?;
        Ok(function.kill_all(busy_only).await)
    }

    /// Serves a Lambda control-plane request (`/2015-03-31/...`, see [`is_lambda_request`]).
    pub async fn handle(&self, req: Request<Bytes>) -> Response<Body> {
        invoke_api::handle(self, req).await
    }

    /// Stops the event source mappings (invocations in progress are killed; their messages
    /// return after the visibility timeout) and kills every idle function process.
    pub async fn shutdown(&self) {
        self.inner.stop.send_replace(true);
        let tasks: Vec<_> = std::mem::take(&mut *lock(&self.inner.mappings))
            .into_values()
            .collect();
        for task in tasks {
            let _ = task.await;
        }
        for function in self.functions() {
            function.stop().await;
        }
    }

    pub fn function_names(&self) -> Vec<String> {
        read(&self.inner.functions).keys().cloned().collect()
    }

    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    pub fn function_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            self.inner.region, self.inner.account_id
        )
    }

    /// Invocation counters of a function.
    pub fn stats(&self, name: &str) -> Option<FunctionStats> {
        self.function(name).map(|f| f.stats())
    }

    pub(crate) fn function(&self, name: &str) -> Option<Arc<Function>> {
        read(&self.inner.functions).get(name).cloned()
    }

    pub(crate) fn functions(&self) -> Vec<Arc<Function>> {
        read(&self.inner.functions).values().cloned().collect()
    }

    pub(crate) fn sqs(&self) -> &Sqs {
        &self.inner.sqs
    }

    pub(crate) fn account_id(&self) -> &str {
        &self.inner.account_id
    }
}

/// The queue's VisibilityTimeout, read through SQS's own GetQueueAttributes (the in-process API
/// has no attribute getter; this is the same code path an SDK client takes).
async fn queue_visibility_timeout(sqs: &Sqs, queue: &str) -> Option<u64> {
    let body = serde_json::json!({
        "QueueUrl": format!("http://localhost/queue/{queue}"),
        "AttributeNames": ["VisibilityTimeout"],
    });
    let request = Request::post("/")
        .header("x-amz-target", "AmazonSQS.GetQueueAttributes")
        .header("content-type", "application/x-amz-json-1.0")
        .body(Bytes::from(body.to_string()))
        .ok()?;
    let response = sqs.handle(request).await;
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value["Attributes"]["VisibilityTimeout"]
        .as_str()?
        .parse()
        .ok()
}

/// Whether a request is for Lambda's control plane: its path is under `/2015-03-31/functions`
/// or `/2015-03-31/event-source-mappings`, and, when it is SigV4-signed, its credential scope
/// names the `lambda` service (so an S3 bucket called `2015-03-31` still reaches S3).
pub fn is_lambda_request(uri: &Uri, headers: &HeaderMap) -> bool {
    let path = uri.path();
    let lambda_path = ["functions", "event-source-mappings"].iter().any(|p| {
        path.strip_prefix(API_PREFIX)
            .and_then(|rest| rest.strip_prefix(p))
            .is_some_and(|tail| tail.is_empty() || tail.starts_with('/'))
    });
    if !lambda_path {
        return false;
    }
    match headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
    {
        // Credential=<key>/<date>/<region>/<service>/aws4_request
        Some(credential) => credential.split('/').nth(3) == Some("lambda"),
        None => true,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_requests_are_told_apart_from_s3() {
        let uri: Uri = "/2015-03-31/functions/f/invocations".parse().unwrap();
        let mut headers = HeaderMap::new();
        assert!(is_lambda_request(&uri, &headers));
        headers.insert(
            http::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=x"
                .parse()
                .unwrap(),
        );
        assert!(is_lambda_request(&uri, &headers));
        headers.insert(
            http::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x"
                .parse()
                .unwrap(),
        );
        assert!(!is_lambda_request(&uri, &headers));
        let bucket_key: Uri = "/2015-03-31/functionsx".parse().unwrap();
        assert!(!is_lambda_request(&bucket_key, &HeaderMap::new()));
        let list: Uri = "/2015-03-31/functions/".parse().unwrap();
        assert!(is_lambda_request(&list, &HeaderMap::new()));
    }
}
