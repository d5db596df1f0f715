//! The versioned layout of a data directory. `DIR/layout.json` names the format and its
//! version; a directory written by a layout this binary does not know is refused at start with a
//! message saying so, never read as something else or silently emptied.
//!
//! Version 1:
//! - `layout.json`: `{"format": "skip-the-database-emulator", "version": 1}`
//! - `s3/buckets/<hex of bucket name>.json`: a bucket (creation time, notification config)
//! - `s3/objects/<id>.json` + `s3/objects/<id>.body`: an object's metadata (bucket, key, ETag,
//!   checksum, headers) and its bytes; `<id>` is random, never derived from the key
//! - `s3/parts/`, `s3/tmp/`: multipart parts and uploads being received (cleared at start)
//! - `sqs/log`, `glue/log`, `athena/log`: append-only record logs (see [`crate::log`])

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The layout this binary reads and writes.
pub const LAYOUT_VERSION: u32 = 1;
const FORMAT: &str = "skip-the-database-emulator";
const LAYOUT_FILE: &str = "layout.json";

#[derive(Debug, Serialize, Deserialize)]
struct LayoutFile {
    format: String,
    version: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error(
        "data dir {path} has on-disk layout version {found}; this emulator reads version \
         {LAYOUT_VERSION} only. Use the emulator version that wrote it, or start on an empty \
         --data-dir (nothing was changed)"
    )]
    UnknownVersion { path: PathBuf, found: u32 },
    #[error(
        "{path} is not an emulator data dir (no layout.json, and it is not empty); refusing to \
         use it (nothing was changed)"
    )]
    NotADataDir { path: PathBuf },
    #[error("data dir {path}: layout.json is unreadable: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("data dir {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// An opened data directory whose layout this binary knows.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Opens `root`, creating it (with a `layout.json`) when it is missing or empty.
    pub fn open(root: &Path) -> Result<Self, LayoutError> {
        let io_err = |source| LayoutError::Io {
            path: root.to_owned(),
            source,
        };
        fs::create_dir_all(root).map_err(io_err)?;
        let layout = root.join(LAYOUT_FILE);
        match fs::read(&layout) {
            Ok(bytes) => check_layout(root, &bytes)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if fs::read_dir(root).map_err(io_err)?.next().is_some() {
                    return Err(LayoutError::NotADataDir {
                        path: root.to_owned(),
                    });
                }
                let file = LayoutFile {
                    format: FORMAT.to_owned(),
                    version: LAYOUT_VERSION,
                };
                let bytes = serde_json::to_vec_pretty(&file).unwrap_or_default();
                crate::files::write_atomic(&layout, &bytes).map_err(io_err)?;
            }
            Err(e) => return Err(io_err(e)),
        }
        Ok(DataDir {
            root: root.to_owned(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `DIR/<name>`, created if missing (one per service).
    pub fn service_dir(&self, name: &str) -> io::Result<PathBuf> {
        let dir = self.root.join(name);
        fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}

fn check_layout(root: &Path, bytes: &[u8]) -> Result<(), LayoutError> {
    let file: LayoutFile = serde_json::from_slice(bytes).map_err(|e| LayoutError::Malformed {
        path: root.to_owned(),
        reason: e.to_string(),
    })?;
    if file.format != FORMAT {
        return Err(LayoutError::Malformed {
            path: root.to_owned(),
            reason: format!("format is {:?}, expected {FORMAT:?}", file.format),
        });
    }
    if file.version != LAYOUT_VERSION {
        return Err(LayoutError::UnknownVersion {
            path: root.to_owned(),
            found: file.version,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_dir_gets_a_layout_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        DataDir::open(&root).unwrap();
        assert!(root.join(LAYOUT_FILE).exists());
        DataDir::open(&root).unwrap();
    }

    #[test]
    fn unknown_version_and_foreign_dirs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(LAYOUT_FILE),
            br#"{"format":"skip-the-database-emulator","version":99}"#,
        )
        .unwrap();
        let err = DataDir::open(dir.path()).unwrap_err();
        assert!(matches!(err, LayoutError::UnknownVersion { found: 99, .. }));
        assert!(err.to_string().contains("version 99"), "{err}");

        let other = tempfile::tempdir().unwrap();
        fs::write(other.path().join("notes.txt"), b"x").unwrap();
        let err = DataDir::open(other.path()).unwrap_err();
        assert!(matches!(err, LayoutError::NotADataDir { .. }), "{err}");
    }
}
