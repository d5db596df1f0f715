//! Test harness: SQS and Lambda behind one HTTP listener on 127.0.0.1:0 (routed the way the
//! emulator server routes them), the Rust test function, SDK clients, and polling helpers.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use emulator_lambda::{is_lambda_request, FunctionSpec, Lambda};
use emulator_sqs::Sqs;
use http_body_util::BodyExt;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "000000000000";

pub struct Harness {
    pub sqs: Sqs,
    pub lambda: Lambda,
    pub endpoint: String,
    pub dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Services {
    sqs: Sqs,
    lambda: Lambda,
}

async fn route(State(services): State<Services>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            return Response::builder()
                .status(400)
                .body(Body::from(err.to_string()))
                .unwrap_or_default()
        }
    };
    let lambda = is_lambda_request(&parts.uri, &parts.headers);
    let request = http::Request::from_parts(parts, bytes);
    if lambda {
        services.lambda.handle(request).await
    } else {
        services.sqs.handle(request).await
    }
}

impl Harness {
    pub async fn start() -> Self {
        let sqs = Sqs::new(REGION, ACCOUNT);
        let lambda = Lambda::new(REGION, ACCOUNT, sqs.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        lambda.set_endpoint_url(&endpoint);
        let app = axum::Router::new().fallback(route).with_state(Services {
            sqs: sqs.clone(),
            lambda: lambda.clone(),
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            sqs,
            lambda,
            endpoint,
            dir: tempfile::tempdir().unwrap(),
            server,
        }
    }

    pub async fn stop(self) {
        self.lambda.shutdown().await;
        self.server.abort();
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A queue with these attributes (e.g. VisibilityTimeout, RedrivePolicy).
    pub fn queue(&self, name: &str, attributes: &[(&str, String)]) {
        let attributes: HashMap<String, String> = attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        self.sqs.create_queue(name, &attributes).unwrap();
    }

    pub fn send(&self, queue: &str, body: &str) {
        self.sqs
            .send_to_arn(&self.sqs.queue_arn(queue), body.to_owned())
            .unwrap();
    }

    pub async fn sqs_client(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk_config().await)
    }

    pub async fn lambda_client(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.sdk_config().await)
    }

    async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .load()
            .await
    }

    /// Messages in the queue, visible plus in flight (GetQueueAttributes over the wire).
    pub async fn messages_left(&self, queue: &str) -> u64 {
        let client = self.sqs_client().await;
        let url = format!("{}/{ACCOUNT}/{queue}", self.endpoint);
        let out = client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let attrs = out.attributes().cloned().unwrap_or_default();
        let get = |name: aws_sdk_sqs::types::QueueAttributeName| -> u64 {
            attrs
                .get(&name)
                .and_then(|v| v.parse().ok())
                .unwrap_or_default()
        };
        get(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            + get(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            + get(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed)
    }
}

/// The Rust test function (examples/test_function.rs), which `cargo test` builds beside the
/// test binaries (target/<profile>/examples/).
pub fn test_function() -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let path = profile_dir.join("examples").join("test_function");
    assert!(
        path.exists(),
        "{} is missing: run through `cargo test`, which builds the examples",
        path.display()
    );
    vec![path.display().to_string()]
}

/// A spec for the test function with these TEST_* variables.
pub fn spec(name: &str, env: &[(&str, String)]) -> FunctionSpec {
    let mut spec = FunctionSpec::new(name, test_function());
    for (k, v) in env {
        spec.environment.insert((*k).to_owned(), v.clone());
    }
    spec
}

/// Polls `check` every 50 ms until it returns Some, or panics after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The JSON lines the test function appended to its record file.
pub fn records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// How many invocations saw a message with this body.
pub fn times_seen(records: &[serde_json::Value], body: &str) -> usize {
    records
        .iter()
        .filter(|r| {
            r["bodies"]
                .as_array()
                .is_some_and(|b| b.iter().any(|x| x == body))
        })
        .count()
}
