//! The runner's JSON-lines protocol (`docs/runner-protocol.md`), as Rust types.

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use serverless_openclaw_core::settings::ApiKey;

/// A line the host writes to the runner's stdin. `Debug` never shows an API key (see [`RunLlm`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum HostLine<'a> {
    Run {
        id: &'a str,
        session_id: &'a str,
        transcript_path: &'a str,
        transcript_out_path: &'a str,
        workspace_dir: &'a str,
        prompt: &'a str,
        /// The deployment's default provider and model; absent with `llm`.
        #[serde(skip_serializing_if = "Option::is_none")]
        provider: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        model: Option<&'a str>,
        /// The turn's own provider, model and key (a user's choice).
        #[serde(skip_serializing_if = "Option::is_none")]
        llm: Option<&'a RunLlm>,
        timeout_ms: u64,
        disable_tools: bool,
    },
    Abort {
        id: &'a str,
    },
    Shutdown,
}

/// The `llm` of a `run` line: the provider and model one turn runs with, and its key. The runner puts
/// `provider` (or, without it, OpenClaw's built-in provider `provider_id`) into that run's in-memory
/// config, with the key. `Debug` shows no key: [`ApiKey`] redacts itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunLlm {
    /// OpenClaw's provider id, e.g. `anthropic` (built in) or `deepseek` (from `provider`).
    pub provider_id: &'static str,
    pub model: String,
    /// A `models.providers` entry without a key; `None` keeps OpenClaw's built-in provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<Value>,
    /// The user's key: it exists only in memory and on the runner's stdin.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "expose_key")]
    pub api_key: Option<ApiKey>,
    /// Else the variable of the runner's environment holding the deployment's key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<&'static str>,
}

/// The one place a user's key is written out: into the `run` line, for the runner.
fn expose_key<S: Serializer>(key: &Option<ApiKey>, serializer: S) -> Result<S::Ok, S::Error> {
    match key {
        Some(key) => serializer.serialize_str(key.expose()),
        None => serializer.serialize_none(),
    }
}

/// Token usage as the runner reports it (OpenClaw's names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RunnerUsage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub total: u64,
}

/// A line the runner writes to its stdout.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum RunnerLine {
    Ready {
        openclaw_version: String,
    },
    Fatal {
        code: String,
        message: String,
    },
    Delta {
        id: String,
        text: String,
        #[serde(default)]
        replace: bool,
    },
    Result {
        id: String,
        text: String,
        #[serde(default)]
        usage: RunnerUsage,
        #[serde(default)]
        cost_usd: Option<f64>,
        #[serde(default)]
        duration_ms: u64,
    },
    Error {
        #[serde(default)]
        id: Option<String>,
        code: String,
        message: String,
    },
}

impl RunnerLine {
    /// The turn a line belongs to, if any.
    pub fn turn_id(&self) -> Option<&str> {
        match self {
            RunnerLine::Delta { id, .. } | RunnerLine::Result { id, .. } => Some(id),
            RunnerLine::Error { id, .. } => id.as_deref(),
            RunnerLine::Ready { .. } | RunnerLine::Fatal { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_lines_use_the_documented_field_names() {
        let line = HostLine::Run {
            id: "t1",
            session_id: "s1",
            transcript_path: "/a/in.jsonl",
            transcript_out_path: "/a/out.jsonl",
            workspace_dir: "/w",
            prompt: "hi",
            provider: Some("p"),
            model: Some("m"),
            llm: None,
            timeout_ms: 1000,
            disable_tools: false,
        };
        assert_eq!(
            serde_json::to_value(&line).unwrap(),
            serde_json::json!({"type":"run","id":"t1","sessionId":"s1","transcriptPath":"/a/in.jsonl",
                "transcriptOutPath":"/a/out.jsonl","workspaceDir":"/w","prompt":"hi","provider":"p",
                "model":"m","timeoutMs":1000,"disableTools":false})
        );
        assert_eq!(
            serde_json::to_string(&HostLine::Abort { id: "t1" }).unwrap(),
            r#"{"type":"abort","id":"t1"}"#
        );
    }

    #[test]
    fn a_run_with_its_own_provider_carries_the_key_on_the_wire_but_not_in_debug_output() {
        let llm = RunLlm {
            provider_id: "anthropic",
            model: "claude-sonnet-5".into(),
            provider: None,
            api_key: Some(ApiKey::parse("sk-user-secret").unwrap()),
            api_key_env: None,
        };
        let line = HostLine::Run {
            id: "t1",
            session_id: "s1",
            transcript_path: "/a/in.jsonl",
            transcript_out_path: "/a/out.jsonl",
            workspace_dir: "/w",
            prompt: "hi",
            provider: None,
            model: None,
            llm: Some(&llm),
            timeout_ms: 1000,
            disable_tools: false,
        };
        let wire = serde_json::to_value(&line).unwrap();
        assert_eq!(
            wire["llm"],
            serde_json::json!({"providerId":"anthropic","model":"claude-sonnet-5","apiKey":"sk-user-secret"})
        );
        assert!(wire.get("provider").is_none() && wire.get("model").is_none());
        let shown = format!("{line:?}");
        assert!(
            shown.contains("claude-sonnet-5") && !shown.contains("sk-user-secret"),
            "{shown}"
        );
    }

    #[test]
    fn runner_lines_parse() {
        let ready: RunnerLine = serde_json::from_str(
            r#"{"type":"ready","openclawVersion":"2026.9.6","nodeVersion":"v24"}"#,
        )
        .unwrap();
        assert_eq!(
            ready,
            RunnerLine::Ready {
                openclaw_version: "2026.9.6".into()
            }
        );
        let result: RunnerLine = serde_json::from_str(
            r#"{"type":"result","id":"t","text":"x","usage":{"input":1,"output":2},"costUsd":null,"durationMs":5}"#,
        )
        .unwrap();
        assert_eq!(result.turn_id(), Some("t"));
        let RunnerLine::Result {
            usage, cost_usd, ..
        } = result
        else {
            panic!()
        };
        assert_eq!((usage.input, usage.output, cost_usd), (1, 2, None));
        let error: RunnerLine =
            serde_json::from_str(r#"{"type":"error","code":"bad_request","message":"m"}"#).unwrap();
        assert_eq!(error.turn_id(), None);
    }
}
