//! Log set-up for the emulator process: human-readable by default, JSON on request.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The default filter: `info`, with s3s at `warn`.
pub const DEFAULT_FILTER: &str = "info,s3s=warn";

/// s3s logs every request it refuses before routing (unsigned, a bad bucket name: a browser's
/// favicon request) at ERROR, though they are the client's errors; the emulator logs S3's 5xx
/// itself (`dispatch`). Off unless `RUST_LOG` names s3s.
const S3S_REFUSALS_OFF: &str = "s3s::ops=off";

/// The filter of `RUST_LOG` (or [`DEFAULT_FILTER`]), with s3s's refusals off unless it names s3s.
pub fn filter(rust_log: Option<&str>) -> EnvFilter {
    let filter = rust_log
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    if rust_log.is_some_and(|spec| spec.contains("s3s")) {
        return filter;
    }
    filter.add_directive(S3S_REFUSALS_OFF.parse().expect("a valid directive"))
}

/// Installs the global subscriber; `RUST_LOG` overrides [`DEFAULT_FILTER`]
/// (`RUST_LOG=emulator=debug` shows one line per request).
pub fn init(format: LogFormat) {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref());
    // Colours only for a person at a terminal, not in files or CI logs.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    // `try_init` so tests that start several servers in one process do not panic.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::filter;
    use tracing_subscriber::layer::SubscriberExt;

    /// Whether an ERROR event of s3s's `ops` target (and of `emulator`) passes `RUST_LOG=spec`.
    fn passes(spec: Option<&str>) -> (bool, bool) {
        let subscriber = tracing_subscriber::registry().with(filter(spec));
        tracing::subscriber::with_default(subscriber, || {
            (
                tracing::enabled!(target: "s3s::ops", tracing::Level::ERROR),
                tracing::enabled!(target: "emulator", tracing::Level::ERROR),
            )
        })
    }

    #[test]
    fn s3s_refusals_are_off_unless_rust_log_names_s3s() {
        for spec in [None, Some("info"), Some("debug,emulator=trace")] {
            assert_eq!(passes(spec), (false, true), "{spec:?}");
        }
        assert_eq!(passes(Some("info,s3s=debug")), (true, true));
    }
}
