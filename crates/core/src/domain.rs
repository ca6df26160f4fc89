//! Domain types: conversations, stored messages, the queued unit of work (a [`Turn`]), token usage and
//! what the agent did during a turn (its tool calls: [`ToolActivity`], [`TurnActivity`]).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{ClientMessageId, ConversationId, MessageId, UserId};

/// The largest message a client may send, in bytes of UTF-8.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;

/// The longest conversation title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }

    /// Parses the stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            _ => None,
        }
    }
}

/// Where a message came from (recorded per message so channels can share one history).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Web,
    Telegram,
}

impl Channel {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Telegram => "telegram",
        }
    }

    /// Parses the stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "web" => Some(Channel::Web),
            "telegram" => Some(Channel::Telegram),
            _ => None,
        }
    }
}

/// Tokens a turn consumed, as reported by OpenClaw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Where one tool call of a turn is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolStatus {
    Running,
    Ok,
    Error,
}

/// One tool call of a turn as the user sees it, e.g. `exec` · `ls -la notes` · ok · 212 ms. A start
/// (`Running`, no duration) and its end share `tool_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolActivity {
    /// OpenClaw's tool call id, unique within the turn.
    pub tool_id: String,
    /// The tool's name (`exec`, `read`, `web_fetch`, ...).
    pub name: String,
    /// One line saying what the call does (the command, URL or path), at most ~120 characters.
    pub summary: String,
    pub status: ToolStatus,
    /// On an end: how long the call took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// The most tool lines kept with one reply: a runaway turn must not outgrow a stored item (DynamoDB's
/// 400 KB). [`TurnActivity::tool_count`] still counts every call.
pub const MAX_STORED_TOOL_LINES: usize = 50;

/// What the agent did during a turn, kept with its reply so the history can show "Worked for N s"
/// and the tool lines after a reload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnActivity {
    /// The turn's working time: the agent's duration of the turn.
    pub worked_ms: u64,
    /// How many tool calls the turn made.
    pub tool_count: u64,
    /// The calls' lines in start order, each in its last known state (the first
    /// [`MAX_STORED_TOOL_LINES`]).
    pub tools: Vec<ToolActivity>,
}

impl TurnActivity {
    /// Takes in a start or end line: a new call is appended (and counted), an end replaces its start.
    pub fn record(&mut self, tool: &ToolActivity) {
        if let Some(known) = self.tools.iter_mut().find(|t| t.tool_id == tool.tool_id) {
            *known = tool.clone();
            return;
        }
        if self.tools.len() < MAX_STORED_TOOL_LINES {
            self.tools.push(tool.clone());
            self.tool_count += 1;
        } else if tool.status == ToolStatus::Running {
            // Past the kept lines only starts count: an end there belongs to a start counted before.
            self.tool_count += 1;
        }
    }

    /// The form both conversation stores keep it in: JSON text.
    pub fn to_stored(&self) -> String {
        // Plain structs and enums with string keys: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads [`TurnActivity::to_stored`]'s form. Activity only decorates a reply, so an unreadable
    /// value is dropped (with a warning) rather than failing the conversation's history.
    pub fn from_stored(stored: &str) -> Option<Self> {
        serde_json::from_str(stored)
            .inspect_err(|e| tracing::warn!(error = %e, "ignoring a stored turn activity that cannot be read"))
            .ok()
    }
}

/// How much the model reasons before answering: OpenClaw's thinking levels (the `thinkLevel` of a run)
/// that every provider it supports understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThinkingLevel {
    Off,
    Minimal,
    Low,
    Medium,
    High,
}

impl ThinkingLevel {
    pub const ALL: [ThinkingLevel; 5] = [
        ThinkingLevel::Off,
        ThinkingLevel::Minimal,
        ThinkingLevel::Low,
        ThinkingLevel::Medium,
        ThinkingLevel::High,
    ];

    /// The stored, wire and OpenClaw name.
    pub fn as_str(self) -> &'static str {
        match self {
            ThinkingLevel::Off => "off",
            ThinkingLevel::Minimal => "minimal",
            ThinkingLevel::Low => "low",
            ThinkingLevel::Medium => "medium",
            ThinkingLevel::High => "high",
        }
    }

    /// Parses a name (any case).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

/// A conversation's own choices: they override the user's defaults for its turns only. `None`: the
/// default (the user's settings, else the deployment's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSettings {
    /// A model id of the provider the turn runs on (the user's chosen one, else the deployment's).
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub thinking: Option<ThinkingLevel>,
    /// `/reset` asked for a fresh OpenClaw session: the next turn starts without the stored transcript
    /// (and replaces it). Not on the wire.
    #[serde(skip)]
    pub fresh_session: bool,
}

/// A change of [`ConversationSettings`]: an absent field (`None`) is left as stored, so concurrent
/// changes of different fields (a `/model` beside a turn clearing `fresh_session`) never undo each other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationSettingsUpdate {
    pub model: Option<Option<String>>,
    pub thinking: Option<Option<ThinkingLevel>>,
    pub fresh_session: Option<bool>,
}

/// A conversation as listed to its owner.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: ConversationId,
    pub title: String,
    pub updated_at: OffsetDateTime,
    pub message_count: u64,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub role: Role,
    pub content: String,
    pub channel: Channel,
    pub created_at: OffsetDateTime,
    /// What the turn cost, on an assistant message whose provider reported it.
    pub cost_usd: Option<f64>,
    /// The turn's tokens, on an assistant message.
    pub usage: Option<Usage>,
    /// What the agent did, on an assistant message whose turn called tools.
    pub activity: Option<TurnActivity>,
}

/// One version of a conversation's last exchange: a user message and the reply to it (none while
/// its turn runs, or after it failed). Editing the last user message or regenerating the last reply
/// starts a new version; the earlier ones stay stored, out of the conversation's current path
/// (`docs/architecture.md`, "Edit and regenerate").
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeVersion {
    pub user: Message,
    pub reply: Option<Message>,
}

/// Groups the messages of one exchange's versions (in the order they were stored: the superseded
/// ones and the current user message, then its reply if it has one) into versions: a user message
/// starts a version and the next reply completes it; a reply that finds its version complete was
/// regenerated, so it starts a version of its own with the same user message. The current version
/// comes last: when the current user message is not `answered` (its rerun is queued, running or
/// failed), a version without a reply.
pub fn group_versions(
    messages: impl IntoIterator<Item = Message>,
    answered: bool,
) -> Vec<ExchangeVersion> {
    let mut versions: Vec<ExchangeVersion> = Vec::new();
    let mut current = None;
    for message in messages {
        match (message.role, versions.last_mut()) {
            (Role::User, _) => {
                current = Some(message.clone());
                versions.push(ExchangeVersion {
                    user: message,
                    reply: None,
                });
            }
            (Role::Assistant, Some(last)) if last.reply.is_none() => last.reply = Some(message),
            (Role::Assistant, Some(last)) => {
                let user = last.user.clone();
                versions.push(ExchangeVersion {
                    user,
                    reply: Some(message),
                });
            }
            // A reply without its user message cannot be shown as a version.
            (Role::Assistant, None) => {}
        }
    }
    if let Some(user) = current
        && !answered
        && versions.last().is_some_and(|v| v.reply.is_some())
    {
        versions.push(ExchangeVersion { user, reply: None });
    }
    versions
}

/// A new version of a conversation's last exchange: what
/// [`crate::ports::ConversationStore::supersede_last_exchange`] does.
#[derive(Debug, Clone)]
pub enum Rerun {
    /// Answer the last user message again; its reply `reply` becomes an earlier version.
    Regenerate { reply: MessageId },
    /// Replace the last user message `replaces` (and its reply) by `message`.
    Edit {
        replaces: MessageId,
        message: NewUserMessage,
    },
}

/// A user message to store: the input of [`crate::ports::ConversationStore::append_user_message`].
#[derive(Debug, Clone)]
pub struct NewUserMessage {
    pub id: MessageId,
    pub client_message_id: ClientMessageId,
    pub content: String,
    pub channel: Channel,
    pub created_at: OffsetDateTime,
}

/// A stored user message as the turn processor reads it to gather a burst (messages sent close
/// together from one chat, answered as one turn).
#[derive(Debug, Clone, PartialEq)]
pub struct UserMessage {
    pub id: MessageId,
    pub content: String,
    pub channel: Channel,
    pub created_at: OffsetDateTime,
    /// It has an assistant reply.
    pub answered: bool,
}

/// An assistant reply to store, tied to the user message it answers.
#[derive(Debug, Clone)]
pub struct NewAssistantMessage {
    pub id: MessageId,
    /// The user message it replies to (of a burst, the last).
    pub reply_to: MessageId,
    /// The earlier messages of a burst it answers as well; empty for a reply to one message.
    pub also_answers: Vec<MessageId>,
    pub content: String,
    pub channel: Channel,
    pub usage: Usage,
    pub cost_usd: Option<f64>,
    pub duration_ms: u64,
    /// The turn's tool calls; `None` when it made none.
    pub activity: Option<TurnActivity>,
    pub created_at: OffsetDateTime,
}

impl NewAssistantMessage {
    /// Every user message the reply answers: a burst's earlier ones, then the one it replies to.
    pub fn answers(&self) -> impl Iterator<Item = &MessageId> {
        self.also_answers.iter().chain([&self.reply_to])
    }
}

/// One unit of queued work: answer the user message `user_message_id`, or compact the conversation's
/// transcript (`/compact`).
///
/// A turn carries everything the processor needs, so a queue can hold it as a self-contained message
/// (an SQS body on AWS). Processing a reply is idempotent on `user_message_id`: a turn whose message
/// already has a reply is skipped, which makes redelivery harmless. It runs under the conversation's
/// lease like a reply, so it never races a turn of the same conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Turn {
    pub user_id: UserId,
    pub conversation_id: ConversationId,
    /// The message to answer; for a compaction, an id of its own (no message is stored for a command).
    pub user_message_id: MessageId,
    pub client_message_id: ClientMessageId,
    /// The user's text; for a compaction, what the summary should focus on (may be empty).
    pub prompt: String,
    pub channel: Channel,
    /// Where the reply goes besides the user's web connections (the Telegram chat it came from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyTarget>,
    /// What the turn does; absent in queued JSON for a reply (turns queued before compaction existed).
    #[serde(default, skip_serializing_if = "TurnKind::is_reply")]
    pub kind: TurnKind,
}

/// What a queued [`Turn`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TurnKind {
    /// Answer the user message with the agent.
    #[default]
    Reply,
    /// Summarise the older part of the conversation's transcript (`/compact`), without a reply.
    Compact,
    /// Answer a message that was answered or tried before (an edit, a regenerate, a Retry): the
    /// agent runs on the transcript without the turn of any earlier version of that exchange. Only
    /// these turns read the exchange's versions, so a plain reply costs no extra read.
    Rerun,
}

impl TurnKind {
    fn is_reply(&self) -> bool {
        *self == TurnKind::Reply
    }
}

/// A place outside the web connections that a turn's progress and reply are delivered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ReplyTarget {
    /// A Telegram chat; the reply quotes the message that asked.
    Telegram { chat_id: i64, message_id: i64 },
}

/// Formats a time the way the protocol does: RFC 3339 in UTC with milliseconds.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&format)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// A conversation title from its first message: its first line, at most 60 characters. Quoted lines
/// (`> `) before the message's own text are passed over: a Telegram reply arrives with the text it
/// replies to quoted above it, and the user's own words name the conversation better.
pub fn title_from_message(content: &str) -> String {
    const MAX: usize = 60;
    let mut lines = content.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.clone().next().unwrap_or_default();
    let line = lines.find(|l| !l.starts_with('>')).unwrap_or(first);
    if line.chars().count() <= MAX {
        line.to_owned()
    } else {
        let cut: String = line.chars().take(MAX - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

/// The largest workspace file synchronised, in bytes.
pub const MAX_WORKSPACE_FILE_BYTES: usize = 1024 * 1024;
/// The most files a workspace may hold.
pub const MAX_WORKSPACE_FILES: usize = 500;

/// Checks a workspace file path: relative, `/`-separated, at most 8 levels and 256 bytes, each part of
/// `A-Za-z0-9._-` and neither `.` nor `..`, so it can never leave the workspace folder or key prefix.
pub fn validate_workspace_path(path: &str) -> Result<(), String> {
    let parts: Vec<&str> = path.split('/').collect();
    let part_ok = |p: &&str| {
        !p.is_empty()
            && *p != "."
            && *p != ".."
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    if path.len() > 256 || parts.len() > 8 || !parts.iter().all(part_ok) {
        return Err(format!(
            "invalid workspace path {path:?}: relative, at most 8 levels of A-Z, a-z, 0-9, '.', '_' \
             or '-' (not '.' or '..')"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(format_time(t), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn titles_take_the_first_line_and_shorten_long_ones() {
        assert_eq!(title_from_message("  hello\nworld"), "hello");
        assert_eq!(
            title_from_message("> the bot said this\n> over two lines\n\nWhat does it mean?"),
            "What does it mean?"
        );
        assert_eq!(title_from_message("> only a quote"), "> only a quote");
        assert_eq!(title_from_message(" \n "), "");
        let long = "a".repeat(100);
        let title = title_from_message(&long);
        assert_eq!(title.chars().count(), 60);
        assert!(title.ends_with('…'));
    }

    #[test]
    fn workspace_paths_stay_inside_the_workspace() {
        for ok in ["AGENTS.md", "memory/2026-11-21.md", ".openclaw/state.json"] {
            assert_eq!(validate_workspace_path(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "./a",
            "a\\b",
            "a b",
            "é",
        ] {
            assert!(validate_workspace_path(bad).is_err(), "{bad:?}");
        }
        assert!(validate_workspace_path(&format!("{}z", "a/".repeat(7))).is_ok());
        assert!(validate_workspace_path(&format!("{}z", "a/".repeat(8))).is_err());
    }

    #[test]
    fn a_turn_round_trips_through_json() {
        let turn = Turn {
            user_id: UserId::parse("u1").unwrap(),
            conversation_id: ConversationId::parse("c1").unwrap(),
            user_message_id: MessageId::generate(),
            client_message_id: ClientMessageId::parse("m1").unwrap(),
            prompt: "hi".into(),
            channel: Channel::Web,
            reply_to: None,
            kind: TurnKind::Reply,
        };
        let json = serde_json::to_string(&turn).unwrap();
        assert!(json.contains("\"conversationId\":\"c1\""));
        assert!(!json.contains("replyTo"), "{json}");
        assert!(
            !json.contains("kind"),
            "a reply is queued as before: {json}"
        );
        assert_eq!(serde_json::from_str::<Turn>(&json).unwrap(), turn);

        let telegram = Turn {
            channel: Channel::Telegram,
            reply_to: Some(ReplyTarget::Telegram {
                chat_id: -42,
                message_id: 7,
            }),
            ..turn
        };
        let json = serde_json::to_string(&telegram).unwrap();
        assert!(
            json.contains(r#""replyTo":{"kind":"telegram","chatId":-42,"messageId":7}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Turn>(&json).unwrap(), telegram);

        let compact = Turn {
            kind: TurnKind::Compact,
            ..telegram
        };
        let json = serde_json::to_string(&compact).unwrap();
        assert!(json.contains(r#""kind":"compact""#), "{json}");
        assert_eq!(serde_json::from_str::<Turn>(&json).unwrap(), compact);

        let rerun = Turn {
            kind: TurnKind::Rerun,
            ..compact
        };
        let json = serde_json::to_string(&rerun).unwrap();
        assert!(json.contains(r#""kind":"rerun""#), "{json}");
        assert_eq!(serde_json::from_str::<Turn>(&json).unwrap(), rerun);
    }

    #[test]
    fn versions_pair_each_reply_with_its_question_and_end_with_the_current_one() {
        let message = |role, text: &str| Message {
            id: MessageId::generate(),
            conversation_id: ConversationId::parse("c").unwrap(),
            role,
            content: text.into(),
            channel: Channel::Web,
            created_at: OffsetDateTime::UNIX_EPOCH,
            cost_usd: None,
            usage: None,
            activity: None,
        };
        let pairs = |versions: Vec<ExchangeVersion>| {
            versions
                .into_iter()
                .map(|v| (v.user.content, v.reply.map(|r| r.content)))
                .collect::<Vec<_>>()
        };
        let (q1, a1, a2) = (
            message(Role::User, "q1"),
            message(Role::Assistant, "a1"),
            message(Role::Assistant, "a2"),
        );
        let (q2, a3) = (message(Role::User, "q2"), message(Role::Assistant, "a3"));
        // Regenerated, then edited and answered.
        assert_eq!(
            pairs(group_versions(
                [q1.clone(), a1.clone(), a2, q2.clone(), a3],
                true
            )),
            [
                ("q1".into(), Some("a1".into())),
                ("q1".into(), Some("a2".into())),
                ("q2".into(), Some("a3".into())),
            ]
        );
        // Regenerated, the rerun still running (or failed): the current version has no reply yet.
        assert_eq!(
            pairs(group_versions([q1.clone(), a1.clone()], false)),
            [("q1".into(), Some("a1".into())), ("q1".into(), None)]
        );
        // Edited, the rerun still running.
        assert_eq!(
            pairs(group_versions([q1, a1, q2], false)),
            [("q1".into(), Some("a1".into())), ("q2".into(), None)]
        );
    }

    #[test]
    fn a_turn_activity_counts_every_call_but_keeps_at_most_the_stored_lines() {
        let line = |id: usize, status| ToolActivity {
            tool_id: format!("t{id}"),
            name: "exec".into(),
            summary: String::new(),
            status,
            duration_ms: None,
        };
        let mut activity = TurnActivity::default();
        for id in 0..MAX_STORED_TOOL_LINES + 5 {
            activity.record(&line(id, ToolStatus::Running));
            activity.record(&line(id, ToolStatus::Ok));
        }
        assert_eq!(activity.tool_count, MAX_STORED_TOOL_LINES as u64 + 5);
        assert_eq!(activity.tools.len(), MAX_STORED_TOOL_LINES);
        assert!(activity.tools.iter().all(|t| t.status == ToolStatus::Ok));
        let stored = activity.to_stored();
        assert_eq!(TurnActivity::from_stored(&stored), Some(activity));
        assert_eq!(TurnActivity::from_stored("{\"workedMs\":\"x\"}"), None);
    }
}
