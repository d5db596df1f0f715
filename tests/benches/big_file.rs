//! One big file through the whole pipeline, run with `cargo bench -p e2e-tests --bench big_file`:
//! a 1 GiB `sales` CSV (a Parquet entity) and a 1 GiB `inventory` CSV (a CSV-copy entity) are
//! uploaded to `emulator serve` (README's run command, functions included), once with
//! `--data-dir` and once in memory. For each file it prints the time from the start of the upload
//! until the output object and its Glue partition exist, and the peak RSS of the emulator process
//! and of the function process that handled it. The peer, in the same run: `aws s3 cp` of the
//! same file into the emulator (an upload only, no processing).
//!
//! Targets (issue 11): the emulator's peak RSS stays under 150 MiB in `--data-dir` mode, and in
//! memory too (bodies over 8 MiB and every multipart part spill to a temporary directory); the
//! bench fails above it. Issue 9 asks for the Parquet path's end-to-end time next to the CSV copy's.
//! Knob: BIG_FILE_MIB (default 1024).

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use e2e_tests::{Pipeline, StartOptions};
use pipeline_core::config::Config;

const MIB: u64 = 1024 * 1024;
const TARGET_MIB: u64 = 150;
const DAY: (&str, &str) = ("2024_06_01", "2024-06-01");

/// One generated source file.
struct Source {
    entity: &'static str,
    key: String,
    path: PathBuf,
    bytes: u64,
    rows: u64,
}

/// What one file's trip through the pipeline measured.
struct Trip {
    upload: Duration,
    end_to_end: Duration,
    output_key: String,
    output_bytes: u64,
    /// Rows of a Parquet output (its footer); `None` for a CSV copy.
    output_rows: Option<u64>,
    emulator_peak_rss_kib: u64,
    function_peak_rss_kib: u64,
}

fn main() {
    let mib: u64 = std::env::var("BIG_FILE_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let work = std::env::temp_dir().join(format!("skipdb-big-file-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("work dir");
    let sources = [
        generate(&work, "sales", mib * MIB),
        generate(&work, "inventory", mib * MIB),
    ];
    let mut results = BTreeMap::new();
    let mut cli = None;
    for mode in ["--data-dir", "in memory"] {
        let data_dir = (mode == "--data-dir").then(|| work.join("data"));
        let (trips, cli_upload) = runtime.block_on(run_mode(&work, data_dir, &sources));
        cli = cli.or(cli_upload);
        results.insert(mode, trips);
    }
    let _ = std::fs::remove_dir_all(&work);
    report(&sources, &results, cli);
}

/// Starts a fresh emulator (on `data_dir` or in memory) and sends every source through it.
async fn run_mode(
    work: &Path,
    data_dir: Option<PathBuf>,
    sources: &[Source],
) -> (Vec<Trip>, Option<(Duration, u64)>) {
    let mut args = Vec::new();
    if let Some(dir) = &data_dir {
        let _ = std::fs::remove_dir_all(dir);
        args = vec!["--data-dir".into(), dir.display().to_string()];
    }
    let pipeline = Pipeline::start_with(StartOptions {
        log_file: Some(work.join("emulator.log")),
        args,
        ..StartOptions::default()
    })
    .await;
    let mut trips = Vec::new();
    for source in sources {
        trips.push(trip(&pipeline, source).await);
    }
    // The peer, on the --data-dir emulator only (one upload of the Parquet entity's file).
    let cli = match data_dir {
        Some(_) => aws_cli_upload(&pipeline.url, &sources[0].path),
        None => None,
    };
    (trips, cli)
}

/// Uploads one file and waits until its output object and Glue partition exist.
async fn trip(pipeline: &Pipeline, source: &Source) -> Trip {
    let config = Config::embedded_default().expect("embedded config");
    let entity = &config.entities[source.entity];
    let s3 = pipeline.s3().await;
    let glue = pipeline.glue().await;
    let sampler = RssSampler::start(pipeline.pid());
    let started = Instant::now();
    s3.put_object()
        .bucket(&config.resources.source_bucket)
        .key(&source.key)
        .body(ByteStream::from_path(&source.path).await.expect("source"))
        .send()
        .await
        .expect("PutObject of the source");
    let upload = started.elapsed();
    let stem = source.key.trim_end_matches(".csv");
    let table_prefix = format!("{}/", entity.table_name);
    let deadline = Instant::now() + Duration::from_secs(600);
    let (output_key, output_bytes) = loop {
        assert!(Instant::now() < deadline, "no output for {}", source.key);
        let listed = s3
            .list_objects_v2()
            .bucket(&config.resources.analytics_bucket)
            .prefix(&table_prefix)
            .send()
            .await
            .expect("ListObjectsV2");
        let found = listed.contents().iter().find(|o| {
            o.key()
                .is_some_and(|k| k.rsplit('/').next().is_some_and(|f| f.starts_with(stem)))
        });
        let partitioned = glue
            .get_partitions()
            .database_name(&config.resources.glue_database)
            .table_name(&entity.table_name)
            .send()
            .await
            .is_ok_and(|p| !p.partitions().is_empty());
        if let (Some(object), true) = (found, partitioned) {
            let key = object.key().unwrap_or_default().to_owned();
            break (key, object.size().unwrap_or_default() as u64);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let end_to_end = started.elapsed();
    let (emulator_peak_rss_kib, function_peak_rss_kib) = sampler.stop();
    let output_rows = match output_key.ends_with(".parquet") {
        true => Some(parquet_rows(&s3, &config.resources.analytics_bucket, &output_key).await),
        false => None,
    };
    Trip {
        upload,
        end_to_end,
        output_key,
        output_bytes,
        output_rows,
        emulator_peak_rss_kib,
        function_peak_rss_kib,
    }
}

async fn parquet_rows(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> u64 {
    let body = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("GetObject of the output")
        .body
        .collect()
        .await
        .expect("output body")
        .into_bytes();
    e2e_tests::chaos::rows_of(key, &body)
}

/// Samples, every 20 ms, the emulator's resident set and the peak (`VmHWM`) of each of its child
/// processes (the function's execution environments).
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, u64)>,
}

impl RssSampler {
    fn start(emulator: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut emulator_peak, mut function_peak) = (0, 0);
            while !flag.load(Ordering::Relaxed) {
                emulator_peak = emulator_peak.max(status_kib(emulator, "VmRSS:"));
                for child in children_of(emulator) {
                    function_peak = function_peak.max(status_kib(child, "VmHWM:"));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // The lifetime peak covers what the samples missed between two reads.
            (
                emulator_peak.max(status_kib(emulator, "VmHWM:")),
                function_peak,
            )
        });
        RssSampler { stop, thread }
    }

    /// (emulator peak, function peak) in KiB.
    fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("sampler")
    }
}

/// A `/proc/<pid>/status` figure in KiB (0 when the process is gone).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Processes whose parent is `pid` (field 4 of `/proc/<n>/stat`, after the command's `)`).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|n| {
            std::fs::read_to_string(format!("/proc/{n}/stat"))
                .ok()
                .and_then(|stat| {
                    let after = stat.rsplit_once(')')?.1;
                    after.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// Writes a valid CSV of `entity` of about `size` bytes; returns what it wrote.
fn generate(dir: &Path, entity: &'static str, size: u64) -> Source {
    let (ymd, iso) = DAY;
    let key = match entity {
        "sales" => format!("sales_data_{ymd}.csv"),
        _ => format!("inventory_north_{ymd}.csv"),
    };
    let path = dir.join(&key);
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).expect("file"));
    let header = match entity {
        "sales" => "transaction_id,customer_id,amount,transaction_date\n",
        _ => "sku,warehouse,quantity,unit_cost,weight_kg,last_counted\n",
    };
    out.write_all(header.as_bytes()).expect("write");
    let (mut bytes, mut rows) = (header.len() as u64, 0u64);
    let mut line = String::with_capacity(128);
    while bytes < size {
        line.clear();
        let r = rows;
        use std::fmt::Write as _;
        let _ = match entity {
            "sales" => writeln!(
                line,
                "t{r},c{},{}.{:02},{iso}",
                r % 9973,
                (r * 7919) % 100_000,
                r % 100
            ),
            _ => writeln!(
                line,
                "SKU-{r},\"wh {}, dock {}\",{},{}.{:04},{}.{},{iso}",
                r % 3,
                r % 5,
                r % 500,
                r % 90,
                (r * 13) % 10_000,
                r % 40,
                r % 10
            ),
        };
        out.write_all(line.as_bytes()).expect("write");
        bytes += line.len() as u64;
        rows += 1;
    }
    out.flush().expect("flush");
    Source {
        entity,
        key,
        path,
        bytes,
        rows,
    }
}

/// `aws s3 cp` of `path` into the analytics bucket (no notification there); (time, bytes).
fn aws_cli_upload(url: &str, path: &Path) -> Option<(Duration, u64)> {
    let bucket = Config::embedded_default().ok()?.resources.analytics_bucket;
    let bytes = std::fs::metadata(path).ok()?.len();
    let started = Instant::now();
    let program = std::env::var("AWS_CLI").unwrap_or_else(|_| "aws".to_string());
    let out = std::process::Command::new(program)
        .args(["--endpoint-url", url, "s3", "cp", "--only-show-errors"])
        .arg(path)
        .arg(format!("s3://{bucket}/aws-cli-copy/big.csv"))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output();
    match out {
        Ok(out) if out.status.success() => Some((started.elapsed(), bytes)),
        Ok(out) => {
            println!(
                "aws s3 cp failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            None
        }
        Err(e) => {
            println!("aws s3 cp not run: {e} (pip install awscli)");
            None
        }
    }
}

fn report(sources: &[Source], results: &BTreeMap<&str, Vec<Trip>>, cli: Option<(Duration, u64)>) {
    println!("\n| emulator | file | output | upload | end to end | MB/s end to end | emulator peak RSS | function peak RSS |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (mode, trips) in results {
        for (source, trip) in sources.iter().zip(trips) {
            let mb_s = source.bytes as f64 / 1e6 / trip.end_to_end.as_secs_f64();
            println!(
                "| {mode} | {} {} MiB | {} ({:.1} MiB) | {:.2} s | {:.2} s | {mb_s:.1} | {} MiB | {} MiB |",
                source.entity,
                source.bytes / MIB,
                trip.output_key,
                trip.output_bytes as f64 / MIB as f64,
                trip.upload.as_secs_f64(),
                trip.end_to_end.as_secs_f64(),
                trip.emulator_peak_rss_kib / 1024,
                trip.function_peak_rss_kib / 1024,
            );
            let format = if trip.output_rows.is_some() {
                "Parquet"
            } else {
                "CSV copy"
            };
            let figure = format!(
                "{} MiB {} CSV -> {format}, {mode}",
                source.bytes / MIB,
                source.entity
            );
            println!("BENCH|big_file|{figure}: end to end|emulator|{mb_s:.1}|MB/s");
            println!(
                "BENCH|big_file|{figure}: emulator peak RSS|emulator|{}|MiB",
                trip.emulator_peak_rss_kib / 1024
            );
        }
    }
    if let Some((time, bytes)) = cli {
        let mb_s = bytes as f64 / 1e6 / time.as_secs_f64();
        println!(
            "\npeer: aws s3 cp of the {} MiB sales file into the --data-dir emulator (upload only): {:.2} s ({mb_s:.1} MB/s)",
            bytes / MIB,
            time.as_secs_f64()
        );
        println!(
            "BENCH|big_file|aws s3 cp upload of the sales file, --data-dir|aws-cli|{mb_s:.1}|MB/s"
        );
    }
    check(sources, results);
}

/// Every output is complete, and the emulator stayed under the target in --data-dir mode.
fn check(sources: &[Source], results: &BTreeMap<&str, Vec<Trip>>) {
    for (mode, trips) in results {
        for (source, trip) in sources.iter().zip(trips) {
            match trip.output_rows {
                Some(rows) => assert_eq!(rows, source.rows, "{mode}: {} rows", source.key),
                None => assert_eq!(
                    trip.output_bytes, source.bytes,
                    "{mode}: {} copied whole",
                    source.key
                ),
            }
        }
    }
    // The target is for --data-dir; in memory, bodies spill too, so the same bound holds.
    for (mode, trips) in results {
        let worst = trips
            .iter()
            .map(|t| t.emulator_peak_rss_kib / 1024)
            .max()
            .unwrap_or(0);
        println!("emulator peak RSS, {mode}: {worst} MiB (target < {TARGET_MIB} MiB)");
        assert!(
            worst < TARGET_MIB,
            "{mode}: the emulator's peak RSS {worst} MiB is over {TARGET_MIB} MiB"
        );
    }
}
