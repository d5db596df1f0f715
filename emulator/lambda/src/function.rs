//! A deployed function: its spec and its pool of execution environments.
//!
//! Each invocation takes an idle environment (warm start) or spawns one (cold start), runs, and
//! puts the environment back unless it timed out, crashed or failed init, in which case it is
//! gone and the next invocation starts a new one, as Lambda resets a failed environment.
//! Concurrency is bounded by the callers (the event source mapping's MaximumConcurrency); the
//! Invoke API, like Lambda's unreserved concurrency, starts as many environments as it needs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use crate::instance::{
    error_document, FailureKind, HostSettings, Instance, InvocationResult, KillHandle,
    KilledProcess,
};
use crate::logs::LogContext;
use crate::observe::InvocationGuard;
use crate::spec::FunctionSpec;

/// Counters a test or the health endpoint can read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FunctionStats {
    pub invocations: u64,
    pub cold_starts: u64,
    pub failures: u64,
    /// Execution environments alive and waiting for an invocation now.
    pub idle_instances: u64,
}

pub struct Function {
    pub spec: FunctionSpec,
    pub arn: String,
    pub last_modified: String,
    /// Id of the function's SQS event source mapping (ListEventSourceMappings' `UUID`).
    pub mapping_uuid: String,
    host: Arc<Mutex<HostSettings>>,
    idle: Mutex<Vec<Instance>>,
    /// Every environment started and not yet seen dead, busy or idle (for crash drills).
    live: Mutex<Vec<KillHandle>>,
    next_instance: AtomicU64,
    invocations: AtomicU64,
    cold_starts: AtomicU64,
    failures: AtomicU64,
    stopped: AtomicBool,
}

impl Function {
    pub fn new(spec: FunctionSpec, arn: String, host: Arc<Mutex<HostSettings>>) -> Self {
        Self {
            spec,
            arn,
            last_modified: chrono::Utc::now()
                .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
                .to_string(),
            mapping_uuid: uuid::Uuid::new_v4().to_string(),
            host,
            idle: Mutex::new(Vec::new()),
            live: Mutex::new(Vec::new()),
            next_instance: AtomicU64::new(1),
            invocations: AtomicU64::new(0),
            cold_starts: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
        }
    }

    pub fn stats(&self) -> FunctionStats {
        FunctionStats {
            invocations: self.invocations.load(Ordering::Relaxed),
            cold_starts: self.cold_starts.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            idle_instances: lock(&self.idle).len() as u64,
        }
    }

    /// Runs one synchronous invocation with `payload` as the event.
    pub async fn invoke(&self, payload: Bytes) -> InvocationResult {
        let observer = lock(&self.host).observer.clone();
        let guard = InvocationGuard::start(observer, &self.spec.name, &payload);
        let result = self.run_invocation(payload).await;
        guard.finish(&result);
        result
    }

    async fn run_invocation(&self, payload: Bytes) -> InvocationResult {
        self.invocations.fetch_add(1, Ordering::Relaxed);
        let mut instance = match self.take_idle() {
            Some(warm) => warm,
            None => match self.spawn().await {
                Ok(cold) => cold,
                Err(reason) => {
                    let request_id = uuid::Uuid::new_v4().to_string();
                    tracing::error!(function = %self.spec.name, %reason, "cannot start the function");
                    let kind = FailureKind::Spawn(reason);
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    return InvocationResult {
                        payload: error_document(&request_id, &kind, &self.spec),
                        request_id,
                        failure: Some(kind),
                        duration: Duration::ZERO,
                        init_duration: None,
                        log_tail: String::new(),
                    };
                }
            },
        };
        let (result, reusable) = instance.invoke(&self.spec, payload).await;
        if result.init_duration.is_some() {
            self.cold_starts.fetch_add(1, Ordering::Relaxed);
        }
        if result.failure.is_some() {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        if reusable && !self.stopped.load(Ordering::SeqCst) {
            lock(&self.idle).push(instance);
        } else {
            instance.kill().await;
        }
        result
    }

    /// Kills every idle environment and refuses to keep new ones (environments running an
    /// invocation are killed when that invocation ends or is dropped).
    pub async fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let idle: Vec<_> = std::mem::take(&mut *lock(&self.idle));
        for mut instance in idle {
            instance.kill().await;
        }
    }

    /// SIGKILLs every running process of the function, busy or idle, or only the busy ones (a
    /// crash drill). A busy one fails its invocation as a crash; an idle one is replaced on its
    /// next use.
    pub async fn kill_all(&self, busy_only: bool) -> Vec<KilledProcess> {
        let handles: Vec<KillHandle> = {
            let mut live = lock(&self.live);
            live.retain(KillHandle::is_alive);
            live.iter()
                .filter(|h| !busy_only || h.is_busy())
                .cloned()
                .collect()
        };
        let mut killed = Vec::new();
        for handle in handles {
            if let Some(process) = handle.kill().await {
                killed.push(process);
            }
        }
        killed
    }

    /// An idle environment whose process is still alive (dead ones are dropped: a process that
    /// exits between invocations has crashed, and the next invocation gets a fresh one).
    fn take_idle(&self) -> Option<Instance> {
        let mut idle = lock(&self.idle);
        while let Some(mut instance) = idle.pop() {
            if instance.is_alive() {
                return Some(instance);
            }
            instance.log().line(&format!(
                "instance {} exited while idle; it will be replaced",
                instance.id
            ));
        }
        None
    }

    async fn spawn(&self) -> Result<Instance, String> {
        let id = self.next_instance.fetch_add(1, Ordering::Relaxed);
        let host = lock(&self.host).clone();
        let log = Arc::new(LogContext::new(&self.spec.name).with_observer(host.observer.clone()));
        let instance = Instance::spawn(id, &self.spec, &self.arn, &host, log).await?;
        let mut live = lock(&self.live);
        live.retain(KillHandle::is_alive);
        live.push(instance.kill_handle());
        Ok(instance)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
