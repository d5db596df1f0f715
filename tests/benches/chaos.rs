//! Chaos bench, run with `cargo bench -p e2e-tests --bench chaos`: the chaos test's drill at full
//! size. 2,000 valid files of all three entities over 100 days (plus three bad by construction)
//! go through the release `emulator serve` twice: with no faults, then with 20% of the handler's
//! S3 GetObject/HeadObject/PutObject/UploadPart/CompleteMultipartUpload and Glue
//! GetPartition/BatchCreatePartition calls failing, 10 function kills mid-batch and every third
//! S3 event delivered twice, late and out of order (see `tests/chaos.rs`).
//!
//! Prints, for both runs: files/s and time to drain (first upload to outputs complete and queue
//! empty), faults injected (each an SDK retry, or a failed file attempt once the SDK gave up),
//! failed invocations (killed batches, retried after the visibility timeout), and the
//! exactly-once check: files lost, rows lost or duplicated, outputs that differ from the clean
//! run's. Exits non-zero (panics) when anything was lost, duplicated or changed.

use std::time::Duration;

use e2e_tests::chaos::{self, ChaosPlan, RunOutcome};

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let plan = ChaosPlan {
        files: 2_000,
        days: 100,
        fault_probability: 0.2,
        kills: 10,
        seed: 2_000,
        drain_within: Duration::from_secs(900),
    };
    let files = chaos::source_files(&plan);
    let input_rows = chaos::input_rows(&files);
    let dir = std::env::temp_dir().join(format!("skipdb-chaos-bench-{}", std::process::id()));
    let clean = chaos::run(&plan, &files, false, &dir.join("clean")).await;
    let wild = chaos::run(&plan, &files, true, &dir.join("chaos")).await;

    let differing = chaos::differing_outputs(&clean, &wild).len();
    let bad_in_dlq = |run: &RunOutcome| {
        run.dead_letters
            .iter()
            .filter(|(key, _, _)| files.iter().any(|f| &f.key == key && f.bad.is_some()))
            .count()
    };

    println!();
    println!("==================== chaos drill ====================");
    println!(
        "emulator binary: {}",
        e2e_tests::emulator_binary().display()
    );
    println!(
        "{} valid files over {} days (+3 bad), {input_rows} rows; chaos: {:.0}% faults on {} operations, {} kills",
        plan.files,
        plan.days,
        plan.fault_probability * 100.0,
        chaos::FAULTED.len(),
        plan.kills
    );
    for (name, run) in [("clean", &clean), ("chaos", &wild)] {
        println!(
            "{name:<6} drain {:>7.1} s  {:>7.1} files/s  faults {:>5}  kills {:>2}  duplicated events {:>4}  \
             invocations {:>5} (failed {:>3})  outputs {:>5}  rows {:>8}  DLQ {} ({} bad files)  queue {:?}",
            run.drain_time.as_secs_f64(),
            files_per_second(&plan, run),
            run.faults_injected,
            run.kills,
            run.duplicated_events,
            run.invocations,
            run.failed_invocations,
            run.outputs.len(),
            run.output_rows,
            run.dead_letters.len(),
            bad_in_dlq(run),
            run.queue_depth
        );
    }
    println!("failed batches, clean: {:?}", clean.failed_batches);
    println!("failed batches, chaos: {:?}", wild.failed_batches);
    println!("outputs differing from the clean run: {differing}");
    println!("=========================================================================");
    for (system, run) in [("no faults", &clean), ("20% faults + kills", &wild)] {
        let line = |figure: &str, value: String, unit: &str| {
            println!("BENCH|chaos|{figure}|{system}|{value}|{unit}");
        };
        line(
            "files/s (2,000 files)",
            format!("{:.1}", files_per_second(&plan, run)),
            "files/s",
        );
        line(
            "time to drain",
            format!("{:.1}", run.drain_time.as_secs_f64()),
            "s",
        );
        line(
            "faults injected (SDK retries)",
            run.faults_injected.to_string(),
            "faults",
        );
        line(
            "failed invocations (batch retries)",
            run.failed_invocations.to_string(),
            "invocations",
        );
        line(
            "files lost",
            plan.files.saturating_sub(run.outputs.len()).to_string(),
            "files",
        );
        let rows = run.output_rows as i64 - input_rows as i64;
        line("rows lost (-) or duplicated (+)", rows.to_string(), "rows");
    }
    println!(
        "BENCH|chaos|outputs differing from the clean run|20% faults + kills|{differing}|objects"
    );

    assert_eq!(
        clean.outputs.len(),
        plan.files,
        "clean run: one output per file"
    );
    assert_eq!(
        clean.output_rows, input_rows,
        "clean run: rows out = rows in"
    );
    assert_eq!(
        wild.output_rows, input_rows,
        "chaos run: 0 lost, 0 duplicated rows"
    );
    assert_eq!(
        differing, 0,
        "chaos run outputs differ from the clean run's"
    );
    assert_eq!(
        wild.partitions, clean.partitions,
        "the same Glue partitions"
    );
    assert_eq!(wild.kills, plan.kills, "kills mid-batch");
    for run in [&clean, &wild] {
        assert_eq!(run.queue_depth, (0, 0), "queue empty");
        assert_eq!(
            bad_in_dlq(run),
            run.dead_letters.len(),
            "only bad files in the DLQ: {:?}",
            run.dead_letters
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn files_per_second(plan: &ChaosPlan, run: &RunOutcome) -> f64 {
    plan.files as f64 / run.drain_time.as_secs_f64().max(f64::EPSILON)
}
