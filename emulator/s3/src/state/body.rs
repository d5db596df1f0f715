//! Where object and part bytes live, so memory stays bounded whatever the object size.
//!
//! - `--data-dir` mode: every object body is a file `s3/objects/<id>.body` (random `<id>`, never
//!   derived from the key), written while the upload streams in and fsynced before the object's
//!   metadata names it (see [`super::disk`]); parts are files under `s3/parts/`.
//! - In-memory mode: object bodies up to [`SPILL_THRESHOLD`] stay in memory; bigger ones spill to
//!   a private temporary directory that is removed when the store is dropped (or, if the
//!   process was killed, by the next emulator that starts: [`super::spill`]). Parts always go to
//!   that directory: each is small (5 MiB is S3's minimum, 8 MiB the SDKs' usual size), but an
//!   upload's parts together are the whole object, so keeping them in memory kept a 1 GiB
//!   multipart upload in memory until its completion (1,114 MiB peak RSS in the big_file bench).
//!
//! A file body is removed once it is no longer wanted (the object was replaced or deleted, the
//! upload aborted) and the last reader has let go of it: readers hold an `Arc<BodyFile>`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

/// Bodies above this size leave memory in in-memory mode (8 MiB: small files, the common case,
/// are served from memory; a multi-GiB upload costs a file, not RAM).
pub const SPILL_THRESHOLD: usize = 8 * 1024 * 1024;
/// Bytes per read when a file body is streamed.
const READ_CHUNK: usize = 256 * 1024;

/// An object's or part's bytes.
#[derive(Clone, Debug)]
pub enum Body {
    Memory(Bytes),
    File(Arc<BodyFile>),
}

/// A body stored in a file.
#[derive(Debug)]
pub struct BodyFile {
    path: PathBuf,
    size: u64,
    /// Set when nothing refers to the bytes any more; the file goes with the last reader.
    remove_on_drop: AtomicBool,
}

impl BodyFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keep the file when this handle goes (it now belongs to a stored object).
    pub(crate) fn keep(&self) {
        self.remove_on_drop.store(false, Ordering::Release);
    }

    /// Remove the file once the last reader lets go of it.
    pub(crate) fn discard(&self) {
        self.remove_on_drop.store(true, Ordering::Release);
    }

    /// A file found at start-up in the data dir.
    pub(crate) fn existing(path: PathBuf, size: u64) -> Arc<BodyFile> {
        Arc::new(BodyFile {
            path,
            size,
            remove_on_drop: AtomicBool::new(false),
        })
    }
}

impl Drop for BodyFile {
    fn drop(&mut self) {
        if self.remove_on_drop.load(Ordering::Acquire) {
            let _ = fs::remove_file(&self.path);
            // A data-dir part's record sits next to its body (`disk`); an object's record is
            // removed before its body is discarded, and a spilled body has none.
            if self.path.extension().is_some_and(|e| e == "body") {
                let _ = fs::remove_file(self.path.with_extension("json"));
            }
        }
    }
}

impl Body {
    pub fn empty() -> Body {
        Body::Memory(Bytes::new())
    }

    pub fn len(&self) -> u64 {
        match self {
            Body::Memory(data) => data.len() as u64,
            Body::File(file) => file.size,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads `range` (clamped to the body) into memory: for in-process readers that want
    /// bytes (the query engine reads Parquet footers and column chunks this way).
    pub fn read_range(&self, range: Range<u64>) -> io::Result<Bytes> {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        match self {
            Body::Memory(data) => Ok(data.slice(start as usize..end as usize)),
            Body::File(file) => {
                let mut f = File::open(&file.path)?;
                f.seek(SeekFrom::Start(start))?;
                let mut out = vec![0; (end - start) as usize];
                f.read_exact(&mut out)?;
                Ok(Bytes::from(out))
            }
        }
    }

    /// The whole body in memory (small bodies only: notifications, tests).
    pub fn read_all(&self) -> io::Result<Bytes> {
        self.read_range(0..self.len())
    }

    /// Feeds the whole body to `f` in chunks of a few hundred KiB (blocking reads).
    pub fn for_each_chunk(&self, mut f: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        match self {
            Body::Memory(data) => f(data),
            Body::File(file) => {
                let mut reader = File::open(&file.path)?;
                let mut buf = vec![0; READ_CHUNK];
                let mut remaining = file.size;
                while remaining > 0 {
                    let want = remaining.min(READ_CHUNK as u64) as usize;
                    reader.read_exact(&mut buf[..want])?;
                    f(&buf[..want])?;
                    remaining -= want as u64;
                }
                Ok(())
            }
        }
    }

    /// A stream of `range` that reads the file as the client consumes it (a few hundred KiB
    /// in memory at a time). The file is opened here, so a body replaced meanwhile still
    /// streams in full.
    pub fn stream(&self, range: Range<u64>) -> io::Result<BodyStream> {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        match self {
            Body::Memory(data) => Ok(BodyStream::Memory(Some(
                data.slice(start as usize..end as usize),
            ))),
            Body::File(file) => {
                let mut f = File::open(&file.path)?;
                f.seek(SeekFrom::Start(start))?;
                Ok(BodyStream::File {
                    file: tokio::fs::File::from_std(f),
                    remaining: end - start,
                    buf: Vec::new(),
                    _keep: file.clone(),
                })
            }
        }
    }
}

/// A body being read out (see [`Body::stream`]).
pub enum BodyStream {
    Memory(Option<Bytes>),
    File {
        file: tokio::fs::File,
        remaining: u64,
        buf: Vec<u8>,
        /// Holds the file while it streams.
        _keep: Arc<BodyFile>,
    },
}

impl futures::Stream for BodyStream {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        use tokio::io::AsyncRead as _;
        match self.get_mut() {
            BodyStream::Memory(data) => Poll::Ready(data.take().filter(|d| !d.is_empty()).map(Ok)),
            BodyStream::File {
                file,
                remaining,
                buf,
                ..
            } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                let want = (*remaining).min(READ_CHUNK as u64) as usize;
                buf.resize(want, 0);
                let mut read = tokio::io::ReadBuf::new(&mut buf[..want]);
                match Pin::new(file).poll_read(cx, &mut read) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(Ok(())) if read.filled().is_empty() => {
                        *remaining = 0;
                        Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the object's file is shorter than its recorded size",
                        ))))
                    }
                    Poll::Ready(Ok(())) => {
                        let chunk = Bytes::copy_from_slice(read.filled());
                        *remaining -= chunk.len() as u64;
                        Poll::Ready(Some(Ok(chunk)))
                    }
                }
            }
        }
    }
}

/// Where new bodies go: decided once, when the S3 store is made.
#[derive(Debug)]
pub enum Bodies {
    /// In-memory mode, spilling big bodies to a private temporary directory.
    Memory { spill: tempfile::TempDir },
    /// `--data-dir` mode: `<s3 dir>/objects` and `<s3 dir>/parts`.
    Disk { objects: PathBuf, parts: PathBuf },
}

/// What a body is for. Both are fsynced in `--data-dir` mode (an upload in progress survives a
/// restart, see `disk`); in memory, parts always go to a file (an upload is usually big).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Object,
    Part,
}

impl Bodies {
    pub fn in_memory() -> io::Result<Bodies> {
        Ok(Bodies::Memory {
            spill: super::spill::create(&std::env::temp_dir())?,
        })
    }

    /// A writer for a new body.
    pub fn writer(&self, purpose: Purpose) -> BodyWriter {
        let name = uuid::Uuid::new_v4().simple().to_string();
        let (path, spill_at, durable) = match (self, purpose) {
            (Bodies::Memory { spill }, Purpose::Object) => {
                (spill.path().join(name), SPILL_THRESHOLD, false)
            }
            (Bodies::Memory { spill }, Purpose::Part) => (spill.path().join(name), 0, false),
            (Bodies::Disk { objects, .. }, Purpose::Object) => {
                (objects.join(format!("{name}.body")), 0, true)
            }
            (Bodies::Disk { parts, .. }, Purpose::Part) => {
                (parts.join(format!("{name}.body")), 0, true)
            }
        };
        BodyWriter {
            path,
            spill_at,
            durable,
            buf: Vec::new(),
            file: None,
            len: 0,
        }
    }

    /// A body holding `data`, written as [`Bodies::writer`] would.
    pub fn from_bytes(&self, purpose: Purpose, data: Bytes) -> io::Result<Body> {
        let mut writer = self.writer(purpose);
        if writer.spill_at > 0 && data.len() <= writer.spill_at {
            return Ok(Body::Memory(data));
        }
        writer.write(&data)?;
        writer.finish()
    }
}

/// Receives a body chunk by chunk (see [`Bodies`] for where it ends up).
pub struct BodyWriter {
    path: PathBuf,
    /// Bytes kept in memory before spilling to the file; 0 = always a file.
    spill_at: usize,
    /// Fsync the file before it is handed out.
    durable: bool,
    buf: Vec<u8>,
    file: Option<File>,
    len: u64,
}

impl BodyWriter {
    pub fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.len += chunk.len() as u64;
        if self.file.is_none() && self.buf.len() + chunk.len() <= self.spill_at {
            self.buf.extend_from_slice(chunk);
            return Ok(());
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&self.path)?;
                file.write_all(&std::mem::take(&mut self.buf))?;
                self.file.insert(file)
            }
        };
        file.write_all(chunk)
    }

    /// Whether [`BodyWriter::finish`] does file I/O (otherwise it only hands the buffer over,
    /// and a caller on the async runtime need not move it to a blocking thread).
    pub fn finish_does_io(&self) -> bool {
        self.file.is_some() || self.spill_at == 0
    }

    /// The finished body (fsynced first in `--data-dir` mode). A file body is removed when
    /// dropped unless [`BodyFile::keep`] is called (a stored object does).
    pub fn finish(mut self) -> io::Result<Body> {
        if self.file.is_none() && self.spill_at > 0 {
            return Ok(Body::Memory(Bytes::from(std::mem::take(&mut self.buf))));
        }
        if self.file.is_none() {
            self.write(&[])?;
        }
        let file = self.file.take().expect("opened above");
        if self.durable {
            file.sync_all()?;
        }
        Ok(Body::File(Arc::new(BodyFile {
            path: std::mem::take(&mut self.path),
            size: self.len,
            remove_on_drop: AtomicBool::new(true),
        })))
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        // An abandoned upload (error, client gone) leaves no file behind.
        if self.file.is_some() && !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt as _;

    #[tokio::test]
    async fn small_bodies_stay_in_memory_and_big_ones_spill() {
        let bodies = Bodies::in_memory().unwrap();
        let mut w = bodies.writer(Purpose::Object);
        w.write(b"hello").unwrap();
        assert!(matches!(w.finish().unwrap(), Body::Memory(_)));

        let mut w = bodies.writer(Purpose::Object);
        let chunk = vec![7u8; 1024 * 1024];
        for _ in 0..9 {
            w.write(&chunk).unwrap();
        }
        let body = w.finish().unwrap();
        let Body::File(file) = &body else {
            panic!("9 MiB must spill")
        };
        let path = file.path().to_owned();
        assert_eq!(body.len(), 9 * 1024 * 1024);
        let mut streamed = 0;
        let mut stream = body.stream(10..9 * 1024 * 1024).unwrap();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.unwrap();
            assert!(chunk.len() <= READ_CHUNK);
            streamed += chunk.len();
        }
        assert_eq!(streamed, 9 * 1024 * 1024 - 10);
        drop(stream);
        drop(body);
        assert!(
            !path.exists(),
            "a spilled body is removed with its last reader"
        );

        // A part, however small, is a file: an upload's parts together are the whole object.
        let mut w = bodies.writer(Purpose::Part);
        w.write(b"part").unwrap();
        assert!(matches!(w.finish().unwrap(), Body::File(_)));
    }
}
