//! Validated identifiers. Ids end up as database keys, object keys and file names, so each one is
//! checked once, at the edge, and carried as a type afterwards: ours against `^[A-Za-z0-9_-]{1,64}$`,
//! API Gateway connection ids against `^[A-Za-z0-9+/=_-]{1,128}$`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest id we accept, in bytes (all accepted characters are ASCII).
pub const MAX_ID_LEN: usize = 64;

/// An id that does not match its pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: must be {rule}")]
pub struct InvalidId {
    /// Which kind of id was refused, for the human-readable message.
    pub kind: &'static str,
    /// The accepted form, in words.
    pub rule: &'static str,
}

const ID_RULE: &str = "1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'";
const CONNECTION_ID_RULE: &str = "1 to 128 characters of A-Z, a-z, 0-9, '+', '/', '=', '_' or '-'";

/// Whether `s` is a valid id: 1 to 64 characters of `A-Za-z0-9_-`. Rejects `.`, `/` and everything
/// else that could escape a directory or a key prefix.
pub fn is_valid_id(s: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `s` is a valid API Gateway connection id (base64 characters, at most 128).
pub fn is_valid_connection_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=_-".contains(&b))
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        id_type!($(#[$doc])* $name, $kind, is_valid_id, ID_RULE);
    };
    ($(#[$doc:meta])* $name:ident, $kind:literal, $valid:path, $rule:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `value` as this kind of id.
            pub fn parse(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                if $valid(&value) {
                    Ok(Self(value))
                } else {
                    Err(InvalidId { kind: $kind, rule: $rule })
                }
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// The owner of conversations. Always taken from a verified credential, never from a payload.
    UserId,
    "user id"
);
id_type!(
    /// A conversation of one user.
    ConversationId,
    "conversation id"
);
id_type!(
    /// The client's id for a message it sends; makes `sendMessage` idempotent.
    ClientMessageId,
    "client message id"
);
id_type!(
    /// A stored message. Server-made ids are UUIDv7, so they sort by creation time.
    MessageId,
    "message id"
);

id_type!(
    /// An attachment (an image or file a user uploaded), unique within its user's conversation.
    AttachmentId,
    "attachment id"
);

id_type!(
    /// An open WebSocket connection (on AWS, API Gateway's connection id).
    ConnectionId,
    "connection id",
    is_valid_connection_id,
    CONNECTION_ID_RULE
);

/// The prefix of the agent users that Telegram's allowlist lets in (see [`UserId::telegram_guest`]).
const TELEGRAM_GUEST_PREFIX: &str = "telegram-";

impl UserId {
    /// The agent user of a Telegram account let in by the deployment's allowlist rather than by
    /// linking to an account of its own: `telegram-<id>`. No other kind of user has this form (Cognito
    /// ids are UUIDs, local mode's owner is `owner`), so the id alone tells a guest.
    pub fn telegram_guest(telegram_user: i64) -> Self {
        Self(format!("{TELEGRAM_GUEST_PREFIX}{telegram_user}"))
    }

    /// Whether this is a guest from the Telegram allowlist (see [`UserId::telegram_guest`]), whose
    /// turns run with the guests' tool access.
    pub fn is_guest(&self) -> bool {
        self.0
            .strip_prefix(TELEGRAM_GUEST_PREFIX)
            .is_some_and(|rest| rest.trim_start_matches('-').parse::<u64>().is_ok())
    }
}

impl MessageId {
    /// A new time-ordered message id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }
}

impl AttachmentId {
    /// A new time-ordered attachment id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().simple().to_string())
    }
}

impl ConversationId {
    /// The conversation used when a client names none.
    pub fn default_conversation() -> Self {
        Self("default".to_owned())
    }

    /// A new random conversation id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().simple().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_letters_digits_underscore_and_dash_up_to_64() {
        for ok in ["a", "default", "A-b_9", &"x".repeat(64)] {
            assert!(ConversationId::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_empty_too_long_and_path_like_ids() {
        for bad in ["", "../etc", "a/b", "a.b", "a b", "é", &"x".repeat(65)] {
            assert_eq!(
                ConversationId::parse(bad),
                Err(InvalidId {
                    kind: "conversation id",
                    rule: ID_RULE,
                }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn only_telegram_allowlist_users_are_guests() {
        let guest = UserId::telegram_guest(42);
        assert_eq!(guest.as_str(), "telegram-42");
        assert!(guest.is_guest());
        assert!(UserId::telegram_guest(-7).is_guest());
        for member in [
            "owner",
            "telegram-",
            "telegram-x1",
            "0f8c1b2e-7d4a-4a8e-9a55-2d1c3b4a5e6f",
        ] {
            assert!(!UserId::parse(member).unwrap().is_guest(), "{member}");
        }
    }

    #[test]
    fn generated_ids_are_valid_and_time_ordered() {
        let a = MessageId::generate();
        let b = MessageId::generate();
        assert!(is_valid_id(a.as_str()) && is_valid_id(b.as_str()));
        assert!(a < b);
        assert!(is_valid_id(ConversationId::generate().as_str()));
    }

    #[test]
    fn connection_ids_take_base64_but_nothing_path_like() {
        for ok in ["L0SM9cOFvHcCIhw=", "a+b/c=", &"x".repeat(128)] {
            assert!(ConnectionId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a.b", "a b", "a?b", &"x".repeat(129)] {
            assert!(ConnectionId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn deserializing_an_invalid_id_fails() {
        let err = serde_json::from_str::<UserId>("\"a/b\"").unwrap_err();
        assert!(err.to_string().contains("invalid user id"));
    }
}
