//! The bot's side of an update: who may use the agent, the commands, and a message submitted as a
//! turn. The webhook and long polling both end here, so they behave the same. A photo, document,
//! voice note or audio file is fetched from Telegram and stored here ([`crate::media`]), where the
//! bot token is, and goes with its message like a web upload; its caption is the message's text.
//! (A voice note's turn transcribes it before the agent runs: `core::turn`.)
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

use serverless_openclaw_core::attachments::Attachment;
use serverless_openclaw_core::chat::{ChatService, Submission};
use serverless_openclaw_core::commands::{self, CommandOrigin};
use serverless_openclaw_core::domain::{Channel, ReplyTarget};
use serverless_openclaw_core::ids::{ClientMessageId, ConversationId, UserId};
use serverless_openclaw_core::linking::{Linking, Redemption};
use serverless_openclaw_core::ports::{
    AgentWaker, PortError, TelegramStore, TelegramUserId, WakeReason,
};
use time::OffsetDateTime;

use crate::api::{BotApi, Format};
use crate::buttons::{Button, Keyboard};
use crate::command::{Command, Input, help};
use crate::media::{self, IncomingFile, NotStored};
use crate::update::{CallbackQuery, Message, Update};

/// How long a processed update id is remembered (Telegram stops redelivering long before).
const UPDATE_MEMORY: time::Duration = time::Duration::days(1);
/// The reaction that tells the user their message arrived and went to the agent.
const RECEIVED_REACTION: &str = "👀";
/// The most characters of a replied-to message quoted into the prompt.
const MAX_QUOTE_CHARS: usize = 1_000;
/// Telegram shows at most 200 characters in a button press's answer.
const MAX_CALLBACK_ANSWER_CHARS: usize = 200;

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
        if let Some(query) = update.callback_query {
            return self.press(update.update_id, query).await;
        }
        let Some(message) = update.message else {
            return Ok(());
        };
        let Some(from) = message.from.as_ref() else {
            return Ok(());
        };
        let file = IncomingFile::of(&message);
        let input = match (&file, message.text.as_deref()) {
            // A caption says something about the file: text for the agent, never a command.
            (Some(_), _) => Input::Text(message.caption.as_deref().unwrap_or_default()),
            (None, Some(text)) => Input::parse(text),
            // Stickers, locations, videos: nothing for the agent.
            (None, None) => return Ok(()),
        };
        if from.is_bot || !message.chat.is_private() {
            tracing::info!(
                chat = message.chat.id,
                "ignoring a message outside a private chat"
            );
            return Ok(());
        }
        let access = self.access(from.id).await?;
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
                let prompt = with_quote(message.reply_to_message.as_deref(), text);
                self.submit(&message, update.update_id, from.id, &user, &prompt, file)
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

    /// A press of one of the bot's inline buttons. Every press is answered, which ends the client's
    /// spinner: also one whose data the bot did not make (stale or forged) or from a user without
    /// access, with a short explanation instead of an action.
    async fn press(&self, update_id: i64, query: CallbackQuery) -> Result<(), PortError> {
        let text = self.press_outcome(update_id, &query).await?;
        if let Err(e) = self
            .api
            .answer_callback_query(&query.id, &callback_text(&text), false)
            .await
        {
            tracing::warn!(error = %e, "could not answer a button press");
        }
        Ok(())
    }

    /// Does what the pressed button asks; what to tell the user.
    async fn press_outcome(
        &self,
        update_id: i64,
        query: &CallbackQuery,
    ) -> Result<String, PortError> {
        const STALE: &str = "This button no longer works.";
        let button = match query.data.as_deref().map(Button::parse) {
            Some(Ok(button)) => button,
            Some(Err(e)) => {
                tracing::info!(error = %e, "refused a button press");
                return Ok(STALE.into());
            }
            None => return Ok(STALE.into()),
        };
        let message = query.message.as_ref().filter(|m| m.chat.is_private());
        let Some(message) = message.filter(|_| !query.from.is_bot) else {
            return Ok(STALE.into());
        };
        let access = self.access(query.from.id).await?;
        let Some(user) = access.user() else {
            return Ok(format!(
                "This is a private OpenClaw agent; your Telegram user id is {}.",
                query.from.id
            ));
        };
        Ok(match button {
            Button::Stop(conversation) => match self.chat.cancel(user, &conversation).await {
                Ok(true) => "Stopping the running answer.".into(),
                Ok(false) => "Nothing is running there any more.".into(),
                Err(e) => return Err(PortError::backend(e.message)),
            },
            Button::Retry(conversation) => {
                let attempt = ClientMessageId::parse(format!("tg-{update_id}"))
                    .map_err(|e| PortError::backend(e.to_string()))?;
                // The error message answers the user's message: the new answer does too.
                let asked = message.reply_to_message.as_deref().unwrap_or(message);
                let target = ReplyTarget::Telegram {
                    chat_id: message.chat.id,
                    message_id: asked.message_id,
                };
                match self
                    .chat
                    .retry(user, &conversation, attempt, Some(target))
                    .await?
                {
                    Some(_) => {
                        self.remove_buttons(message).await;
                        "Trying again.".into()
                    }
                    None => "Nothing to retry: the last message has its answer.".into(),
                }
            }
            Button::Model(id) => {
                let conversation = self.current_conversation(query.from.id).await?;
                let request = commands::Command::Model(commands::ModelRequest::Set(id));
                self.chat
                    .commands()
                    .run(user, &conversation, request, origin(message, update_id)?)
                    .await?
                    .text
            }
        })
    }

    /// Takes the buttons off a message of the bot (once used); a failure is logged.
    async fn remove_buttons(&self, message: &Message) {
        let removed = self
            .api
            .remove_keyboard(message.chat.id, message.message_id)
            .await;
        match removed {
            Err(e) if !e.is_not_modified() => {
                tracing::warn!(error = %e, "could not remove the buttons")
            }
            _ => {}
        }
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
        self.say_with(to, text, None).await
    }

    /// [`Self::say`] with inline buttons.
    async fn say_with(&self, to: &Message, text: &str, keyboard: Option<&Keyboard>) {
        if let Err(e) = self
            .api
            .send_message(to.chat.id, text, Format::Plain, None, keyboard)
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
        let linking = Linking::new(self.store.clone(), self.store.clone());
        let refused = match linking
            .redeem(telegram_user, code, OffsetDateTime::now_utc())
            .await?
        {
            Redemption::Linked { .. } => None,
            Redemption::Blocked => Some(
                "Too many wrong codes. Linking is blocked for an hour; then get a new code in the web app."
                    .to_owned(),
            ),
            Redemption::Refused { attempts_left } if code.is_empty() => Some(format!(
                "Send the code from the web app like this: /link 12345678 ({attempts_left} attempts left this hour)."
            )),
            Redemption::Refused { attempts_left } => Some(format!(
                "That code is wrong or has expired ({attempts_left} attempts left this hour). Codes work once, for 10 minutes; get a new one in the web app."
            )),
        };
        if let Some(text) = refused {
            self.say(message, &text).await;
            return Ok(());
        }
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
            (Access::Linked(owner), true) => {
                Linking::new(self.store.clone(), self.store.clone())
                    .unlink(telegram_user, owner)
                    .await?;
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
        if reply.pass_on {
            // A `/skill` that can run: an ordinary message for the agent (a caption is never a command).
            let text = message.text.as_deref().unwrap_or_default();
            return self
                .submit(message, update_id, telegram_user, user, text, None)
                .await;
        }
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
        let models = model_keyboard(&reply.models);
        self.say_with(message, &text, models.as_ref()).await;
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

    /// Stores the message (with the file it carries, fetched and stored first) and queues its turn.
    /// A refused file is told and nothing is submitted; a message refused after its file was stored
    /// takes the file away again.
    async fn submit(
        &self,
        message: &Message,
        update_id: i64,
        telegram_user: TelegramUserId,
        user: &UserId,
        text: &str,
        file: Option<Result<IncomingFile, NotStored>>,
    ) -> Result<(), PortError> {
        let conversation = self.current_conversation(telegram_user).await?;
        let attachment = match file {
            None => None,
            Some(file) => match self.store_file(user, &conversation, file).await {
                Ok(stored) => Some(stored),
                Err(NotStored::Refused(words)) => {
                    self.say(message, &words).await;
                    return Ok(());
                }
                Err(NotStored::Storage(e)) => return Err(e),
            },
        };
        let origin = origin(message, update_id)?;
        let submission = Submission {
            conversation_id: conversation.clone(),
            client_message_id: origin.client_message_id,
            text: text.to_owned(),
            channel: origin.channel,
            reply_to: origin.reply_to,
            attachments: attachment.iter().map(|a| a.id.clone()).collect(),
        };
        let submitted = self.chat.submit(user, submission).await;
        if let (Err(_), Some(stored)) = (&submitted, &attachment) {
            self.forget_file(user, &conversation, stored).await;
        }
        match submitted {
            Ok(_) => {
                let chat = message.chat.id;
                let (reacted, typing) = tokio::join!(
                    self.api
                        .set_reaction(chat, message.message_id, RECEIVED_REACTION),
                    self.api.send_typing(chat)
                );
                if let Err(e) = reacted {
                    tracing::warn!(error = %e, "could not react to the message");
                }
                if let Err(e) = typing {
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

impl Bot {
    /// Fetches and stores a file a message carries, under the attachment rules of every surface.
    async fn store_file(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        file: Result<IncomingFile, NotStored>,
    ) -> Result<Attachment, NotStored> {
        let file = file?;
        let Some(attachments) = self.chat.attachments() else {
            return Err(NotStored::Refused(
                "This agent does not take photos or files.".into(),
            ));
        };
        media::store(&self.api, attachments, user, conversation, &file).await
    }

    /// Deletes a file whose message was not taken, so nothing is left half-stored.
    async fn forget_file(&self, user: &UserId, conversation: &ConversationId, file: &Attachment) {
        let Some(attachments) = self.chat.attachments() else {
            return;
        };
        if let Err(e) = attachments.delete(user, conversation, &file.id).await {
            tracing::warn!(error = %e, "could not delete the file of a message that was not taken");
        }
    }
}

/// The user's text with the message it replies to quoted above it (Markdown quote lines, at most
/// [`MAX_QUOTE_CHARS`]), so the agent knows what "this" refers to; the text alone when it replies to
/// nothing or to a message without text.
fn with_quote(replied: Option<&Message>, text: &str) -> String {
    let quoted = replied.and_then(|m| m.text.as_deref().or(m.caption.as_deref()));
    let Some(quoted) = quoted.map(str::trim).filter(|q| !q.is_empty()) else {
        return text.to_owned();
    };
    let mut cut: String = quoted.chars().take(MAX_QUOTE_CHARS).collect();
    if cut.len() < quoted.len() {
        cut.push('…');
    }
    let lines: Vec<String> = cut.lines().map(|line| format!("> {line}")).collect();
    format!("{}\n\n{text}", lines.join("\n"))
}

/// One button per model id under `/model`'s answer; `None` when there is nothing to choose.
fn model_keyboard(models: &[String]) -> Option<Keyboard> {
    Keyboard::column(
        models
            .iter()
            .map(|id| (id.clone(), Button::Model(id.clone()))),
    )
}

/// At most the characters a button press's answer shows.
fn callback_text(text: &str) -> String {
    if text.chars().count() <= MAX_CALLBACK_ANSWER_CHARS {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX_CALLBACK_ANSWER_CHARS - 1).collect();
    cut.push('…');
    cut
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
    fn the_allowlist_takes_comma_separated_ids() {
        assert_eq!(parse_allowlist(""), Ok(vec![]));
        assert_eq!(parse_allowlist(" 1, 22 ,333"), Ok(vec![1, 22, 333]));
        assert!(parse_allowlist("1;2").unwrap_err().contains("\"1;2\""));
        assert!(parse_allowlist("-5").is_err());
        assert!(parse_allowlist("abc").is_err());
    }
}
