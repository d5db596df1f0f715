//! The Invoke / ListFunctions / GetFunction routes through the real `aws-sdk-lambda` client, with
//! the Rust test function running under the emulator's Runtime API.
//!
//! AWS behaviour: https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html (function errors
//! are 200 + `X-Amz-Function-Error`), https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
//! (the environment a function gets).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::{spec, Harness, REGION};
use aws_sdk_lambda::error::SdkError;
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::LogType;
use base64::Engine;
use serde_json::{json, Value};

fn payload_json(out: &aws_sdk_lambda::operation::invoke::InvokeOutput) -> Value {
    serde_json::from_slice(out.payload().expect("payload").as_ref()).expect("JSON payload")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_runs_the_function_with_lambdas_environment() {
    let h = Harness::start().await;
    let mut f = spec(
        "echo",
        &[("TEST_MODE", "echo".into()), ("MY_SETTING", "42".into())],
    );
    f.timeout_seconds = 7;
    h.lambda.add_function(f).unwrap();
    let client = h.lambda_client().await;
    let sent = json!({"hello": "world", "n": [1, 2]});
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let out = client
        .invoke()
        .function_name("echo")
        .payload(Blob::new(sent.to_string()))
        .log_type(LogType::Tail)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code(), 200);
    assert_eq!(out.function_error(), None);
    assert_eq!(out.executed_version(), Some("$LATEST"));
    let body = payload_json(&out);
    assert_eq!(body["event"], sent);
    let arn = h.lambda.function_arn("echo");
    assert_eq!(body["invoked_function_arn"], arn.as_str());
    let deadline = body["deadline_ms"].as_u64().unwrap();
    assert!(
        deadline >= before + 7_000 && deadline <= before + 9_000,
        "deadline {deadline} vs {before}"
    );
    let env = &body["env"];
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "echo");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/echo");
    assert!(env["AWS_LAMBDA_LOG_STREAM_NAME"]
        .as_str()
        .unwrap()
        .contains("/[$LATEST]"));
    assert_eq!(env["AWS_REGION"], REGION);
    assert_eq!(env["AWS_DEFAULT_REGION"], REGION);
    assert_eq!(env["AWS_ENDPOINT_URL"], h.endpoint.as_str());
    assert_eq!(env["AWS_ACCESS_KEY_ID"], "test");
    assert!(env["AWS_SECRET_ACCESS_KEY"].is_string() && env["AWS_SESSION_TOKEN"].is_string());
    assert!(env["AWS_LAMBDA_RUNTIME_API"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert_eq!(
        env["_HANDLER"], "test_function",
        "the command's last word, as a file name"
    );
    assert!(env["LAMBDA_TASK_ROOT"].is_string());
    assert!(
        env["_X_AMZN_TRACE_ID"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-"),
        "trace id header reached the runtime"
    );
    assert_eq!(env["MY_SETTING"], "42");

    let log = base64::engine::general_purpose::STANDARD
        .decode(out.log_result().expect("log tail"))
        .unwrap();
    let log = String::from_utf8(log).unwrap();
    assert!(
        log.contains("START RequestId: ") && log.contains("REPORT RequestId: "),
        "{log}"
    );

    // Warm: the second invocation reuses the environment.
    client.invoke().function_name(&arn).send().await.unwrap();
    let stats = h.lambda.stats("echo").unwrap();
    assert_eq!((stats.invocations, stats.cold_starts), (2, 1));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_error_is_200_with_x_amz_function_error() {
    let h = Harness::start().await;
    h.lambda
        .add_function(spec("fails", &[("TEST_FAIL_ALWAYS", "1".into())]))
        .unwrap();
    let out = h
        .lambda_client()
        .await
        .invoke()
        .function_name("fails")
        .payload(Blob::new("{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code(), 200);
    assert_eq!(out.function_error(), Some("Unhandled"));
    let body = payload_json(&out);
    assert_eq!(body["errorMessage"], "failing on purpose");
    assert!(body["errorType"].is_string(), "{body}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_and_startup_failures_are_reported_like_lambda() {
    let h = Harness::start().await;
    let mut slow = spec("slow", &[("TEST_SLEEP_MS", "10000".into())]);
    slow.timeout_seconds = 1;
    h.lambda.add_function(slow).unwrap();
    h.lambda
        .add_function(emulator_lambda::FunctionSpec::new(
            "missing",
            vec!["/nonexistent/bootstrap".into()],
        ))
        .unwrap();
    h.lambda
        .add_function(emulator_lambda::FunctionSpec::new(
            "exits",
            vec!["false".into()],
        ))
        .unwrap();
    let client = h.lambda_client().await;

    let out = client.invoke().function_name("slow").send().await.unwrap();
    assert_eq!(out.function_error(), Some("Unhandled"));
    let body = payload_json(&out);
    assert_eq!(body["errorType"], "Sandbox.Timedout");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Task timed out after 1.00 seconds"),
        "{body}"
    );

    let out = client
        .invoke()
        .function_name("missing")
        .send()
        .await
        .unwrap();
    assert_eq!(out.function_error(), Some("Unhandled"));
    assert_eq!(payload_json(&out)["errorType"], "Runtime.InvalidEntrypoint");

    let out = client.invoke().function_name("exits").send().await.unwrap();
    assert_eq!(out.function_error(), Some("Unhandled"));
    let body = payload_json(&out);
    assert_eq!(body["errorType"], "Runtime.ExitError");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("exit status 1"),
        "{body}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_functions_and_bad_payloads_are_client_errors() {
    let h = Harness::start().await;
    h.lambda.add_function(spec("known", &[])).unwrap();
    let client = h.lambda_client().await;
    let err = client
        .invoke()
        .function_name("nope")
        .send()
        .await
        .unwrap_err();
    match &err {
        SdkError::ServiceError(e) => {
            assert!(
                matches!(e.err(), InvokeError::ResourceNotFoundException(_)),
                "{err:?}"
            );
            assert_eq!(e.raw().status().as_u16(), 404);
        }
        other => panic!("expected a service error, got {other:?}"),
    }
    let err = client
        .invoke()
        .function_name("known")
        .qualifier("7")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        InvokeError::ResourceNotFoundException(_)
    ));
    let err = client
        .invoke()
        .function_name("known")
        .payload(Blob::new("{not json"))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.into_service_error(),
            InvokeError::InvalidRequestContentException(_)
        ),
        "a payload that is not JSON is refused before any process starts"
    );
    assert_eq!(h.lambda.stats("known").unwrap().invocations, 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_get_functions_and_mappings() {
    let h = Harness::start().await;
    h.queue("feed", &[]);
    let mut f = spec("alpha", &[("MY_SETTING", "x".into())]);
    f.memory_size_mb = 512;
    f.sqs_trigger = Some(emulator_lambda::SqsTrigger::new("feed"));
    h.lambda.add_function(f).unwrap();
    h.lambda.add_function(spec("beta", &[])).unwrap();
    let client = h.lambda_client().await;

    let listed = client.list_functions().send().await.unwrap();
    let names: Vec<&str> = listed
        .functions()
        .iter()
        .filter_map(|f| f.function_name())
        .collect();
    assert_eq!(names, ["alpha", "beta"]);

    let got = client
        .get_function()
        .function_name("alpha")
        .send()
        .await
        .unwrap();
    let config = got.configuration().unwrap();
    assert_eq!(
        config.function_arn(),
        Some(h.lambda.function_arn("alpha").as_str())
    );
    assert_eq!(config.memory_size(), Some(512));
    assert_eq!(config.timeout(), Some(30));
    assert_eq!(
        config
            .environment()
            .and_then(|e| e.variables())
            .and_then(|v| v.get("MY_SETTING"))
            .map(String::as_str),
        Some("x")
    );
    let err = client
        .get_function()
        .function_name("gamma")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());

    let mappings = client.list_event_source_mappings().send().await.unwrap();
    let mapping = &mappings.event_source_mappings()[0];
    assert_eq!(
        mapping.event_source_arn(),
        Some(h.sqs.queue_arn("feed").as_str())
    );
    assert_eq!(mapping.batch_size(), Some(10));
    assert_eq!(
        mapping
            .scaling_config()
            .and_then(|s| s.maximum_concurrency()),
        Some(2)
    );
    assert_eq!(mappings.event_source_mappings().len(), 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapping_on_a_missing_queue_is_refused() {
    let h = Harness::start().await;
    let mut f = spec("orphan", &[]);
    f.sqs_trigger = Some(emulator_lambda::SqsTrigger::new("does-not-exist"));
    h.lambda.add_function(f).unwrap();
    let err = h.lambda.start_event_source_mappings().await.unwrap_err();
    assert!(err.to_string().contains("does-not-exist"), "{err}");

    // CreateEventSourceMapping refuses a queue whose visibility timeout is below the function's.
    let h2 = Harness::start().await;
    h2.queue("short", &[("VisibilityTimeout", "10".into())]);
    let mut f = spec("too-slow", &[]);
    f.sqs_trigger = Some(emulator_lambda::SqsTrigger::new("short"));
    h2.lambda.add_function(f).unwrap();
    let err = h2.lambda.start_event_source_mappings().await.unwrap_err();
    assert!(
        matches!(
            err,
            emulator_lambda::LambdaError::VisibilityBelowTimeout {
                visibility: 10,
                timeout: 30,
                ..
            }
        ),
        "{err}"
    );
    h2.stop().await;
    assert!(
        h.lambda.add_function(spec("orphan", &[])).is_err(),
        "names are unique"
    );
    tokio::time::timeout(Duration::from_secs(5), h.stop())
        .await
        .unwrap();
}
