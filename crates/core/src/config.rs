//! Settings from environment variables: one reading rule per kind of value, and the variables local
//! mode and the Lambda functions share, each with its one rule and one default, so the two entry points
//! cannot drift apart. `docs/configuration.md` lists every variable.
//!
//! The reader takes the lookup as a function: the composition roots use [`Env::process`], tests a map.
//!
//! Secrets travel as [`Secret`], whose `Debug` and `Display` print a placeholder: a secret that ends up
//! in a log line, an error or a `{:?}` of a config struct shows nothing.

use std::fmt;
use std::time::Duration;

use crate::ports::ToolAccess;
use crate::settings::Endpoints;

/// How long one turn may run before it is cancelled and the user is told.
pub const TURN_TIMEOUT: &str = "SERVERLESS_OPENCLAW_TURN_TIMEOUT_SECS";
pub const DEFAULT_TURN_TIMEOUT: Duration = Duration::from_secs(600);
/// Turns OpenClaw's tools off for everyone (`exec`, `process`, `web_fetch`, ...).
pub const DISABLE_TOOLS: &str = "SERVERLESS_OPENCLAW_DISABLE_TOOLS";
/// What users let in by the Telegram allowlist may use of OpenClaw's tools.
pub const GUEST_TOOLS: &str = "SERVERLESS_OPENCLAW_GUEST_TOOLS";
/// Lets users' OpenAI-compatible base URLs point at private and internal addresses.
pub const ALLOW_PRIVATE_ENDPOINTS: &str = "SERVERLESS_OPENCLAW_ALLOW_PRIVATE_ENDPOINTS";

/// A variable that is set but cannot be used. Names the variable, and the value unless it is secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} {problem}")]
pub struct EnvError {
    pub name: String,
    pub problem: String,
}

impl EnvError {
    fn new(name: &str, problem: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Reads variables through a lookup function; an empty or blank value counts as unset.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    lookup: &'a (dyn Fn(&str) -> Option<String> + Sync),
}

impl<'a> Env<'a> {
    pub fn new(lookup: &'a (dyn Fn(&str) -> Option<String> + Sync)) -> Self {
        Self { lookup }
    }

    /// The process environment.
    pub fn process() -> Env<'static> {
        Env::new(&|name| std::env::var(name).ok())
    }

    /// The value, when set and not blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// The value, or an error naming the variable.
    pub fn required(&self, name: &str) -> Result<String, EnvError> {
        self.optional(name)
            .ok_or_else(|| EnvError::new(name, "is not set"))
    }

    /// A secret value; errors never show it.
    pub fn secret(&self, name: &str) -> Option<Secret> {
        self.optional(name).map(Secret::new)
    }

    /// `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off` (any case); unset is `false`.
    pub fn flag(&self, name: &str) -> Result<bool, EnvError> {
        let Some(raw) = self.optional(name) else {
            return Ok(false);
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(EnvError::new(
                name,
                format!("must be true or false (got {raw:?})"),
            )),
        }
    }

    /// A whole number of seconds, `default` when unset; zero is allowed only when `allow_zero`.
    pub fn seconds(
        &self,
        name: &str,
        default: Duration,
        allow_zero: bool,
    ) -> Result<Duration, EnvError> {
        let Some(raw) = self.optional(name) else {
            return Ok(default);
        };
        match raw.trim().parse::<u64>() {
            Ok(0) if !allow_zero => Err(EnvError::new(
                name,
                format!("must be a positive number of seconds (got {raw:?})"),
            )),
            Ok(secs) => Ok(Duration::from_secs(secs)),
            Err(_) => Err(EnvError::new(
                name,
                format!("must be a whole number of seconds (got {raw:?})"),
            )),
        }
    }

    /// One of a fixed set of words (`expected` lists them for the error), `default` when unset.
    pub fn choice<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
        default: T,
    ) -> Result<T, EnvError> {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => parse(raw.trim())
                .ok_or_else(|| EnvError::new(name, format!("must be {expected} (got {raw:?})"))),
        }
    }

    /// [`TURN_TIMEOUT`]: positive seconds, [`DEFAULT_TURN_TIMEOUT`] when unset.
    pub fn turn_timeout(&self) -> Result<Duration, EnvError> {
        self.seconds(TURN_TIMEOUT, DEFAULT_TURN_TIMEOUT, false)
    }

    /// [`DISABLE_TOOLS`]: a flag, off when unset.
    pub fn disable_tools(&self) -> Result<bool, EnvError> {
        self.flag(DISABLE_TOOLS)
    }

    /// [`ALLOW_PRIVATE_ENDPOINTS`]: a flag, public endpoints only when unset.
    pub fn endpoints(&self) -> Result<Endpoints, EnvError> {
        Ok(if self.flag(ALLOW_PRIVATE_ENDPOINTS)? {
            Endpoints::Any
        } else {
            Endpoints::Public
        })
    }

    /// [`GUEST_TOOLS`]: `restricted` (the default) or `full`.
    pub fn guest_tools(&self) -> Result<ToolAccess, EnvError> {
        self.choice(
            GUEST_TOOLS,
            ToolAccess::parse,
            "restricted or full",
            ToolAccess::Restricted,
        )
    }
}

/// A secret value. Read it with [`Secret::expose`], at the one place that needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn with<T>(vars: &[(&str, &str)], read: impl FnOnce(Env<'_>) -> T) -> T {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let lookup = move |name: &str| map.get(name).cloned();
        read(Env::new(&lookup))
    }

    #[test]
    fn blank_counts_as_unset_and_required_names_the_variable() {
        with(&[("A", "  "), ("B", "x")], |env| {
            assert_eq!(env.optional("A"), None);
            assert_eq!(env.optional("B").as_deref(), Some("x"));
            assert_eq!(env.required("A").unwrap_err().to_string(), "A is not set");
        });
    }

    #[test]
    fn the_turn_timeout_is_positive_seconds_with_one_default() {
        with(&[], |env| {
            assert_eq!(env.turn_timeout().unwrap(), Duration::from_secs(600))
        });
        with(&[(TURN_TIMEOUT, "90")], |env| {
            assert_eq!(env.turn_timeout().unwrap(), Duration::from_secs(90))
        });
        for bad in ["0", "-5", "1.5", "ten"] {
            let err = with(&[(TURN_TIMEOUT, bad)], |env| {
                env.turn_timeout().unwrap_err()
            });
            assert_eq!(err.name, TURN_TIMEOUT, "{bad}");
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn seconds_may_allow_zero() {
        with(&[("S", "0")], |env| {
            assert_eq!(
                env.seconds("S", Duration::from_secs(5), true).unwrap(),
                Duration::ZERO
            );
            assert!(env.seconds("S", Duration::from_secs(5), false).is_err());
        });
    }

    #[test]
    fn flags_accept_the_usual_words_and_refuse_others() {
        for (raw, want) in [
            ("1", true),
            ("true", true),
            ("TRUE", true),
            ("yes", true),
            ("on", true),
            ("0", false),
            ("false", false),
            ("no", false),
            ("off", false),
        ] {
            assert_eq!(
                with(&[(DISABLE_TOOLS, raw)], |env| env.disable_tools()),
                Ok(want),
                "{raw}"
            );
        }
        assert_eq!(with(&[], |env| env.disable_tools()), Ok(false));
        let err = with(&[(DISABLE_TOOLS, "maybe")], |env| env.disable_tools()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "SERVERLESS_OPENCLAW_DISABLE_TOOLS must be true or false (got \"maybe\")"
        );
    }

    #[test]
    fn guest_tools_is_restricted_unless_full() {
        assert_eq!(
            with(&[], |env| env.guest_tools()),
            Ok(ToolAccess::Restricted)
        );
        assert_eq!(
            with(&[(GUEST_TOOLS, "full")], |env| env.guest_tools()),
            Ok(ToolAccess::Full)
        );
        assert!(with(&[(GUEST_TOOLS, "all")], |env| env.guest_tools()).is_err());
    }

    #[test]
    fn a_secret_never_prints() {
        let secret = with(&[("K", "hunter2")], |env| env.secret("K")).unwrap();
        assert_eq!(
            format!("{secret:?} {secret}"),
            "Secret(<redacted>) <redacted>"
        );
        assert_eq!(secret.expose(), "hunter2");
    }
}
