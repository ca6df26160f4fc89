//! The runner's JSON-lines protocol (`docs/runner-protocol.md`), as Rust types.

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use serverless_openclaw_core::domain::ToolActivity;
use serverless_openclaw_core::ports::ToolAccess;
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
        /// The turn's provider, model and key: the user's choice or the deployment's default.
        llm: &'a RunLlm,
        timeout_ms: u64,
        disable_tools: bool,
        /// `full` or `restricted` (see [`ToolAccess`]).
        #[serde(serialize_with = "tool_access")]
        tools: ToolAccess,
        /// Whether the run may use the browser tool (the user's setting).
        browser: bool,
        /// OpenClaw's `thinkLevel` for the run (`off` … `high`); absent: the model's default.
        #[serde(skip_serializing_if = "Option::is_none")]
        think_level: Option<&'a str>,
        /// Images the user sent with the prompt, as files the host wrote.
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        images: &'a [RunImage],
        /// Skills of the user's workspace the run leaves out (the user disabled them).
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        disabled_skills: &'a [String],
    },
    /// Compact a transcript (`docs/runner-protocol.md`, `compact`): the session fields of a `run`,
    /// without a prompt; `instructions` is what the summary should focus on.
    Compact {
        id: &'a str,
        session_id: &'a str,
        transcript_path: &'a str,
        transcript_out_path: &'a str,
        workspace_dir: &'a str,
        llm: &'a RunLlm,
        timeout_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        instructions: Option<&'a str>,
    },
    Abort {
        id: &'a str,
    },
    Shutdown,
}

/// An image of a `run` line: a file the host wrote, and its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunImage {
    pub path: String,
    pub mime_type: String,
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
    /// The user's or the deployment's key: it exists only in memory and on the runner's stdin.
    #[serde(serialize_with = "expose_key")]
    pub api_key: ApiKey,
}

impl RunLlm {
    /// Declares the model of this turn's own provider entry able to reason: OpenClaw sends a thinking
    /// level only to such models, and the entry (made for a model OpenClaw does not know) says nothing
    /// of it. Used when the conversation asks for thinking; a built-in provider's catalog already
    /// knows its models.
    pub fn declare_reasoning(&mut self) {
        self.declare("reasoning", Value::Bool(true));
    }

    /// Declares the model of this turn's own provider entry able to see images: OpenClaw sends
    /// images only to models whose `input` lists `image`. Used when the turn has images; the
    /// provider answers for itself if the model cannot take them.
    pub fn declare_images(&mut self) {
        self.declare("input", serde_json::json!(["text", "image"]));
    }

    /// Sets `field` on every model of the run's own provider entry.
    fn declare(&mut self, field: &str, value: Value) {
        if let Some(models) = self
            .provider
            .as_mut()
            .and_then(|p| p.get_mut("models"))
            .and_then(Value::as_array_mut)
        {
            for model in models.iter_mut().filter_map(Value::as_object_mut) {
                model.insert(field.into(), value.clone());
            }
        }
    }
}

/// The one place a key is written out: into the `run` line, for the runner.
fn expose_key<S: Serializer>(key: &ApiKey, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(key.expose())
}

fn tool_access<S: Serializer>(access: &ToolAccess, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(match access {
        ToolAccess::Full => "full",
        ToolAccess::Restricted => "restricted",
    })
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
    /// The runner's warm-up ended (`ok`: it got its reply; `false`: aborted by a run, or failed).
    Warm {
        ok: bool,
        #[serde(default)]
        ms: u64,
    },
    Delta {
        id: String,
        text: String,
        #[serde(default)]
        replace: bool,
    },
    /// A tool call of the turn started or ended (`docs/runner-protocol.md`, `tool`).
    Tool {
        id: String,
        #[serde(flatten)]
        tool: ToolActivity,
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
        /// What the reply attached (its `MEDIA:` lines): paths as the model wrote them, or URLs.
        #[serde(default)]
        media: Vec<String>,
    },
    /// A `compact` ended: `compacted` says whether the transcript at its out path was written (else
    /// `reason` says why there was nothing to compact). Tokens are OpenClaw's estimates of the history
    /// the model is sent.
    Compacted {
        id: String,
        compacted: bool,
        #[serde(default)]
        reason: Option<String>,
        #[serde(default)]
        tokens_before: u64,
        #[serde(default)]
        tokens_after: u64,
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
            RunnerLine::Delta { id, .. }
            | RunnerLine::Tool { id, .. }
            | RunnerLine::Result { id, .. }
            | RunnerLine::Compacted { id, .. } => Some(id),
            RunnerLine::Error { id, .. } => id.as_deref(),
            RunnerLine::Ready { .. } | RunnerLine::Fatal { .. } | RunnerLine::Warm { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serverless_openclaw_core::domain::ToolStatus;

    fn llm() -> RunLlm {
        RunLlm {
            provider_id: "anthropic",
            model: "claude-sonnet-5".into(),
            provider: None,
            api_key: ApiKey::parse("sk-user-secret").unwrap(),
        }
    }

    fn run(llm: &RunLlm, tools: ToolAccess) -> HostLine<'_> {
        HostLine::Run {
            id: "t1",
            session_id: "s1",
            transcript_path: "/a/in.jsonl",
            transcript_out_path: "/a/out.jsonl",
            workspace_dir: "/w",
            prompt: "hi",
            llm,
            timeout_ms: 1000,
            disable_tools: false,
            tools,
            browser: false,
            think_level: None,
            images: &[],
            disabled_skills: &[],
        }
    }

    #[test]
    fn run_lines_use_the_documented_field_names() {
        let llm = llm();
        assert_eq!(
            serde_json::to_value(run(&llm, ToolAccess::Restricted)).unwrap(),
            serde_json::json!({"type":"run","id":"t1","sessionId":"s1","transcriptPath":"/a/in.jsonl",
                "transcriptOutPath":"/a/out.jsonl","workspaceDir":"/w","prompt":"hi",
                "llm":{"providerId":"anthropic","model":"claude-sonnet-5","apiKey":"sk-user-secret"},
                "timeoutMs":1000,"disableTools":false,"tools":"restricted","browser":false})
        );
        assert_eq!(
            serde_json::to_value(run(&llm, ToolAccess::Full)).unwrap()["tools"],
            "full"
        );
        let picture = [RunImage {
            path: "/t/0.png".into(),
            mime_type: "image/png".into(),
        }];
        let mut with_image = run(&llm, ToolAccess::Full);
        if let HostLine::Run { images, .. } = &mut with_image {
            *images = &picture;
        }
        assert_eq!(
            serde_json::to_value(with_image).unwrap()["images"],
            serde_json::json!([{"path": "/t/0.png", "mimeType": "image/png"}])
        );
        let disabled = ["zeta".to_owned()];
        let mut with_disabled = run(&llm, ToolAccess::Full);
        if let HostLine::Run {
            disabled_skills, ..
        } = &mut with_disabled
        {
            *disabled_skills = &disabled;
        }
        assert_eq!(
            serde_json::to_value(with_disabled).unwrap()["disabledSkills"],
            serde_json::json!(["zeta"])
        );
        let mut thinking = run(&llm, ToolAccess::Full);
        if let HostLine::Run { think_level, .. } = &mut thinking {
            *think_level = Some("high");
        }
        assert_eq!(
            serde_json::to_value(thinking).unwrap()["thinkLevel"],
            "high"
        );
        assert_eq!(
            serde_json::to_string(&HostLine::Abort { id: "t1" }).unwrap(),
            r#"{"type":"abort","id":"t1"}"#
        );
    }

    #[test]
    fn a_run_carries_its_key_on_the_wire_but_not_in_debug_output() {
        let llm = llm();
        let shown = format!("{:?}", run(&llm, ToolAccess::Full));
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
        let tool: RunnerLine = serde_json::from_str(
            r#"{"type":"tool","id":"t","toolId":"c1","name":"exec","summary":"ls","status":"ok","durationMs":7}"#,
        )
        .unwrap();
        assert_eq!(tool.turn_id(), Some("t"));
        let RunnerLine::Tool { tool, .. } = tool else {
            panic!()
        };
        assert_eq!(
            (tool.tool_id.as_str(), tool.status, tool.duration_ms),
            ("c1", ToolStatus::Ok, Some(7))
        );
        let error: RunnerLine =
            serde_json::from_str(r#"{"type":"error","code":"bad_request","message":"m"}"#).unwrap();
        assert_eq!(error.turn_id(), None);
        let compacted: RunnerLine = serde_json::from_str(
            r#"{"type":"compacted","id":"c","compacted":true,"tokensBefore":2274,"tokensAfter":39,"bytesBefore":12544,"bytesAfter":1911,"durationMs":262}"#,
        )
        .unwrap();
        assert_eq!(compacted.turn_id(), Some("c"));
        assert_eq!(
            compacted,
            RunnerLine::Compacted {
                id: "c".into(),
                compacted: true,
                reason: None,
                tokens_before: 2274,
                tokens_after: 39
            }
        );
    }

    #[test]
    fn compact_lines_use_the_documented_field_names() {
        let llm = llm();
        let line = HostLine::Compact {
            id: "c1",
            session_id: "s",
            transcript_path: "/t/in.jsonl",
            transcript_out_path: "/t/out.jsonl",
            workspace_dir: "/w",
            llm: &llm,
            timeout_ms: 1000,
            instructions: Some("the API names"),
        };
        assert_eq!(
            serde_json::to_value(&line).unwrap(),
            serde_json::json!({
                "type": "compact", "id": "c1", "sessionId": "s", "transcriptPath": "/t/in.jsonl",
                "transcriptOutPath": "/t/out.jsonl", "workspaceDir": "/w", "timeoutMs": 1000,
                "instructions": "the API names",
                "llm": {"providerId": "anthropic", "model": "claude-sonnet-5", "apiKey": "sk-user-secret"},
            })
        );
    }
}
