//! Test harness: an axum server on 127.0.0.1:0 routing `POST /` and `POST /<account>/<queue>` to
//! `Sqs::handle`, and a real aws-sdk-sqs client pointed at it.

use std::fmt::Debug;

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use emulator_sqs::Sqs;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "000000000000";

pub struct TestServer {
    pub sqs: Sqs,
    pub addr: std::net::SocketAddr,
    pub client: aws_sdk_sqs::Client,
}

async fn route(State(sqs): State<Sqs>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, 8 * 1024 * 1024).await {
        Ok(bytes) => sqs.handle(http::Request::from_parts(parts, bytes)).await,
        Err(err) => {
            let mut response = Response::new(Body::from(err.to_string()));
            *response.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
            response
        }
    }
}

pub async fn start() -> TestServer {
    let sqs = Sqs::new(REGION, ACCOUNT);
    let app = Router::new()
        .route("/", post(route))
        .route("/{account}/{queue}", post(route))
        .with_state(sqs.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("server");
    });
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(format!("http://{addr}"))
        .build();
    TestServer {
        sqs,
        addr,
        client: aws_sdk_sqs::Client::from_conf(config),
    }
}

impl TestServer {
    /// Creates a queue through the SDK and returns its URL.
    pub async fn queue(&self, name: &str) -> String {
        self.client
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue url")
    }

    pub fn arn(&self, name: &str) -> String {
        format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
    }

    /// Reads one queue attribute as a number.
    pub async fn count(&self, url: &str, name: &str) -> u64 {
        let attribute = aws_sdk_sqs::types::QueueAttributeName::from(name);
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(attribute.clone())
            .send()
            .await
            .expect("get attributes");
        out.attributes()
            .and_then(|a| a.get(&attribute))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("attribute {name} missing"))
    }
}

/// The error code the SDK surfaces (`err.code()`); panics when the call did not fail with a
/// service error.
pub fn code<T: Debug, E: ProvideErrorMetadata + Debug, R: Debug>(
    result: Result<T, SdkError<E, R>>,
) -> String {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(err) => err
            .as_service_error()
            .and_then(|e| e.code())
            .map(str::to_string)
            .unwrap_or_else(|| panic!("not a service error: {err:?}")),
    }
}
