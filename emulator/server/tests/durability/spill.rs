//! The in-memory mode's spill directory (bodies over 8 MiB) does not outlive the emulator: SIGTERM
//! shuts `serve` down cleanly and removes it, and the directory of an emulator that was killed
//! outright is removed by the next one to start. Runs the real binary with its own `TMPDIR`.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;

use super::kill::spawn_serve;
use crate::common;

/// Spill directories under `root`, with how many files each holds.
fn spill_dirs(root: &std::path::Path) -> Vec<(String, usize)> {
    let mut found: Vec<(String, usize)> = std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let files = std::fs::read_dir(entry.path()).ok()?.count();
            name.starts_with("emulator-s3-spill-")
                .then_some((name, files))
        })
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn the_spill_directory_goes_on_sigterm_and_a_killed_emulators_at_the_next_start() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("tmp");
    std::fs::create_dir(&root).unwrap();
    let log = work.path().join("emulator.log");
    // Left by an emulator killed earlier: a process id that no longer runs.
    let mut exited = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = exited.id();
    exited.wait().unwrap();
    let stale = root.join(format!("emulator-s3-spill-{dead_pid}-old"));
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("body"), vec![7u8; 1024]).unwrap();

    let (mut running, _) = spawn_serve(&[], &[("TMPDIR", root.as_path())], &log).await;
    let s3 = common::s3(&running.url).await;
    let bucket = common::config().resources.analytics_bucket;
    s3.put_object()
        .bucket(&bucket)
        .key("big.bin")
        .body(ByteStream::from(vec![1u8; 9 * 1024 * 1024]))
        .send()
        .await
        .unwrap();
    let pid = running.child.id();
    let spilled = spill_dirs(&root);
    assert_eq!(spilled.len(), 1, "only the running emulator's: {spilled:?}");
    assert!(spilled[0]
        .0
        .starts_with(&format!("emulator-s3-spill-{pid}-")));
    assert_eq!(spilled[0].1, 1, "the 9 MiB body spilled to a file");

    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = running.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no exit in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "a clean shutdown on SIGTERM: {exit}");
    assert_eq!(spill_dirs(&root), [], "nothing left under TMPDIR");
}
