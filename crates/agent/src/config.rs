//! LLM provider settings and the OpenClaw configuration: the deployment's default ([`ProviderConfig`],
//! with its keys in [`DeploymentKeys`]), a user's own choice for one turn ([`turn_llm`]), and the config
//! file the runner starts with ([`render_openclaw_config`], which names no provider and holds no secret).
//!
//! Every turn names its provider, model and key on the `run` line ([`RunLlm`]): keys travel only on the
//! runner's stdin and live in its memory, never in a file or in the runner's environment, where every
//! tool OpenClaw starts could read them.

use std::path::Path;

use serde_json::{Value, json};
use serverless_openclaw_core::settings::{ApiKey, ModelChoice, Provider};

use crate::protocol::RunLlm;

/// Environment switches that keep OpenClaw headless and quiet (no discovery, channels, updates, telemetry).
pub const HEADLESS_ENV: &[(&str, &str)] = &[
    ("OPENCLAW_DISABLE_BONJOUR", "1"),
    ("OPENCLAW_SKIP_CHANNELS", "1"),
    ("OPENCLAW_NO_RESPAWN", "1"),
    ("OPENCLAW_NO_AUTO_UPDATE", "1"),
    ("DO_NOT_TRACK", "1"),
];

/// What a turn answers when no provider is configured.
pub const NO_PROVIDER_HELP: &str = "No LLM provider is configured. Set ANTHROPIC_API_KEY or OPENAI_API_KEY \
(optionally SERVERLESS_OPENCLAW_MODEL, e.g. anthropic/claude-sonnet-5), or point at any endpoint with \
SERVERLESS_OPENCLAW_LLM_BASE_URL, SERVERLESS_OPENCLAW_LLM_API (anthropic-messages or openai-completions), \
SERVERLESS_OPENCLAW_LLM_API_KEY and SERVERLESS_OPENCLAW_MODEL, then restart serverless-openclaw.";

/// The variable the deployment's key for its custom endpoint is read from.
pub const CUSTOM_KEY_ENV: &str = "SERVERLESS_OPENCLAW_LLM_API_KEY";

/// The provider id used for a custom endpoint in OpenClaw's config.
pub const CUSTOM_PROVIDER_ID: &str = "custom";

/// The key an endpoint without one gets: local endpoints often need none, but OpenClaw refuses a
/// provider without a key.
const PLACEHOLDER_KEY: &str = "no-key";

/// Wire API of a custom endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmApi {
    AnthropicMessages,
    OpenAiCompletions,
}

impl LlmApi {
    pub fn as_str(self) -> &'static str {
        match self {
            LlmApi::AnthropicMessages => "anthropic-messages",
            LlmApi::OpenAiCompletions => "openai-completions",
        }
    }
}

/// Invalid provider settings, with what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

/// Which LLM the agent uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderConfig {
    /// OpenClaw's built-in `anthropic` provider (reads `ANTHROPIC_API_KEY`).
    Anthropic { model: String },
    /// OpenClaw's built-in `openai` provider (reads `OPENAI_API_KEY`).
    OpenAi { model: String },
    /// Any endpoint speaking one of the supported APIs; its key is `SERVERLESS_OPENCLAW_LLM_API_KEY`,
    /// or a placeholder (local endpoints often need no key, but OpenClaw wants one).
    Custom {
        base_url: String,
        api: LlmApi,
        model: String,
        /// The model's context window in tokens (`SERVERLESS_OPENCLAW_LLM_CONTEXT_WINDOW`, default
        /// [`DEFAULT_CONTEXT_WINDOW`]): OpenClaw compacts a conversation before it outgrows it.
        context_window: u32,
    },
}

/// The context window a custom endpoint's model is declared with unless
/// `SERVERLESS_OPENCLAW_LLM_CONTEXT_WINDOW` says otherwise, and that of the user-chosen providers
/// with an entry of ours (DeepSeek, Bedrock, OpenAI-compatible).
pub const DEFAULT_CONTEXT_WINDOW: u32 = 200_000;

/// Default models: ids from the catalog shipped with openclaw 2026.9.6 (with the catalog refresh off, only
/// catalog ids work; see `docs/runner-protocol.md`), both priced, so turns report their cost.
pub const DEFAULT_ANTHROPIC_MODEL: &str = "claude-sonnet-5";
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-5.5";

impl ProviderConfig {
    /// Reads the provider from environment variables (see [`NO_PROVIDER_HELP`]). `Ok(None)`: none set.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let model = get("SERVERLESS_OPENCLAW_MODEL");
        if let Some(base_url) = get("SERVERLESS_OPENCLAW_LLM_BASE_URL") {
            let api = match get("SERVERLESS_OPENCLAW_LLM_API").as_deref() {
                Some("anthropic-messages") => LlmApi::AnthropicMessages,
                Some("openai-completions") => LlmApi::OpenAiCompletions,
                other => {
                    return Err(ConfigError(format!(
                        "SERVERLESS_OPENCLAW_LLM_API must be anthropic-messages or openai-completions (got {other:?})"
                    )));
                }
            };
            if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
                return Err(ConfigError(format!(
                    "SERVERLESS_OPENCLAW_LLM_BASE_URL must be an http(s) URL (got {base_url:?})"
                )));
            }
            let model = model.ok_or_else(|| {
                ConfigError(
                    "SERVERLESS_OPENCLAW_MODEL is required with SERVERLESS_OPENCLAW_LLM_BASE_URL"
                        .into(),
                )
            })?;
            let model = model
                .strip_prefix(&format!("{CUSTOM_PROVIDER_ID}/"))
                .map(str::to_owned)
                .unwrap_or(model);
            let context_window = match get("SERVERLESS_OPENCLAW_LLM_CONTEXT_WINDOW") {
                None => DEFAULT_CONTEXT_WINDOW,
                Some(v) => v.trim().parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    ConfigError(format!(
                        "SERVERLESS_OPENCLAW_LLM_CONTEXT_WINDOW must be a positive number of tokens (got {v:?})"
                    ))
                })?,
            };
            return Ok(Some(ProviderConfig::Custom {
                base_url: base_url.trim_end_matches('/').to_owned(),
                api,
                model,
                context_window,
            }));
        }
        let (provider, model_id) = match model.as_deref().and_then(|m| m.split_once('/')) {
            Some((p, m)) => (Some(p.to_owned()), Some(m.to_owned())),
            None => (None, model.clone()),
        };
        let anthropic = get("ANTHROPIC_API_KEY").is_some();
        let openai = get("OPENAI_API_KEY").is_some();
        match provider.as_deref() {
            Some("anthropic") | None if anthropic && provider.as_deref() != Some("openai") => {
                Ok(Some(ProviderConfig::Anthropic {
                    model: model_id.unwrap_or_else(|| DEFAULT_ANTHROPIC_MODEL.into()),
                }))
            }
            Some("openai") | None if openai => Ok(Some(ProviderConfig::OpenAi {
                model: model_id.unwrap_or_else(|| DEFAULT_OPENAI_MODEL.into()),
            })),
            Some(p @ ("anthropic" | "openai")) => Err(ConfigError(format!(
                "SERVERLESS_OPENCLAW_MODEL names {p} but {}_API_KEY is not set",
                p.to_uppercase()
            ))),
            Some(p) => Err(ConfigError(format!(
                "SERVERLESS_OPENCLAW_MODEL names provider {p:?}; use anthropic/..., openai/... or a custom endpoint"
            ))),
            None => Ok(None),
        }
    }

    /// OpenClaw's provider id.
    pub fn provider_id(&self) -> &'static str {
        match self {
            ProviderConfig::Anthropic { .. } => "anthropic",
            ProviderConfig::OpenAi { .. } => "openai",
            ProviderConfig::Custom { .. } => CUSTOM_PROVIDER_ID,
        }
    }

    /// The model id within the provider.
    pub fn model_id(&self) -> &str {
        match self {
            ProviderConfig::Anthropic { model }
            | ProviderConfig::OpenAi { model }
            | ProviderConfig::Custom { model, .. } => model,
        }
    }

    /// `provider/model`.
    pub fn model_ref(&self) -> String {
        format!("{}/{}", self.provider_id(), self.model_id())
    }

    /// This provider with another model id (`None`: unchanged), for a conversation that chose one.
    pub fn with_model(&self, model: Option<&str>) -> Self {
        let mut changed = self.clone();
        if let Some(id) = model {
            match &mut changed {
                ProviderConfig::Anthropic { model }
                | ProviderConfig::OpenAi { model }
                | ProviderConfig::Custom { model, .. } => *model = id.to_owned(),
            }
        }
        changed
    }

    /// The `llm` of a turn that runs with this default: the built-in provider, or the custom endpoint's
    /// entry, with the deployment's key for it (a placeholder for a custom endpoint without one).
    pub fn run_llm(&self, keys: &DeploymentKeys) -> Result<RunLlm, ChoiceError> {
        let key = |name: &str| {
            keys.get(name).ok_or_else(|| {
                ChoiceError(format!(
                    "{name} is not set: the deployment's model {} cannot run",
                    self.model_ref()
                ))
            })
        };
        let (provider, api_key) = match self {
            ProviderConfig::Anthropic { .. } => (None, key("ANTHROPIC_API_KEY")?),
            ProviderConfig::OpenAi { .. } => (None, key("OPENAI_API_KEY")?),
            ProviderConfig::Custom {
                base_url,
                api,
                model,
                context_window,
            } => (
                Some(provider_entry(
                    &openclaw_base_url(*api, base_url),
                    api.as_str(),
                    model,
                    *context_window,
                )),
                keys.get(CUSTOM_KEY_ENV).unwrap_or_else(placeholder_key),
            ),
        };
        Ok(RunLlm {
            provider_id: self.provider_id(),
            model: self.model_id().to_owned(),
            provider,
            api_key,
        })
    }
}

/// The variables holding the deployment's own API keys (locally from the environment, on AWS from SSM).
pub const DEPLOYMENT_KEY_VARS: [&str; 5] = [
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    CUSTOM_KEY_ENV,
    "DEEPSEEK_API_KEY",
    "AWS_BEARER_TOKEN_BEDROCK",
];

/// The deployment's API keys, by the variable that holds each ([`DEPLOYMENT_KEY_VARS`]). They reach
/// OpenClaw only on the `run` line of a turn that uses one (never its environment or a file), and
/// `Debug` shows only their names.
#[derive(Clone, Default)]
pub struct DeploymentKeys(Vec<(&'static str, ApiKey)>);

impl DeploymentKeys {
    /// Reads the keys with `get` (a variable's value, if any); blank values count as unset.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Self {
        Self(
            DEPLOYMENT_KEY_VARS
                .into_iter()
                .filter_map(|name| {
                    let key = ApiKey::parse(get(name)?.trim()).ok()?;
                    Some((name, key))
                })
                .collect(),
        )
    }

    /// The key held by variable `name`, if the deployment has one.
    pub fn get(&self, name: &str) -> Option<ApiKey> {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }
}

impl std::fmt::Debug for DeploymentKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| format!("{k}=<redacted>")))
            .finish()
    }
}

fn placeholder_key() -> ApiKey {
    ApiKey::parse(PLACEHOLDER_KEY).expect("the placeholder is a valid key")
}

/// OpenClaw's `baseUrl` for an endpoint speaking `api`: OpenClaw posts to `<baseUrl>/v1/messages` for
/// Anthropic's API but to `<baseUrl>/chat/completions` for OpenAI's, so users' URLs with or without
/// `/v1` both work.
fn openclaw_base_url(api: LlmApi, base_url: &str) -> String {
    let base_url = base_url.trim_end_matches('/');
    match api {
        LlmApi::AnthropicMessages => base_url.trim_end_matches("/v1").to_owned(),
        LlmApi::OpenAiCompletions if base_url.ends_with("/v1") => base_url.to_owned(),
        LlmApi::OpenAiCompletions => format!("{base_url}/v1"),
    }
}

/// A `models.providers` entry with one model and no key. OpenClaw knows nothing about the model, so it
/// gets generous limits and zero prices (turns on it report `costUsd: 0`).
fn provider_entry(base_url: &str, api: &str, model: &str, context_window: u32) -> Value {
    json!({
        "baseUrl": base_url,
        "api": api,
        "models": [{
            "id": model,
            "name": model,
            "input": ["text"],
            "contextWindow": context_window,
            "maxTokens": 8192,
            "cost": { "input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0 },
        }],
    })
}

/// The bundled OpenClaw plugins a runner loads (`plugins.allow`); OpenClaw loads about forty by default,
/// on the first turn of every runner. Kept: the built-in `anthropic` and `openai` providers (users choose
/// them, with their catalogs and prices), the agent's memory tools (`memory-core`), and what works
/// without a gateway or paired devices: `browser` (off until configured), web page and document text
/// extraction. Left out: other vendors' providers (no key of theirs ever reaches the runner) and the
/// gateway's device, voice, canvas and node features. Measured in `docs/benchmarks.md`.
pub const RUNNER_PLUGINS: &[&str] = &[
    "anthropic",
    "openai",
    "memory-core",
    "browser",
    "web-readability",
    "document-extract",
];

/// The Chromium the browser tool drives (`SERVERLESS_OPENCLAW_CHROMIUM`, else found on `PATH` in local
/// mode; the agent image names its own).
pub const CHROMIUM_ENV: &str = "SERVERLESS_OPENCLAW_CHROMIUM";

/// Hosts the browser may open although they resolve to loopback or private addresses
/// (`SERVERLESS_OPENCLAW_BROWSER_ALLOWED_HOSTS`, comma-separated; deployment-wide).
pub const BROWSER_ALLOWED_HOSTS_ENV: &str = "SERVERLESS_OPENCLAW_BROWSER_ALLOWED_HOSTS";

/// The names a system's Chromium or Chrome goes by on `PATH`, in the order they are tried.
const CHROMIUM_NAMES: [&str; 5] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
];

/// OpenClaw's browser tool: the Chromium it starts (headless, on the first browser call of a turn) and
/// the hosts it may open although they are loopback or private. Without one there is no browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSettings {
    pub executable: std::path::PathBuf,
    pub allowed_hosts: Vec<String>,
}

impl BrowserSettings {
    /// Reads [`CHROMIUM_ENV`] and [`BROWSER_ALLOWED_HOSTS_ENV`] with `get`; without the first, the
    /// Chromium `find` returns (local mode looks on `PATH`, [`find_system_chromium`]; the agent
    /// Lambda only takes what its image names). `None`: no Chromium, no browser tool.
    pub fn from_env(
        get: impl Fn(&str) -> Option<String>,
        find: impl FnOnce() -> Option<std::path::PathBuf>,
    ) -> Option<Self> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let executable = get(CHROMIUM_ENV)
            .map(|v| std::path::PathBuf::from(v.trim()))
            .or_else(find)?;
        let allowed_hosts = get(BROWSER_ALLOWED_HOSTS_ENV)
            .unwrap_or_default()
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        Some(Self {
            executable,
            allowed_hosts,
        })
    }

    /// OpenClaw's root `browser` block. Headless, without Chromium's own sandbox (the runner is the
    /// sandbox: bubblewrap locally, the execution environment on Lambda, neither of which lets Chromium
    /// build its own), and OpenClaw's SSRF policy left at its default, which refuses loopback,
    /// link-local (instance metadata) and private addresses, except for the owner's listed hosts.
    /// (`dangerouslyAllowPrivateNetwork` stays unset: `false` would refuse every host name.)
    fn config_block(&self) -> Value {
        let mut ssrf = serde_json::Map::new();
        if !self.allowed_hosts.is_empty() {
            ssrf.insert("allowedHostnames".into(), json!(self.allowed_hosts));
        }
        json!({
            "enabled": true,
            "headless": true,
            "noSandbox": true,
            "executablePath": self.executable.to_string_lossy(),
            "ssrfPolicy": ssrf,
        })
    }
}

/// The first of [`CHROMIUM_NAMES`] found as an executable file in one of `path`'s folders.
pub fn find_system_chromium(path: Option<&std::ffi::OsStr>) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dirs: Vec<_> = std::env::split_paths(path?).collect();
    CHROMIUM_NAMES.iter().find_map(|name| {
        dirs.iter().map(|dir| dir.join(name)).find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// The OpenClaw config file the runner starts with (JSON, a subset of JSON5). It names no provider and
/// holds no secret: every turn brings its own ([`RunLlm`]). Headless: no catalog refresh, update checks
/// or telemetry; only [`RUNNER_PLUGINS`]; no `progress_card` tool (`tools.updatePlan`: its cards are
/// shown by a gateway's paired apps, which a runner has none of, and deciding whether to offer it starts
/// a worker that loads ~1,300 modules on the first turn). OpenClaw's file log (`log_file`) is silenced:
/// it sits where the agent's tools can read it and would mix every user's turns; what OpenClaw reports
/// on its console goes to the runner's stderr, which only the host reads.
///
/// Tool Search runs in `directory` mode: the model sees a directory of every tool with the schemas of
/// the core ones, and may call any listed tool (`browser` among them) by its name. OpenClaw's default
/// mode refuses such a call ("Tool browser not found") and wraps a screenshot into JSON text; `false`
/// sends all ~44 schemas with every request (113 KB against 37 KB, measured in `docs/architecture.md`).
/// The `browser` block is there only with a Chromium ([`BrowserSettings`]).
pub fn render_openclaw_config(log_file: &Path, browser: Option<&BrowserSettings>) -> Value {
    let mut config = json!({
        "agents": { "entries": { "main": {} } },
        "models": { "catalogRefresh": { "enabled": false } },
        "plugins": { "allow": RUNNER_PLUGINS },
        // The skill workshop writes into the agent dir, which users of one provider share and
        // nothing keeps; the agent saves skills in the user's workspace instead (runner/lib/turns.mjs).
        "skills": { "workshop": { "autonomous": { "mode": "off" } } },
        "tools": { "updatePlan": false, "toolSearch": { "mode": "directory" }, "deny": ["skill_workshop"] },
        "update": { "checkOnStart": false, "auto": { "enabled": false } },
        "telemetry": { "enabled": false },
        "logging": { "file": log_file.to_string_lossy(), "level": "silent", "consoleLevel": "warn" },
    });
    if let Some(browser) = browser {
        config["browser"] = browser.config_block();
    }
    config
}

/// DeepSeek's OpenAI-compatible endpoint (OpenClaw's `docs/providers/deepseek.md`); OpenClaw posts to
/// `<baseUrl>/chat/completions`, DeepSeek's documented path. OpenClaw's DeepSeek plugin is not part of
/// the package, hence an explicit provider entry.
const DEEPSEEK_BASE_URL: &str = "https://api.deepseek.com";

/// Bedrock's region when neither the user's settings nor the deployment name one.
const DEFAULT_AWS_REGION: &str = "us-east-1";

/// The variable holding the deployment's own key for a provider, used for users who stored none.
fn deployment_key_env(provider: Provider) -> Option<&'static str> {
    match provider {
        Provider::Anthropic => Some("ANTHROPIC_API_KEY"),
        Provider::OpenAi => Some("OPENAI_API_KEY"),
        Provider::DeepSeek => Some("DEEPSEEK_API_KEY"),
        // The variable AWS's own tools read a Bedrock API key from.
        Provider::Bedrock => Some("AWS_BEARER_TOKEN_BEDROCK"),
        // An OpenAI-compatible endpoint is wherever the user says: the deployment's
        // SERVERLESS_OPENCLAW_LLM_API_KEY belongs to its own endpoint and must never go to another.
        // The deployment has no Groq key of its own: a Groq turn runs with the user's.
        Provider::OpenAiCompatible | Provider::Groq => None,
    }
}

/// Groq's OpenAI-compatible endpoint (its `docs`: `https://api.groq.com/openai/v1`); an explicit
/// provider entry, as for DeepSeek.
const GROQ_BASE_URL: &str = "https://api.groq.com/openai/v1";

/// What the deployment offers a turn that runs with a user's choice: its own keys and its AWS region.
#[derive(Debug, Clone, Default)]
pub struct ProviderFallbacks {
    keys: DeploymentKeys,
    aws_region: Option<String>,
}

impl ProviderFallbacks {
    /// The deployment's `keys`, and its region read with `get` (`AWS_REGION`, else `AWS_DEFAULT_REGION`).
    pub fn new(keys: DeploymentKeys, get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        Self {
            keys,
            aws_region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
        }
    }
}

/// A user's choice that cannot run: it needs something neither the user nor the deployment has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ChoiceError(String);

/// The `llm` of a `run` line for a user's choice: OpenClaw's built-in `anthropic` and `openai`
/// providers (their catalog prices the turn) with the user's key; explicit provider entries for
/// DeepSeek, Bedrock (its OpenAI-compatible endpoint) and OpenAI-compatible endpoints. The key is the
/// user's, else the deployment's, else the turn cannot run.
pub fn turn_llm(
    choice: &ModelChoice,
    fallbacks: &ProviderFallbacks,
) -> Result<RunLlm, ChoiceError> {
    let settings = &choice.settings;
    let model = settings.model.clone();
    // Only an OpenAI-compatible endpoint takes the user's base URL: the others may run with the
    // deployment's key, which must reach nothing but its own provider.
    let (provider_id, provider) = match settings.provider {
        Provider::Anthropic => ("anthropic", None),
        Provider::OpenAi => ("openai", None),
        Provider::DeepSeek => (
            "deepseek",
            Some(provider_entry(
                DEEPSEEK_BASE_URL,
                LlmApi::OpenAiCompletions.as_str(),
                &model,
                DEFAULT_CONTEXT_WINDOW,
            )),
        ),
        Provider::Groq => (
            "groq",
            Some(provider_entry(
                GROQ_BASE_URL,
                LlmApi::OpenAiCompletions.as_str(),
                &model,
                DEFAULT_CONTEXT_WINDOW,
            )),
        ),
        Provider::Bedrock => {
            let region = settings
                .region
                .as_deref()
                .or(fallbacks.aws_region.as_deref())
                .unwrap_or(DEFAULT_AWS_REGION);
            // Bedrock's OpenAI-compatible Chat Completions endpoint, authenticated with a Bedrock API
            // key: OpenClaw 2026.9.6 has no transport for Bedrock's own Converse API (that needs a
            // provider plugin the package does not bundle).
            let base_url = format!("https://bedrock-runtime.{region}.amazonaws.com/openai/v1");
            (
                "bedrock",
                Some(provider_entry(
                    &base_url,
                    LlmApi::OpenAiCompletions.as_str(),
                    &model,
                    DEFAULT_CONTEXT_WINDOW,
                )),
            )
        }
        Provider::OpenAiCompatible => {
            let base_url = settings.base_url.as_deref().ok_or_else(|| {
                ChoiceError(
                    "The OpenAI-compatible provider has no base URL: set it in Settings.".into(),
                )
            })?;
            let api = LlmApi::OpenAiCompletions;
            (
                "openai-compatible",
                Some(provider_entry(
                    &openclaw_base_url(api, base_url),
                    api.as_str(),
                    &model,
                    DEFAULT_CONTEXT_WINDOW,
                )),
            )
        }
    };
    let deployment_key = deployment_key_env(settings.provider).map(|name| fallbacks.keys.get(name));
    let api_key = match (&choice.api_key, deployment_key) {
        (Some(key), _) => key.clone(),
        (None, Some(Some(key))) => key,
        (None, Some(None)) => {
            return Err(ChoiceError(format!(
                "{} needs an API key and this deployment has none: add yours in Settings → API keys.",
                settings.provider
            )));
        }
        // An OpenAI-compatible endpoint without the user's key: the deployment has none for it.
        (None, None) => placeholder_key(),
    };
    Ok(RunLlm {
        provider_id,
        model,
        provider,
        api_key,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serverless_openclaw_core::settings::ModelSettings;

    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Option<ProviderConfig>, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ProviderConfig::from_env(|k| map.get(k).cloned())
    }

    #[test]
    fn no_variables_means_no_provider() {
        assert_eq!(from(&[]), Ok(None));
    }

    #[test]
    fn an_anthropic_key_selects_anthropic_with_the_default_or_named_model() {
        assert_eq!(
            from(&[("ANTHROPIC_API_KEY", "k")])
                .unwrap()
                .unwrap()
                .model_ref(),
            "anthropic/claude-sonnet-5"
        );
        assert_eq!(
            from(&[
                ("ANTHROPIC_API_KEY", "k"),
                ("SERVERLESS_OPENCLAW_MODEL", "anthropic/claude-opus-4-8")
            ])
            .unwrap()
            .unwrap()
            .model_ref(),
            "anthropic/claude-opus-4-8"
        );
    }

    #[test]
    fn the_model_prefix_picks_between_two_keys() {
        let both = [
            ("ANTHROPIC_API_KEY", "a"),
            ("OPENAI_API_KEY", "o"),
            ("SERVERLESS_OPENCLAW_MODEL", "openai/gpt-5.5"),
        ];
        assert_eq!(from(&both).unwrap().unwrap().provider_id(), "openai");
    }

    #[test]
    fn a_model_without_its_key_is_a_clear_error() {
        let err = from(&[
            ("OPENAI_API_KEY", "o"),
            ("SERVERLESS_OPENCLAW_MODEL", "anthropic/x"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("ANTHROPIC_API_KEY is not set"),
            "{err}"
        );
    }

    #[test]
    fn a_custom_endpoint_needs_an_api_and_a_model() {
        let err = from(&[("SERVERLESS_OPENCLAW_LLM_BASE_URL", "http://x")]).unwrap_err();
        assert!(
            err.to_string().contains("SERVERLESS_OPENCLAW_LLM_API"),
            "{err}"
        );
        let err = from(&[
            ("SERVERLESS_OPENCLAW_LLM_BASE_URL", "http://x"),
            ("SERVERLESS_OPENCLAW_LLM_API", "openai-completions"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("SERVERLESS_OPENCLAW_MODEL"),
            "{err}"
        );
        let err = from(&[
            ("SERVERLESS_OPENCLAW_LLM_BASE_URL", "ftp://x"),
            ("SERVERLESS_OPENCLAW_LLM_API", "openai-completions"),
            ("SERVERLESS_OPENCLAW_MODEL", "m"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("http(s)"), "{err}");
    }

    #[test]
    fn a_custom_endpoint_declares_its_models_context_window() {
        let custom = [
            ("SERVERLESS_OPENCLAW_LLM_BASE_URL", "http://x"),
            ("SERVERLESS_OPENCLAW_LLM_API", "openai-completions"),
            ("SERVERLESS_OPENCLAW_MODEL", "m"),
        ];
        let window = |v: Option<&str>| {
            let mut vars = custom.to_vec();
            vars.extend(v.map(|v| ("SERVERLESS_OPENCLAW_LLM_CONTEXT_WINDOW", v)));
            from(&vars).map(|p| match p {
                Some(ProviderConfig::Custom { context_window, .. }) => context_window,
                other => panic!("{other:?}"),
            })
        };
        assert_eq!(window(None).unwrap(), DEFAULT_CONTEXT_WINDOW);
        assert_eq!(window(Some(" 32768 ")).unwrap(), 32_768);
        for bad in ["0", "-5", "lots"] {
            let err = window(Some(bad)).unwrap_err();
            assert!(err.to_string().contains("CONTEXT_WINDOW"), "{err}");
        }
    }

    #[test]
    fn the_rendered_config_names_no_provider_and_silences_the_file_log() {
        let config = render_openclaw_config(Path::new("/state/openclaw.log"), None);
        assert!(config["models"].get("providers").is_none());
        assert!(config["agents"].get("defaults").is_none());
        assert_eq!(config["logging"]["file"], "/state/openclaw.log");
        assert_eq!(config["logging"]["level"], "silent");
        assert_eq!(config["telemetry"]["enabled"], false);
    }

    fn keys(vars: &[(&str, &str)]) -> DeploymentKeys {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        DeploymentKeys::from_env(|k| map.get(k).map(|v| (*v).to_owned()))
    }

    #[test]
    fn the_default_runs_with_the_deployments_key_on_the_run_line() {
        let vars = [
            ("SERVERLESS_OPENCLAW_LLM_BASE_URL", "http://127.0.0.1:9/"),
            ("SERVERLESS_OPENCLAW_LLM_API", "openai-completions"),
            ("SERVERLESS_OPENCLAW_LLM_API_KEY", "sk-secret-value"),
            ("SERVERLESS_OPENCLAW_MODEL", "m1"),
        ];
        let provider = from(&vars).unwrap().unwrap();
        let llm = provider.run_llm(&keys(&vars)).unwrap();
        assert_eq!((llm.provider_id, llm.model.as_str()), ("custom", "m1"));
        let entry = llm.provider.as_ref().unwrap();
        assert_eq!(entry["baseUrl"], "http://127.0.0.1:9/v1");
        assert!(
            entry.get("apiKey").is_none(),
            "the key travels beside the entry"
        );
        assert_eq!(llm.api_key.expose(), "sk-secret-value");

        let anthropic = ProviderConfig::Anthropic {
            model: "claude-sonnet-5".into(),
        };
        let llm = anthropic
            .run_llm(&keys(&[
                ("ANTHROPIC_API_KEY", "sk-ant"),
                ("OPENAI_API_KEY", "sk-o"),
            ]))
            .unwrap();
        assert_eq!(
            llm.provider, None,
            "the built-in entry and its catalog stay"
        );
        assert_eq!(llm.api_key.expose(), "sk-ant");
        let err = anthropic
            .run_llm(&keys(&[("OPENAI_API_KEY", "sk-o")]))
            .unwrap_err();
        assert!(
            err.to_string().contains("ANTHROPIC_API_KEY is not set"),
            "{err}"
        );
    }

    #[test]
    fn the_rendered_config_loads_only_the_plugins_and_tools_a_runner_uses() {
        let config = render_openclaw_config(Path::new("/state/openclaw.log"), None);
        assert_eq!(config["plugins"]["allow"], json!(RUNNER_PLUGINS));
        assert!(RUNNER_PLUGINS.contains(&"anthropic") && RUNNER_PLUGINS.contains(&"openai"));
        assert_eq!(config["tools"]["updatePlan"], false);
        assert_eq!(config["tools"]["deny"], json!(["skill_workshop"]));
        assert_eq!(config["skills"]["workshop"]["autonomous"]["mode"], "off");
    }

    #[test]
    fn without_a_chromium_there_is_no_browser_block() {
        let config = render_openclaw_config(Path::new("/state/openclaw.log"), None);
        assert!(config.get("browser").is_none());
        assert_eq!(config["tools"]["toolSearch"]["mode"], "directory");
        assert_eq!(BrowserSettings::from_env(|_| None, || None), None);
    }

    #[test]
    fn a_configured_chromium_wins_over_the_one_found_and_the_owners_hosts_pass_the_ssrf_policy() {
        let vars = HashMap::from([
            (CHROMIUM_ENV, " /opt/chromium/chromium "),
            (BROWSER_ALLOWED_HOSTS_ENV, "127.0.0.1, Intranet.Example ,,"),
        ]);
        let browser = BrowserSettings::from_env(
            |k| vars.get(k).map(|v| (*v).to_owned()),
            || panic!("no search when one is configured"),
        )
        .unwrap();
        let config = render_openclaw_config(Path::new("/s/log"), Some(&browser));
        assert_eq!(
            config["browser"],
            json!({
                "enabled": true, "headless": true, "noSandbox": true,
                "executablePath": "/opt/chromium/chromium",
                "ssrfPolicy": { "allowedHostnames": ["127.0.0.1", "intranet.example"] },
            })
        );
        let found =
            BrowserSettings::from_env(|_| None, || Some("/usr/bin/chromium".into())).unwrap();
        let config = render_openclaw_config(Path::new("/s/log"), Some(&found));
        assert_eq!(config["browser"]["executablePath"], "/usr/bin/chromium");
        assert_eq!(
            config["browser"]["ssrfPolicy"],
            json!({}),
            "OpenClaw's default refuses every private address"
        );
    }

    #[test]
    fn the_system_chromium_is_an_executable_file_on_the_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (empty, bin) = (dir.path().join("empty"), dir.path().join("bin"));
        std::fs::create_dir_all(&empty).unwrap();
        std::fs::create_dir_all(bin.join("chromium")).unwrap();
        let path = std::env::join_paths([&empty, &bin]).unwrap();
        assert_eq!(
            find_system_chromium(Some(&path)),
            None,
            "a folder is no browser"
        );
        let chrome = bin.join("google-chrome");
        std::fs::write(&chrome, "#!/bin/sh\n").unwrap();
        assert_eq!(
            find_system_chromium(Some(&path)),
            None,
            "nor a file that cannot run"
        );
        std::fs::set_permissions(&chrome, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_system_chromium(Some(&path)), Some(chrome));
        assert_eq!(find_system_chromium(None), None);
    }

    #[test]
    fn an_anthropic_style_custom_endpoint_has_no_v1_suffix_and_a_placeholder_key() {
        let provider = ProviderConfig::Custom {
            base_url: "http://h/v1".into(),
            api: LlmApi::AnthropicMessages,
            model: "m".into(),
            context_window: 16_384,
        };
        let llm = provider.run_llm(&DeploymentKeys::default()).unwrap();
        let entry = llm.provider.unwrap();
        assert_eq!(entry["baseUrl"], "http://h");
        assert_eq!(entry["models"][0]["contextWindow"], 16_384);
        assert_eq!(llm.api_key.expose(), "no-key");
    }

    fn choice(provider: Provider, model: &str, key: Option<&str>) -> ModelChoice {
        ModelChoice {
            settings: ModelSettings {
                provider,
                model: model.into(),
                base_url: None,
                region: None,
            },
            api_key: key.map(|k| ApiKey::parse(k).unwrap()),
        }
    }

    fn fallbacks(vars: &[(&str, &str)]) -> ProviderFallbacks {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        ProviderFallbacks::new(keys(vars), |k| map.get(k).map(|v| (*v).to_owned()))
    }

    #[test]
    fn a_users_anthropic_or_openai_key_goes_to_the_built_in_provider() {
        for (provider, id) in [
            (Provider::Anthropic, "anthropic"),
            (Provider::OpenAi, "openai"),
        ] {
            let llm = turn_llm(
                &choice(provider, "m", Some("sk-user")),
                &fallbacks(&[("ANTHROPIC_API_KEY", "a"), ("OPENAI_API_KEY", "o")]),
            )
            .unwrap();
            assert_eq!((llm.provider_id, llm.model.as_str()), (id, "m"));
            assert_eq!(
                llm.provider, None,
                "the built-in entry and its catalog stay"
            );
            assert_eq!(llm.api_key.expose(), "sk-user");
        }
    }

    #[test]
    fn without_a_users_key_the_turn_carries_the_deployments_key() {
        let env = fallbacks(&[
            ("ANTHROPIC_API_KEY", "sk-deploy-a"),
            ("OPENAI_API_KEY", "sk-deploy-o"),
            ("DEEPSEEK_API_KEY", "sk-deploy-d"),
        ]);
        for (provider, key) in [
            (Provider::Anthropic, "sk-deploy-a"),
            (Provider::OpenAi, "sk-deploy-o"),
            (Provider::DeepSeek, "sk-deploy-d"),
        ] {
            let llm = turn_llm(&choice(provider, "m", None), &env).unwrap();
            assert_eq!(llm.api_key.expose(), key);
        }
    }

    #[test]
    fn a_provider_without_any_key_cannot_run_and_says_where_to_add_one() {
        let env = fallbacks(&[("ANTHROPIC_API_KEY", "  "), ("OPENAI_API_KEY", "o")]);
        for provider in [Provider::Anthropic, Provider::DeepSeek] {
            let err = turn_llm(&choice(provider, "m", None), &env).unwrap_err();
            assert!(err.to_string().contains("Settings → API keys"), "{err}");
            assert!(err.to_string().contains(provider.as_str()), "{err}");
        }
    }

    #[test]
    fn deepseek_is_an_explicit_openai_compatible_entry_at_deepseeks_url() {
        let llm = turn_llm(
            &choice(Provider::DeepSeek, "deepseek-v4-flash", Some("sk-ds")),
            &ProviderFallbacks::default(),
        )
        .unwrap();
        assert_eq!(llm.provider_id, "deepseek");
        let entry = llm.provider.unwrap();
        assert_eq!(entry["baseUrl"], "https://api.deepseek.com");
        assert_eq!(entry["api"], "openai-completions");
        assert_eq!(entry["models"][0]["id"], "deepseek-v4-flash");
        assert!(
            entry.get("apiKey").is_none(),
            "the key travels beside the entry"
        );
    }

    #[test]
    fn bedrock_uses_its_openai_compatible_endpoint_in_the_chosen_else_the_deployments_region() {
        let mut bedrock = choice(Provider::Bedrock, "openai.gpt-oss-120b-1:0", Some("k"));
        let base_url = |choice: &ModelChoice, env: &ProviderFallbacks| {
            let llm = turn_llm(choice, env).unwrap();
            assert_eq!(llm.provider_id, "bedrock");
            assert_eq!(llm.api_key.expose(), "k");
            let entry = llm.provider.unwrap();
            assert_eq!(entry["api"], "openai-completions");
            entry["baseUrl"].as_str().unwrap().to_owned()
        };
        assert_eq!(
            base_url(&bedrock, &ProviderFallbacks::default()),
            "https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1"
        );
        assert_eq!(
            base_url(&bedrock, &fallbacks(&[("AWS_DEFAULT_REGION", "eu-west-3")])),
            "https://bedrock-runtime.eu-west-3.amazonaws.com/openai/v1"
        );
        let deployment = fallbacks(&[("AWS_REGION", "eu-west-1"), ("AWS_DEFAULT_REGION", "x")]);
        assert_eq!(
            base_url(&bedrock, &deployment),
            "https://bedrock-runtime.eu-west-1.amazonaws.com/openai/v1"
        );
        bedrock.settings.region = Some("ap-south-1".into());
        assert_eq!(
            base_url(&bedrock, &deployment),
            "https://bedrock-runtime.ap-south-1.amazonaws.com/openai/v1"
        );
        // Without the user's key: the deployment's Bedrock API key, else a clear error.
        bedrock.api_key = None;
        let llm = turn_llm(&bedrock, &fallbacks(&[("AWS_BEARER_TOKEN_BEDROCK", "t")])).unwrap();
        assert_eq!(llm.api_key.expose(), "t");
        assert!(
            turn_llm(&bedrock, &ProviderFallbacks::default())
                .unwrap_err()
                .to_string()
                .contains("Settings → API keys")
        );
    }

    #[test]
    fn an_openai_compatible_endpoint_gets_v1_and_a_placeholder_key_never_the_deployments() {
        let mut compatible = choice(Provider::OpenAiCompatible, "llama", None);
        assert!(
            turn_llm(&compatible, &ProviderFallbacks::default())
                .unwrap_err()
                .to_string()
                .contains("base URL")
        );
        compatible.settings.base_url = Some("http://127.0.0.1:9".into());
        let env = fallbacks(&[(CUSTOM_KEY_ENV, "sk-deployment-endpoint")]);
        let llm = turn_llm(&compatible, &env).unwrap();
        assert_eq!(llm.provider_id, "openai-compatible");
        assert_eq!(
            llm.provider.as_ref().unwrap()["baseUrl"],
            "http://127.0.0.1:9/v1"
        );
        assert_eq!(llm.api_key.expose(), "no-key");
        compatible.settings.base_url = Some("https://h/v1/".into());
        compatible.api_key = Some(ApiKey::parse("sk-mine").unwrap());
        let llm = turn_llm(&compatible, &env).unwrap();
        assert_eq!(llm.provider.as_ref().unwrap()["baseUrl"], "https://h/v1");
        assert_eq!(llm.api_key.expose(), "sk-mine");
    }

    #[test]
    fn a_base_url_on_another_provider_is_ignored_so_the_deployments_key_stays_home() {
        let mut anthropic = choice(Provider::Anthropic, "claude-sonnet-5", None);
        anthropic.settings.base_url = Some("https://attacker.example".into());
        let llm = turn_llm(&anthropic, &fallbacks(&[("ANTHROPIC_API_KEY", "a")])).unwrap();
        assert_eq!(llm.provider, None);
        assert_eq!(llm.api_key.expose(), "a");
    }

    #[test]
    fn a_turns_llm_never_shows_the_users_key_in_debug_output() {
        let llm = turn_llm(
            &choice(Provider::OpenAi, "gpt-5.5", Some("sk-very-secret")),
            &ProviderFallbacks::default(),
        )
        .unwrap();
        let shown = format!("{llm:?}");
        assert!(
            shown.contains("gpt-5.5") && !shown.contains("sk-very-secret"),
            "{shown}"
        );
    }

    #[test]
    fn deployment_keys_are_read_from_their_variables_and_never_shown_in_debug_output() {
        let keys = keys(&[
            ("ANTHROPIC_API_KEY", "sk-ant-secret"),
            ("OPENAI_API_KEY", "   "),
            ("AWS_SECRET_ACCESS_KEY", "not-an-llm-key"),
        ]);
        assert_eq!(
            keys.get("ANTHROPIC_API_KEY").unwrap().expose(),
            "sk-ant-secret"
        );
        assert!(keys.get("OPENAI_API_KEY").is_none(), "blank is unset");
        assert!(keys.get("AWS_SECRET_ACCESS_KEY").is_none());
        let shown = format!("{keys:?}");
        assert!(
            shown.contains("ANTHROPIC_API_KEY") && !shown.contains("sk-ant-secret"),
            "{shown}"
        );
    }
}
