//! Validated identifiers. Ids end up as database keys, object keys and file names, so each one is
//! checked against `^[A-Za-z0-9_-]{1,64}$` once, at the edge, and carried as a type afterwards.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest id we accept, in bytes (all accepted characters are ASCII).
pub const MAX_ID_LEN: usize = 64;

/// An id that does not match `^[A-Za-z0-9_-]{1,64}$`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'")]
pub struct InvalidId {
    /// Which kind of id was refused, for the human-readable message.
    pub kind: &'static str,
}

/// Whether `s` is a valid id: 1 to 64 characters of `A-Za-z0-9_-`. Rejects `.`, `/` and everything
/// else that could escape a directory or a key prefix.
pub fn is_valid_id(s: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `value` as this kind of id.
            pub fn parse(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                if is_valid_id(&value) {
                    Ok(Self(value))
                } else {
                    Err(InvalidId { kind: $kind })
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

impl MessageId {
    /// A new time-ordered message id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
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
                    kind: "conversation id"
                }),
                "{bad:?}"
            );
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
    fn deserializing_an_invalid_id_fails() {
        let err = serde_json::from_str::<UserId>("\"a/b\"").unwrap_err();
        assert!(err.to_string().contains("invalid user id"));
    }
}
