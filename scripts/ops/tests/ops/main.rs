//! pipeline-ops against the emulator, as one test binary (each binary linking the SDK and the
//! emulator costs link time): the DLQ commands (`dlq`), `backfill` and `repair`, with the shared
//! harness (`common`).

mod backfill;
mod common;
mod dlq;
mod repair;
