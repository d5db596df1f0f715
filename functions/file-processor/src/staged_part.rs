//! Upload parts of the Parquet output staged in temporary files, not in memory.
//!
//! S3 parts are at least 5 MiB and UploadPart needs its length before the first byte, so every
//! part is staged somewhere until it is complete. In memory, the parts (the one filling, the one
//! queued, the ones uploading: up to 4 x 8 MiB) were the largest part of the converter's peak
//! RSS, and a file whose whole output fits in one part never filled them, so the peak grew with
//! the file size: 28 MiB for a 64 MiB sales CSV, 37 MiB for 1 GiB in the `parquet` bench's
//! converter, against 25 and 27 MiB staged in files, at the same speed (5.5-5.7 s for 1 GiB
//! either way). Staged in files, the process holds none of them: the bytes wait in the kernel's
//! page cache, which the kernel can write back and reclaim, unlike heap memory. Hadoop's S3A
//! connector stages its multipart uploads the same way by default
//! (`fs.s3a.fast.upload.buffer=disk`).
//!
//! Files live in [`staging_dir`] (`$TMPDIR/file-processor-parts`, so `/tmp` on Lambda, whose
//! ephemeral storage is 512 MB by default). A file being converted stages at most
//! `part_size * (parts_in_flight + 2)` there (the one filling, the one queued, the ones
//! uploading): 32 MiB with the defaults, 128 MiB for the 4 files of `record_concurrency`.
//! Each file is removed when its part is dropped: uploaded, failed or abandoned. A process
//! killed mid-upload (a Lambda timeout) cannot remove its files, so at start [`sweep_orphans`]
//! removes those older than any invocation can run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::byte_stream::Length;
use tempfile::NamedTempFile;

/// File name prefix of the staged parts (what [`sweep_orphans`] may remove).
const PREFIX: &str = "part-";
/// Read size when a staged part is uploaded (the SDK's default is 4 KiB, one blocking-pool task
/// per read).
const UPLOAD_READ_BYTES: usize = 256 * 1024;
/// A staged file older than this belongs to no running invocation (Lambda's longest timeout is
/// 15 minutes).
pub const ORPHAN_AGE: Duration = Duration::from_secs(60 * 60);

/// Where parts are staged.
pub fn staging_dir() -> PathBuf {
    std::env::temp_dir().join("file-processor-parts")
}

/// One complete part: a temporary file of `len` bytes, removed when this is dropped.
#[derive(Debug)]
pub struct StagedPart {
    file: NamedTempFile,
    len: u64,
}

impl StagedPart {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The part as a request body. It re-opens the file by path, so the SDK can retry the
    /// request; keep `self` alive until the request is done.
    pub async fn body(&self) -> std::io::Result<ByteStream> {
        ByteStream::read_from()
            .path(self.file.path())
            .length(Length::Exact(self.len))
            .buffer_size(UPLOAD_READ_BYTES)
            .build()
            .await
            .map_err(std::io::Error::other)
    }

    /// Copies the part to `out` (the bench and tests write the file locally).
    pub fn copy_to<W: Write>(&self, out: &mut W) -> std::io::Result<u64> {
        let mut file = self.file.reopen()?;
        std::io::copy(&mut file, out)
    }
}

/// The part being written: a temporary file in the staging directory.
#[derive(Debug)]
pub struct PartFile {
    file: NamedTempFile,
    len: u64,
}

impl PartFile {
    /// A new, empty part file in `dir` (created if missing).
    pub fn create(dir: &Path) -> std::io::Result<PartFile> {
        std::fs::create_dir_all(dir)?;
        let file = tempfile::Builder::new().prefix(PREFIX).tempfile_in(dir)?;
        Ok(PartFile { file, len: 0 })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.as_file_mut().write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// The complete part. Not flushed to disk: a crash loses the upload anyway, and the
    /// upload reads the page cache.
    pub fn finish(self) -> StagedPart {
        StagedPart {
            file: self.file,
            len: self.len,
        }
    }
}

/// Removes the staged parts in `dir` last modified more than `age` ago, left by a process that
/// was killed mid-upload; returns how many. A missing directory has none.
pub fn sweep_orphans(dir: &Path, age: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let is_orphan = |entry: &std::fs::DirEntry| {
        let named = entry.file_name().to_string_lossy().starts_with(PREFIX);
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|elapsed| elapsed > age);
        named && old
    };
    entries
        .flatten()
        .filter(is_orphan)
        .filter(|entry| std::fs::remove_file(entry.path()).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_part_holds_what_was_written_and_is_removed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut part = PartFile::create(&dir.path().join("nested")).unwrap();
        part.write_all(b"hello, ").unwrap();
        part.write_all(b"parts").unwrap();
        let staged = part.finish();
        assert_eq!(staged.len(), 12);
        let mut copy = Vec::new();
        staged.copy_to(&mut copy).unwrap();
        assert_eq!(copy, b"hello, parts");
        let path = staged.file.path().to_path_buf();
        assert!(path.exists());
        drop(staged);
        assert!(!path.exists());
    }

    #[test]
    fn only_old_staged_parts_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join(format!("{PREFIX}old"));
        let fresh = dir.path().join(format!("{PREFIX}fresh"));
        let other = dir.path().join("other-old");
        for path in [&old, &fresh, &other] {
            std::fs::write(path, b"x").unwrap();
        }
        let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(2 * 3600);
        for path in [&old, &other] {
            let file = std::fs::File::options().write(true).open(path).unwrap();
            file.set_modified(two_hours_ago).unwrap();
        }
        assert_eq!(sweep_orphans(dir.path(), ORPHAN_AGE), 1);
        assert!(!old.exists());
        assert!(fresh.exists() && other.exists());
        assert_eq!(sweep_orphans(&dir.path().join("missing"), ORPHAN_AGE), 0);
    }
}
