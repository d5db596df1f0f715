//! The invocation's time budget. Lambda kills a function at its deadline ("Task timed out",
//! `Sandbox.Timedout`): the batch response is lost, every message of the batch comes back after
//! the visibility timeout, and after `maxReceiveCount` receives the queue's redrive moves it to the
//! DLQ with no reason at all. So the handler never runs into the deadline:
//! - the streaming copy checks [`Budget::is_spent`] between chunks and stops cleanly `margin`
//!   before the deadline (aborting its multipart upload) with a [`Failure`] that says how far it
//!   got and what to change ([`out_of_time`]);
//! - a backstop ([`Budget::backstop`], half the margin later) drops any record still running, so
//!   a call stuck elsewhere cannot take the whole batch past the deadline either;
//! - what is left of the margin is for the verdicts (DLQ sends, visibility changes) and the
//!   response.
//!
//! Lambda does not tell a function its configured timeout, only the deadline of each
//! invocation (`Lambda-Runtime-Deadline-Ms`), so the timeout is taken as the time from the
//! start of the invocation to its deadline.

use std::time::{Duration, Instant, SystemTime};

use crate::failures::Failure;

/// Largest margin kept before the deadline.
pub const MAX_MARGIN: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// When streaming must stop; `None` = no deadline (direct calls, tests).
    stop_at: Option<Instant>,
    /// Half the margin later: records still running then are dropped.
    backstop_at: Option<Instant>,
    /// The function's timeout as seen from this invocation (start to deadline).
    timeout: Option<Duration>,
}

impl Budget {
    pub fn unlimited() -> Budget {
        Budget {
            stop_at: None,
            backstop_at: None,
            timeout: None,
        }
    }

    /// The budget of an invocation starting now with this deadline. The margin is `max_margin`,
    /// but at most a fifth of the time left, so a short timeout still leaves time to work.
    pub fn from_deadline(deadline: Option<SystemTime>, max_margin: Duration) -> Budget {
        let Some(deadline) = deadline else {
            return Budget::unlimited();
        };
        let now = Instant::now();
        let left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let margin = max_margin.min(left / 5);
        Budget {
            stop_at: Some(now + left.saturating_sub(margin)),
            backstop_at: Some(now + left.saturating_sub(margin / 2)),
            timeout: Some(left),
        }
    }

    /// Whether streaming work must stop now.
    pub fn is_spent(&self) -> bool {
        self.stop_at.is_some_and(|stop| Instant::now() >= stop)
    }

    /// How long a record may still run before it is dropped.
    pub fn backstop(&self) -> Option<Duration> {
        self.backstop_at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

/// How far a copy got when the budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub bytes_done: u64,
    /// The object's size, when GetObject said it.
    pub bytes_total: Option<u64>,
    pub elapsed: Duration,
}

/// The transient failure of a copy stopped before the deadline: the size, the progress, the
/// speed it implies, and what to change. On the message's last receive it is the DLQ reason.
pub fn out_of_time(source_uri: &str, progress: Progress, timeout: Option<Duration>) -> Failure {
    let seconds = progress.elapsed.as_secs_f64();
    let done = mib(progress.bytes_done);
    let of_total = progress
        .bytes_total
        .map(|total| format!(" of {}", mib(total)))
        .unwrap_or_default();
    let timeout_text = timeout
        .map(|t| format!("the function's {} s timeout", t.as_secs_f64().round()))
        .unwrap_or_else(|| "the invocation deadline".to_string());
    let mut reason = format!(
        "{source_uri}: stopped after processing {done}{of_total} MiB in {seconds:.1} s, before \
         {timeout_text}; the upload was aborted and nothing was written"
    );
    if let (Some(total), true) = (progress.bytes_total, progress.bytes_done > 0) {
        let needed = seconds * total as f64 / progress.bytes_done as f64;
        reason.push_str(&format!(
            ". At this speed ({:.1} MB/s) the file needs about {:.0} s",
            progress.bytes_done as f64 / seconds.max(0.001) / 1e6,
            needed.ceil()
        ));
    }
    reason.push_str(
        ". Raise this function's timeout_seconds in the pipeline config's `functions` section \
         (Lambda allows up to 900 s; keep the queue's visibility timeout at least 6 times it) or \
         split the file",
    );
    Failure::transient(reason)
}

/// Whole MiB with thousands separators: `1,024`.
fn mib(bytes: u64) -> String {
    let digits = (bytes / (1024 * 1024)).to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_deadline_never_runs_out() {
        let budget = Budget::from_deadline(None, MAX_MARGIN);
        assert!(!budget.is_spent());
        assert_eq!(budget.backstop(), None);
        assert_eq!(budget.timeout(), None);
    }

    #[test]
    fn the_margin_is_at_most_a_fifth_of_the_time_left() {
        let budget =
            Budget::from_deadline(Some(SystemTime::now() + Duration::from_secs(5)), MAX_MARGIN);
        assert!(!budget.is_spent());
        let backstop = budget.backstop().unwrap();
        // 5 s left: margin 1 s, backstop 0.5 s before the deadline.
        assert!(backstop > Duration::from_millis(4300), "{backstop:?}");
        assert!(backstop <= Duration::from_millis(4500), "{backstop:?}");
        let past = Budget::from_deadline(Some(SystemTime::now()), MAX_MARGIN);
        assert!(past.is_spent());
        assert_eq!(past.backstop(), Some(Duration::ZERO));
    }

    #[test]
    fn the_reason_names_size_progress_and_the_fix() {
        let progress = Progress {
            bytes_done: 412 * 1024 * 1024,
            bytes_total: Some(1024 * 1024 * 1024),
            elapsed: Duration::from_secs(27),
        };
        let failure = out_of_time("s3://b/k.csv", progress, Some(Duration::from_secs(30)));
        assert!(failure.is_transient());
        assert!(
            failure.reason.starts_with(
                "s3://b/k.csv: stopped after processing 412 of 1,024 MiB in 27.0 s, before the \
                 function's 30 s timeout"
            ),
            "{}",
            failure.reason
        );
        assert!(
            failure.reason.contains("needs about 68 s"),
            "{}",
            failure.reason
        );
        assert!(
            failure.reason.contains("timeout_seconds"),
            "{}",
            failure.reason
        );
        assert_eq!(mib(5 << 20), "5");
        assert_eq!(mib(1_234_567 << 20), "1,234,567");
    }
}
