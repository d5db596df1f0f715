//! Fault injection, the crash-drill kill endpoint and request body limits, seen by the real SDK
//! clients: an injected error must be the one AWS sends, so the SDK's retry classifier retries it
//! (or, with retries off, surfaces its code), and a faulted request must never reach the service.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use serde_json::{json, Value};

use crate::common;

/// SDK config with `attempts` attempts and short backoffs, so retried tests stay fast.
async fn sdk_config(endpoint: &str, attempts: u32) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(5))
                .with_max_backoff(Duration::from_millis(20)),
        )
        .load()
        .await
}

async fn s3(endpoint: &str, attempts: u32) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&sdk_config(endpoint, attempts).await)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// One HTTP/1.1 request over a fresh connection; returns status, head and body as text.
/// Hand-written: the test has no HTTP client besides the AWS SDKs, and these are fixed requests.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut reply))
        .await
        .expect("reply within 30 s")
        .unwrap();
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

async fn post_faults(addr: SocketAddr, body: Value) -> (u16, Value) {
    let (status, _, body) = http(
        addr,
        "POST",
        "/_emulator/faults",
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
    .await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn get_faults(addr: SocketAddr) -> Value {
    let (_, _, body) = http(addr, "GET", "/_emulator/faults", &[], b"").await;
    serde_json::from_str(&body).unwrap()
}

/// One scenario (over 80 lines): each step counts on the rules and objects the previous made.
#[tokio::test(flavor = "multi_thread")]
async fn s3_faults_are_s3_errors_the_sdk_retries_and_never_reach_the_bucket() {
    let server = common::start_pipeline().await;
    let (url, addr) = (server.endpoint_url(), server.addr);
    let bucket = common::config().resources.source_bucket;
    let once = s3(&url, 1).await;
    let retrying = s3(&url, 3).await;
    once.put_object()
        .bucket(&bucket)
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .unwrap();

    let (status, added) = post_faults(
        addr,
        json!({"rules": [
            {"service": "s3", "operation": "GetObject", "error": "SlowDown", "times": 1},
            {"service": "s3", "operation": "PutObject", "error": "InternalError", "times": 1},
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["added"], json!([1, 2]));

    let err = once
        .get_object()
        .bucket(&bucket)
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("SlowDown"), "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
    let got = once
        .get_object()
        .bucket(&bucket)
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"v",
        "times=1: spent"
    );

    // An injected failure of a write happens before the write: nothing is stored.
    let err = once
        .put_object()
        .bucket(&bucket)
        .key("new")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InternalError"), "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    let missing = once
        .head_object()
        .bucket(&bucket)
        .key("new")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        missing.raw_response().map(|r| r.status().as_u16()),
        Some(404)
    );

    // Two throttles then success: the SDK's standard retry absorbs them (3 attempts).
    post_faults(
        addr,
        json!({"service": "s3", "operation": "HeadObject", "error": "SlowDown", "times": 2}),
    )
    .await;
    retrying
        .head_object()
        .bucket(&bucket)
        .key("k")
        .send()
        .await
        .expect("retried past two SlowDowns");
    let listing = get_faults(addr).await;
    let head_rule = &listing["rules"][2];
    assert_eq!(
        (head_rule["hits"].clone(), head_rule["matched"].clone()),
        (json!(2), json!(2)),
        "{listing}"
    );

    let (status, _, body) = http(addr, "DELETE", "/_emulator/faults", &[], b"").await;
    assert_eq!((status, body.as_str()), (200, r#"{"removed":3}"#));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sqs_and_glue_faults_have_their_protocols_shapes() {
    let server = common::start_pipeline().await;
    let (url, addr) = (server.endpoint_url(), server.addr);
    let config = common::config();
    let sqs_once = aws_sdk_sqs::Client::new(&sdk_config(&url, 1).await);
    let sqs_retrying = aws_sdk_sqs::Client::new(&sdk_config(&url, 3).await);
    let glue_once = aws_sdk_glue::Client::new(&sdk_config(&url, 1).await);
    let glue_retrying = aws_sdk_glue::Client::new(&sdk_config(&url, 3).await);
    let queue_url = sqs_once
        .get_queue_url()
        .queue_name(&config.resources.sqs_queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();

    for (error, expected) in [
        ("ThrottlingException", "ThrottlingException"),
        ("RequestThrottled", "RequestThrottled"),
        ("OverLimit", "OverLimit"),
    ] {
        post_faults(
            addr,
            json!({"service": "sqs", "operation": "ReceiveMessage", "error": error, "times": 1}),
        )
        .await;
        let err = sqs_once
            .receive_message()
            .queue_url(&queue_url)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(expected), "{err:?}");
    }
    let err = {
        post_faults(addr, json!({"service": "sqs", "operation": "SendMessage", "error": "RequestThrottled", "times": 1})).await;
        sqs_once
            .send_message()
            .queue_url(&queue_url)
            .message_body("m")
            .send()
            .await
            .unwrap_err()
    };
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_request_throttled()),
        "typed: {err:?}"
    );
    post_faults(addr, json!({"service": "sqs", "operation": "SendMessage", "error": "ThrottlingException", "times": 2})).await;
    sqs_retrying
        .send_message()
        .queue_url(&queue_url)
        .message_body("m")
        .send()
        .await
        .expect("retried past two throttles");

    // The query protocol gets the same error as XML.
    post_faults(addr, json!({"service": "sqs", "operation": "GetQueueUrl", "error": "RequestThrottled", "times": 1})).await;
    let form = format!(
        "Action=GetQueueUrl&QueueName={}&Version=2012-11-05",
        config.resources.sqs_queue
    );
    let (status, _, body) = http(
        addr,
        "POST",
        "/",
        &[("content-type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("<Code>RequestThrottled</Code>") && body.contains("<ErrorResponse"),
        "{body}"
    );
    let (status, _, body) = http(
        addr,
        "POST",
        "/",
        &[("content-type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "times=1 is spent: {body}");

    let db = config.resources.glue_database.clone();
    post_faults(addr, json!({"service": "glue", "operation": "GetDatabase", "error": "ThrottlingException", "times": 1})).await;
    let err = glue_once.get_database().name(&db).send().await.unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"), "{err:?}");
    post_faults(addr, json!({"service": "glue", "operation": "GetDatabase", "error": "InternalServiceException", "times": 1})).await;
    let err = glue_once.get_database().name(&db).send().await.unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_internal_service_exception()),
        "{err:?}"
    );
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    post_faults(addr, json!({"service": "glue", "operation": "*", "error": "InternalServiceException", "times": 2})).await;
    glue_retrying
        .get_database()
        .name(&db)
        .send()
        .await
        .expect("retried past two 500s");

    // Latency only: the request is delayed, then served.
    post_faults(
        addr,
        json!({"service": "glue", "operation": "GetTables", "latency_ms": 300, "times": 1}),
    )
    .await;
    let started = Instant::now();
    glue_once
        .get_tables()
        .database_name(&db)
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_rules_are_refused_with_the_reason() {
    let server = common::start_pipeline().await;
    let addr = server.addr;
    for (body, expected) in [
        (
            json!({"service": "s3", "operation": "GetObject", "error": "ThrottlingException"}),
            "s3 does not answer \"ThrottlingException\"",
        ),
        (
            json!({"service": "sqs", "operation": "Recieve", "error": "OverLimit"}),
            "no operation \"Recieve\"",
        ),
        (
            json!({"service": "glue", "operation": "*", "error": "ThrottlingException", "probability": 2}),
            "not within",
        ),
        (
            json!({"rules": [{"service": "s3", "error": "SlowDown"}, {"service": "s4"}]}),
            "rule 1: unknown service \"s4\"",
        ),
        (
            json!({"service": "s3", "operation": "GetObject"}),
            "needs an error, a latency_ms, or both",
        ),
    ] {
        let (status, reply) = post_faults(addr, body.clone()).await;
        assert_eq!(status, 400, "{body}: {reply}");
        let message = reply["error"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let (status, _, body) = http(addr, "POST", "/_emulator/faults", &[], b"{not json").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        get_faults(addr).await["rules"],
        json!([]),
        "nothing was added by a refused POST"
    );
    let (status, _, _) = http(addr, "DELETE", "/_emulator/faults/99", &[], b"").await;
    assert_eq!(status, 404);
    server.shutdown().await.unwrap();
}

/// One request per service and protocol (over 80 lines once formatted, each a few asserts).
#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_get_each_services_error() {
    let server = common::start_pipeline().await;
    let addr = server.addr;
    let big = vec![b'a'; 5 << 20];
    let mut sqs_body = br#"{"QueueUrl":"x","MessageBody":""#.to_vec();
    sqs_body.extend_from_slice(&big);
    sqs_body.extend_from_slice(br#""}"#);
    let (status, head, body) = http(
        addr,
        "POST",
        "/",
        &[
            ("x-amz-target", "AmazonSQS.SendMessage"),
            ("content-type", "application/x-amz-json-1.0"),
        ],
        &sqs_body,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("x-amzn-query-error: invalidparametervalue;sender"),
        "{head}"
    );
    let (status, head, _) = http(
        addr,
        "POST",
        "/",
        &[
            ("x-amz-target", "AmazonSQS.SendMessageBatch"),
            ("content-type", "application/x-amz-json-1.0"),
        ],
        &sqs_body,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        head.contains("AWS.SimpleQueueService.BatchRequestTooLong"),
        "{head}"
    );
    let (status, _, body) = http(
        addr,
        "POST",
        "/",
        &[("content-type", "application/x-www-form-urlencoded")],
        &big,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("<Code>InvalidParameterValue</Code>"),
        "{body}"
    );
    let (status, _, body) = http(
        addr,
        "POST",
        "/",
        &[
            ("x-amz-target", "AWSGlue.CreateTable"),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        &big,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains(r#""__type":"InvalidInputException""#),
        "{body}"
    );
    // Under the cap, the request is the service's to judge (here: a bad queue URL, not a size).
    let (status, _, body) = http(
        addr,
        "POST",
        "/",
        &[
            ("x-amz-target", "AmazonSQS.SendMessage"),
            ("content-type", "application/x-amz-json-1.0"),
        ],
        &sqs_body[..sqs_body.len() - (3 << 20)],
    )
    .await;
    assert_eq!(status, 400);
    assert!(!body.contains("accepted here"), "{body}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_sigkills_a_busy_function_process_and_reports_it() {
    let server = common::start_pipeline().await;
    let addr = server.addr;
    let (status, _, body) = http(addr, "POST", "/_emulator/functions/nope/kill", &[], b"").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("function not found: nope"), "{body}");

    // A runtime that never asks for an event: the invocation waits in init until killed.
    let spec: emulator_lambda::FunctionSpec = serde_json::from_value(json!({
        "name": "sleeper", "command": ["sleep", "60"], "timeout_seconds": 30,
    }))
    .unwrap();
    server.services.lambda.add_function(spec).unwrap();
    let lambda = server.services.lambda.clone();
    let invocation = tokio::spawn(async move { lambda.invoke("sleeper", "{}".into()).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    let killed = loop {
        let (status, _, body) = http(
            addr,
            "POST",
            "/_emulator/functions/sleeper/kill?only=busy",
            &[],
            b"",
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let reply: Value = serde_json::from_str(&body).unwrap();
        if reply["killed"].as_array().is_some_and(|k| !k.is_empty()) {
            break reply;
        }
        assert!(Instant::now() < deadline, "no process to kill within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (status, _, body) = http(
        addr,
        "POST",
        "/_emulator/functions/sleeper/kill?all",
        &[],
        b"",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let process = &killed["killed"][0];
    assert_eq!(process["busy"], true, "{killed}");
    let pid = process["pid"].as_u64().unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), invocation)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let failure = result.failure.expect("the invocation failed");
    assert_eq!(
        failure,
        emulator_lambda::FailureKind::Crash("signal: killed".into())
    );
    // Reaped at once: no zombie left under this pid.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    assert!(!status.contains("State:\tZ"), "{status}");
    server.shutdown().await.unwrap();
}

/// The config's `emulator.faults` are in force from the first request of the real binary, the
/// config's `fault_seed` is used, a `--fault` rule adds to them, and a bad rule in the config
/// stops `serve` with the reason and the file's path.
#[tokio::test(flavor = "multi_thread")]
async fn config_fault_rules_apply_from_the_first_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut config: Value = serde_json::from_str(pipeline_core::config::EMBEDDED_PIPELINE_JSON)
        .expect("the shipped config is JSON");
    config["aws"]["account_id"] = "000000000000".into();
    config["emulator"] = json!({
        "faults": [{"service": "s3", "operation": "ListBuckets", "error": "SlowDown", "times": 1}],
        "fault_seed": 11
    });
    let path = dir.path().join("pipeline.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_emulator"))
        .args(["serve", "--no-functions", "--port", &port.to_string()])
        .arg("--config")
        .arg(&path)
        .args(["--fault", "glue:GetDatabases:ThrottlingException:times=1"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the emulator binary starts");
    let _child = KillOnDrop(child);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let started = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no start in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s3 = s3(&format!("http://{addr}"), 1).await;
    let err = s3.list_buckets().send().await.unwrap_err();
    assert_eq!(err.code(), Some("SlowDown"), "{err:?}");
    s3.list_buckets()
        .send()
        .await
        .expect("times=1: the second call is served");
    let rules = get_faults(addr).await;
    assert_eq!(rules["seed"], 11, "{rules}");
    assert_eq!(
        rules["rules"][0]["service"], "s3",
        "config rules first: {rules}"
    );
    assert_eq!(rules["rules"][0]["hits"], 1, "{rules}");
    assert_eq!(
        rules["rules"][1]["service"], "glue",
        "then --fault: {rules}"
    );

    config["emulator"]["faults"][0]["operation"] = "GetObjetc".into();
    std::fs::write(&path, config.to_string()).unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_emulator"))
        .args(["serve", "--port", "0", "--config"])
        .arg(&path)
        .output()
        .expect("the emulator runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains("emulator.faults[0]"), "{stderr}");
    assert!(
        stderr.contains("s3 has no operation \"GetObjetc\""),
        "{stderr}"
    );
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
}

/// A failing test leaves no emulator process behind.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
