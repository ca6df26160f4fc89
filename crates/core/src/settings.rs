//! The owner's model settings: which LLM provider and model their turns use, which speech-to-text
//! endpoint transcribes their voice notes, and the API keys they stored. Settings are plain data; API keys are secrets: stored write-only, never shown back, and
//! `Debug` never prints them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An LLM provider a user can choose in the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    Anthropic,
    #[serde(rename = "openai")]
    OpenAi,
    #[serde(rename = "deepseek")]
    DeepSeek,
    /// Amazon Bedrock's OpenAI-compatible Chat Completions endpoint, with a Bedrock API key.
    Bedrock,
    /// Any endpoint speaking OpenAI's chat completions API, at a base URL the user gives.
    #[serde(rename = "openai-compatible")]
    OpenAiCompatible,
    /// Groq's OpenAI-compatible endpoint (chat, and speech-to-text).
    Groq,
}

impl Provider {
    pub const ALL: [Provider; 6] = [
        Provider::Anthropic,
        Provider::OpenAi,
        Provider::DeepSeek,
        Provider::Bedrock,
        Provider::OpenAiCompatible,
        Provider::Groq,
    ];

    /// The name used on the wire, in storage keys and in file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai",
            Provider::DeepSeek => "deepseek",
            Provider::Bedrock => "bedrock",
            Provider::OpenAiCompatible => "openai-compatible",
            Provider::Groq => "groq",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Settings refused, with what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSettings(pub String);

/// The longest model id, base URL and API key we accept.
pub const MAX_MODEL_LEN: usize = 128;
pub const MAX_BASE_URL_LEN: usize = 2048;
pub const MAX_API_KEY_LEN: usize = 4096;

/// Which provider and model a user's turns run with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelSettings {
    pub provider: Provider,
    pub model: String,
    /// The endpoint of an OpenAI-compatible provider (required for it, refused for the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The AWS region for Bedrock (optional: the deployment's region by default; refused for the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl ModelSettings {
    /// Checks every field; the result is safe to store and to render into OpenClaw's configuration.
    /// A base URL to a private or internal address is refused unless `endpoints` allows it.
    pub fn validated(self, endpoints: Endpoints) -> Result<Self, InvalidSettings> {
        let model = validate_model_id(&self.model)?;
        let base_url = match (self.provider, self.base_url) {
            (Provider::OpenAiCompatible, Some(url)) => Some(valid_base_url(url.trim(), endpoints)?),
            (Provider::OpenAiCompatible, None) => {
                return Err(InvalidSettings(
                    "baseUrl is required for an OpenAI-compatible provider".into(),
                ));
            }
            (_, Some(_)) => {
                return Err(InvalidSettings(
                    "baseUrl is only for an OpenAI-compatible provider".into(),
                ));
            }
            (_, None) => None,
        };
        let region = match (self.provider, self.region) {
            (Provider::Bedrock, Some(region)) if is_aws_region(&region) => Some(region),
            (Provider::Bedrock, Some(_)) => {
                return Err(InvalidSettings(
                    "region must be an AWS region such as us-east-1".into(),
                ));
            }
            (_, Some(_)) => return Err(InvalidSettings("region is only for Bedrock".into())),
            (_, None) => None,
        };
        Ok(Self {
            provider: self.provider,
            model,
            base_url,
            region,
        })
    }

    /// `provider/model`, as shown to users.
    pub fn label(&self) -> String {
        format!("{}/{}", self.provider, self.model)
    }
}

/// Checks a model id (surrounding whitespace trimmed): safe to store and to render into OpenClaw's
/// configuration. Used for the settings' model and a conversation's own.
pub fn validate_model_id(model: &str) -> Result<String, InvalidSettings> {
    let model = model.trim();
    if model.is_empty()
        || model.len() > MAX_MODEL_LEN
        || !model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/@+-".contains(&b))
    {
        return Err(InvalidSettings(format!(
            "model must be 1 to {MAX_MODEL_LEN} characters of A-Z, a-z, 0-9 and . _ : / @ + -"
        )));
    }
    Ok(model.to_owned())
}

/// Which addresses a user's OpenAI-compatible base URL may point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Endpoints {
    /// Public addresses only (the default): the agent's host must not be made to call loopback (on
    /// Lambda, the Runtime API), link-local (the instance metadata service), private or other
    /// internal addresses on a user's behalf.
    #[default]
    Public,
    /// Any address, private networks included: the owner opted in
    /// (`SERVERLESS_OPENCLAW_ALLOW_PRIVATE_ENDPOINTS`), e.g. for a model server on their own machine.
    Any,
}

fn valid_base_url(url: &str, endpoints: Endpoints) -> Result<String, InvalidSettings> {
    let malformed = || {
        InvalidSettings(format!(
            "baseUrl must be an http(s) URL without credentials, query or fragment, at most {MAX_BASE_URL_LEN} characters"
        ))
    };
    if url.len() > MAX_BASE_URL_LEN || !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(malformed());
    }
    let parsed = url::Url::parse(url).map_err(|_| malformed())?;
    if !matches!(parsed.scheme(), "http" | "https")
        || !parsed.username().is_empty()
        || parsed.password().is_some()
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(malformed());
    }
    let host = parsed.host().ok_or_else(malformed)?;
    if endpoints == Endpoints::Public && is_internal(&host) {
        return Err(InvalidSettings(format!(
            "baseUrl must be a public address; {host} is loopback, private, link-local or internal \
             (the owner can allow those with SERVERLESS_OPENCLAW_ALLOW_PRIVATE_ENDPOINTS)"
        )));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// Whether `host` names this machine, a private or link-local network, or a cloud metadata service.
/// A public name that resolves to such an address is not caught here (the HTTP client resolves it).
fn is_internal(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Ipv4(ip) => is_internal_v4(*ip),
        url::Host::Ipv6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => is_internal_v4(v4),
            None => {
                let first = ip.segments()[0];
                ip.is_loopback()
                    || ip.is_unspecified()
                    || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                    || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
            }
        },
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost"
                || name.ends_with(".localhost")
                || name.ends_with(".internal")
                || name.ends_with(".local")
                || name == "instance-data"
        }
    }
}

fn is_internal_v4(ip: std::net::Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT 100.64.0.0/10
        || a == 0
}

fn is_aws_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    s.len() <= 32
        && parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// A speech-to-text endpoint a user can choose: each speaks OpenAI's
/// `POST <base>/audio/transcriptions` and takes the key the user stored for the [`Provider`] of the
/// same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpeechProvider {
    #[serde(rename = "openai")]
    OpenAi,
    #[serde(rename = "groq")]
    Groq,
    /// A self-hosted or other endpoint at a base URL the user gives.
    #[serde(rename = "openai-compatible")]
    OpenAiCompatible,
}

impl SpeechProvider {
    /// Whose key a transcription sends.
    pub fn key_provider(self) -> Provider {
        match self {
            SpeechProvider::OpenAi => Provider::OpenAi,
            SpeechProvider::Groq => Provider::Groq,
            SpeechProvider::OpenAiCompatible => Provider::OpenAiCompatible,
        }
    }

    /// The model used when the settings name none: each provider's fast, cheap transcription model.
    pub fn default_model(self) -> &'static str {
        match self {
            SpeechProvider::OpenAi => "gpt-4o-mini-transcribe",
            SpeechProvider::Groq => "whisper-large-v3-turbo",
            SpeechProvider::OpenAiCompatible => "whisper-1",
        }
    }
}

/// Which endpoint transcribes a user's voice notes and audio files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpeechSettings {
    pub provider: SpeechProvider,
    /// `None`: [`SpeechProvider::default_model`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The endpoint of an OpenAI-compatible provider, up to its `/v1` (required for it, refused for
    /// the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

impl SpeechSettings {
    /// Checks every field, as [`ModelSettings::validated`] does.
    pub fn validated(self, endpoints: Endpoints) -> Result<Self, InvalidSettings> {
        let model = self.model.as_deref().map(validate_model_id).transpose()?;
        let base_url = match (self.provider, self.base_url) {
            (SpeechProvider::OpenAiCompatible, Some(url)) => {
                Some(valid_base_url(url.trim(), endpoints)?)
            }
            (SpeechProvider::OpenAiCompatible, None) => {
                return Err(InvalidSettings(
                    "speech.baseUrl is required for an OpenAI-compatible speech provider".into(),
                ));
            }
            (_, Some(_)) => {
                return Err(InvalidSettings(
                    "speech.baseUrl is only for an OpenAI-compatible speech provider".into(),
                ));
            }
            (_, None) => None,
        };
        Ok(Self {
            provider: self.provider,
            model,
            base_url,
        })
    }

    /// The model transcriptions use.
    pub fn model(&self) -> &str {
        self.model
            .as_deref()
            .unwrap_or_else(|| self.provider.default_model())
    }

    /// Where `POST /audio/transcriptions` goes, up to and with `/v1`.
    pub fn base_url(&self) -> &str {
        match self.provider {
            SpeechProvider::OpenAi => "https://api.openai.com/v1",
            SpeechProvider::Groq => "https://api.groq.com/openai/v1",
            SpeechProvider::OpenAiCompatible => self.base_url.as_deref().unwrap_or_default(),
        }
    }
}

/// What transcribes one user's audio: their speech settings and the key for that provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeechChoice {
    pub settings: SpeechSettings,
    pub api_key: ApiKey,
}

/// An API key: a secret. `Debug` and `Display` are redacted; read it with [`ApiKey::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Accepts 1 to 4096 visible ASCII characters (surrounding whitespace trimmed).
    pub fn parse(value: &str) -> Result<Self, InvalidSettings> {
        let value = value.trim();
        if value.is_empty()
            || value.len() > MAX_API_KEY_LEN
            || !value.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(InvalidSettings(format!(
                "an API key must be 1 to {MAX_API_KEY_LEN} visible ASCII characters"
            )));
        }
        Ok(Self(value.to_owned()))
    }

    /// The key itself, for the one place that sends it to the provider.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// What one turn runs with when the user chose a model: the settings and the user's key for that
/// provider, if they stored one (without one, the deployment's key for the provider is used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChoice {
    pub settings: ModelSettings,
    pub api_key: Option<ApiKey>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(provider: Provider, model: &str) -> ModelSettings {
        ModelSettings {
            provider,
            model: model.into(),
            base_url: None,
            region: None,
        }
    }

    #[test]
    fn provider_names_round_trip_on_the_wire() {
        for p in Provider::ALL {
            assert_eq!(Provider::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        assert_eq!(Provider::parse("azure"), None);
    }

    #[test]
    fn a_plain_model_id_is_accepted_and_trimmed() {
        let s = settings(Provider::Anthropic, " claude-sonnet-5 ")
            .validated(Endpoints::Any)
            .unwrap();
        assert_eq!(s.model, "claude-sonnet-5");
        assert_eq!(s.label(), "anthropic/claude-sonnet-5");
        assert!(
            settings(Provider::Bedrock, "us.anthropic.claude-opus-4-6-v1:0")
                .validated(Endpoints::Any)
                .is_ok()
        );
    }

    #[test]
    fn model_ids_with_spaces_quotes_or_too_long_are_refused() {
        for bad in ["", "a b", "a\"b", "${X}", &"m".repeat(129)] {
            assert!(
                settings(Provider::OpenAi, bad)
                    .validated(Endpoints::Any)
                    .is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_openai_compatible_provider_needs_a_clean_http_url() {
        let mut s = settings(Provider::OpenAiCompatible, "m");
        assert!(
            s.clone()
                .validated(Endpoints::Any)
                .unwrap_err()
                .0
                .contains("required")
        );
        s.base_url = Some("http://127.0.0.1:9/v1/".into());
        assert_eq!(
            s.clone()
                .validated(Endpoints::Any)
                .unwrap()
                .base_url
                .as_deref(),
            Some("http://127.0.0.1:9/v1")
        );
        for bad in [
            "ftp://h",
            "https://",
            "https://u:p@h",
            "https://h/?x=1",
            "https://h/a b",
            "javascript:alert(1)",
        ] {
            s.base_url = Some(bad.into());
            assert!(s.clone().validated(Endpoints::Any).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_base_url_to_an_internal_address_needs_the_owners_consent() {
        let mut s = settings(Provider::OpenAiCompatible, "m");
        for internal in [
            "http://127.0.0.1:11434/v1",
            "http://localhost:8080",
            "http://api.localhost",
            "http://169.254.169.254/latest",
            "http://[fd00:ec2::254]",
            "http://[::1]:9001",
            "http://[::ffff:127.0.0.1]",
            "http://10.1.2.3",
            "http://172.16.0.1",
            "http://192.168.1.10:8000/v1",
            "http://100.64.0.1",
            "http://0.0.0.0:9001",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://metadata.google.internal/computeMetadata",
            "http://printer.local",
        ] {
            s.base_url = Some(internal.into());
            let err = s.clone().validated(Endpoints::Public).unwrap_err().0;
            assert!(err.contains("public address"), "{internal}: {err}");
            assert!(
                s.clone().validated(Endpoints::Any).is_ok(),
                "{internal} is allowed when the owner opts in"
            );
        }
        for public in [
            "https://api.deepseek.com/v1",
            "https://8.8.8.8",
            "https://[2606:4700::1111]",
        ] {
            s.base_url = Some(public.into());
            assert!(s.clone().validated(Endpoints::Public).is_ok(), "{public}");
        }
    }

    #[test]
    fn speech_settings_default_their_model_and_check_their_endpoint() {
        let speech = |provider, base_url: Option<&str>| SpeechSettings {
            provider,
            model: None,
            base_url: base_url.map(str::to_owned),
        };
        let groq = speech(SpeechProvider::Groq, None)
            .validated(Endpoints::Public)
            .unwrap();
        assert_eq!(
            (groq.model(), groq.base_url(), groq.provider.key_provider()),
            (
                "whisper-large-v3-turbo",
                "https://api.groq.com/openai/v1",
                Provider::Groq
            )
        );
        let openai = speech(SpeechProvider::OpenAi, None);
        assert_eq!(openai.model(), "gpt-4o-mini-transcribe");
        assert_eq!(openai.base_url(), "https://api.openai.com/v1");
        assert!(
            speech(SpeechProvider::OpenAi, Some("https://h/v1"))
                .validated(Endpoints::Any)
                .is_err(),
            "only a compatible endpoint takes a base URL"
        );
        assert!(
            speech(SpeechProvider::OpenAiCompatible, None)
                .validated(Endpoints::Any)
                .is_err()
        );
        let own = speech(
            SpeechProvider::OpenAiCompatible,
            Some("http://127.0.0.1:9/v1/"),
        );
        assert!(own.clone().validated(Endpoints::Public).is_err());
        assert_eq!(
            own.validated(Endpoints::Any).unwrap().base_url(),
            "http://127.0.0.1:9/v1"
        );
        let mut bad_model = speech(SpeechProvider::Groq, None);
        bad_model.model = Some("a b".into());
        assert!(bad_model.validated(Endpoints::Any).is_err());
    }

    #[test]
    fn base_url_and_region_belong_to_their_providers_only() {
        let mut s = settings(Provider::Anthropic, "m");
        s.base_url = Some("https://h".into());
        assert!(s.validated(Endpoints::Any).is_err());
        let mut s = settings(Provider::OpenAi, "m");
        s.region = Some("us-east-1".into());
        assert!(s.validated(Endpoints::Any).is_err());
        let mut s = settings(Provider::Bedrock, "m");
        s.region = Some("eu-central-1".into());
        assert!(s.clone().validated(Endpoints::Any).is_ok());
        s.region = Some("Europe".into());
        assert!(s.validated(Endpoints::Any).is_err());
    }

    #[test]
    fn api_keys_are_checked_and_never_shown_by_debug() {
        let key = ApiKey::parse(" sk-secret ").unwrap();
        assert_eq!(key.expose(), "sk-secret");
        assert!(!format!("{key:?}").contains("secret"));
        assert!(
            !format!(
                "{:?}",
                ModelChoice {
                    settings: settings(Provider::OpenAi, "m"),
                    api_key: Some(key)
                }
            )
            .contains("sk-secret")
        );
        for bad in ["", "a b", "ключ", &"k".repeat(4097)] {
            assert!(ApiKey::parse(bad).is_err(), "{bad:?}");
        }
    }
}
