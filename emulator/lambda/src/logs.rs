//! Function log lines, printed like CloudWatch Logs shows them: `[function] [request-id] line`.
//!
//! Each execution environment has one [`LogContext`]: the reader tasks of the process's stdout
//! and stderr tag each line with the request id of the invocation in progress (`-` between
//! invocations, e.g. during init), and keep the invocation's lines so the Invoke API can return
//! their tail as `X-Amz-Log-Result` (`LogType: Tail`, the last 4 KB, as AWS does:
//! https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html).

use std::io::Write;
use std::sync::Mutex;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// AWS returns at most the last 4 KB of an invocation's log.
pub const LOG_TAIL_BYTES: usize = 4 * 1024;

/// Tags and prints the log lines of one execution environment.
pub struct LogContext {
    function: String,
    state: Mutex<LogState>,
    observer: Option<crate::observe::ObserverHandle>,
}

#[derive(Default)]
struct LogState {
    request_id: Option<String>,
    captured: String,
}

impl LogContext {
    pub fn new(function: &str) -> Self {
        Self {
            function: function.to_owned(),
            state: Mutex::new(LogState::default()),
            observer: None,
        }
    }

    /// Also hands every line to the console's observer.
    pub fn with_observer(mut self, observer: Option<crate::observe::ObserverHandle>) -> Self {
        self.observer = observer;
        self
    }

    /// Lines from now on belong to this invocation.
    pub fn begin(&self, request_id: &str) {
        let mut state = self.lock();
        state.request_id = Some(request_id.to_owned());
        state.captured.clear();
    }

    /// Ends the invocation and hands back the tail of its lines.
    pub fn end(&self) -> String {
        let mut state = self.lock();
        state.request_id = None;
        tail(std::mem::take(&mut state.captured))
    }

    /// Prints one line, tagged with the invocation in progress.
    pub fn line(&self, text: &str) {
        let mut state = self.lock();
        let request_id = state.request_id.clone();
        if request_id.is_some() {
            state.captured.push_str(text);
            state.captured.push('\n');
            // Bound memory for chatty functions: keep a generous multiple of what is returned.
            if state.captured.len() > 4 * LOG_TAIL_BYTES {
                let kept = tail(std::mem::take(&mut state.captured));
                state.captured = kept;
            }
        }
        drop(state);
        if let Some(observer) = &self.observer {
            let line = text.trim_end_matches(['\r', '\n']);
            observer
                .0
                .log_line(&self.function, request_id.as_deref(), line);
        }
        let mut out = std::io::stdout().lock();
        // A closed stdout must not take the emulator down; the line is lost, nothing else.
        let _ = writeln!(
            out,
            "[{}] [{}] {}",
            self.function,
            request_id.as_deref().unwrap_or("-"),
            text.trim_end_matches(['\r', '\n'])
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        // A panic while holding this lock cannot leave the state inconsistent (plain strings).
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Copies lines from a process pipe to the log until the pipe closes.
pub async fn pump<R: AsyncRead + Unpin>(pipe: R, log: std::sync::Arc<LogContext>) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => log.line(&String::from_utf8_lossy(&buf)),
        }
    }
}

/// The last [`LOG_TAIL_BYTES`] of `text`, cut at a character boundary.
fn tail(text: String) -> String {
    if text.len() <= LOG_TAIL_BYTES {
        return text;
    }
    let mut start = text.len() - LOG_TAIL_BYTES;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_only_lines_of_the_invocation_and_keeps_the_tail() {
        let log = LogContext::new("f");
        log.line("during init");
        log.begin("req-1");
        for i in 0..2000 {
            log.line(&format!("line é {i}"));
        }
        let captured = log.end();
        assert!(captured.len() <= LOG_TAIL_BYTES);
        assert!(captured.ends_with("line é 1999\n"));
        assert!(!captured.contains("during init"));
        log.line("after");
        log.begin("req-2");
        assert_eq!(log.end(), "");
    }
}
