//! One runner process: `node runner/runner.mjs`, speaking JSON lines (see [`crate::protocol`]).
//!
//! Three tasks per process: a reader routes stdout lines to the turn they belong to (and notes the
//! end of the runner's warm-up); a stderr task
//! forwards OpenClaw's own output to the log (keeping the last lines for start-up errors); a waiter owns
//! the child, reaps it, and when stdout closes tells every in-flight turn that the runner died. A process
//! is never reused after death: the supervisor in [`crate::runtime`] spawns a fresh one.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serverless_openclaw_core::CancellationToken;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, oneshot, watch};

use crate::protocol::{HostLine, RunnerLine};

/// How to start the runner.
#[derive(Debug, Clone)]
pub struct RunnerSpec {
    /// What to execute: the Node 24 binary, or the sandbox that starts it.
    pub program: PathBuf,
    /// Its arguments (Node's options, `runner/runner.mjs`).
    pub args: Vec<OsString>,
    /// The runner's whole environment: nothing of ours is inherited (see [`crate::sandbox::runner_env`]).
    pub env: Vec<(OsString, OsString)>,
    /// The working directory (the runner's folder).
    pub working_dir: PathBuf,
    /// How long to wait for the `ready` line.
    pub ready_timeout: Duration,
}

/// Why the runner could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("could not spawn {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("the runner refused to start ({code}): {message}")]
    Fatal { code: String, message: String },
    #[error("the runner exited before it was ready; last output: {0}")]
    Exited(String),
    #[error("the runner was not ready within {0:?}")]
    NotReady(Duration),
}

/// What a turn hears from the runner.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnSignal {
    Line(RunnerLine),
    /// The process died; the string says how.
    Died(String),
}

type Routes = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<TurnSignal>>>>;

/// A running runner process.
pub struct RunnerProcess {
    pid: Option<u32>,
    openclaw_version: String,
    stdin: tokio::sync::Mutex<ChildStdin>,
    routes: Routes,
    alive: Arc<AtomicBool>,
    /// Whether the runner's warm-up is over: its `warm` line came, a run was sent (a runner busy with
    /// a turn skips or aborts its warm-up), or the process died.
    warm_up_over: Arc<watch::Sender<bool>>,
    /// Kills the child when the process handle is dropped or shut down.
    kill: CancellationToken,
}

const STDERR_TAIL: usize = 20;

impl RunnerProcess {
    /// Spawns the runner and waits for its `ready` line.
    pub async fn spawn(spec: &RunnerSpec) -> Result<Arc<Self>, StartError> {
        let mut child = Command::new(&spec.program)
            .args(&spec.args)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&spec.working_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| StartError::Spawn {
                program: spec.program.display().to_string(),
                source,
            })?;
        let pid = child.id();
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(StartError::Exited("stdio was not captured".into()));
        };

        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
        tokio::spawn(forward_stderr(stderr, Arc::clone(&tail)));

        let routes: Routes = Arc::default();
        let alive = Arc::new(AtomicBool::new(true));
        let kill = CancellationToken::new();
        let (ready_tx, ready_rx) = oneshot::channel();
        let (stdout_closed_tx, stdout_closed_rx) = oneshot::channel();
        let warm_up_over = Arc::new(watch::Sender::new(false));
        tokio::spawn(read_stdout(
            stdout,
            Arc::clone(&routes),
            ready_tx,
            Arc::clone(&warm_up_over),
            stdout_closed_tx,
        ));
        tokio::spawn(wait_child(
            child,
            stdout_closed_rx,
            kill.clone(),
            Arc::clone(&routes),
            Arc::clone(&alive),
            Arc::clone(&tail),
        ));

        let guard = kill.clone().drop_guard();
        let ready = match tokio::time::timeout(spec.ready_timeout, ready_rx).await {
            Err(_) => return Err(StartError::NotReady(spec.ready_timeout)),
            Ok(Err(_)) => return Err(StartError::Exited(tail_text(&tail))),
            Ok(Ok(line)) => line,
        };
        let openclaw_version = match ready {
            RunnerLine::Ready { openclaw_version } => openclaw_version,
            RunnerLine::Fatal { code, message } => return Err(StartError::Fatal { code, message }),
            other => {
                return Err(StartError::Exited(format!(
                    "unexpected first line {other:?}"
                )));
            }
        };
        // Ready: from now on the handle's Drop owns the kill switch.
        guard.disarm();
        tracing::info!(pid, %openclaw_version, "OpenClaw runner ready");
        Ok(Arc::new(Self {
            pid,
            openclaw_version,
            stdin: tokio::sync::Mutex::new(stdin),
            routes,
            alive,
            warm_up_over,
            kill,
        }))
    }

    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    pub fn openclaw_version(&self) -> &str {
        &self.openclaw_version
    }

    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// Subscribes to the lines of turn `id`; `None` if the process is already dead.
    pub fn register(&self, id: &str) -> Option<mpsc::UnboundedReceiver<TurnSignal>> {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        // Checked under the routes lock: the waiter marks death and drains routes under the same lock,
        // so a turn registered here is always told if the process dies.
        if !self.is_alive() {
            return None;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        routes.insert(id.to_owned(), tx);
        Some(rx)
    }

    pub fn unregister(&self, id: &str) {
        self.routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Waits until the runner's warm-up is over (see `warm_up_over`).
    pub async fn warmed_up(&self) {
        // The sender lives as long as `self`, so this waits for the value and nothing else.
        let _ = self.warm_up_over.subscribe().wait_for(|over| *over).await;
    }

    /// Writes one line to the runner's stdin.
    pub async fn send(&self, line: &HostLine<'_>) -> std::io::Result<()> {
        if matches!(line, HostLine::Run { .. } | HostLine::Compact { .. }) {
            // A runner sent a run (or a compact) within 50 ms of `ready` never warms up and never
            // says `warm`.
            self.warm_up_over.send_replace(true);
        }
        let mut text = serde_json::to_string(line).map_err(std::io::Error::other)?;
        text.push('\n');
        let mut stdin = self.stdin.lock().await;
        stdin.write_all(text.as_bytes()).await?;
        stdin.flush().await
    }

    /// Asks the runner to exit, and kills it if it has not within `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        if self.send(&HostLine::Shutdown).await.is_ok() {
            let deadline = tokio::time::Instant::now() + grace;
            while self.is_alive() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        self.kill.cancel();
    }
}

impl Drop for RunnerProcess {
    fn drop(&mut self) {
        self.kill.cancel();
    }
}

fn tail_text(tail: &Mutex<VecDeque<String>>) -> String {
    let tail = tail.lock().unwrap_or_else(|p| p.into_inner());
    if tail.is_empty() {
        "(nothing)".into()
    } else {
        tail.iter().cloned().collect::<Vec<_>>().join(" | ")
    }
}

async fn forward_stderr(stderr: tokio::process::ChildStderr, tail: Arc<Mutex<VecDeque<String>>>) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(target: "openclaw_runner", "{line}");
        let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
        if tail.len() == STDERR_TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}

async fn read_stdout(
    stdout: tokio::process::ChildStdout,
    routes: Routes,
    ready: oneshot::Sender<RunnerLine>,
    warm_up_over: Arc<watch::Sender<bool>>,
    closed: oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(text)) = lines.next_line().await {
        let line: RunnerLine = match serde_json::from_str(&text) {
            Ok(line) => line,
            Err(e) => {
                tracing::warn!(error = %e, line = %text, "runner wrote a line that is not protocol");
                continue;
            }
        };
        if matches!(line, RunnerLine::Ready { .. } | RunnerLine::Fatal { .. }) {
            if let Some(ready) = ready.take() {
                let _ = ready.send(line);
            } else {
                tracing::warn!(?line, "runner repeated a start-up line");
            }
            continue;
        }
        if let RunnerLine::Warm { ok, ms } = line {
            tracing::info!(ok, ms, "OpenClaw runner warm-up over");
            warm_up_over.send_replace(true);
            continue;
        }
        let Some(id) = line.turn_id() else {
            tracing::warn!(?line, "runner reported an error for no turn");
            continue;
        };
        let route = routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned();
        match route {
            Some(tx) => {
                let _ = tx.send(TurnSignal::Line(line));
            }
            // The turn gave up (deadline, cancel) before the runner answered.
            None => tracing::debug!(id, "line for a turn nobody waits for"),
        }
    }
    // A dead runner has nothing left to warm.
    warm_up_over.send_replace(true);
    let _ = closed.send(());
}

async fn wait_child(
    mut child: Child,
    stdout_closed: oneshot::Receiver<()>,
    kill: CancellationToken,
    routes: Routes,
    alive: Arc<AtomicBool>,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    let how = tokio::select! {
        _ = stdout_closed => {
            // Stdout closed: the process is exiting or dead. Give it a moment to report its status.
            match tokio::time::timeout(Duration::from_secs(2), child.wait()).await {
                Ok(Ok(status)) => format!("the OpenClaw runner exited ({status})"),
                _ => {
                    let _ = child.kill().await;
                    "the OpenClaw runner closed its output and was killed".to_owned()
                }
            }
        }
        () = kill.cancelled() => {
            let _ = child.kill().await;
            "the OpenClaw runner was stopped".to_owned()
        }
    };
    let drained: Vec<_> = {
        let mut routes = routes.lock().unwrap_or_else(|p| p.into_inner());
        alive.store(false, Ordering::SeqCst);
        routes.drain().map(|(_, tx)| tx).collect()
    };
    if !drained.is_empty() || !kill.is_cancelled() {
        tracing::warn!(in_flight = drained.len(), last_output = %tail_text(&tail), "{how}");
    }
    for tx in drained {
        let _ = tx.send(TurnSignal::Died(how.clone()));
    }
}
