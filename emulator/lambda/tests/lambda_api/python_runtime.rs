//! Runtimes the emulator did not write: AWS's own Python runtime interface client
//! (`awslambdaric`, `pip install awslambdaric`) and a standard-library custom runtime. If they
//! work, the Runtime API is the real one.

use std::path::PathBuf;
use std::process::Command;

use crate::common::Harness;
use aws_sdk_lambda::primitives::Blob;
use emulator_lambda::FunctionSpec;
use serde_json::{json, Value};

fn python_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python")
}

fn python_function(name: &str, args: &[&str]) -> FunctionSpec {
    let mut command = vec!["python3".to_owned()];
    command.extend(args.iter().map(|a| (*a).to_owned()));
    let mut spec = FunctionSpec::new(name, command);
    spec.working_dir = Some(python_dir());
    spec.environment
        .insert("PYTHONPATH".into(), python_dir().display().to_string());
    spec
}

fn require_awslambdaric() {
    let found = Command::new("python3")
        .args(["-c", "import awslambdaric"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "these tests need AWS's runtime client: pip install awslambdaric"
    );
}

async fn invoke(h: &Harness, name: &str, payload: Value) -> (Option<String>, Value) {
    let out = h
        .lambda_client()
        .await
        .invoke()
        .function_name(name)
        .payload(Blob::new(payload.to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code(), 200);
    let body = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    (out.function_error().map(str::to_owned), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awslambdaric_handler_answers_through_the_invoke_api() {
    require_awslambdaric();
    let h = Harness::start().await;
    let mut ok = python_function("py-echo", &["-m", "awslambdaric", "echo_handler.handler"]);
    ok.timeout_seconds = 5;
    h.lambda.add_function(ok).unwrap();
    h.lambda
        .add_function(python_function(
            "py-fail",
            &["-m", "awslambdaric", "echo_handler.fail"],
        ))
        .unwrap();
    h.lambda
        .add_function(python_function(
            "py-missing",
            &["-m", "awslambdaric", "no_such_module.handler"],
        ))
        .unwrap();

    let (error, body) = invoke(&h, "py-echo", json!({"n": 1})).await;
    assert_eq!(error, None, "{body}");
    assert_eq!(body["echo"], json!({"n": 1}));
    assert_eq!(body["function_name"], "py-echo");
    assert_eq!(
        body["invoked_function_arn"],
        h.lambda.function_arn("py-echo").as_str()
    );
    assert_eq!(body["endpoint"], h.endpoint.as_str());
    let remaining = body["remaining_ms"].as_u64().unwrap();
    assert!(
        remaining > 3_000 && remaining <= 5_000,
        "deadline header honoured: {remaining}"
    );

    let (error, body) = invoke(&h, "py-fail", json!({"n": 2})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorType"], "ValueError");
    assert_eq!(body["errorMessage"], "bad input: 2");

    // An import error is an init error: awslambdaric posts /init/error and exits.
    let (error, body) = invoke(&h, "py-missing", json!({})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorType"], "Runtime.ImportModuleError", "{body}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdlib_custom_runtime_sees_the_documented_protocol() {
    let h = Harness::start().await;
    h.lambda
        .add_function(python_function("raw", &["raw_runtime.py"]))
        .unwrap();
    let (error, body) = invoke(&h, "raw", json!({"k": "v"})).await;
    assert_eq!(error, None, "{body}");
    assert_eq!(body["event"], json!({"k": "v"}));
    let headers = &body["headers"];
    assert_eq!(
        headers["lambda-runtime-invoked-function-arn"],
        h.lambda.function_arn("raw").as_str()
    );
    assert!(headers["lambda-runtime-deadline-ms"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .is_ok());
    assert!(headers["lambda-runtime-trace-id"]
        .as_str()
        .unwrap()
        .starts_with("Root=1-"));
    assert_eq!(
        headers["lambda-runtime-aws-request-id"]
            .as_str()
            .unwrap()
            .len(),
        36
    );
    assert_eq!(body["wrong_id"]["status"], 400);
    assert_eq!(body["wrong_id"]["body"]["errorType"], "InvalidRequestID");

    let (error, body) = invoke(&h, "raw", json!({"fail": true})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(
        body,
        json!({"errorMessage": "asked to fail", "errorType": "Custom.Failure"})
    );
    assert_eq!(
        h.lambda.stats("raw").unwrap().cold_starts,
        1,
        "the environment survives a function error"
    );
    h.stop().await;
}

/// The `State:` letter of process `pid` (`Z` for a zombie), or None when it is gone.
fn process_state(pid: u64) -> Option<char> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .and_then(|s| s.trim().chars().next())
}

/// Issue 11: a function process killed from outside while idle stayed a zombie until the next
/// invocation looked at it. It is reaped at once, and the next invocation gets a fresh one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_idle_process_is_reaped_at_once() {
    let h = Harness::start().await;
    h.lambda
        .add_function(python_function("raw-kill", &["raw_runtime.py"]))
        .unwrap();
    let (error, body) = invoke(&h, "raw-kill", json!({"k": 1})).await;
    assert_eq!(error, None, "{body}");
    let pid = body["pid"].as_u64().expect("the runtime reports its pid");
    assert_eq!(
        process_state(pid).map(|s| s != 'Z'),
        Some(true),
        "alive and idle"
    );
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    // Gone, or (the pid reused at once) no longer our runtime: either way, reaped.
    let reaped = || match process_state(pid) {
        None => true,
        Some('Z') => false,
        Some(_) => !std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .unwrap_or_default()
            .contains("raw_runtime.py"),
    };
    while !reaped() {
        assert!(
            std::time::Instant::now() < deadline,
            "process {pid} is still {:?} 2 s after kill -9",
            process_state(pid)
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (error, body) = invoke(&h, "raw-kill", json!({"k": 2})).await;
    assert_eq!(error, None, "{body}");
    assert_ne!(body["pid"].as_u64(), Some(pid), "a fresh process");
}
