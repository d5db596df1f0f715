//! What the file-processor benches share: the generated `sales` CSV and the peak RSS probe.

#![allow(dead_code)]

use std::io::{BufWriter, Write};
use std::path::Path;

pub const MIB: u64 = 1024 * 1024;

/// Writes a valid `sales` CSV of about `size` bytes (the shipped entity's header and types) and
/// returns `(bytes, rows)`.
pub fn generate_sales_csv(path: &Path, size: u64, date: &str) -> (u64, u64) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    out.write_all(b"transaction_id,customer_id,amount,transaction_date\n")
        .unwrap();
    let mut written = 0u64;
    let mut n = 0u64;
    while written < size {
        let line = format!(
            "TX-{n:010},CUST-{:06},{}.{:02},{date}\n",
            n % 250_000,
            n % 99_999,
            n % 100
        );
        out.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        n += 1;
    }
    out.flush().unwrap();
    (std::fs::metadata(path).unwrap().len(), n)
}

/// Peak resident set size of this process (`VmHWM`), from /proc/self/status.
pub fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}
