//! emulator-storage: the emulator's on-disk foundations for `serve --data-dir DIR`, shared by the
//! service crates: the versioned layout of DIR ([`layout`]), crash-safe file replacement
//! ([`files`]) and an append-only record log with group commit and replay ([`log`]).
//!
//! Hand-written on purpose: the log is ~200 lines over `std::fs` (length + CRC32 framing, one
//! flusher thread that fsyncs every batch of concurrent appends once). The embedded stores that
//! would do it (sled, redb, fjall) bring their own on-disk formats, caches and compaction, and
//! none is in this workspace's dependency tree; what the services need is an ordered list of
//! records replayed at start and rewritten as a snapshot, which this is.

pub mod files;
pub mod layout;
pub mod log;

pub use layout::{DataDir, LayoutError, LAYOUT_VERSION};
pub use log::{Log, LogError};
