//! Test harness: an HTTP server on 127.0.0.1:0 serving only the emulator's S3 service (axum with
//! the s3s service as fallback, like the real server), a real aws-sdk-s3 client pointed at it,
//! and a notification sink that records what would go to SQS.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::Client;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use emulator_s3::S3HttpService as S3Service;
use emulator_s3::{NotificationSink, S3Emulator};

/// Collects delivered messages; knows a set of queue ARNs; fails deliveries to `failing` ARNs.
#[derive(Default)]
pub struct CollectingSink {
    pub known: Mutex<HashSet<String>>,
    pub failing: Mutex<HashSet<String>>,
    pub messages: Mutex<Vec<(String, String)>>,
}

impl CollectingSink {
    pub fn add_queue(&self, arn: &str) {
        self.known.lock().unwrap().insert(arn.to_owned());
    }

    /// Messages delivered to `arn`, parsed as JSON.
    pub fn messages_for(&self, arn: &str) -> Vec<serde_json::Value> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter(|(a, _)| a == arn)
            .map(|(_, body)| serde_json::from_str(body).expect("notification body is JSON"))
            .collect()
    }

    /// Event records (not test events) delivered to `arn`.
    pub fn records_for(&self, arn: &str) -> Vec<serde_json::Value> {
        self.messages_for(arn)
            .into_iter()
            .filter_map(|m| m.get("Records").cloned())
            .flat_map(|r| r.as_array().cloned().unwrap_or_default())
            .collect()
    }
}

impl NotificationSink for CollectingSink {
    fn destination_exists(&self, arn: &str) -> bool {
        self.known.lock().unwrap().contains(arn)
    }

    fn deliver(&self, arn: &str, body: String) -> Result<(), String> {
        if self.failing.lock().unwrap().contains(arn) {
            return Err("queue is failing on purpose".to_owned());
        }
        self.messages.lock().unwrap().push((arn.to_owned(), body));
        Ok(())
    }
}

pub struct TestS3 {
    pub client: Client,
    pub emulator: S3Emulator,
    pub sink: Arc<CollectingSink>,
    pub addr: SocketAddr,
}

async fn serve_s3(State(service): State<S3Service>, request: Request) -> Response {
    let request = request.map(s3s::Body::http_body_unsync);
    match service.call(request).await {
        Ok(response) => response.map(axum::body::Body::new),
        Err(err) => (http::StatusCode::INTERNAL_SERVER_ERROR, format!("{err:?}")).into_response(),
    }
}

pub async fn start() -> TestS3 {
    start_in("us-east-1").await
}

pub async fn start_in(region: &str) -> TestS3 {
    let sink = Arc::new(CollectingSink::default());
    let emulator = S3Emulator::new(region, sink.clone());
    let app = axum::Router::new()
        .fallback(serve_s3)
        .with_state(emulator.service());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    TestS3 {
        client: client_for(addr, region, "test", "test").await,
        emulator,
        sink,
        addr,
    }
}

/// An SDK client with default checksum behaviour: only endpoint, path style, static keys, region.
pub async fn client_for(addr: SocketAddr, region: &str, access_key: &str, secret: &str) -> Client {
    let sdk_config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(format!("http://{addr}"))
        .credentials_provider(Credentials::new(access_key, secret, None, None, "static"))
        .load()
        .await;
    let config = aws_sdk_s3::config::Builder::from(&sdk_config)
        .force_path_style(true)
        .build();
    Client::from_conf(config)
}

/// The AWS error code of a failed call.
pub fn code_of<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, E>,
) -> String {
    let err = result.expect_err("the call should fail");
    err.code()
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no error code in {err:?}"))
}

pub fn md5(data: &[u8]) -> [u8; 16] {
    use md5::Digest as _;
    md5::Md5::digest(data).into()
}

pub async fn body_bytes(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body.collect().await.unwrap().into_bytes().to_vec()
}
