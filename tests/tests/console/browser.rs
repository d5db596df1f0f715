//! The web console in a real browser: headless Chromium driven through its WebDriver
//! (chromedriver) by Selenium's Python client. Python Selenium rather than a Rust WebDriver
//! crate (fantoccini): it is one pinned pip package next to the Python clients the tests already
//! install, where a Rust client would add its HTTP/WebDriver dependency tree to this test binary
//! and to every build of it on a 2-core machine.
//!
//! The script loads the page, drops files through the S3 API, waits for them to show as
//! processed and dead-lettered (live, over SSE), opens a journey, redrives the DLQ and sees the
//! file processed, runs an Athena query, and writes a screenshot per step to
//! `$CARGO_TARGET_DIR/test-artifacts/console` (or `target/test-artifacts/console`).

use std::path::PathBuf;

use e2e_tests::Pipeline;

fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("test-artifacts").join("console")
}

fn chromium_available() -> bool {
    let found = ["chromium", "chromedriver"].iter().all(|tool| {
        std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !found {
        assert!(
            !super::tools_required(),
            "chromium and chromedriver are required (apt-get install chromium chromium-driver; .ci/run installs them)"
        );
        eprintln!("SKIPPED: chromium/chromedriver not found");
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_shows_files_live_and_redrives_the_dlq_in_a_real_browser() {
    if !chromium_available() || !super::python_has("selenium") || !super::python_has("boto3") {
        return;
    }
    let pipeline = Pipeline::start().await;
    let dir = artifacts_dir();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/console/browser.py");
    let url = pipeline.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .arg(&url)
            .arg(&dir)
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser check failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("browser checks passed"), "{stdout}");
    println!("{stdout}");
}
