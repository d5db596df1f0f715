//! One execution environment: a runtime OS process, its private Runtime API listener, and the
//! code that runs one invocation through it (deadline, kill on timeout, crash detection).
//!
//! Lifecycle as in "Understanding the Lambda execution environment lifecycle"
//! (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html): Init ends when
//! the runtime first calls `/next` (measured from spawn: the cold start, printed as an `INIT`
//! line); each invocation then has the function timeout; a timed-out or crashed environment is
//! destroyed and the next invocation gets a fresh one (a new cold start).

use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::json;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, watch, Notify};

use crate::logs::{self, LogContext};
use crate::runtime_api::{Invocation, RuntimeApi, RuntimeReply, Signal};
use crate::spec::FunctionSpec;

/// Init gets at least this long (Lambda's Init phase limit for on-demand functions is 10 s;
/// a longer function timeout also bounds init, as Lambda re-runs a timed-out init inside the
/// invocation).
const MIN_INIT_LIMIT: Duration = Duration::from_secs(10);

/// Host variables a runtime process needs to start at all; everything else of the emulator's
/// environment (e.g. the developer's AWS_PROFILE or real credentials) is kept away from it, as
/// Lambda gives functions a defined environment.
const HOST_PASSTHROUGH: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "LD_LIBRARY_PATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "PYENV_ROOT",
    "RUST_BACKTRACE",
];

/// Where the emulator is, for the environment variables of a function.
#[derive(Debug, Clone)]
pub struct HostSettings {
    pub region: String,
    /// `AWS_ENDPOINT_URL` given to functions (the emulator's own URL).
    pub endpoint_url: Option<String>,
    /// The console's observer, when one is set.
    pub observer: Option<crate::observe::ObserverHandle>,
}

/// Why an invocation failed. Every kind is a failed batch for an event source mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// The runtime posted `/invocation/{id}/error` (error type as reported).
    Function(String),
    /// The invocation ran past the function timeout; the process was killed.
    Timeout,
    /// The process exited during the invocation or its init.
    Crash(String),
    /// The runtime posted `/init/error`.
    InitError(String),
    /// The response was over 6 MB.
    ResponseTooLarge,
    /// The process could not be started.
    Spawn(String),
}

impl FailureKind {
    /// Lambda's error type for this failure, as seen in the Invoke payload.
    pub fn error_type(&self) -> String {
        match self {
            Self::Function(t) | Self::InitError(t) => t.clone(),
            Self::Timeout => "Sandbox.Timedout".into(),
            Self::Crash(_) => "Runtime.ExitError".into(),
            Self::ResponseTooLarge => "Function.ResponseSizeTooLarge".into(),
            Self::Spawn(_) => "Runtime.InvalidEntrypoint".into(),
        }
    }
}

/// The result of one invocation.
#[derive(Debug, Clone)]
pub struct InvocationResult {
    pub request_id: String,
    /// The function's response, or the error document (as Invoke returns it).
    pub payload: Bytes,
    pub failure: Option<FailureKind>,
    pub duration: Duration,
    /// Set when this invocation had a cold start: spawn to first `/next`.
    pub init_duration: Option<Duration>,
    /// The invocation's log lines (last 4 KB).
    pub log_tail: String,
}

/// A started runtime process with its Runtime API.
pub struct Instance {
    pub id: u64,
    process: Process,
    /// Set while an invocation runs in this environment.
    busy: Arc<AtomicBool>,
    invocations: mpsc::Sender<Invocation>,
    signals: mpsc::UnboundedReceiver<Signal>,
    _api: RuntimeApi,
    log: Arc<LogContext>,
    spawned_at: Instant,
    ready: bool,
}

impl Instance {
    /// Starts the runtime process with Lambda's environment plus the function's own.
    pub async fn spawn(
        id: u64,
        spec: &FunctionSpec,
        function_arn: &str,
        host: &HostSettings,
        log: Arc<LogContext>,
    ) -> Result<Self, String> {
        let (invocations_tx, invocations_rx) = mpsc::channel(1);
        let (signals_tx, signals_rx) = mpsc::unbounded_channel();
        let api = RuntimeApi::start(function_arn.to_owned(), invocations_rx, signals_tx)
            .await
            .map_err(|e| format!("cannot bind a Runtime API listener: {e}"))?;
        let (program, args) = spec
            .command
            .split_first()
            .ok_or_else(|| "empty command".to_owned())?;
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .envs(lambda_environment(spec, host, &api))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        die_with_the_emulator(&mut command);
        if let Some(dir) = &spec.working_dir {
            command.current_dir(dir);
        }
        let spawned_at = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(logs::pump(stdout, log.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(logs::pump(stderr, log.clone()));
        }
        Ok(Self {
            id,
            process: Process::watch(child),
            busy: Arc::new(AtomicBool::new(false)),
            invocations: invocations_tx,
            signals: signals_rx,
            _api: api,
            log,
            spawned_at,
            ready: false,
        })
    }

    /// A handle that can kill this environment's process from outside (a crash drill) while
    /// an invocation owns the instance.
    pub fn kill_handle(&self) -> KillHandle {
        KillHandle {
            instance: self.id,
            pid: self.process.pid,
            busy: self.busy.clone(),
            kill: self.process.external_kill.clone(),
            exit: self.process.exit.clone(),
        }
    }

    pub fn log(&self) -> &LogContext {
        &self.log
    }

    /// Whether the process is still running (an idle one may have died since its last use).
    pub fn is_alive(&mut self) -> bool {
        self.process.is_alive()
    }

    /// Runs one invocation. Returns the result and whether the environment can be reused.
    pub async fn invoke(
        &mut self,
        spec: &FunctionSpec,
        payload: Bytes,
    ) -> (InvocationResult, bool) {
        self.busy.store(true, Ordering::SeqCst);
        let outcome = self.invoke_phases(spec, payload).await;
        self.busy.store(false, Ordering::SeqCst);
        outcome
    }

    /// [`Instance::invoke`]'s work: init if needed, then the invocation and its log lines.
    async fn invoke_phases(
        &mut self,
        spec: &FunctionSpec,
        payload: Bytes,
    ) -> (InvocationResult, bool) {
        let request_id = uuid::Uuid::new_v4().to_string();
        let init_duration = match self.ensure_ready(spec, &request_id).await {
            Ok(init_duration) => init_duration,
            Err(failed) => return (failed, false),
        };

        self.log.begin(&request_id);
        self.log
            .line(&format!("START RequestId: {request_id} Version: $LATEST"));
        let started = Instant::now();
        let outcome = self.run(spec, &request_id, payload, started).await;
        let duration = started.elapsed();
        let max_memory_mb = self.process.live_pid().and_then(max_memory_used_mb);
        let (mut result, reusable) = self
            .settle(spec, &request_id, outcome, duration, init_duration)
            .await;
        self.log.line(&format!("END RequestId: {request_id}"));
        self.log.line(&report_line(
            &request_id,
            duration,
            spec.memory_size_mb,
            max_memory_mb,
            init_duration,
        ));
        result.log_tail = self.log.end();
        (result, reusable)
    }

    /// Init phase of a fresh environment: waits for the first `/next` and logs the `INIT`
    /// line. Gives the cold start's duration (None for a warm environment), or the failed
    /// result after killing a process whose init failed.
    async fn ensure_ready(
        &mut self,
        spec: &FunctionSpec,
        request_id: &str,
    ) -> Result<Option<Duration>, InvocationResult> {
        if self.ready {
            return Ok(None);
        }
        match self.wait_for_init(spec).await {
            Ok(duration) => {
                self.ready = true;
                self.log.line(&format!(
                    "INIT Duration: {:.2} ms\tInstance: {}\t(spawn to first /next)",
                    millis(duration),
                    self.id
                ));
                Ok(Some(duration))
            }
            Err(failure) => {
                self.kill().await;
                Err(failed(request_id, failure, spec, Duration::ZERO, None))
            }
        }
    }

    /// Invoke phase: hands the event to the runtime and waits for its answer, an init error,
    /// the process's exit or the deadline, whichever comes first.
    async fn run(
        &mut self,
        spec: &FunctionSpec,
        request_id: &str,
        payload: Bytes,
        started: Instant,
    ) -> Result<Bytes, FailureWithBody> {
        let deadline = started + spec.timeout();
        let (reply_tx, mut reply_rx) = oneshot::channel();
        let invocation = Invocation {
            request_id: request_id.to_owned(),
            payload,
            deadline_epoch_ms: epoch_ms(SystemTime::now() + spec.timeout()),
            trace_id: trace_id(),
            reply: reply_tx,
        };
        if self.invocations.send(invocation).await.is_err() {
            return Err(FailureKind::Crash("the runtime API listener is gone".into()).into());
        }
        loop {
            tokio::select! {
                biased;
                reply = &mut reply_rx => return match reply {
                    Ok(RuntimeReply::Response(body)) => Ok(body),
                    Ok(RuntimeReply::Error { error_type, body }) => {
                        Err(FailureWithBody(FailureKind::Function(error_type), body))
                    }
                    Ok(RuntimeReply::TooLarge(size)) => {
                        self.log.line(&format!("response of {size} bytes is over the 6 MB limit"));
                        Err(FailureKind::ResponseTooLarge.into())
                    }
                    // The runtime asked for the next event without answering this one.
                    Err(_) => Err(FailureKind::Function("Runtime.InvalidNext".into()).into()),
                },
                status = self.process.exited() => return Err(FailureKind::Crash(status).into()),
                Some(signal) = self.signals.recv() => {
                    if let Signal::InitError { error_type, body } = signal {
                        return Err(FailureWithBody(FailureKind::InitError(error_type), body));
                    }
                }
                _ = tokio::time::sleep_until(deadline.into()) => return Err(FailureKind::Timeout.into()),
            }
        }
    }

    /// Turns the outcome into the result; only a function error leaves the environment
    /// reusable, every other failure kills the process.
    async fn settle(
        &mut self,
        spec: &FunctionSpec,
        request_id: &str,
        outcome: Result<Bytes, FailureWithBody>,
        duration: Duration,
        init_duration: Option<Duration>,
    ) -> (InvocationResult, bool) {
        let failure = match outcome {
            Ok(body) => {
                let result = InvocationResult {
                    request_id: request_id.to_owned(),
                    payload: body,
                    failure: None,
                    duration,
                    init_duration,
                    log_tail: String::new(),
                };
                return (result, true);
            }
            Err(failure) => failure,
        };
        let reusable = matches!(failure.0, FailureKind::Function(_));
        if !reusable {
            if failure.0 == FailureKind::Timeout {
                self.log.line(&format!(
                    "{} {request_id} Task timed out after {:.2} seconds",
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    spec.timeout().as_secs_f64()
                ));
            }
            self.kill().await;
        }
        let result = failed(request_id, failure, spec, duration, init_duration);
        (result, reusable)
    }

    /// Waits for the first `/next`; an init error, an exit or the init limit fails it.
    async fn wait_for_init(&mut self, spec: &FunctionSpec) -> Result<Duration, FailureWithBody> {
        let limit = spec.timeout().max(MIN_INIT_LIMIT);
        tokio::select! {
            biased;
            signal = self.signals.recv() => match signal {
                Some(Signal::Ready(at)) => Ok(at.duration_since(self.spawned_at)),
                Some(Signal::InitError { error_type, body }) => {
                    self.log.line(&format!(
                        "INIT_REPORT Status: error\tError Type: {error_type}\t{}",
                        String::from_utf8_lossy(&body)
                    ));
                    Err(FailureWithBody(FailureKind::InitError(error_type), body))
                }
                None => Err(FailureKind::Crash("the runtime API listener is gone".into()).into()),
            },
            status = self.process.exited() => {
                self.log.line(&format!("INIT_REPORT Status: error\tRuntime exited: {status}"));
                Err(FailureKind::Crash(status).into())
            }
            _ = tokio::time::sleep(limit) => {
                self.log.line(&format!(
                    "INIT_REPORT Status: timeout\tno /next within {:.2} seconds",
                    limit.as_secs_f64()
                ));
                Err(FailureKind::Timeout.into())
            }
        }
    }

    /// Kills the process and waits until it is reaped.
    pub async fn kill(&mut self) {
        self.process.kill().await;
    }
}

/// Asks the kernel to SIGKILL the function process when the emulator dies, however it dies.
/// `kill_on_drop` covers an orderly exit only: after a `kill -9` of the emulator, its function
/// processes lived on as orphans, still holding a batch and calling the endpoint, which a
/// restarted emulator may serve again on the same port. In Lambda an environment never outlives
/// its sandbox; this keeps that true locally. The signal follows the *thread* that forked
/// (prctl(2)): instances are spawned from async tasks on the runtime's worker threads, which
/// live as long as the runtime (the emulator never uses `block_in_place`), never from a
/// short-lived thread.
#[cfg(target_os = "linux")]
fn die_with_the_emulator(command: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and calls only the
    // async-signal-safe `prctl` and `getppid` (fork(2)/signal-safety(7)); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The emulator died between fork and prctl: the signal will never come.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::other("the emulator exited during spawn"));
            }
            Ok(())
        });
    }
}

/// Elsewhere the processes end with the emulator's orderly exit only (`kill_on_drop`).
#[cfg(not(target_os = "linux"))]
fn die_with_the_emulator(_command: &mut Command) {}

/// The OS process of an environment, owned by a watcher task that reaps it the moment it exits.
/// Without one, a process killed from outside while its environment sat idle stayed a zombie
/// until the next invocation polled it. The watcher also kills the process on request, and when
/// the `Process` is dropped (the kill channel closes), as `kill_on_drop` did.
struct Process {
    pid: Option<u32>,
    /// `Some(description)` once the process exited and was reaped.
    exit: watch::Receiver<Option<String>>,
    kill: Option<oneshot::Sender<()>>,
    /// A kill from outside the invocation that owns the process (see [`KillHandle`]).
    external_kill: Arc<Notify>,
}

impl Process {
    fn watch(mut child: Child) -> Self {
        let pid = child.id();
        let (exit_tx, exit) = watch::channel(None);
        let (kill, kill_rx) = oneshot::channel::<()>();
        let external_kill = Arc::new(Notify::new());
        let external = external_kill.clone();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                // A kill request, or the `Process` was dropped, or a crash drill: SIGKILL
                // (tokio's `start_kill` on Unix), reaped at once.
                _ = kill_rx => {
                    let _ = child.start_kill();
                    child.wait().await
                }
                _ = external.notified() => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let _ = exit_tx.send(Some(describe_exit(status)));
        });
        Self {
            pid,
            exit,
            kill: Some(kill),
            external_kill,
        }
    }

    fn is_alive(&self) -> bool {
        self.exit.borrow().is_none()
    }

    /// The pid while the process runs (a reaped pid may already belong to another process).
    fn live_pid(&self) -> Option<u32> {
        self.pid.filter(|_| self.is_alive())
    }

    /// Waits for the exit and describes it.
    async fn exited(&mut self) -> String {
        match self.exit.wait_for(Option::is_some).await {
            Ok(exit) => exit.clone().unwrap_or_default(),
            Err(_) => "unknown exit (the process watcher is gone)".to_owned(),
        }
    }

    async fn kill(&mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        self.exited().await;
    }
}

/// Kills one environment's process from outside the invocation that owns it.
#[derive(Clone)]
pub struct KillHandle {
    pub instance: u64,
    pid: Option<u32>,
    busy: Arc<AtomicBool>,
    kill: Arc<Notify>,
    exit: watch::Receiver<Option<String>>,
}

/// A process a crash drill killed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KilledProcess {
    pub instance: u64,
    pub pid: Option<u32>,
    /// Whether an invocation was running in it.
    pub busy: bool,
}

impl KillHandle {
    pub fn is_alive(&self) -> bool {
        self.exit.borrow().is_none()
    }

    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }

    /// SIGKILLs the process and waits (at most 5 s) until it is reaped; `None` when it had
    /// already exited.
    pub async fn kill(&self) -> Option<KilledProcess> {
        if !self.is_alive() {
            return None;
        }
        let busy = self.busy.load(Ordering::SeqCst);
        self.kill.notify_one();
        let mut exit = self.exit.clone();
        let _ = tokio::time::timeout(Duration::from_secs(5), exit.wait_for(Option::is_some)).await;
        Some(KilledProcess {
            instance: self.instance,
            pid: self.pid,
            busy,
        })
    }
}

/// A failure plus the body the runtime posted for it (empty when there is none).
struct FailureWithBody(FailureKind, Bytes);

/// A failed result: the body the runtime posted, else the error document Lambda returns for
/// this kind of failure.
fn failed(
    request_id: &str,
    FailureWithBody(kind, body): FailureWithBody,
    spec: &FunctionSpec,
    duration: Duration,
    init_duration: Option<Duration>,
) -> InvocationResult {
    let payload = if body.is_empty() {
        error_document(request_id, &kind, spec)
    } else {
        body
    };
    InvocationResult {
        request_id: request_id.to_owned(),
        payload,
        failure: Some(kind),
        duration,
        init_duration,
        log_tail: String::new(),
    }
}

impl From<FailureKind> for FailureWithBody {
    fn from(kind: FailureKind) -> Self {
        Self(kind, Bytes::new())
    }
}

/// The error document Invoke returns for failures Lambda itself detects, e.g.
/// `{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: ... Error: Task timed out after 3.00 seconds"}`.
pub fn error_document(request_id: &str, kind: &FailureKind, spec: &FunctionSpec) -> Bytes {
    let detail = match kind {
        FailureKind::Function(t) | FailureKind::InitError(t) => {
            format!("{t} reported by the runtime")
        }
        FailureKind::Timeout => format!(
            "Task timed out after {:.2} seconds",
            spec.timeout().as_secs_f64()
        ),
        FailureKind::Crash(status) => format!("Runtime exited with error: {status}"),
        FailureKind::ResponseTooLarge => {
            "Response payload size exceeded maximum allowed payload size (6291556 bytes).".into()
        }
        FailureKind::Spawn(reason) => format!("Couldn't start the runtime: {reason}"),
    };
    let document = json!({
        "errorType": kind.error_type(),
        "errorMessage": format!("RequestId: {request_id} Error: {detail}"),
    });
    Bytes::from(document.to_string())
}

/// Lambda's environment (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime)
/// over a few host variables, then the function's own variables.
fn lambda_environment(
    spec: &FunctionSpec,
    host: &HostSettings,
    api: &RuntimeApi,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = HOST_PASSTHROUGH
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
        .collect();
    let task_root = spec
        .working_dir
        .clone()
        .or_else(|| std::env::current_dir().ok())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| ".".into());
    let log_stream = format!(
        "{}/[$LATEST]{}",
        chrono::Utc::now().format("%Y/%m/%d"),
        uuid::Uuid::new_v4().simple()
    );
    let lambda = [
        ("AWS_LAMBDA_RUNTIME_API", api.addr.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", spec.name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            spec.memory_size_mb.to_string(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", spec.name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", log_stream),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("AWS_REGION", host.region.clone()),
        ("AWS_DEFAULT_REGION", host.region.clone()),
        // Dummy credentials: the emulator accepts any, and real ones must never leak in.
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_SESSION_TOKEN", "test".into()),
        ("_HANDLER", spec.handler_name()),
        ("LAMBDA_TASK_ROOT", task_root.clone()),
        ("LAMBDA_RUNTIME_DIR", task_root),
        ("LANG", "en_US.UTF-8".into()),
        ("TZ", ":UTC".into()),
    ];
    env.extend(lambda.into_iter().map(|(k, v)| (k.to_owned(), v)));
    if let Some(url) = &host.endpoint_url {
        env.push(("AWS_ENDPOINT_URL".into(), url.clone()));
    }
    // The function's own variables last: they may override LANG, TZ, AWS_ENDPOINT_URL...
    // (reserved names are rejected by FunctionSpec::validate).
    env.extend(spec.environment.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// Lambda's REPORT line.
fn report_line(
    request_id: &str,
    duration: Duration,
    memory_size_mb: u32,
    max_memory_mb: Option<u64>,
    init_duration: Option<Duration>,
) -> String {
    let billed = duration.as_micros().div_ceil(1000).max(1);
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {memory_size_mb} MB",
        millis(duration)
    );
    if let Some(used) = max_memory_mb {
        line.push_str(&format!("\tMax Memory Used: {used} MB"));
    }
    if let Some(init) = init_duration {
        line.push_str(&format!("\tInit Duration: {:.2} ms", millis(init)));
    }
    line
}

/// Peak resident memory of a process (Linux `VmHWM`), for the REPORT line.
fn max_memory_used_mb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb.div_ceil(1024))
}

/// `exit status 1` / `signal: killed`, as Lambda words a runtime exit.
fn describe_exit(status: std::io::Result<ExitStatus>) -> String {
    let status = match status {
        Ok(status) => status,
        Err(err) => return format!("unknown exit ({err})"),
    };
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = match signal {
                6 => "aborted".to_owned(),
                9 => "killed".to_owned(),
                11 => "segmentation fault".to_owned(),
                15 => "terminated".to_owned(),
                other => other.to_string(),
            };
            return format!("signal: {name}");
        }
    }
    status.to_string()
}

/// An X-Ray trace header: `Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0`
/// (https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader).
fn trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let root = uuid::Uuid::new_v4().simple().to_string();
    let parent = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{secs:08x}-{};Parent={};Sampled=0",
        &root[..24],
        &parent[..16]
    )
}

fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
