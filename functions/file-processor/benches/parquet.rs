//! CSV -> Parquet conversion speed and memory: the handler's converter
//! (`file_processor::parquet_output`, validation + Arrow + Parquet on two threads) against
//! pyarrow and DuckDB, on the same generated `sales` CSV, with the same column types and the same
//! compression, in the same run.
//!
//! Run: `cargo bench -p file-processor --bench parquet` (needs `python3` with `pyarrow` and
//! `duckdb`, pinned in scripts/test-requirements.txt; a missing peer is reported, not fatal).
//! `PARQUET_BENCH_SIZES_MIB=64,256,1024` (the default) picks the file sizes.
//!
//! - Every conversion runs in its own process, so its peak RSS (`VmHWM`, or `ru_maxrss` for the
//!   Python peers) is that tool's alone: ours re-executes this bench with `--convert`.
//! - Each tool reads the CSV from disk and writes the Parquet file to disk; the time is the
//!   conversion inside the process (start-up and imports excluded for all).
//! - pyarrow: `pyarrow.csv.read_csv` with the column types given, then
//!   `pyarrow.parquet.write_table`. DuckDB: `COPY (SELECT ... CAST ...) TO ... (FORMAT parquet)`.
//! - A codec table (ours, every size) shows what the codecs cost and save (the measurement
//!   behind the default codec) and each codec's peak RSS per file size. Memory is bounded by the
//!   row group, not the file size (the upload parts wait in temporary files,
//!   `file_processor::staged_part`): the growth lines at the end, one per codec, give the peak
//!   of each size against the smallest's.
//!
//! Each summary figure is also printed as `BENCH|parquet|<figure>|<system>|<value>|<unit>` (the
//! convention of scripts/bench.sh), once for ours and once per peer.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::{generate_sales_csv, vm_hwm_kib, MIB};
use pipeline_core::config::{ParquetCompression, ParquetOptions};
use serde_json::{json, Value};

/// Upload part size of the handler (`UploadTuning::default`): the converter cuts its output the
/// same way here, so its memory is the handler's.
const PART_SIZE: usize = 8 * 1024 * 1024;

const PYARROW: &str = r#"
import json, resource, sys, time
import pyarrow as pa, pyarrow.csv as csv, pyarrow.parquet as pq
src, dst, codec = sys.argv[1:4]
started = time.perf_counter()
types = {"transaction_id": pa.string(), "customer_id": pa.string(),
         "amount": pa.decimal128(10, 2), "transaction_date": pa.date32()}
table = csv.read_csv(src, convert_options=csv.ConvertOptions(column_types=types))
pq.write_table(table, dst, compression=codec)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rows": table.num_rows, "version": pa.__version__,
                  "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"#;

const DUCKDB: &str = r#"
import json, resource, sys, time
import duckdb
src, dst, codec = sys.argv[1:4]
con = duckdb.connect()
started = time.perf_counter()
con.execute(f"""COPY (SELECT transaction_id, customer_id,
                     CAST(amount AS DECIMAL(10,2)) AS amount,
                     CAST(transaction_date AS DATE) AS transaction_date
                FROM read_csv('{src}', header = true, all_varchar = true))
             TO '{dst}' (FORMAT parquet, COMPRESSION {codec})""")
seconds = time.perf_counter() - started
rows = con.execute(f"SELECT count(*) FROM read_parquet('{dst}')").fetchone()[0]
print(json.dumps({"seconds": seconds, "rows": rows, "version": duckdb.__version__,
                  "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(index) = args.iter().position(|a| a == "--convert") {
        let arg = |i: usize| args.get(index + i).expect("--convert <csv> <out> <codec>");
        convert_child(Path::new(arg(1)), Path::new(arg(2)), arg(3));
        return;
    }
    parent();
}

/// One tool's run on one file.
#[derive(Debug, Clone)]
struct Run {
    seconds: f64,
    peak_rss_mib: f64,
    rows: u64,
    out_bytes: u64,
}

impl Run {
    fn mb_per_s(&self, input_bytes: u64) -> f64 {
        input_bytes as f64 / 1e6 / self.seconds
    }
}

fn sizes_mib() -> Vec<u64> {
    std::env::var("PARQUET_BENCH_SIZES_MIB")
        .unwrap_or_else(|_| "64,256,1024".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn parent() {
    let dir = tempfile::tempdir().unwrap();
    let codec = ParquetOptions::default().compression;
    let mut summary = Vec::new();
    for (index, size_mib) in sizes_mib().into_iter().enumerate() {
        let csv = dir
            .path()
            .join(format!("sales_data_2024_01_{:02}.csv", index + 1));
        let (bytes, rows) = generate_sales_csv(&csv, size_mib * MIB, "2024-01-01");
        println!(
            "\n## {size_mib} MiB sales CSV ({bytes} bytes, {rows} rows), compression {}",
            codec.name()
        );
        let ours = run_ours(&csv, dir.path(), codec).expect("our converter runs");
        assert_eq!(ours.rows, rows, "our Parquet file has every row");
        let pyarrow = run_python("pyarrow", PYARROW, &csv, dir.path(), codec);
        let duckdb = run_python("duckdb", DUCKDB, &csv, dir.path(), codec);
        println!("| tool | seconds | MB/s | peak RSS | output |");
        println!("| --- | --- | --- | --- | --- |");
        for (name, run) in [
            ("ours", Some(&ours)),
            ("pyarrow", pyarrow.as_ref()),
            ("duckdb", duckdb.as_ref()),
        ] {
            match run {
                Some(run) => println!(
                    "| {name} | {:.2} | {:.1} | {:.1} MiB | {:.1} MiB |",
                    run.seconds,
                    run.mb_per_s(bytes),
                    run.peak_rss_mib,
                    run.out_bytes as f64 / MIB as f64
                ),
                None => println!("| {name} | not run | | | |"),
            }
        }
        for (peer, run) in [("pyarrow", &pyarrow), ("duckdb", &duckdb)] {
            if let Some(run) = run {
                println!(
                    "ours/{peer}: {:.2}x MB/s, {:.2}x peak RSS",
                    ours.mb_per_s(bytes) / run.mb_per_s(bytes),
                    ours.peak_rss_mib / run.peak_rss_mib
                );
            }
        }
        let by_codec = codec_table(&csv, dir.path(), bytes, (codec, &ours));
        summary.push((size_mib, bytes, ours, pyarrow, duckdb, by_codec));
        std::fs::remove_file(&csv).ok();
    }
    print_bench_lines(&summary);
}

/// Our converter on the same file with each codec (`default` is the run already made): speed,
/// output size and peak RSS.
fn codec_table(
    csv: &Path,
    dir: &Path,
    bytes: u64,
    default: (ParquetCompression, &Run),
) -> Vec<(ParquetCompression, Run)> {
    let size_mib = bytes / MIB;
    println!("\ncodecs (ours, same file):");
    println!("| codec | MB/s | peak RSS | output | ratio to CSV |");
    println!("| --- | --- | --- | --- | --- |");
    let mut runs = Vec::new();
    for codec in [
        ParquetCompression::Snappy,
        ParquetCompression::Zstd,
        ParquetCompression::None,
    ] {
        let run = if codec == default.0 {
            Some(default.1.clone())
        } else {
            run_ours(csv, dir, codec)
        };
        let Some(run) = run else { continue };
        let output_mib = run.out_bytes as f64 / MIB as f64;
        println!(
            "| {} | {:.1} | {:.1} MiB | {output_mib:.1} MiB | {:.3} |",
            codec.name(),
            run.mb_per_s(bytes),
            run.peak_rss_mib,
            run.out_bytes as f64 / bytes as f64
        );
        println!(
            "BENCH|parquet|{size_mib} MiB CSV: output size, {}|file-processor|{output_mib:.1}|MiB",
            codec.name(),
        );
        runs.push((codec, run));
    }
    runs
}

type Summary = (
    u64,
    u64,
    Run,
    Option<Run>,
    Option<Run>,
    Vec<(ParquetCompression, Run)>,
);

fn print_bench_lines(summary: &[Summary]) {
    println!();
    for (size_mib, bytes, ours, pyarrow, duckdb, _) in summary {
        let systems = [
            ("file-processor", Some(ours)),
            ("pyarrow", pyarrow.as_ref()),
            ("duckdb", duckdb.as_ref()),
        ];
        for (system, run) in systems {
            let Some(run) = run else { continue };
            println!(
                "BENCH|parquet|{size_mib} MiB CSV -> Parquet speed|{system}|{:.1}|MB/s",
                run.mb_per_s(*bytes)
            );
            println!(
                "BENCH|parquet|{size_mib} MiB CSV -> Parquet peak RSS|{system}|{:.1}|MiB",
                run.peak_rss_mib
            );
        }
    }
    // Peak RSS of every size against the smallest's, per codec: the memory a larger file adds.
    let Some((smallest, larger)) = summary.split_first() else {
        return;
    };
    println!("\npeak RSS against the {} MiB file (ours):", smallest.0);
    for size in larger {
        for (codec, run) in &size.5 {
            let Some((_, base)) = smallest.5.iter().find(|(c, _)| c == codec) else {
                continue;
            };
            println!(
                "{} MiB / {} MiB, {}: {:.1} / {:.1} MiB = {:.3}x ({:+.1} MiB)",
                size.0,
                smallest.0,
                codec.name(),
                run.peak_rss_mib,
                base.peak_rss_mib,
                run.peak_rss_mib / base.peak_rss_mib,
                run.peak_rss_mib - base.peak_rss_mib,
            );
            println!(
                "BENCH|parquet|peak RSS, {} MiB file / {} MiB file, {}|file-processor|{:.3}|ratio",
                size.0,
                smallest.0,
                codec.name(),
                run.peak_rss_mib / base.peak_rss_mib,
            );
        }
    }
}

fn run_ours(csv: &Path, dir: &Path, codec: ParquetCompression) -> Option<Run> {
    let out = dir.join(format!("ours-{}.parquet", codec.name()));
    // The child runs with the function's configured environment (MALLOC_MMAP_THRESHOLD_, ...),
    // as the emulator and Lambda run the handler.
    let config = pipeline_core::Config::embedded_default().unwrap();
    let environment = config
        .functions
        .get(file_processor_name())
        .map(|f| f.environment.clone())
        .unwrap_or_default();
    let output = Command::new(std::env::current_exe().unwrap())
        .envs(environment)
        .arg("--convert")
        .arg(csv)
        .arg(&out)
        .arg(codec.name())
        .output()
        .expect("run the converter child");
    let run = report(&output, &out);
    if run.is_none() {
        eprintln!(
            "converter failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::remove_file(&out).ok();
    run
}

fn file_processor_name() -> &'static str {
    pipeline_core::config::DEFAULT_FUNCTION_NAME
}

fn run_python(
    name: &str,
    script: &str,
    csv: &Path,
    dir: &Path,
    codec: ParquetCompression,
) -> Option<Run> {
    let out = dir.join(format!("{name}.parquet"));
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let output = match Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(csv)
        .arg(&out)
        .arg(codec.name())
        .output()
    {
        Ok(output) => output,
        Err(error) => {
            println!("{name}: not run ({error})");
            return None;
        }
    };
    let run = report(&output, &out);
    match &run {
        None => println!(
            "{name}: not run ({}; pip install pyarrow duckdb)",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        ),
        Some(_) => {
            let version = last_json(&output.stdout)
                .map(|v| v["version"].to_string())
                .unwrap_or_default();
            println!("{name} {version}: ok");
        }
    }
    std::fs::remove_file(&out).ok();
    run
}

fn last_json(stdout: &[u8]) -> Option<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
}

fn report(output: &std::process::Output, out: &Path) -> Option<Run> {
    if !output.status.success() {
        return None;
    }
    let value = last_json(&output.stdout)?;
    Some(Run {
        seconds: value["seconds"].as_f64()?,
        peak_rss_mib: value["peak_rss_kib"].as_f64()? / 1024.0,
        rows: value["rows"].as_u64()?,
        out_bytes: std::fs::metadata(out).map(|m| m.len()).unwrap_or(0),
    })
}

/// The child: converts `csv` to `out` with the shipped `sales` entity and `codec`, and prints
/// its own figures.
fn convert_child(csv: &Path, out: &Path, codec: &str) {
    let config = pipeline_core::Config::embedded_default().unwrap();
    let mut sales = config.entities["sales"].clone();
    let compression = match codec {
        "zstd" => ParquetCompression::Zstd,
        "none" => ParquetCompression::None,
        _ => ParquetCompression::Snappy,
    };
    sales.parquet = Some(ParquetOptions {
        compression,
        ..sales.parquet.clone().unwrap_or_default()
    });
    let started = Instant::now();
    let input = std::fs::File::open(csv).unwrap();
    let mut output =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(out).unwrap());
    let staging = file_processor::staged_part::staging_dir();
    let stats = file_processor::parquet_output::convert_read(
        &sales,
        input,
        &mut output,
        PART_SIZE,
        &staging,
    )
    .expect("conversion");
    output.flush().expect("write the output");
    let seconds = started.elapsed().as_secs_f64();
    let rows = parquet_rows(out);
    assert_eq!(rows, stats.rows, "the file's footer counts every row");
    println!(
        "{}",
        json!({"seconds": seconds, "rows": rows, "peak_rss_kib": vm_hwm_kib()})
    );
}

/// Rows in a Parquet file, from its footer.
fn parquet_rows(path: &Path) -> u64 {
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
    use parquet::file::reader::FileReader;
    reader.metadata().file_metadata().num_rows() as u64
}
