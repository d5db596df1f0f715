//! Memory of one big object through the emulator: a PutObject then a GetObject of a 1 GiB file
//! (both streamed by aws-sdk-rust), measured as the emulator process's peak RSS (`VmHWM` in
//! `/proc/<pid>/status`). Runs the emulator with `--data-dir` (objects are files), in memory
//! (bodies over 8 MiB spill to a temporary directory), and moto_server as the peer when it is
//! installed. Issue 11's target: under 150 MiB in `--data-dir` mode; the bench fails above it.
//!
//! Run: `cargo bench -p emulator --bench big_object`. Knob: BIG_OBJECT_MIB (default 1024).

use std::io::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_s3::primitives::ByteStream;

const TARGET_MIB: u64 = 150;

struct Server {
    name: &'static str,
    url: String,
    child: Child,
}

impl Drop for Server {
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

async fn start(name: &'static str, mut command: Command, port: u16) -> Server {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{name} starts: {e}"));
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "{name} did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server { name, url, child }
}

fn emulator(data_dir: Option<&Path>, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_emulator"));
    command.args(["serve", "--empty", "--port", &port.to_string()]);
    if let Some(dir) = data_dir {
        command.arg("--data-dir").arg(dir);
    }
    command.env("RUST_LOG", "warn");
    command
}

/// Peak resident set of `pid` in KiB.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn s3_client(url: &str) -> aws_sdk_s3::Client {
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    )
}

/// PUT then GET `file`; returns (seconds, peak RSS in MiB).
async fn run(server: &Server, file: &Path, size: u64) -> (f64, u64) {
    let s3 = s3_client(&server.url).await;
    s3.create_bucket().bucket("big").send().await.unwrap();
    let started = Instant::now();
    s3.put_object()
        .bucket("big")
        .key("one.bin")
        .body(ByteStream::from_path(file).await.unwrap())
        .send()
        .await
        .unwrap();
    let mut got = s3
        .get_object()
        .bucket("big")
        .key("one.bin")
        .send()
        .await
        .unwrap();
    let mut read = 0u64;
    while let Some(chunk) = got.body.try_next().await.unwrap() {
        read += chunk.len() as u64;
    }
    assert_eq!(read, size, "{}: the GET returns every byte", server.name);
    let seconds = started.elapsed().as_secs_f64();
    (seconds, vm_hwm_kib(server.child.id()) / 1024)
}

#[tokio::main]
async fn main() {
    let mib: u64 = std::env::var("BIG_OBJECT_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let size = mib * 1024 * 1024;
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("big.bin");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        let block: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        for _ in 0..mib {
            out.write_all(&block).unwrap();
        }
    }
    println!("one {mib} MiB object: PutObject then GetObject, peak RSS of the server process");
    let mut disk_peak = 0;
    let data_dir = work.path().join("data");
    for (name, dir) in [
        ("emulator --data-dir", Some(data_dir.as_path())),
        ("emulator", None),
    ] {
        let port = free_port();
        let server = start(name, emulator(dir, port), port).await;
        let (seconds, peak) = run(&server, &file, size).await;
        println!("{name:>20}: peak RSS {peak:>6} MiB, {seconds:.1} s");
        println!("BENCH|big_object|peak RSS, {mib} MiB PUT+GET|{name}|{peak}|MiB");
        if name == "emulator --data-dir" {
            disk_peak = peak;
        }
    }
    if Command::new("moto_server").arg("--help").output().is_ok() {
        let port = free_port();
        let mut command = Command::new("moto_server");
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let server = start("moto", command, port).await;
        let (seconds, peak) = run(&server, &file, size).await;
        println!("{:>20}: peak RSS {peak:>6} MiB, {seconds:.1} s", "moto");
        println!("BENCH|big_object|peak RSS, {mib} MiB PUT+GET|moto|{peak}|MiB");
    } else {
        println!("moto_server not installed: no peer figure (pip install 'moto[server]')");
    }
    assert!(
        disk_peak < TARGET_MIB,
        "--data-dir peak RSS {disk_peak} MiB is over the {TARGET_MIB} MiB target"
    );
}
