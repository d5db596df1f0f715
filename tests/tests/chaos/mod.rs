//! The chaos test (issue 11): 300 files of all three entities over 20 days go through the
//! pipeline twice, once clean and once with 20% of the handler's S3 reads/writes and Glue
//! partition calls failing, five function kills mid-batch, and every third S3 event delivered a
//! second time, late and out of order. The chaos run must end exactly where the clean run did:
//! the same output objects byte for byte, the same Glue partitions, as many rows out as in,
//! nothing left in the queue, and in the DLQ only the files that are bad by construction, each
//! with its reason. The drill itself is `e2e_tests::chaos` (the chaos bench runs it at 2,000).

use std::time::{Duration, Instant};

use e2e_tests::chaos::{self, ChaosPlan};
use e2e_tests::crash::{self, CrashPlan};

/// Over 80 lines: the two runs, then the checks in the order the issue lists them.
#[tokio::test(flavor = "multi_thread")]
async fn a_chaos_run_ends_exactly_where_a_clean_run_does() {
    let plan = ChaosPlan {
        files: 300,
        days: 20,
        fault_probability: 0.2,
        kills: 5,
        seed: 11,
        drain_within: Duration::from_secs(150),
    };
    let files = chaos::source_files(&plan);
    let input_rows = chaos::input_rows(&files);
    let dir = std::env::temp_dir().join(format!("skipdb-chaos-{}", std::process::id()));
    let started = Instant::now();
    let clean = chaos::run(&plan, &files, false, &dir.join("clean")).await;
    let clean_time = started.elapsed();
    let wild = chaos::run(&plan, &files, true, &dir.join("chaos")).await;
    eprintln!(
        "chaos test: clean run {:.1} s ({} of {} invocations failed: {:?}), chaos run {:.1} s ({} \
         faults injected, {} kills mid-batch, {} events duplicated, {} of {} invocations failed: {:?})",
        clean_time.as_secs_f64(),
        clean.failed_invocations,
        clean.invocations,
        clean.failed_batches,
        wild.drain_time.as_secs_f64(),
        wild.faults_injected,
        wild.kills,
        wild.duplicated_events,
        wild.failed_invocations,
        wild.invocations,
        wild.failed_batches
    );

    // The clean run is the reference: one output per valid file, every row, only bad files dead-lettered.
    assert_eq!(
        clean.outputs.len(),
        plan.files,
        "{:?}",
        clean.outputs.keys()
    );
    assert_eq!(
        clean.output_rows, input_rows,
        "clean run: rows out = rows in"
    );
    assert_eq!(clean.queue_depth, (0, 0));
    check_dead_letters(&files, &clean.dead_letters, "clean");

    // The drill really happened.
    assert_eq!(wild.kills, plan.kills, "kills that caught a batch running");
    assert!(
        wild.faults_injected >= 50,
        "only {} faults injected",
        wild.faults_injected
    );
    assert!(
        wild.duplicated_events >= 90,
        "{} duplicated events",
        wild.duplicated_events
    );

    // And changed nothing.
    let clean_keys: Vec<_> = clean.outputs.keys().collect();
    let wild_keys: Vec<_> = wild.outputs.keys().collect();
    assert_eq!(wild_keys, clean_keys, "the same output keys");
    let differing = chaos::differing_outputs(&clean, &wild);
    assert!(
        differing.is_empty(),
        "outputs whose bytes differ: {differing:?}"
    );
    assert_eq!(
        wild.partitions, clean.partitions,
        "the same Glue partitions"
    );
    assert_eq!(wild.output_rows, input_rows, "0 lost, 0 duplicated rows");
    assert_eq!(wild.queue_depth, (0, 0), "the pipeline queue is empty");
    check_dead_letters(&files, &wild.dead_letters, "chaos");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every DLQ entry is a file that is bad by construction, with a permanent error naming why;
/// every bad file has one (a duplicated event of a bad file may add a second).
fn check_dead_letters(
    files: &[chaos::SourceFile],
    entries: &[(String, String, String)],
    run: &str,
) {
    for (key, class, reason) in entries {
        let file = files.iter().find(|f| &f.key == key);
        let why = file.and_then(|f| f.bad).unwrap_or_else(|| {
            panic!("{run} run: a file that is not bad reached the DLQ: {key} ({class}: {reason})")
        });
        assert_eq!(class, "permanent", "{run}: {key}: {reason}");
        assert!(
            reason.contains(why) && reason.contains(key.as_str()),
            "{run}: {key}: {reason}"
        );
    }
    for bad in files.iter().filter(|f| f.bad.is_some()) {
        assert!(
            entries.iter().any(|(key, _, _)| key == &bad.key),
            "{run} run: {} never reached the DLQ: {entries:?}",
            bad.key
        );
    }
}

/// The emulator itself killed with `kill -9` three times while the function runs a batch, and
/// restarted on the same `--data-dir`: the pipeline finishes the work left in flight and ends
/// exactly where a clean run does (issue 11, durability).
#[tokio::test(flavor = "multi_thread")]
async fn an_emulator_killed_mid_batch_finishes_the_work_after_restart() {
    let plan = ChaosPlan {
        files: 60,
        days: 4,
        fault_probability: 0.0,
        kills: 0,
        seed: 0,
        drain_within: Duration::from_secs(90),
    };
    let files = chaos::source_files(&plan);
    let input_rows = chaos::input_rows(&files);
    let dir = std::env::temp_dir().join(format!("skipdb-crash-{}", std::process::id()));
    let clean = chaos::run(&plan, &files, false, &dir.join("clean")).await;
    let crash_plan = CrashPlan {
        kills: 3,
        seed: 9,
        drain_within: Duration::from_secs(90),
    };
    let (crashed, report) = crash::run(&crash_plan, &files, &dir.join("crash")).await;
    eprintln!(
        "crash drill: {} kill -9s of the emulator ({} mid-batch, messages in flight {:?}), \
         restarts {:?}, {} uploads sent again, drained {:.1} s after the first upload; \
         {} of {} invocations failed: {:?}",
        crash_plan.kills,
        report.kills_mid_batch,
        report.in_flight_at_kill,
        report.restart_times,
        report.upload_retries,
        crashed.drain_time.as_secs_f64(),
        crashed.failed_invocations,
        crashed.invocations,
        crashed.failed_batches,
    );
    assert_eq!(clean.outputs.len(), plan.files);
    assert_eq!(clean.output_rows, input_rows);
    assert_eq!(
        report.kills_mid_batch, crash_plan.kills,
        "every kill caught a batch running"
    );
    let clean_keys: Vec<_> = clean.outputs.keys().collect();
    let crashed_keys: Vec<_> = crashed.outputs.keys().collect();
    assert_eq!(crashed_keys, clean_keys, "the same output keys");
    let differing = chaos::differing_outputs(&clean, &crashed);
    assert!(differing.is_empty(), "outputs that differ: {differing:?}");
    assert_eq!(crashed.partitions, clean.partitions, "the same partitions");
    assert_eq!(crashed.output_rows, input_rows, "0 lost, 0 duplicated rows");
    assert_eq!(crashed.queue_depth, (0, 0), "the pipeline queue is empty");
    check_dead_letters(&files, &crashed.dead_letters, "crash");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `serve --fault` rules are in force from the first request, and a bad one stops `serve` with
/// the reason before it listens.
#[tokio::test(flavor = "multi_thread")]
async fn serve_fault_rules_apply_from_the_first_request() {
    let pipeline = e2e_tests::Pipeline::start_with(e2e_tests::StartOptions {
        args: vec![
            "--fault".into(),
            "s3:ListBuckets:SlowDown:times=1".into(),
            "--fault-seed".into(),
            "3".into(),
        ],
        ..Default::default()
    })
    .await;
    let sdk = pipeline
        .sdk_config()
        .await
        .into_builder()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let err = s3.list_buckets().send().await.unwrap_err();
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&err),
        Some("SlowDown"),
        "{err:?}"
    );
    s3.list_buckets()
        .send()
        .await
        .expect("times=1: the second call is served");
    let (_, rules) = chaos::emulator_request(&pipeline.url, "GET", "/_emulator/faults", "").await;
    let rules: serde_json::Value = serde_json::from_str(&rules).unwrap();
    assert_eq!(rules["seed"], 3, "{rules}");
    assert_eq!(rules["rules"][0]["hits"], 1, "{rules}");

    let refused = std::process::Command::new(e2e_tests::emulator_binary())
        .args(["serve", "--port", "0", "--fault", "s3:GetObjetc:SlowDown"])
        .output()
        .expect("emulator runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("s3 has no operation \"GetObjetc\""),
        "{stderr}"
    );
}
