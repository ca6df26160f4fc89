//! LLM provider settings and the OpenClaw configuration rendered from them.
//!
//! API keys never appear in the rendered file: the config names an environment variable
//! (`"${VAR}"`) and the runner inherits that variable from our process.

use std::ffi::OsString;
use std::path::Path;

use serde_json::{Value, json};

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

/// The variable the custom endpoint's key is read from (by reference, in the runner's environment).
pub const CUSTOM_KEY_ENV: &str = "SERVERLESS_OPENCLAW_LLM_API_KEY";

/// The provider id used for a custom endpoint in OpenClaw's config.
pub const CUSTOM_PROVIDER_ID: &str = "custom";

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
    /// Any endpoint speaking one of the supported APIs.
    Custom {
        base_url: String,
        api: LlmApi,
        model: String,
        /// Whether `SERVERLESS_OPENCLAW_LLM_API_KEY` is set; if not, the runner gets a placeholder
        /// (local endpoints often need no key, but OpenClaw wants one).
        has_key: bool,
    },
}

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
            return Ok(Some(ProviderConfig::Custom {
                base_url: base_url.trim_end_matches('/').to_owned(),
                api,
                model,
                has_key: get(CUSTOM_KEY_ENV).is_some(),
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
    pub fn provider_id(&self) -> &str {
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

    /// Environment the runner needs beyond what it inherits, with `secrets` (API keys) among it.
    pub fn runner_env(&self, secrets: &SecretEnv) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = secrets.runner_env().collect();
        env.extend(self.placeholder_key());
        env
    }

    fn placeholder_key(&self) -> Vec<(OsString, OsString)> {
        match self {
            ProviderConfig::Custom { has_key: false, .. } => {
                vec![(CUSTOM_KEY_ENV.into(), "no-key".into())]
            }
            _ => Vec::new(),
        }
    }
}

/// Secrets for the runner's environment only (on AWS, API keys read from SSM at start-up). They reach
/// OpenClaw as environment variables, never a file, and `Debug` shows only their names.
#[derive(Clone, Default)]
pub struct SecretEnv(Vec<(String, String)>);

impl SecretEnv {
    pub fn new(vars: Vec<(String, String)>) -> Self {
        Self(vars)
    }

    /// The value of `name`, if it is one of these secrets.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn runner_env(&self) -> impl Iterator<Item = (OsString, OsString)> + '_ {
        self.0
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
    }
}

impl std::fmt::Debug for SecretEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| format!("{k}=<redacted>")))
            .finish()
    }
}

/// The OpenClaw config for these settings (JSON, a subset of JSON5), logging to `log_file`. Contains no
/// secret. Headless: no catalog refresh, update checks or telemetry.
pub fn render_openclaw_config(provider: Option<&ProviderConfig>, log_file: &Path) -> Value {
    let mut config = json!({
        "agents": { "entries": { "main": {} } },
        "models": { "catalogRefresh": { "enabled": false } },
        "update": { "checkOnStart": false, "auto": { "enabled": false } },
        "telemetry": { "enabled": false },
        "logging": { "file": log_file.to_string_lossy() },
    });
    let Some(provider) = provider else {
        return config;
    };
    config["agents"]["defaults"] = json!({ "model": { "primary": provider.model_ref() } });
    if let ProviderConfig::Custom {
        base_url,
        api,
        model,
        ..
    } = provider
    {
        config["models"]["providers"] = json!({
            CUSTOM_PROVIDER_ID: {
                "baseUrl": match api {
                    LlmApi::AnthropicMessages => base_url.trim_end_matches("/v1").to_owned(),
                    LlmApi::OpenAiCompletions if base_url.ends_with("/v1") => base_url.clone(),
                    LlmApi::OpenAiCompletions => format!("{base_url}/v1"),
                },
                "apiKey": format!("${{{CUSTOM_KEY_ENV}}}"),
                "api": api.as_str(),
                "models": [{
                    "id": model,
                    "name": model,
                    "input": ["text"],
                    "contextWindow": 200_000,
                    "maxTokens": 8192,
                    "cost": { "input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0 },
                }],
            }
        });
    }
    config
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
    fn the_rendered_config_references_the_key_and_never_contains_it() {
        let provider = from(&[
            ("SERVERLESS_OPENCLAW_LLM_BASE_URL", "http://127.0.0.1:9/"),
            ("SERVERLESS_OPENCLAW_LLM_API", "openai-completions"),
            ("SERVERLESS_OPENCLAW_LLM_API_KEY", "sk-secret-value"),
            ("SERVERLESS_OPENCLAW_MODEL", "m1"),
        ])
        .unwrap()
        .unwrap();
        let config = render_openclaw_config(Some(&provider), Path::new("/state/openclaw.log"));
        let text = config.to_string();
        assert!(!text.contains("sk-secret-value"));
        assert_eq!(
            config["models"]["providers"]["custom"]["apiKey"],
            "${SERVERLESS_OPENCLAW_LLM_API_KEY}"
        );
        assert_eq!(
            config["models"]["providers"]["custom"]["baseUrl"],
            "http://127.0.0.1:9/v1"
        );
        assert_eq!(
            config["agents"]["defaults"]["model"]["primary"],
            "custom/m1"
        );
        assert!(provider.runner_env(&SecretEnv::default()).is_empty());
        assert_eq!(config["logging"]["file"], "/state/openclaw.log");
        assert_eq!(config["telemetry"]["enabled"], false);
    }

    #[test]
    fn an_anthropic_style_custom_endpoint_has_no_v1_suffix() {
        let provider = ProviderConfig::Custom {
            base_url: "http://h/v1".into(),
            api: LlmApi::AnthropicMessages,
            model: "m".into(),
            has_key: false,
        };
        let config = render_openclaw_config(Some(&provider), Path::new("/state/openclaw.log"));
        assert_eq!(
            config["models"]["providers"]["custom"]["baseUrl"],
            "http://h"
        );
        assert_eq!(provider.runner_env(&SecretEnv::default()).len(), 1);
    }

    #[test]
    fn secrets_reach_the_runner_env_but_never_debug_output() {
        let secrets = SecretEnv::new(vec![("ANTHROPIC_API_KEY".into(), "sk-ant-secret".into())]);
        let provider = ProviderConfig::Anthropic { model: "m".into() };
        assert_eq!(
            provider.runner_env(&secrets),
            vec![("ANTHROPIC_API_KEY".into(), "sk-ant-secret".into())]
        );
        assert_eq!(secrets.get("ANTHROPIC_API_KEY"), Some("sk-ant-secret"));
        let shown = format!("{secrets:?}");
        assert!(
            shown.contains("ANTHROPIC_API_KEY") && !shown.contains("sk-ant-secret"),
            "{shown}"
        );
    }
}
