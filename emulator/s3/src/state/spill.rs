//! The in-memory mode's spill directory, under `TMPDIR`, named after the emulator's process id
//! (`emulator-s3-spill-<pid>-<random>`). It is removed when the store is dropped, but a process
//! that is killed (SIGKILL, a crash, a test harness killing its child) cannot remove it, and
//! the bodies in it can be gigabytes. So each new store first removes the spill directories of
//! processes that are no longer running. A directory whose process id is running again (a
//! reused id) is kept: the sweep errs on the side of keeping.

use std::io;
use std::path::Path;
use std::time::Duration;

/// Name prefix of every spill directory.
pub const PREFIX: &str = "emulator-s3-spill-";
/// Directories named before the process id was part of the name are swept once this old.
const UNNAMED_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Removes the stale spill directories under `root`, then creates this process's.
pub fn create(root: &Path) -> io::Result<tempfile::TempDir> {
    let swept = sweep(root);
    if swept > 0 {
        tracing::info!(
            directories = swept,
            "removed S3 spill directories left by emulators that were killed"
        );
    }
    tempfile::Builder::new()
        .prefix(&format!("{PREFIX}{}-", std::process::id()))
        .tempdir_in(root)
}

/// Removes the spill directories under `root` whose process is gone; returns how many.
pub fn sweep(root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    entries
        .flatten()
        .filter(is_stale)
        .filter(|entry| std::fs::remove_dir_all(entry.path()).is_ok())
        .count()
}

fn is_stale(entry: &std::fs::DirEntry) -> bool {
    let name = entry.file_name();
    let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
        return false;
    };
    if !entry.file_type().is_ok_and(|t| t.is_dir()) {
        return false;
    }
    let owner = rest
        .split_once('-')
        .and_then(|(pid, _)| pid.parse::<u32>().ok());
    match owner {
        Some(pid) => pid != std::process::id() && !is_running(pid),
        None => entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > UNNAMED_AGE),
    }
}

/// Whether a process with this id exists (signal 0 checks without sending anything; EPERM
/// means it exists under another user).
#[cfg(unix)]
fn is_running(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return true;
    };
    // SAFETY: kill with signal 0 sends nothing; it only reports whether `pid` can be signalled.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Elsewhere the sweep never removes a named directory.
#[cfg(not(unix))]
fn is_running(_pid: u32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The id of a process that has exited.
    fn exited_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn only_the_directories_of_exited_processes_are_swept() {
        let root = tempfile::tempdir().unwrap();
        let dead = root.path().join(format!("{PREFIX}{}-abc", exited_pid()));
        let mine = root
            .path()
            .join(format!("{PREFIX}{}-def", std::process::id()));
        let unnamed_recent = root.path().join(format!("{PREFIX}ghi"));
        let other = root.path().join(format!("other-{}-x", exited_pid()));
        for dir in [&dead, &mine, &unnamed_recent, &other] {
            std::fs::create_dir(dir).unwrap();
            std::fs::write(dir.join("body"), b"bytes").unwrap();
        }
        assert_eq!(sweep(root.path()), 1);
        assert!(!dead.exists());
        assert!(mine.exists() && unnamed_recent.exists() && other.exists());
    }

    #[test]
    fn a_new_spill_directory_is_named_after_this_process() {
        let root = tempfile::tempdir().unwrap();
        let dir = create(root.path()).unwrap();
        let name = dir.path().file_name().unwrap().to_str().unwrap().to_owned();
        assert!(
            name.starts_with(&format!("{PREFIX}{}-", std::process::id())),
            "{name}"
        );
        assert_eq!(sweep(root.path()), 0, "a running process's directory stays");
    }
}
