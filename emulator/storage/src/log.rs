//! An append-only log of records with group commit.
//!
//! Each record is framed as `[u32 LE length][u32 LE CRC32 of the payload][payload]`. At start,
//! [`replay`] reads records up to the first frame that is torn or fails its CRC (the tail a crash
//! can leave) and the caller rebuilds its state from them; [`Log::create`] then writes that state
//! as a fresh snapshot log (temp file, fsync, rename), so the log never grows across restarts.
//!
//! Group commit: [`Log::append`] only buffers the framed record and returns its sequence number;
//! one flusher thread writes whatever has accumulated and fsyncs once for the whole batch, then
//! publishes the highest durable sequence number. A request waits with [`Log::durable`] before
//! it answers, so an acknowledged change is on disk, and concurrent requests share one fsync.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::watch;

/// The log could not be written; nothing appended after the failure is durable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the data dir's log {path} could not be written: {reason}")]
pub struct LogError {
    pub path: PathBuf,
    pub reason: String,
}

const HEADER: usize = 8;
/// Largest record accepted on replay; a larger length is a torn or corrupt frame.
const MAX_RECORD: usize = 256 * 1024 * 1024;

/// Reads the valid records of the log at `path` (none when it does not exist).
pub fn replay(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut file) => {
            file.read_to_end(&mut bytes)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    }
    let mut records = Vec::new();
    let mut at = 0;
    while bytes.len() - at >= HEADER {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap_or_default());
        let start = at + HEADER;
        if len > MAX_RECORD || bytes.len() - start < len {
            break;
        }
        let payload = &bytes[start..start + len];
        if crc32fast::hash(payload) != crc {
            break;
        }
        records.push(payload.to_vec());
        at = start + len;
    }
    if at < bytes.len() {
        tracing::warn!(
            path = %path.display(),
            dropped_bytes = bytes.len() - at,
            "log ends in a torn record (a crash during a write that was never acknowledged); ignored"
        );
    }
    Ok(records)
}

fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    appended: u64,
    closed: bool,
}

#[derive(Debug, Clone, Default)]
struct Durable {
    seq: u64,
    failed: Option<String>,
}

struct Shared {
    path: PathBuf,
    pending: Mutex<Pending>,
    wake: Condvar,
    durable: watch::Sender<Durable>,
}

/// An open log. Dropping it flushes what was appended and stops the flusher thread.
pub struct Log {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("path", &self.shared.path)
            .finish()
    }
}

impl Log {
    /// Replaces the log at `path` with `snapshot` (durably, atomically) and opens it for appends.
    pub fn create(path: &Path, snapshot: impl IntoIterator<Item = Vec<u8>>) -> io::Result<Log> {
        let dir = path
            .parent()
            .ok_or_else(|| io::Error::other("a log path needs a directory"))?;
        let temp = crate::files::temp_path(dir);
        {
            let mut out = io::BufWriter::new(File::create(&temp)?);
            let mut framed = Vec::new();
            for record in snapshot {
                framed.clear();
                frame(&record, &mut framed);
                out.write_all(&framed)?;
            }
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        fs::rename(&temp, path)?;
        crate::files::sync_dir(dir)?;
        let file = OpenOptions::new().append(true).open(path)?;
        let (durable, _) = watch::channel(Durable::default());
        let shared = Arc::new(Shared {
            path: path.to_owned(),
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            durable,
        });
        let flusher = shared.clone();
        std::thread::Builder::new()
            .name("log-flusher".into())
            .spawn(move || flush_loop(&flusher, file))?;
        Ok(Log { shared })
    }

    /// Buffers one record; returns its sequence number for [`Log::durable`].
    pub fn append(&self, record: &[u8]) -> u64 {
        let mut pending = lock(&self.shared.pending);
        frame(record, &mut pending.buf);
        pending.appended += 1;
        self.shared.wake.notify_one();
        pending.appended
    }

    /// The sequence number of the last record appended so far.
    pub fn appended(&self) -> u64 {
        lock(&self.shared.pending).appended
    }

    /// Waits until record `seq` (and every one before it) is on disk.
    pub async fn durable(&self, seq: u64) -> Result<(), LogError> {
        let mut rx = self.shared.durable.subscribe();
        let state = rx
            .wait_for(|d| d.seq >= seq || d.failed.is_some())
            .await
            .map_err(|_| self.error("the flusher stopped".into()))?;
        match &state.failed {
            Some(reason) if state.seq < seq => Err(self.error(reason.clone())),
            _ => Ok(()),
        }
    }

    /// Waits until everything appended so far is on disk.
    pub async fn sync(&self) -> Result<(), LogError> {
        self.durable(self.appended()).await
    }

    fn error(&self, reason: String) -> LogError {
        LogError {
            path: self.shared.path.clone(),
            reason,
        }
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        lock(&self.shared.pending).closed = true;
        self.shared.wake.notify_one();
    }
}

/// The flusher: takes the whole buffer, writes it, fsyncs once, publishes the sequence number.
fn flush_loop(shared: &Shared, mut file: File) {
    loop {
        let (buf, seq, closed) = {
            let mut pending = lock(&shared.pending);
            while pending.buf.is_empty() && !pending.closed {
                pending = shared.wake.wait(pending).unwrap_or_else(|p| p.into_inner());
            }
            (
                std::mem::take(&mut pending.buf),
                pending.appended,
                pending.closed,
            )
        };
        if !buf.is_empty() {
            let written = file.write_all(&buf).and_then(|()| file.sync_data());
            match written {
                Ok(()) => shared.durable.send_modify(|d| d.seq = seq),
                Err(e) => {
                    tracing::error!(path = %shared.path.display(), error = %e, "log write failed");
                    shared
                        .durable
                        .send_modify(|d| d.failed = Some(e.to_string()));
                    return;
                }
            }
        }
        if closed {
            return;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_survive_reopen_and_a_torn_tail_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let log = Log::create(&path, vec![b"snap".to_vec()]).unwrap();
        let mut last = 0;
        for i in 0..100u32 {
            last = log.append(format!("record {i}").as_bytes());
        }
        log.durable(last).await.unwrap();
        drop(log);
        // A crash mid-write leaves a partial frame at the end.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&[200, 0, 0, 0, 1, 2]).unwrap();
        let records = replay(&path).unwrap();
        assert_eq!(records.len(), 101);
        assert_eq!(records[0], b"snap");
        assert_eq!(records[100], b"record 99");
    }

    #[tokio::test]
    async fn concurrent_appends_share_fsyncs() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(Log::create(&dir.path().join("log"), Vec::new()).unwrap());
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let log = log.clone();
                tokio::spawn(async move {
                    let seq = log.append(format!("{i}").as_bytes());
                    log.durable(seq).await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(replay(&dir.path().join("log")).unwrap().len(), 64);
    }
}
