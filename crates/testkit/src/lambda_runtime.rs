//! An emulator of the AWS Lambda Runtime API, so tests run the real `bootstrap` binaries of the Lambda
//! functions outside Docker and feed them real event JSON.
//!
//! [`RuntimeApi`] serves the four endpoints a custom runtime (the `lambda_runtime` crate) uses, on a
//! loopback port (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>, API version
//! 2018-06-01):
//!
//! - `GET  /2018-06-01/runtime/invocation/next`: long-polls until [`RuntimeApi::invoke`] queues an event,
//!   then answers with the event as body and the `Lambda-Runtime-Aws-Request-Id`,
//!   `Lambda-Runtime-Deadline-Ms`, `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`
//!   headers (`lambda_runtime` panics without the first three);
//! - `POST /2018-06-01/runtime/invocation/{id}/response`: the handler's result, `202 Accepted`;
//! - `POST /2018-06-01/runtime/invocation/{id}/error`: `{"errorType","errorMessage"}`, `202 Accepted`;
//! - `POST /2018-06-01/runtime/init/error`: recorded for [`RuntimeApi::init_error`], `202 Accepted`;
//! - SnapStart's `GET /2018-06-01/runtime/restore/next` (the runtime is initialised and its
//!   before-snapshot hooks ran: the snapshot is taken here, and the call returns when the environment
//!   is restored, [`RuntimeApi::restore`]) and `POST /2018-06-01/runtime/restore/error` (an
//!   after-restore hook failed: recorded for [`RuntimeApi::restore_error`]). The restore endpoints
//!   answer only a bootstrap spawned with `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`, as Lambda's do.
//!
//! [`RuntimeApi::spawn_bootstrap`] starts a bootstrap the way Lambda does: a clean environment with the
//! variables Lambda defines (`lambda_runtime`'s `Config::from_env` panics without
//! `AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` and `AWS_LAMBDA_FUNCTION_VERSION`; the
//! client needs `AWS_LAMBDA_RUNTIME_API`), its output captured line by line, and its whole process group
//! killed when the handle is dropped or the bootstrap exits, as Lambda tears down the execution
//! environment (the agent's Node runner is a grandchild that would otherwise outlive the test).
//! [`RuntimeApi::spawn`] does the same for any command, which is how [`crate::lambda_sandbox`] runs a
//! bootstrap inside a sandbox laid out like the agent's container image.
//!
//! Like one Lambda execution environment, the emulator hands out one event per `/next` poll, in the
//! order they were queued. Started with [`RuntimeOptions::freeze_when_idle`], it also freezes the
//! environment as Lambda does: while a bootstrap waits in `/next` with nothing to do, or waits in
//! `/restore/next` for its restore, its whole process group is stopped (`SIGSTOP`), so background
//! work (the agent's Node runner included) makes no progress until the next event thaws it
//! (`SIGCONT`). A process that leaves the group (`setsid`) would escape the freeze. Streaming
//! responses are not emulated; [`crate::lambda_service`] adds what Lambda does around environments
//! (starting one per concurrent invocation, the 10 s init cap, SnapStart snapshots, the Invoke API).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, watch};

/// The region of the emulated function's ARN (and the default `AWS_REGION` of a bootstrap): moto's.
pub use crate::moto::REGION;
/// The account of the emulated function's ARN.
const ACCOUNT: &str = "123456789012";
/// The memory size [`RuntimeApi::spawn_bootstrap`] reports, Lambda's default.
const DEFAULT_MEMORY_MB: u32 = 128;

/// How long the output of an exited bootstrap is still read: a grandchild that escaped the process
/// group kill could hold the pipes open forever.
const OUTPUT_DRAIN: Duration = Duration::from_secs(2);

/// A failed invocation, as the Lambda Invoke API reports it (`X-Amz-Function-Error` and the
/// `{"errorType","errorMessage"}` payload).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {error_message}")]
pub struct InvocationError {
    /// The handler's error type, or Lambda's for failures outside the handler: `Sandbox.Timedout`
    /// (no answer before the timeout), `Runtime.ExitError` (the bootstrap exited).
    pub error_type: String,
    pub error_message: String,
}

impl InvocationError {
    fn new(error_type: &str, error_message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.to_owned(),
            error_message: error_message.into(),
        }
    }
}

/// How a [`RuntimeApi`] behaves beyond serving events.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuntimeOptions {
    /// Stop the bootstrap's process group while it has nothing to do, as Lambda freezes an execution
    /// environment between invocations.
    pub freeze_when_idle: bool,
}

/// The Runtime API of one emulated function. Dropping it stops the server.
pub struct RuntimeApi {
    addr: SocketAddr,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`: one per API, which stands for one execution environment.
    log_stream: String,
    shared: Arc<Shared>,
    /// Set to `true` once to stop: the server shuts down gracefully and long polls end.
    shutdown: watch::Sender<bool>,
}

impl RuntimeApi {
    /// Starts the emulator on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// If no loopback port can be bound: in a test there is nothing better to do.
    pub async fn start() -> RuntimeApi {
        RuntimeApi::start_with(RuntimeOptions::default()).await
    }

    /// Starts the emulator with `options` on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start_with(options: RuntimeOptions) -> RuntimeApi {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .expect("bind the Lambda Runtime API emulator to a loopback port");
        let addr = listener
            .local_addr()
            .expect("the bound listener has an address");
        let (queue, next) = mpsc::unbounded_channel();
        let (shutdown, stop) = watch::channel(false);
        let shared = Arc::new(Shared {
            queue,
            next: tokio::sync::Mutex::new(next),
            in_flight: Mutex::new(HashMap::new()),
            polls: watch::Sender::new(Vec::new()),
            init_error: Mutex::new(None),
            function_name: Mutex::new("function".to_owned()),
            processes: watch::Sender::new(Processes::default()),
            stop: stop.clone(),
            options,
            groups: Mutex::new(Vec::new()),
            snap_start: watch::Sender::new(SnapStart::default()),
            restore_error: Mutex::new(None),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/response",
                post(invocation_response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .route("/2018-06-01/runtime/restore/next", get(restore_next))
            .route("/2018-06-01/runtime/restore/error", post(restore_error))
            .with_state(Arc::clone(&shared));
        tokio::spawn(async move {
            let stopped = async move {
                let mut stop = stop;
                let _ = stop.wait_for(|stop| *stop).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::warn!(error = %e, "the Lambda Runtime API emulator stopped");
            }
        });
        RuntimeApi {
            addr,
            log_stream: format!("2026/01/01/[$LATEST]{}", uuid::Uuid::new_v4().as_simple()),
            shared,
            shutdown,
        }
    }

    /// `127.0.0.1:<port>`, the value of `AWS_LAMBDA_RUNTIME_API` (Lambda gives it without a scheme).
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Queues `event` for the next `/next` poll and waits for the bootstrap's answer.
    ///
    /// `timeout` is the function timeout: it sets `Lambda-Runtime-Deadline-Ms`, and with no answer by
    /// then the invocation fails with `Sandbox.Timedout` (the bootstrap is not restarted, unlike Lambda).
    /// If every bootstrap spawned by [`RuntimeApi::spawn_bootstrap`] has exited, it fails at once with
    /// `Runtime.ExitError`. With no bootstrap spawned yet, the event waits for one.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Result<Value, InvocationError> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (answer, answered) = oneshot::channel();
        self.shared
            .lock_in_flight()
            .insert(request_id.clone(), answer);
        let queued = Queued {
            request_id: request_id.clone(),
            body: Bytes::from(event.to_string()),
            deadline_ms: unix_millis(SystemTime::now() + timeout),
            function_arn: self.function_arn(),
            trace_id: trace_id(),
        };
        // The receiver lives in `self.shared`, so sending cannot fail.
        let _ = self.shared.queue.send(queued);
        let mut processes = self.shared.processes.subscribe();
        let outcome = tokio::select! {
            answer = answered => answer.unwrap_or_else(|_| {
                Outcome::Error(InvocationError::new("Emulator.Stopped", "the emulator stopped"))
            }),
            () = tokio::time::sleep(timeout) => Outcome::Error(InvocationError::new(
                "Sandbox.Timedout",
                format!("RequestId: {request_id} Error: Task timed out after {:.2} seconds", timeout.as_secs_f64()),
            )),
            exit = processes.wait_for(Processes::none_alive) => Outcome::Error(InvocationError::new(
                "Runtime.ExitError",
                format!(
                    "RequestId: {request_id} Error: Runtime exited: {}",
                    exit.map(|p| p.last_exit.clone().unwrap_or_default()).unwrap_or_default()
                ),
            )),
        };
        // A timed-out or orphaned event must not be handed to a later bootstrap, and a late answer
        // to it is refused.
        self.shared.lock_in_flight().remove(&request_id);
        match outcome {
            Outcome::Response(body) => serde_json::from_slice(&body).map_err(|e| {
                InvocationError::new(
                    "Emulator.ResponseNotJson",
                    format!(
                        "the response is not JSON ({e}): {}",
                        String::from_utf8_lossy(&body)
                    ),
                )
            }),
            Outcome::Error(error) => Err(error),
        }
    }

    /// When a bootstrap first polled `/next`, if one did.
    pub fn first_poll_at(&self) -> Option<Instant> {
        self.shared.polls.borrow().first().copied()
    }

    /// Waits until `process` polls `/next` for the first time, and returns how long that took after it
    /// was spawned: the cold start of the function (its init phase).
    pub async fn wait_ready(&self, process: &LambdaProcess, timeout: Duration) -> Option<Duration> {
        let since = process.spawned_at();
        let mut polls = self.shared.polls.subscribe();
        let polled = tokio::time::timeout(
            timeout,
            polls.wait_for(|polls| polls.iter().any(|at| *at >= since)),
        )
        .await
        .ok()?
        .ok()?
        .iter()
        .find(|at| **at >= since)
        .copied()?;
        Some(polled.duration_since(since))
    }

    /// Waits until the bootstrap calls `/runtime/restore/next` (SnapStart: init and the
    /// before-snapshot hooks are done, the snapshot is taken), and returns how long after `process`
    /// was spawned that was. The environment is frozen from then on until [`RuntimeApi::restore`].
    pub async fn wait_snapshot(
        &self,
        process: &LambdaProcess,
        timeout: Duration,
    ) -> Option<Duration> {
        let mut snap_start = self.shared.snap_start.subscribe();
        let taken = tokio::time::timeout(timeout, snap_start.wait_for(|s| s.snapshot_at.is_some()))
            .await
            .ok()?
            .ok()?
            .snapshot_at?;
        Some(taken.saturating_duration_since(process.spawned_at()))
    }

    /// Restores the environment from its snapshot: thaws it and answers its `/runtime/restore/next`
    /// (at once, or as soon as it calls). Its after-restore hooks run next, then it polls `/next`.
    pub fn restore(&self) {
        self.shared.snap_start.send_modify(|s| s.restored = true);
    }

    /// What the bootstrap reported to `/runtime/restore/error`, if anything.
    pub fn restore_error(&self) -> Option<InvocationError> {
        self.shared
            .restore_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// What the bootstrap reported to `/runtime/init/error`, if anything.
    pub fn init_error(&self) -> Option<InvocationError> {
        self.shared
            .init_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Spawns the bootstrap at `path` against this API, the way Lambda starts a custom runtime.
    ///
    /// The environment is cleared, then holds `PATH`, `RUST_LOG` and `RUST_BACKTRACE` (from the test's
    /// environment, if set), what Lambda defines for every function ([`RuntimeApi::lambda_environment`]
    /// with `AWS_LAMBDA_FUNCTION_NAME` = the file name of `path` and 128 MB), `LANG` = `C.UTF-8`, then
    /// `envs`, which override any of them. Nothing else of the test's environment leaks in: AWS
    /// credentials and endpoints must be passed in `envs` (for moto: `Moto::sdk_env()`). With
    /// `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start` in `envs` the log group and stream names are left
    /// out, as Lambda leaves them out for SnapStart functions.
    pub fn spawn_bootstrap<I, K, V>(
        &self,
        path: impl AsRef<Path>,
        envs: I,
    ) -> std::io::Result<LambdaProcess>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let path = path.as_ref();
        let envs: Vec<(OsString, OsString)> = envs
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
            .collect();
        let given = |name: &str| {
            envs.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.to_string_lossy().into_owned())
        };
        let function_name = given("AWS_LAMBDA_FUNCTION_NAME")
            .or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "function".to_owned());
        let snap_start = given("AWS_LAMBDA_INITIALIZATION_TYPE").as_deref() == Some("snap-start");
        self.shared
            .snap_start
            .send_modify(|s| s.enabled = s.enabled || snap_start);
        let lambda = self
            .lambda_environment(&function_name, DEFAULT_MEMORY_MB)
            .into_iter()
            .filter(|(name, _)| !(snap_start && name.starts_with("AWS_LAMBDA_LOG_")));

        let mut command = Command::new(path);
        command.env_clear();
        for name in ["PATH", "RUST_LOG", "RUST_BACKTRACE"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command.envs(lambda).env("LANG", "C.UTF-8").envs(envs);
        self.spawn(&function_name, command)
    }

    /// The variables Lambda itself sets for a function of this API (its reserved variables, without
    /// the execution role's credentials, which a test passes for moto):
    /// `AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`,
    /// `AWS_LAMBDA_FUNCTION_VERSION` = `$LATEST`, `AWS_LAMBDA_LOG_GROUP_NAME`,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`, `AWS_LAMBDA_INITIALIZATION_TYPE` = `on-demand`, `AWS_REGION`,
    /// `AWS_DEFAULT_REGION` and `TZ` = `:UTC`. `lambda_runtime`'s `Config::from_env` panics without
    /// the function name, memory size and version; its client needs the Runtime API's address.
    pub fn lambda_environment(&self, function_name: &str, memory_mb: u32) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.addr()),
            ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function_name}"),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", self.log_stream.clone()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("TZ", ":UTC".to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    /// Spawns `command` as the runtime of the function `function_name` (the name in the ARNs this API
    /// hands out): its output captured line by line, its process group killed when the handle is
    /// dropped or it exits. The caller sets its program, arguments and environment
    /// ([`RuntimeApi::spawn_bootstrap`] runs a bootstrap directly, `LambdaSandbox` one inside a
    /// sandbox).
    pub fn spawn(
        &self,
        function_name: &str,
        mut command: Command,
    ) -> std::io::Result<LambdaProcess> {
        *self
            .shared
            .function_name
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = function_name.to_owned();
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that one kill ends the bootstrap and everything it started.
            .process_group(0)
            // A last resort if the supervising task is dropped with the runtime before it could kill.
            .kill_on_drop(true);
        let spawned_at = Instant::now();
        let mut child = command.spawn()?;
        let pid = child.id();
        self.shared.processes.send_modify(|p| p.spawned += 1);
        if let Some(pid) = pid {
            self.shared.lock_groups().push(pid);
        }

        let output = Arc::new(watch::Sender::new(Vec::new()));
        let readers = [
            child
                .stdout
                .take()
                .map(|out| read_lines(out, Stream::Stdout, Arc::clone(&output))),
            child
                .stderr
                .take()
                .map(|err| read_lines(err, Stream::Stderr, Arc::clone(&output))),
        ];
        let (kill, killed) = oneshot::channel();
        let exit = Arc::new(watch::Sender::new(None));
        tokio::spawn(supervise(
            child,
            pid,
            killed,
            readers,
            Arc::clone(&exit),
            Arc::clone(&self.shared),
        ));
        Ok(LambdaProcess {
            name: function_name.to_owned(),
            pid,
            spawned_at,
            output,
            exit,
            kill: Some(kill),
        })
    }

    /// Kills `old` and spawns `path` in its place, as Lambda does when an init phase outlives its
    /// cap. An invocation waiting meanwhile keeps waiting for the new bootstrap instead of failing
    /// with `Runtime.ExitError` (the replacement is counted before `old` exits).
    pub async fn replace_bootstrap<I, K, V>(
        &self,
        old: &LambdaProcess,
        path: impl AsRef<Path>,
        envs: I,
    ) -> std::io::Result<LambdaProcess>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.shared.processes.send_modify(|p| p.spawned += 1);
        if let Some(pid) = old.pid() {
            kill_group(pid);
        }
        old.wait_exit(Duration::from_secs(10)).await;
        let replaced = self.spawn_bootstrap(path, envs);
        self.shared.processes.send_modify(|p| p.spawned -= 1);
        replaced
    }

    fn function_arn(&self) -> String {
        let name = self
            .shared
            .function_name
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        // Drop cannot wait: the server task finishes its graceful shutdown on its own.
        self.shutdown.send_replace(true);
    }
}

/// Which stream of the bootstrap a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line the bootstrap printed, without its line break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub stream: Stream,
    pub text: String,
}

/// A running bootstrap. Dropping it kills its process group; if the test is panicking, its output is
/// printed first so the failure shows what the function logged.
pub struct LambdaProcess {
    name: String,
    pid: Option<u32>,
    spawned_at: Instant,
    /// Every line of stdout and stderr, in the order they were read.
    output: Arc<watch::Sender<Vec<OutputLine>>>,
    /// Set once the bootstrap has exited and its output was read.
    exit: Arc<watch::Sender<Option<ExitStatus>>>,
    /// Sending (or dropping) it asks the supervising task to kill the process group.
    kill: Option<oneshot::Sender<()>>,
}

impl LambdaProcess {
    /// The process id of the bootstrap (also its process group id).
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// When the bootstrap was spawned.
    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// Every line printed so far, stdout and stderr interleaved in the order they were read.
    pub fn output(&self) -> Vec<OutputLine> {
        self.output.borrow().clone()
    }

    /// The lines printed so far on stdout (where `lambda_runtime`'s tracing and EMF metrics go).
    pub fn stdout_lines(&self) -> Vec<String> {
        self.lines_of(Stream::Stdout)
    }

    /// The lines printed so far on stderr.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.lines_of(Stream::Stderr)
    }

    /// Waits until a line (of either stream) matches, and returns it. Output is read concurrently
    /// with the Runtime API, so a line logged just before the response may arrive just after it.
    pub async fn wait_for_line(
        &self,
        matches: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Option<String> {
        let mut output = self.output.subscribe();
        tokio::time::timeout(
            timeout,
            output.wait_for(|lines| lines.iter().any(|l| matches(&l.text))),
        )
        .await
        .ok()?
        .ok()?
        .iter()
        .find(|l| matches(&l.text))
        .map(|l| l.text.clone())
    }

    /// The exit status, once the bootstrap has exited.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        *self.exit.borrow()
    }

    /// Waits for the bootstrap to exit on its own.
    pub async fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let mut exit = self.exit.subscribe();
        *tokio::time::timeout(timeout, exit.wait_for(Option::is_some))
            .await
            .ok()?
            .ok()?
    }

    /// Kills the process group and waits until the bootstrap is gone.
    pub async fn kill(&mut self) -> Option<ExitStatus> {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        self.wait_exit(Duration::from_secs(10)).await
    }

    fn lines_of(&self, stream: Stream) -> Vec<String> {
        self.output
            .borrow()
            .iter()
            .filter(|l| l.stream == stream)
            .map(|l| l.text.clone())
            .collect()
    }
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let output = self.output.borrow();
            eprintln!(
                "----- output of {} (pid {:?}, {} lines) -----",
                self.name,
                self.pid,
                output.len()
            );
            for line in output.iter() {
                eprintln!("{}", line.text);
            }
            eprintln!("----- end of output of {} -----", self.name);
        }
        // Killed here and not only by the supervising task: when a test ends, its runtime (and the
        // task) may be gone before the task gets to run.
        if self.exit.borrow().is_none()
            && let Some(pid) = self.pid
        {
            kill_group(pid);
        }
        drop(self.kill.take());
    }
}

/// State shared by the handle and the request handlers.
struct Shared {
    queue: mpsc::UnboundedSender<Queued>,
    /// An async mutex: a poller holds it while it waits for the next event, so each event goes to
    /// exactly one poll, in order. `recv` is cancel safe: a poll dropped by a closed connection loses
    /// nothing.
    next: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    /// The answer channel of each invocation still waiting, by request id. A std mutex: held only
    /// for short map operations, never across an await.
    in_flight: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    /// When each `/next` poll arrived, for the cold start measurement.
    polls: watch::Sender<Vec<Instant>>,
    init_error: Mutex<Option<InvocationError>>,
    /// The name in the function ARN: the last spawned bootstrap's `AWS_LAMBDA_FUNCTION_NAME`.
    function_name: Mutex<String>,
    processes: watch::Sender<Processes>,
    stop: watch::Receiver<bool>,
    options: RuntimeOptions,
    /// The process groups of the bootstraps still running (each bootstrap leads its own).
    groups: Mutex<Vec<u32>>,
    snap_start: watch::Sender<SnapStart>,
    restore_error: Mutex<Option<InvocationError>>,
}

impl Shared {
    fn lock_in_flight(&self) -> MutexGuard<'_, HashMap<String, oneshot::Sender<Outcome>>> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_groups(&self) -> MutexGuard<'_, Vec<u32>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Freezes (`STOP`) or thaws (`CONT`) every running bootstrap with everything it started.
    fn signal_groups(&self, signal: &str) {
        for group in self.lock_groups().iter() {
            signal_group(*group, signal);
        }
    }
}

/// SnapStart's progress in this environment.
#[derive(Debug, Default, Clone, Copy)]
struct SnapStart {
    /// A bootstrap was spawned with `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`.
    enabled: bool,
    /// When the bootstrap called `/runtime/restore/next`.
    snapshot_at: Option<Instant>,
    /// [`RuntimeApi::restore`] was called.
    restored: bool,
}

/// The bootstraps spawned by this API, so an invocation fails fast when none is left to answer it.
#[derive(Debug, Default)]
struct Processes {
    spawned: u64,
    exited: u64,
    last_exit: Option<String>,
}

impl Processes {
    fn none_alive(&self) -> bool {
        self.spawned > 0 && self.exited == self.spawned
    }
}

struct Queued {
    request_id: String,
    body: Bytes,
    deadline_ms: u128,
    function_arn: String,
    trace_id: String,
}

enum Outcome {
    Response(Bytes),
    Error(InvocationError),
}

async fn next_invocation(State(shared): State<Arc<Shared>>) -> Response {
    shared.polls.send_modify(|polls| polls.push(Instant::now()));
    let mut stop = shared.stop.clone();
    let mut next = shared.next.lock().await;
    loop {
        let queued = match next.try_recv() {
            Ok(queued) => Some(queued),
            // Nothing to do: Lambda freezes the environment until the next event.
            Err(_) => {
                let freeze = shared.options.freeze_when_idle;
                if freeze {
                    shared.signal_groups("STOP");
                }
                let queued = tokio::select! {
                    queued = next.recv() => queued,
                    _ = stop.wait_for(|stop| *stop) => None,
                };
                if freeze {
                    shared.signal_groups("CONT");
                }
                queued
            }
        };
        let Some(queued) = queued else {
            return runtime_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "the emulator is stopping",
            );
        };
        // Skip events whose invocation already gave up (timed out, or its bootstrap died).
        if !shared.lock_in_flight().contains_key(&queued.request_id) {
            continue;
        }
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("lambda-runtime-aws-request-id", queued.request_id),
            ("lambda-runtime-deadline-ms", queued.deadline_ms.to_string()),
            ("lambda-runtime-invoked-function-arn", queued.function_arn),
            ("lambda-runtime-trace-id", queued.trace_id),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return (StatusCode::OK, headers, queued.body).into_response();
    }
}

async fn invocation_response(
    State(shared): State<Arc<Shared>>,
    UrlPath(request_id): UrlPath<String>,
    body: Bytes,
) -> Response {
    answer(&shared, &request_id, Outcome::Response(body))
}

async fn invocation_error(
    State(shared): State<Arc<Shared>>,
    UrlPath(request_id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(
        &shared,
        &request_id,
        Outcome::Error(reported_error(&headers, &body)),
    )
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    *shared.init_error.lock().unwrap_or_else(|p| p.into_inner()) =
        Some(reported_error(&headers, &body));
    accepted()
}

/// SnapStart: init is done; the snapshot is taken (the environment frozen) and the call answered once
/// the environment is restored.
async fn restore_next(State(shared): State<Arc<Shared>>) -> Response {
    let state = *shared.snap_start.borrow();
    if !state.enabled {
        return runtime_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the restore endpoints exist only for SnapStart (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start)",
        );
    }
    if state.snapshot_at.is_some() {
        return runtime_error(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "the snapshot was already taken",
        );
    }
    shared
        .snap_start
        .send_modify(|s| s.snapshot_at = Some(Instant::now()));
    shared.signal_groups("STOP");
    let mut snap_start = shared.snap_start.subscribe();
    let mut stop = shared.stop.clone();
    let restored = tokio::select! {
        restored = snap_start.wait_for(|s| s.restored) => restored.is_ok(),
        _ = stop.wait_for(|stop| *stop) => false,
    };
    shared.signal_groups("CONT");
    if !restored {
        return runtime_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "the emulator is stopping",
        );
    }
    (StatusCode::OK, axum::Json(json!({}))).into_response()
}

async fn restore_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !shared.snap_start.borrow().enabled {
        return runtime_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the restore endpoints exist only for SnapStart (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start)",
        );
    }
    *shared
        .restore_error
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(reported_error(&headers, &body));
    accepted()
}

fn answer(shared: &Shared, request_id: &str, outcome: Outcome) -> Response {
    let Some(waiting) = shared.lock_in_flight().remove(request_id) else {
        return runtime_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "no invocation in progress has this request id",
        );
    };
    // The invoker may have given up a moment ago; the answer is then dropped, as Lambda does.
    let _ = waiting.send(outcome);
    accepted()
}

/// The error a runtime reported: its `{"errorType","errorMessage"}` body, else the
/// `Lambda-Runtime-Function-Error-Type` header and the raw body.
fn reported_error(headers: &HeaderMap, body: &[u8]) -> InvocationError {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let header_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok());
    let error_type = json["errorType"]
        .as_str()
        .or(header_type)
        .unwrap_or("Unknown");
    let error_message = json["errorMessage"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    InvocationError::new(error_type, error_message)
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errorType": error_type, "errorMessage": message})),
    )
        .into_response()
}

/// Waits for the bootstrap to exit (or for a kill request), kills its process group, reads the rest
/// of its output and publishes the exit.
async fn supervise(
    mut child: Child,
    pid: Option<u32>,
    killed: oneshot::Receiver<()>,
    readers: [Option<tokio::task::JoinHandle<()>>; 2],
    exit: Arc<watch::Sender<Option<ExitStatus>>>,
    shared: Arc<Shared>,
) {
    let status = tokio::select! {
        status = child.wait() => status,
        // A kill request, or the handle was dropped.
        _ = killed => {
            if let Some(pid) = pid {
                kill_group(pid);
            }
            child.wait().await
        }
    };
    // Lambda ends the whole execution environment with its runtime.
    if let Some(pid) = pid {
        kill_group(pid);
        shared.lock_groups().retain(|group| *group != pid);
    }
    for reader in readers.into_iter().flatten() {
        let _ = tokio::time::timeout(OUTPUT_DRAIN, reader).await;
    }
    let description = match &status {
        Ok(status) => status.to_string(),
        Err(e) => format!("waiting for it failed: {e}"),
    };
    exit.send_replace(Some(status.unwrap_or_else(|_| failed_status())));
    shared.processes.send_modify(|p| {
        p.exited += 1;
        p.last_exit = Some(description);
    });
}

/// `kill -KILL -<pgid>`.
pub(crate) fn kill_group(pgid: u32) {
    signal_group(pgid, "KILL");
}

/// `kill -<signal> -<pgid>`: the `kill` program rather than a syscall, because `unsafe` is forbidden.
fn signal_group(pgid: u32, signal: &str) {
    let _ = std::process::Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The status reported when waiting for the child itself failed (it cannot be observed any more).
fn failed_status() -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    ExitStatus::from_raw(-1)
}

fn read_lines(
    pipe: impl AsyncRead + Unpin + Send + 'static,
    stream: Stream,
    output: Arc<watch::Sender<Vec<OutputLine>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut pipe = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match pipe.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line)
                        .trim_end_matches(['\n', '\r'])
                        .to_owned();
                    output.send_modify(|lines| lines.push(OutputLine { stream, text }));
                }
            }
        }
    })
}

fn unix_millis(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// An X-Ray trace header like Lambda's: `Root=1-<epoch seconds, hex>-<96 random bits>;Parent=…;Sampled=0`.
fn trace_id() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{seconds:08x}-{};Parent={};Sampled=0",
        &random[..24],
        &random[16..32]
    )
}
