//! The emulator crash drill (issue 11, durability): the chaos drill's files go through
//! `emulator serve --data-dir DIR` while the emulator itself is killed with `kill -9` at random
//! points with work in flight, and restarted on the same dir and port each time. The function
//! processes die with it (PR_SET_PDEATHSIG), as an environment dies with its sandbox.
//!
//! What must hold afterwards is what the chaos drill checks against a clean run: an acknowledged
//! upload's event survives (S3 answers only once the event is on disk), a batch the kill cut off
//! comes back after the visibility timeout and is finished by the restarted pipeline, and a
//! delete the kill lost only makes the handler see a file it already wrote (a skipped duplicate).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use pipeline_core::config::Config;

use crate::chaos::{self, RunOutcome, SourceFile};
use crate::{Pipeline, StartOptions};

/// How the emulator is killed.
#[derive(Debug, Clone)]
pub struct CrashPlan {
    /// `kill -9`s of the emulator, each with messages in flight.
    pub kills: usize,
    /// Seed of the kill times.
    pub seed: u64,
    /// Upper bound for the pipeline to drain after the last restart.
    pub drain_within: Duration,
}

/// What the drill did besides the run's outcome.
#[derive(Debug, Default)]
pub struct CrashReport {
    /// Kills that caught the function running a batch.
    pub kills_mid_batch: usize,
    /// In-flight messages at each kill.
    pub in_flight_at_kill: Vec<u64>,
    /// Kill to healthy again, per restart.
    pub restart_times: Vec<Duration>,
    /// Uploads that failed because the emulator was down and were sent again.
    pub upload_retries: usize,
}

/// The function's timeout in the drill (the visibility timeout is 6x): a batch a kill cut off
/// comes back 12 s after it was received.
const FUNCTION_TIMEOUT_SECONDS: u64 = 2;

/// Runs the drill's files once through an emulator that is killed `plan.kills` times.
pub async fn run(plan: &CrashPlan, files: &[SourceFile], dir: &Path) -> (RunOutcome, CrashReport) {
    std::fs::create_dir_all(dir).expect("run dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let options = || StartOptions {
        config: Some(chaos::drill_config(dir, FUNCTION_TIMEOUT_SECONDS)),
        log_file: Some(dir.join("emulator.log")),
        args: vec!["--data-dir".into(), dir.join("data").display().to_string()],
        port: Some(port),
    };
    let mut pipeline = Pipeline::start_with(options()).await;
    let config = Config::embedded_default().expect("embedded config");
    let r = config.resources.clone();
    let sdk = chaos::patient_sdk_config(&pipeline).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = chaos::url_of_queue(&sqs, &r.sqs_queue).await;

    let started = Instant::now();
    let uploads = tokio::spawn(upload_through_crashes(
        s3.clone(),
        r.source_bucket.clone(),
        files.to_vec(),
    ));
    let mut report = CrashReport::default();
    let mut dice = plan.seed;
    for _ in 0..plan.kills {
        dice = dice
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        tokio::time::sleep(Duration::from_millis(100 + (dice >> 33) % 500)).await;
        let busy = wait_until_busy(&pipeline.url).await;
        let in_flight = chaos::queue_depth(&sqs, &queue_url)
            .await
            .map_or(0, |(_, in_flight)| in_flight);
        pipeline.kill_9();
        report.in_flight_at_kill.push(in_flight);
        report.kills_mid_batch += usize::from(busy);
        let killed = Instant::now();
        pipeline = Pipeline::start_with(options()).await;
        report.restart_times.push(killed.elapsed());
    }
    report.upload_retries = uploads.await.expect("upload task");
    let good = files.iter().filter(|f| f.bad.is_none()).count();
    let bad = files.len() - good;
    let depth = chaos::drained(&s3, &sqs, &r, &queue_url, good, bad, plan.drain_within).await;
    let drain_time = started.elapsed();
    let outcome = chaos::collect(dir, &pipeline, &config, &s3, &sqs).await;
    let outcome = RunOutcome {
        drain_time,
        queue_depth: depth,
        ..outcome
    };
    (outcome, report)
}

/// Waits (up to 20 s: a batch a kill cut off comes back after the visibility timeout) until the
/// function runs a batch; false if none came.
async fn wait_until_busy(url: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let (_, metrics) = chaos::emulator_request(url, "GET", "/metrics", "").await;
        let running = metrics
            .lines()
            .filter(|l| l.contains("lambda_concurrent_executions{") && l.contains("file-processor"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
        if running > 0.0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

/// Uploads every file, four at a time and 50 ms apart, so uploads go on while the emulator is
/// killed; an upload the kill cut off is sent again until it is acknowledged (for up to a
/// minute). Returns how many uploads were sent again.
async fn upload_through_crashes(
    s3: aws_sdk_s3::Client,
    bucket: String,
    files: Vec<SourceFile>,
) -> usize {
    let permits = Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = tokio::task::JoinSet::new();
    for file in files {
        let permit = permits.clone().acquire_owned().await.expect("semaphore");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (s3, bucket) = (s3.clone(), bucket.clone());
        tasks.spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut retries = 0;
            while let Err(e) = s3
                .put_object()
                .bucket(&bucket)
                .key(&file.key)
                .body(ByteStream::from(file.body.clone().into_bytes()))
                .send()
                .await
            {
                assert!(Instant::now() < deadline, "PutObject {}: {e:?}", file.key);
                retries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            drop(permit);
            retries
        });
    }
    let mut retries = 0;
    while let Some(done) = tasks.join_next().await {
        retries += done.expect("upload task");
    }
    retries
}
