//! An optional observer of invocations and function log lines, for the emulator's console
//! (journeys, live events, metrics). Set once per service with [`crate::Lambda::set_observer`];
//! environments started afterwards report to it.

use std::sync::Arc;

use bytes::Bytes;

use crate::instance::InvocationResult;

/// Receives invocation and log events. Called on the invoking task or a log reader task: keep
/// it short and never block.
pub trait LambdaObserver: Send + Sync {
    /// An invocation of `function` begins with `payload` as its event.
    fn invocation_started(&self, function: &str, payload: &Bytes);
    /// It ended; `None` when it was abandoned (its caller went away, e.g. at shutdown).
    fn invocation_finished(
        &self,
        function: &str,
        payload: &Bytes,
        result: Option<&InvocationResult>,
    );
    /// One line the function printed, tagged with the invocation in progress (`None` between
    /// invocations, e.g. during init).
    fn log_line(&self, function: &str, request_id: Option<&str>, line: &str);
}

/// A shareable observer (a newtype so the settings that carry it stay `Debug`).
#[derive(Clone)]
pub struct ObserverHandle(pub Arc<dyn LambdaObserver>);

impl std::fmt::Debug for ObserverHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ObserverHandle")
    }
}

/// Reports the end of an invocation exactly once, also when the invoking future is dropped.
pub(crate) struct InvocationGuard<'a> {
    observer: Option<ObserverHandle>,
    function: &'a str,
    payload: Bytes,
}

impl<'a> InvocationGuard<'a> {
    pub(crate) fn start(
        observer: Option<ObserverHandle>,
        function: &'a str,
        payload: &Bytes,
    ) -> Self {
        if let Some(observer) = &observer {
            observer.0.invocation_started(function, payload);
        }
        Self {
            observer,
            function,
            payload: payload.clone(),
        }
    }

    pub(crate) fn finish(mut self, result: &InvocationResult) {
        if let Some(observer) = self.observer.take() {
            observer
                .0
                .invocation_finished(self.function, &self.payload, Some(result));
        }
    }
}

impl Drop for InvocationGuard<'_> {
    fn drop(&mut self) {
        if let Some(observer) = self.observer.take() {
            observer
                .0
                .invocation_finished(self.function, &self.payload, None);
        }
    }
}
