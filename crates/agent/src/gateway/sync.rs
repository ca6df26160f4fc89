//! [`TranscriptSync`]: the Node helper (`runner/gateway-sync.mjs`) that exports a gateway session as
//! the runner's JSONL transcript and imports one into a fresh session, through OpenClaw's public
//! plugin SDK. It runs beside the gateway with the gateway's config and state folder but neither its
//! token nor the LLM key. One request at a time.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long the helper may take to load OpenClaw's SDK, and one request to finish.
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

/// How to run the helper.
#[derive(Debug, Clone)]
pub struct SyncSpec {
    pub node: PathBuf,
    pub script: PathBuf,
    pub env: Vec<(OsString, OsString)>,
}

/// A running helper.
pub struct TranscriptSync {
    io: tokio::sync::Mutex<(ChildStdin, Lines<BufReader<ChildStdout>>, u64)>,
    _child: Child,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Answer {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    ok: bool,
    error: Option<String>,
    transcript: Option<String>,
}

impl TranscriptSync {
    /// Starts the helper and waits for its `ready` line.
    pub async fn start(spec: &SyncSpec) -> std::io::Result<Self> {
        let mut child = Command::new(&spec.node)
            .arg(&spec.script)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .current_dir(spec.script.parent().unwrap_or(std::path::Path::new(".")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(std::io::Error::other(
                "the sync helper's stdio was not captured",
            ));
        };
        // It warns that the config's `${VAR}`s are unset: it is started without the token and the key.
        tokio::spawn(super::supervisor::forward(stderr, "sync", None));
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(SYNC_TIMEOUT, lines.next_line())
            .await
            .map_err(|_| std::io::Error::other("the sync helper was not ready in time"))??;
        let ready: Answer = serde_json::from_str(ready.as_deref().unwrap_or("{}"))?;
        if ready.kind.as_deref() != Some("ready") {
            return Err(std::io::Error::other("the sync helper did not start"));
        }
        Ok(Self {
            io: tokio::sync::Mutex::new((stdin, lines, 0)),
            _child: child,
        })
    }

    /// The session's transcript as JSONL.
    pub async fn export(&self, session_key: &str, session_id: &str) -> std::io::Result<Vec<u8>> {
        let answer = self
            .ask(json!({"op": "export", "sessionKey": session_key, "sessionId": session_id}))
            .await?;
        Ok(answer.transcript.unwrap_or_default().into_bytes())
    }

    /// Appends the messages of `transcript` (JSONL) to the session.
    pub async fn import(
        &self,
        session_key: &str,
        session_id: &str,
        transcript: &[u8],
    ) -> std::io::Result<()> {
        let transcript = String::from_utf8_lossy(transcript);
        self.ask(json!({"op": "import", "sessionKey": session_key, "sessionId": session_id, "transcript": transcript}))
            .await
            .map(drop)
    }

    async fn ask(&self, mut request: serde_json::Value) -> std::io::Result<Answer> {
        let mut io = self.io.lock().await;
        let (stdin, lines, next) = &mut *io;
        *next += 1;
        let id = next.to_string();
        request["id"] = id.clone().into();
        let mut line = request.to_string();
        line.push('\n');
        stdin.write_all(line.as_bytes()).await?;
        let answer = tokio::time::timeout(SYNC_TIMEOUT, async {
            loop {
                let Some(line) = lines.next_line().await? else {
                    return Err(std::io::Error::other("the sync helper exited"));
                };
                let answer: Answer = serde_json::from_str(&line)?;
                if answer.id.as_deref() == Some(id.as_str()) {
                    return Ok(answer);
                }
            }
        })
        .await
        .map_err(|_| std::io::Error::other("the sync helper did not answer in time"))??;
        if !answer.ok {
            return Err(std::io::Error::other(format!(
                "the sync helper failed: {}",
                answer.error.unwrap_or_default()
            )));
        }
        Ok(answer)
    }
}
