//! Throughput of this emulator against moto_server, measured in one run with the same client.
//!
//! Both servers run as separate processes on loopback; the same aws-sdk-rust clients drive each
//! with the same concurrency. Workloads: SQS send+receive+delete of one message (a "message"),
//! and S3 PUT+GET of a 4 KiB object (an "object"). The emulator runs twice: in memory, and with
//! `--data-dir` (every acknowledged write fsynced first). Prints rates and the emulator/moto
//! ratios.
//!
//! Run: `cargo bench -p emulator --bench vs_moto` (needs `moto_server`: `pip install 'moto[server]'`).
//! `VS_MOTO_BASELINE_BIN=<path of another emulator build>` adds that build, in memory, to the same run.
//! Knobs: BENCH_CONCURRENCY (default 8), BENCH_SECONDS per workload and server (default 5).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_s3::primitives::ByteStream;

struct ServerProcess {
    name: &'static str,
    url: String,
    child: Child,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_ready(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let host = url.trim_start_matches("http://").to_owned();
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(&host).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} did not come up");
}

/// The emulator in memory, or keeping its state in `data_dir`.
async fn start_emulator(data_dir: Option<&std::path::Path>) -> ServerProcess {
    start_emulator_binary(env!("CARGO_BIN_EXE_emulator").as_ref(), data_dir, None).await
}

/// `binary serve --empty` (in memory, or on `data_dir`); `name` overrides the printed name.
async fn start_emulator_binary(
    binary: &std::path::Path,
    data_dir: Option<&std::path::Path>,
    name: Option<&'static str>,
) -> ServerProcess {
    let port = free_port();
    let mut command = Command::new(binary);
    command.args(["serve", "--empty", "--port", &port.to_string()]);
    if let Some(dir) = data_dir {
        command.arg("--data-dir").arg(dir);
    }
    let child = command
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("emulator binary starts");
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&url).await;
    ServerProcess {
        name: if let Some(name) = name {
            name
        } else if data_dir.is_some() {
            "emulator --data-dir"
        } else {
            "emulator"
        },
        url,
        child,
    }
}

async fn start_moto() -> ServerProcess {
    let port = free_port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts (pip install 'moto[server]')");
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&url).await;
    ServerProcess {
        name: "moto",
        url,
        child,
    }
}

async fn sdk_config(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await
}

/// Runs `op` from `concurrency` tasks for `seconds`; returns completed operations per second.
async fn rate<F, Fut>(concurrency: usize, seconds: u64, op: F) -> f64
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for worker in 0..concurrency as u64 {
        let op = op.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while Instant::now() < deadline {
                op(worker * 1_000_000 + i).await;
                i += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

async fn sqs_rate(url: &str, concurrency: usize, seconds: u64) -> f64 {
    let client = aws_sdk_sqs::Client::new(&sdk_config(url).await);
    let queue = client
        .create_queue()
        .queue_name("bench")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    rate(concurrency, seconds, move |i| {
        let client = client.clone();
        let queue = queue.clone();
        async move {
            client
                .send_message()
                .queue_url(&queue)
                .message_body(format!("message {i}"))
                .send()
                .await
                .unwrap();
            let got = client
                .receive_message()
                .queue_url(&queue)
                .send()
                .await
                .unwrap();
            for m in got.messages() {
                client
                    .delete_message()
                    .queue_url(&queue)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    })
    .await
}

async fn s3_rate(url: &str, concurrency: usize, seconds: u64) -> f64 {
    let conf = aws_sdk_s3::config::Builder::from(&sdk_config(url).await)
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(conf);
    client.create_bucket().bucket("bench").send().await.unwrap();
    let body = vec![7u8; 4096];
    rate(concurrency, seconds, move |i| {
        let client = client.clone();
        let body = body.clone();
        async move {
            let key = format!("objects/{i}");
            client
                .put_object()
                .bucket("bench")
                .key(&key)
                .body(ByteStream::from(body))
                .send()
                .await
                .unwrap();
            let got = client
                .get_object()
                .bucket("bench")
                .key(&key)
                .send()
                .await
                .unwrap();
            let bytes = got.body.collect().await.unwrap().into_bytes();
            assert_eq!(bytes.len(), 4096);
        }
    })
    .await
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let concurrency = env_or("BENCH_CONCURRENCY", 8) as usize;
    let seconds = env_or("BENCH_SECONDS", 5);
    println!("concurrency {concurrency}, {seconds} s per workload and server");
    let data_dir = tempfile::tempdir().expect("a temporary data dir");
    let mut results = Vec::new();
    let mut servers = vec![
        start_emulator(None).await,
        start_emulator(Some(data_dir.path())).await,
        start_moto().await,
    ];
    // `VS_MOTO_BASELINE_BIN=<an older emulator binary>`: that build measured in the same run too
    // (in memory), to see what a change costs on the hot path.
    if let Some(baseline) = std::env::var_os("VS_MOTO_BASELINE_BIN").filter(|b| !b.is_empty()) {
        let path = std::path::PathBuf::from(baseline);
        servers.push(start_emulator_binary(&path, None, Some("emulator (baseline)")).await);
    }
    for server in servers {
        let sqs = sqs_rate(&server.url, concurrency, seconds).await;
        let s3 = s3_rate(&server.url, concurrency, seconds).await;
        println!("{:>19}: SQS send+receive+delete {sqs:>9.0} messages/s, S3 PUT+GET 4 KiB {s3:>9.0} objects/s", server.name);
        // The summary lines scripts/bench.sh collects (convention at the top of that script).
        println!(
            "BENCH|vs_moto|SQS send+receive+delete|{}|{sqs:.0}|messages/s",
            server.name
        );
        println!(
            "BENCH|vs_moto|S3 PUT+GET 4 KiB|{}|{s3:.0}|objects/s",
            server.name
        );
        results.push((sqs, s3));
    }
    let (memory, disk, moto) = (results[0], results[1], results[2]);
    println!(
        "ratio emulator/moto: SQS {:.1}x, S3 {:.1}x; with --data-dir: SQS {:.1}x, S3 {:.1}x",
        memory.0 / moto.0,
        memory.1 / moto.1,
        disk.0 / moto.0,
        disk.1 / moto.1
    );
    if let Some(baseline) = results.get(3) {
        println!(
            "this build / baseline build (in memory): SQS {:.2}x, S3 {:.2}x",
            memory.0 / baseline.0,
            memory.1 / baseline.1
        );
    }
}
