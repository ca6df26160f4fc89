//! The bot's side of an update: who may use the agent, the commands, and a message submitted as a
//! turn. The webhook and long polling both end here, so they behave the same.
//!
//! Access: a Telegram user reaches the agent only when linked to an owner account (a one-time code
//! from the web app, `/link CODE`) or listed in the allowlist (Telegram-only deployments; such a user
//! is the agent user `telegram-<id>`). Everyone else gets one polite refusal per message, with their
//! Telegram id, and nothing is stored or queued for them.
//!
//! The chat commands (`/new`, `/model`, `/stop`, ...) are the shared core's
//! ([`serverless_openclaw_core::commands`]), answered in the Telegram user's current conversation; only
//! the commands about this Telegram account (`/start`, `/link`, `/unlink`, `/help`) are the bot's.
//!
//! A command from a user with access (`/new`, `/status`, a successful `/link`, ...) wakes the agent
//! ([`AgentWaker`]): their message is likely to follow, and the agent's cold start then overlaps their
//! typing. A message that is itself a turn does not: the turn starts the agent anyway, and a wake-up
//! racing it could occupy the very execution environment the turn needs.

use std::sync::Arc;
use std::time::Duration;

use serverless_openclaw_core::chat::{ChatService, Submission};
use serverless_openclaw_core::commands::{self, CommandOrigin, HELP as CHAT_HELP};
use serverless_openclaw_core::domain::{Channel, ReplyTarget};
use serverless_openclaw_core::ids::{ClientMessageId, ConversationId, UserId};
use serverless_openclaw_core::ports::{
    AgentWaker, PortError, TelegramStore, TelegramUserId, WakeReason,
};
use time::OffsetDateTime;

use crate::api::{BotApi, Format};
use crate::command::{Command, Input};
use crate::update::{Message, Update};

/// How long a link code works.
pub const LINK_CODE_TTL: Duration = Duration::from_secs(10 * 60);
/// Wrong codes a Telegram user may send per [`LINK_ATTEMPT_WINDOW`] before `/link` is refused.
pub const MAX_LINK_FAILURES: u32 = 5;
/// The sliding window of [`MAX_LINK_FAILURES`].
pub const LINK_ATTEMPT_WINDOW: Duration = Duration::from_secs(60 * 60);
/// How long a processed update id is remembered (Telegram stops redelivering long before).
const UPDATE_MEMORY: time::Duration = time::Duration::days(1);
/// Digits in a link code.
const LINK_CODE_DIGITS: usize = 8;

/// A one-time code that links a Telegram account to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkCode {
    pub code: String,
    pub expires_at: OffsetDateTime,
}

/// Issues a fresh link code for `user`, valid for [`LINK_CODE_TTL`].
pub async fn issue_link_code(
    store: &dyn TelegramStore,
    user: &UserId,
) -> Result<LinkCode, PortError> {
    let now = OffsetDateTime::now_utc();
    let expires_at = now + LINK_CODE_TTL;
    // Codes are random; a collision with a live code is retried with another.
    let mut attempts = 0;
    loop {
        let code = random_digits(LINK_CODE_DIGITS)?;
        match store.put_link_code(&code, user, now, expires_at).await {
            Ok(()) => return Ok(LinkCode { code, expires_at }),
            Err(PortError::Conflict(_)) if attempts < 5 => attempts += 1,
            Err(e) => return Err(e),
        }
    }
}

fn random_digits(n: usize) -> Result<String, PortError> {
    let mut digits = String::with_capacity(n);
    let mut bytes = vec![0u8; n];
    loop {
        getrandom::fill(&mut bytes).map_err(|e| PortError::backend(e.to_string()))?;
        // 250 = 25 * 10: dropping bytes from 250 up keeps every digit equally likely.
        for b in bytes.iter().filter(|b| **b < 250) {
            digits.push(char::from(b'0' + b % 10));
            if digits.len() == n {
                return Ok(digits);
            }
        }
    }
}

/// What the bot needs.
#[derive(Clone)]
pub struct Bot {
    pub api: BotApi,
    pub store: Arc<dyn TelegramStore>,
    pub chat: ChatService,
    /// Wakes the agent when a message is likely to follow; `None`: nothing to wake.
    pub waker: Option<Arc<dyn AgentWaker>>,
    /// Telegram users who may use the agent without a link.
    pub allowlist: Vec<TelegramUserId>,
}

/// Processing failed on our side (storage); the update should be delivered again.
#[derive(Debug, thiserror::Error)]
#[error("handling Telegram update {update_id} failed: {source}")]
pub struct UpdateFailed {
    pub update_id: i64,
    #[source]
    pub source: PortError,
}

/// Who is writing.
enum Access {
    Linked(UserId),
    Allowlisted(UserId),
    None,
}

impl Access {
    fn user(&self) -> Option<&UserId> {
        match self {
            Access::Linked(user) | Access::Allowlisted(user) => Some(user),
            Access::None => None,
        }
    }
}

impl Bot {
    /// Handles one update at most once: a redelivered update id is skipped. When storage fails, the
    /// update is forgotten again and the error returned, so Telegram's redelivery runs it.
    pub async fn handle_update(&self, update: Update) -> Result<(), UpdateFailed> {
        let update_id = update.update_id;
        let fail = |source| UpdateFailed { update_id, source };
        let keep_until = OffsetDateTime::now_utc() + UPDATE_MEMORY;
        if !self
            .store
            .claim_update(update_id, keep_until)
            .await
            .map_err(fail)?
        {
            tracing::info!(update_id, "update already handled; skipped");
            return Ok(());
        }
        let Err(e) = self.handle_claimed(update).await else {
            return Ok(());
        };
        if let Err(release) = self.store.release_update(update_id).await {
            tracing::error!(error = %release, update_id, "could not release a failed update; it will not be retried");
        }
        Err(fail(e))
    }

    async fn handle_claimed(&self, update: Update) -> Result<(), PortError> {
        let Some(message) = update.message else {
            return Ok(());
        };
        let (Some(from), Some(text)) = (message.from.as_ref(), message.text.as_deref()) else {
            return Ok(());
        };
        if from.is_bot || !message.chat.is_private() {
            tracing::info!(
                chat = message.chat.id,
                "ignoring a message outside a private chat"
            );
            return Ok(());
        }
        let access = self.access(from.id).await?;
        let input = Input::parse(text);
        if access.user().is_some() && !matches!(input, Input::Text(_)) {
            self.wake().await;
        }
        match (input, access) {
            (Input::Command(Command::Start), access) => {
                let welcome = welcome(&from.first_name, from.id, &access);
                self.say(&message, &welcome).await;
            }
            (Input::Command(Command::Help), _) => self.say(&message, &help()).await,
            (Input::Command(Command::Link(code)), access) => {
                self.link(&message, from.id, &code, &access).await?
            }
            (Input::Command(Command::Unlink { confirmed }), access) => {
                self.unlink(&message, from.id, confirmed, &access).await?
            }
            (Input::Text(text), Access::Linked(user) | Access::Allowlisted(user)) => {
                self.submit(&message, update.update_id, from.id, &user, text)
                    .await?
            }
            (_, Access::None) => self.say(&message, &refusal(from.id)).await,
            (Input::Shared(command), Access::Linked(user) | Access::Allowlisted(user)) => {
                self.shared(&message, update.update_id, from.id, &user, command)
                    .await?
            }
        }
        Ok(())
    }

    /// Wakes the agent: the Telegram user's message is likely to follow.
    async fn wake(&self) {
        if let Some(waker) = &self.waker {
            waker.wake(WakeReason::TelegramActivity).await;
        }
    }

    async fn access(&self, telegram_user: TelegramUserId) -> Result<Access, PortError> {
        if let Some(user) = self.store.linked_user(telegram_user).await? {
            return Ok(Access::Linked(user));
        }
        if self.allowlist.contains(&telegram_user) {
            return Ok(Access::Allowlisted(UserId::telegram_guest(telegram_user)));
        }
        Ok(Access::None)
    }

    /// Sends a plain-text answer; a failure to reach Telegram is logged (nothing to retry it with).
    async fn say(&self, to: &Message, text: &str) {
        if let Err(e) = self
            .api
            .send_message(to.chat.id, text, Format::Plain, None)
            .await
        {
            tracing::warn!(error = %e, chat = to.chat.id, "could not answer on Telegram");
        }
    }

    async fn link(
        &self,
        message: &Message,
        telegram_user: TelegramUserId,
        code: &str,
        access: &Access,
    ) -> Result<(), PortError> {
        if let Access::Linked(_) = access {
            self.say(
                message,
                "This Telegram account is already linked. Send /unlink first to link another account.",
            )
            .await;
            return Ok(());
        }
        let now = OffsetDateTime::now_utc();
        let failures = self
            .store
            .link_failures(telegram_user, now, LINK_ATTEMPT_WINDOW)
            .await?;
        if failures >= MAX_LINK_FAILURES {
            self.say(
                message,
                "Too many wrong codes. Linking is blocked for an hour; then get a new code in the web app.",
            )
            .await;
            return Ok(());
        }
        let well_formed =
            code.len() == LINK_CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit());
        let owner = if well_formed {
            self.store.take_link_code(code, now).await?
        } else {
            None
        };
        let Some(owner) = owner else {
            let failures = self
                .store
                .record_link_failure(telegram_user, now, LINK_ATTEMPT_WINDOW)
                .await?;
            let left = MAX_LINK_FAILURES.saturating_sub(failures);
            let text = if code.is_empty() {
                format!(
                    "Send the code from the web app like this: /link 12345678 ({left} attempts left this hour)."
                )
            } else {
                format!(
                    "That code is wrong or has expired ({left} attempts left this hour). Codes work once, for 10 minutes; get a new one in the web app."
                )
            };
            self.say(message, &text).await;
            return Ok(());
        };
        self.store.link(telegram_user, &owner).await?;
        self.store
            .set_current_conversation(telegram_user, &ConversationId::generate())
            .await?;
        self.wake().await;
        self.say(
            message,
            "Linked! Messages you send here go to your agent, and the conversations show up in the web app too.",
        )
        .await;
        Ok(())
    }

    async fn unlink(
        &self,
        message: &Message,
        telegram_user: TelegramUserId,
        confirmed: bool,
        access: &Access,
    ) -> Result<(), PortError> {
        let text = match (access, confirmed) {
            (Access::Linked(_), false) => {
                "This disconnects this Telegram account from your agent. Send /unlink yes to confirm."
            }
            (Access::Linked(_), true) => {
                self.store.unlink(telegram_user).await?;
                "Unlinked. To link again, get a new code in the web app and send /link CODE."
            }
            _ => "This Telegram account is not linked.",
        };
        self.say(message, text).await;
        Ok(())
    }

    /// Runs a shared chat command in the Telegram user's current conversation; `/new` makes the new
    /// conversation current, and `/status` also tells how this Telegram account has access.
    async fn shared(
        &self,
        message: &Message,
        update_id: i64,
        telegram_user: TelegramUserId,
        user: &UserId,
        command: commands::Command,
    ) -> Result<(), PortError> {
        let status = command == commands::Command::Status;
        let conversation = self.current_conversation(telegram_user).await?;
        let reply = self
            .chat
            .commands()
            .run(user, &conversation, command, origin(message, update_id)?)
            .await?;
        if let Some(new) = &reply.new_conversation {
            self.store
                .set_current_conversation(telegram_user, new)
                .await?;
        }
        let text = if status {
            let link = if user.is_guest() {
                "on the allowlist"
            } else {
                "linked to your account"
            };
            format!("{}\nThis Telegram account: {link}", reply.text)
        } else {
            reply.text
        };
        self.say(message, &text).await;
        Ok(())
    }

    /// The conversation the Telegram user's messages go to, started when they have none.
    async fn current_conversation(
        &self,
        telegram_user: TelegramUserId,
    ) -> Result<ConversationId, PortError> {
        if let Some(conversation) = self.store.current_conversation(telegram_user).await? {
            return Ok(conversation);
        }
        let conversation = ConversationId::generate();
        self.store
            .set_current_conversation(telegram_user, &conversation)
            .await?;
        Ok(conversation)
    }

    async fn submit(
        &self,
        message: &Message,
        update_id: i64,
        telegram_user: TelegramUserId,
        user: &UserId,
        text: &str,
    ) -> Result<(), PortError> {
        let conversation = self.current_conversation(telegram_user).await?;
        let origin = origin(message, update_id)?;
        let submission = Submission {
            conversation_id: conversation,
            client_message_id: origin.client_message_id,
            text: text.to_owned(),
            channel: origin.channel,
            reply_to: origin.reply_to,
        };
        match self.chat.submit(user, submission).await {
            Ok(_) => {
                if let Err(e) = self.api.send_typing(message.chat.id).await {
                    tracing::warn!(error = %e, "could not show the typing indicator");
                }
                Ok(())
            }
            // Stored but not queued, or not stored: Telegram's redelivery retries it.
            Err(e) if e.code == serverless_openclaw_core::protocol::ErrorCode::Internal => {
                Err(PortError::backend(e.message))
            }
            Err(e) => {
                self.say(
                    message,
                    &format!("I couldn't take that message: {}", e.message),
                )
                .await;
                Ok(())
            }
        }
    }
}

/// The chat commands' help with the bot's own commands.
fn help() -> String {
    format!(
        "{CHAT_HELP}\n\n\
         /link CODE – link this Telegram account with a code from the web app\n\
         /unlink – disconnect this Telegram account"
    )
}

fn welcome(first_name: &str, telegram_user: TelegramUserId, access: &Access) -> String {
    let name = if first_name.is_empty() {
        "there"
    } else {
        first_name
    };
    match access {
        Access::Linked(_) => format!(
            "Hi {name}! This Telegram account is linked to your agent. Send a message to talk to it.\n\n{}",
            help()
        ),
        Access::Allowlisted(_) => format!(
            "Hi {name}! You're on this agent's allowlist. Send a message to talk to it.\n\n{}",
            help()
        ),
        Access::None => format!("Hi {name}! {}", refusal(telegram_user)),
    }
}

fn refusal(telegram_user: TelegramUserId) -> String {
    format!(
        "This is a private OpenClaw agent, and your Telegram account is not linked to it.\n\n\
         Your Telegram user id is {telegram_user}.\n\n\
         If this is your agent: open its web app, get a Telegram link code, and send /link CODE here. \
         Otherwise ask its owner to add your id to the allowlist."
    )
}

/// Parses the allowlist setting: Telegram user ids separated by commas (spaces allowed), or nothing.
pub fn parse_allowlist(setting: &str) -> Result<Vec<TelegramUserId>, String> {
    setting
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| {
            id.parse::<TelegramUserId>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{id:?} is not a Telegram user id (a positive number)"))
        })
        .collect()
}

/// Where a Telegram message came from, as a turn or a command's queued work records it: the client
/// message id `tg-<update_id>` and the chat and message its answer goes to.
fn origin(message: &Message, update_id: i64) -> Result<CommandOrigin, PortError> {
    Ok(CommandOrigin {
        client_message_id: ClientMessageId::parse(format!("tg-{update_id}"))
            .map_err(|e| PortError::backend(e.to_string()))?,
        channel: Channel::Telegram,
        reply_to: Some(ReplyTarget::Telegram {
            chat_id: message.chat.id,
            message_id: message.message_id,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_codes_are_eight_random_digits() {
        let codes: Vec<String> = (0..50)
            .map(|_| random_digits(LINK_CODE_DIGITS).unwrap())
            .collect();
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 8 && c.bytes().all(|b| b.is_ascii_digit()))
        );
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert!(unique.len() > 45, "{codes:?}");
    }

    #[test]
    fn the_allowlist_takes_comma_separated_ids() {
        assert_eq!(parse_allowlist(""), Ok(vec![]));
        assert_eq!(parse_allowlist(" 1, 22 ,333"), Ok(vec![1, 22, 333]));
        assert!(parse_allowlist("1;2").unwrap_err().contains("\"1;2\""));
        assert!(parse_allowlist("-5").is_err());
        assert!(parse_allowlist("abc").is_err());
    }
}
