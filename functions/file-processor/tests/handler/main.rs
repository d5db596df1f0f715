//! The handler in-process against the emulator, as one test binary (every test binary that links
//! the AWS SDK and the emulator costs link time): copies, partitions and idempotency
//! (`pipeline`), every kind of poison input (`rejections`), typed Parquet output
//! (`parquet_output`), and the shared harness (`common`).

mod common;
mod parquet_output;
mod pipeline;
mod rejections;
