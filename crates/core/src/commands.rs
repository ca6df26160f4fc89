//! The chat commands both surfaces share — `/new`, `/reset`, `/stop`, `/model`, `/think`, `/status`,
//! `/usage`, `/compact`, `/help` — recognised and answered here, before a message could become a
//! turn: OpenClaw handles its own slash commands in its gateway, which the embedded runner does not
//! run, so without this they would reach the model as plain text.
//!
//! A message is a command only when its first word is one of these names (`/name@bot` as Telegram
//! menus send it); any other `/word` goes to the model as text (OpenClaw skills are invoked that way).
//! Commands and their answers are not stored in the conversation's history. `/compact` is the one
//! command that queues work: a compaction turn (`TurnKind::Compact`), answered when it is done.

use std::sync::Arc;

use crate::domain::{
    Channel, ConversationSettings, ConversationSettingsUpdate, ReplyTarget, Role, ThinkingLevel,
    Turn, TurnKind,
};
use crate::ids::{ClientMessageId, ConversationId, MessageId, UserId};
use crate::ports::{
    AgentState, AgentStatusSource, ConversationStore, PortError, SettingsStore, TurnQueue,
};
use crate::settings::validate_model_id;

/// What `/model` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRequest {
    /// `/model`: show the conversation's model.
    Show,
    /// `/model list`: the choices.
    List,
    /// `/model default`: back to the user's (or the deployment's) model.
    Default,
    /// `/model <id>`: this model id for this conversation.
    Set(String),
}

/// What `/think` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThinkRequest {
    Show,
    Default,
    Set(ThinkingLevel),
    /// A level OpenClaw does not have (the word as given).
    Invalid(String),
}

/// A command, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    New,
    Reset,
    Stop,
    Model(ModelRequest),
    Think(ThinkRequest),
    Status,
    Usage,
    /// `/compact [focus]`: what the summary should focus on, if anything.
    Compact(Option<String>),
    Help,
}

impl Command {
    /// The command `text` is, or `None` when it is text for the model.
    pub fn parse(text: &str) -> Option<Self> {
        let (name, args) = split_command(text)?;
        Some(match name.as_str() {
            "new" => Command::New,
            "reset" => Command::Reset,
            "stop" => Command::Stop,
            "status" => Command::Status,
            "usage" => Command::Usage,
            "compact" => Command::Compact((!args.is_empty()).then(|| args.to_owned())),
            "help" => Command::Help,
            "model" => Command::Model(match args {
                "" => ModelRequest::Show,
                a if a.eq_ignore_ascii_case("list") => ModelRequest::List,
                a if a.eq_ignore_ascii_case("default") => ModelRequest::Default,
                a => ModelRequest::Set(a.to_owned()),
            }),
            "think" => Command::Think(match args {
                "" => ThinkRequest::Show,
                a if a.eq_ignore_ascii_case("default") => ThinkRequest::Default,
                a => ThinkingLevel::parse(a)
                    .map_or_else(|| ThinkRequest::Invalid(a.to_owned()), ThinkRequest::Set),
            }),
            _ => return None,
        })
    }
}

/// Splits `/name@bot args` into the lower-case name (without `/` and `@bot`) and the trimmed
/// arguments; `None` when `text` does not start with `/`. Telegram's own commands use it too.
pub fn split_command(text: &str) -> Option<(String, &str)> {
    let rest = text.trim().strip_prefix('/')?;
    let (word, args) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(w, a)| (w, a.trim()));
    let name = word.split('@').next().unwrap_or_default();
    (!name.is_empty()).then(|| (name.to_ascii_lowercase(), args))
}

/// Where a command came from: what a command that queues work (`/compact`) needs to tell the user
/// when it is done, on the surface they used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOrigin {
    /// The id of the message that was the command.
    pub client_message_id: ClientMessageId,
    pub channel: Channel,
    /// The Telegram chat it came from.
    pub reply_to: Option<ReplyTarget>,
}

/// A command's answer, to show the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandReply {
    pub text: String,
    /// `/new`: the conversation the user's next messages go to (the surface switches to it).
    pub new_conversation: Option<ConversationId>,
}

impl CommandReply {
    fn say(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            new_conversation: None,
        }
    }
}

/// The help both surfaces show (Telegram adds its own commands).
pub const HELP: &str = "Talk to your OpenClaw agent: just send a message.\n\n\
/new – start a new conversation\n\
/reset – start this conversation's agent session afresh (the history stays readable)\n\
/stop – stop the running answer\n\
/model – this conversation's model; /model list, /model <id>, /model default\n\
/think <off|minimal|low|medium|high|default> – how much the model reasons in this conversation\n\
/status – the agent, this conversation's model and the last turn's cost\n\
/usage – tokens and cost of this conversation so far\n\
/compact [focus] – summarise the older part of this conversation (the agent continues from the summary)\n\
/help – this help\n\n\
Any other /word is sent to the agent as text.";

/// Answers commands for one user and conversation.
#[derive(Clone)]
pub struct ChatCommands {
    conversations: Arc<dyn ConversationStore>,
    queue: Arc<dyn TurnQueue>,
    settings: Arc<dyn SettingsStore>,
    agent: Arc<dyn AgentStatusSource>,
}

/// The model a conversation's turns run with, as the user sees it.
struct EffectiveModel {
    /// `provider/model`, or `None` when no provider is configured anywhere.
    label: Option<String>,
    /// Where it comes from: this conversation, the user's settings or the deployment.
    source: &'static str,
    /// The model id the turn would run without the conversation's own.
    default_id: Option<String>,
}

impl ChatCommands {
    pub fn new(
        conversations: Arc<dyn ConversationStore>,
        queue: Arc<dyn TurnQueue>,
        settings: Arc<dyn SettingsStore>,
        agent: Arc<dyn AgentStatusSource>,
    ) -> Self {
        Self {
            conversations,
            queue,
            settings,
            agent,
        }
    }

    /// Runs `command` in `conversation`, sent as `origin`. Fails only when storage (or the queue) does.
    pub async fn run(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        command: Command,
        origin: CommandOrigin,
    ) -> Result<CommandReply, PortError> {
        let update = |u: ConversationSettingsUpdate| async move {
            self.conversations
                .update_conversation_settings(user, conversation, &u)
                .await
        };
        Ok(match command {
            Command::Help => CommandReply::say(HELP),
            Command::New => CommandReply {
                text: "Started a new conversation. What's on your mind?".into(),
                new_conversation: Some(ConversationId::generate()),
            },
            Command::Reset => {
                update(ConversationSettingsUpdate {
                    fresh_session: Some(true),
                    ..Default::default()
                })
                .await?;
                CommandReply::say(
                    "The agent starts this conversation afresh with your next message: it will not \
                     remember what was said before. The history stays here to read.",
                )
            }
            Command::Stop => CommandReply::say(if self.queue.cancel(user, conversation).await? {
                "Stopping the running answer."
            } else {
                "Nothing is running in this conversation."
            }),
            Command::Compact(instructions) => {
                // Queued like a turn, so it waits for a running turn of the conversation and runs
                // under its lease; the processor answers with a notice when it is done.
                self.queue
                    .enqueue(Turn {
                        user_id: user.clone(),
                        conversation_id: conversation.clone(),
                        user_message_id: MessageId::generate(),
                        client_message_id: origin.client_message_id,
                        prompt: instructions.unwrap_or_default(),
                        channel: origin.channel,
                        reply_to: origin.reply_to,
                        kind: TurnKind::Compact,
                    })
                    .await?;
                CommandReply::say(
                    "Compacting this conversation: the agent summarises its older part and \
                     continues from the summary. You will be told when it is done.",
                )
            }
            Command::Model(request) => self.model(user, conversation, request).await?,
            Command::Think(request) => {
                let (level, text) = match request {
                    ThinkRequest::Show => {
                        let current = self.stored(user, conversation).await?.thinking;
                        return Ok(CommandReply::say(format!(
                            "Thinking in this conversation: {}. Change it with /think <off|minimal|low|medium|high|default>.",
                            thinking_label(current)
                        )));
                    }
                    ThinkRequest::Invalid(word) => {
                        return Ok(CommandReply::say(format!(
                            "There is no thinking level {word:?}: use off, minimal, low, medium, high or default."
                        )));
                    }
                    ThinkRequest::Default => (None, "Thinking back to the model's default.".into()),
                    ThinkRequest::Set(level) => (
                        Some(level),
                        format!("Thinking set to {} for this conversation.", level.as_str()),
                    ),
                };
                update(ConversationSettingsUpdate {
                    thinking: Some(level),
                    ..Default::default()
                })
                .await?;
                CommandReply::say(text)
            }
            Command::Status => CommandReply::say(self.status(user, conversation).await?),
            Command::Usage => CommandReply::say(self.usage(user, conversation).await?),
        })
    }

    async fn stored(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<ConversationSettings, PortError> {
        self.conversations
            .conversation_settings(user, conversation)
            .await
    }

    async fn effective_model(
        &self,
        user: &UserId,
        own: Option<&str>,
    ) -> Result<EffectiveModel, PortError> {
        let (provider, default_id, source) = match self.settings.model_settings(user).await? {
            Some(chosen) => (
                Some(chosen.provider.to_string()),
                Some(chosen.model),
                "your settings",
            ),
            None => match self.agent.status().model {
                Some(label) => match label.split_once('/') {
                    Some((p, m)) => (Some(p.to_owned()), Some(m.to_owned()), "the deployment"),
                    None => (None, Some(label), "the deployment"),
                },
                None => (None, None, "nowhere"),
            },
        };
        let (id, source) = match own {
            Some(own) => (Some(own.to_owned()), "this conversation"),
            None => (default_id.clone(), source),
        };
        let label = id.map(|id| match &provider {
            Some(p) => format!("{p}/{id}"),
            None => id,
        });
        Ok(EffectiveModel {
            label,
            source,
            default_id,
        })
    }

    async fn model(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        request: ModelRequest,
    ) -> Result<CommandReply, PortError> {
        let own = self.stored(user, conversation).await?.model;
        let effective = self.effective_model(user, own.as_deref()).await?;
        let set = |model: Option<String>| ConversationSettingsUpdate {
            model: Some(model),
            ..Default::default()
        };
        Ok(CommandReply::say(match request {
            ModelRequest::Show => match effective.label {
                Some(label) => format!(
                    "Model of this conversation: {label} (from {}). /model list shows the choices.",
                    effective.source
                ),
                None => "No model is configured: choose one in Settings.".into(),
            },
            ModelRequest::List => {
                let mut lines = vec!["Models for this conversation:".to_owned()];
                if let Some(id) = &effective.default_id {
                    lines.push(format!("• {id} (the default) – /model default"));
                }
                if let Some(own) = own.filter(|o| Some(o) != effective.default_id.as_ref()) {
                    lines.push(format!("• {own} (chosen here)"));
                }
                lines.push(
                    "Any other model id of the same provider works too: /model <id>. The provider \
                     itself is chosen in Settings."
                        .into(),
                );
                lines.join("\n")
            }
            ModelRequest::Default => {
                self.conversations
                    .update_conversation_settings(user, conversation, &set(None))
                    .await?;
                "This conversation uses the default model again.".into()
            }
            ModelRequest::Set(id) => match validate_model_id(&id) {
                Ok(id) => {
                    self.conversations
                        .update_conversation_settings(user, conversation, &set(Some(id.clone())))
                        .await?;
                    format!("This conversation now uses {id}, from your next message on.")
                }
                Err(e) => format!("That is not a model id: {e}."),
            },
        }))
    }

    async fn status(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<String, PortError> {
        let state = match self.agent.status().state {
            AgentState::Stopped => "asleep (your next message wakes it up)",
            AgentState::Starting => "waking up",
            AgentState::Ready => "awake",
        };
        let own = self.stored(user, conversation).await?;
        let model = self.effective_model(user, own.model.as_deref()).await?;
        let model = match model.label {
            Some(label) => format!("{label} (from {})", model.source),
            None => "none configured: turns will fail until a provider is set".into(),
        };
        let last = self
            .replies(user, conversation)
            .await?
            .last()
            .map(|cost| match cost.1 {
                Some(cost) => format!("${cost:.4}"),
                None => "cost not reported by the provider".into(),
            })
            .unwrap_or_else(|| "none yet in this conversation".into());
        Ok(format!(
            "Agent: {state}\nModel: {model}\nThinking: {}\nLast turn: {last}",
            thinking_label(own.thinking)
        ))
    }

    async fn usage(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<String, PortError> {
        let replies = self.replies(user, conversation).await?;
        if replies.is_empty() {
            return Ok("No answers in this conversation yet.".into());
        }
        let (input, output) = replies
            .iter()
            .fold((0, 0), |(i, o), r| (i + r.0.0, o + r.0.1));
        let priced: Vec<f64> = replies.iter().filter_map(|r| r.1).collect();
        let cost = if priced.len() == replies.len() {
            format!("${:.4}", priced.iter().sum::<f64>())
        } else {
            format!(
                "${:.4} for the {} of {} answers whose provider reported a cost",
                priced.iter().sum::<f64>(),
                priced.len(),
                replies.len()
            )
        };
        Ok(format!(
            "This conversation so far: {} answers, {input} input and {output} output tokens, {cost}.",
            replies.len()
        ))
    }

    /// Every reply of the conversation, oldest first: its (input, output) tokens and its cost.
    async fn replies(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<Vec<((u64, u64), Option<f64>)>, PortError> {
        const PAGE: usize = 200;
        let mut replies = Vec::new();
        let mut before: Option<MessageId> = None;
        loop {
            let page = match self
                .conversations
                .list_messages(user, conversation, PAGE, before.as_ref())
                .await
            {
                Ok(page) => page,
                Err(PortError::NotFound) => break,
                Err(e) => return Err(e),
            };
            let full = page.len() == PAGE;
            before = page.first().map(|m| m.id.clone());
            let older = page
                .into_iter()
                .filter(|m| m.role == Role::Assistant)
                .map(|m| {
                    let usage = m.usage.unwrap_or_default();
                    ((usage.input_tokens, usage.output_tokens), m.cost_usd)
                });
            replies.splice(0..0, older);
            if !full {
                break;
            }
        }
        Ok(replies)
    }
}

fn thinking_label(level: Option<ThinkingLevel>) -> &'static str {
    level.map_or("the model's default", ThinkingLevel::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_recognised_with_a_bot_name_and_arguments() {
        assert_eq!(Command::parse(" /NEW@my_bot "), Some(Command::New));
        assert_eq!(Command::parse("/reset"), Some(Command::Reset));
        assert_eq!(Command::parse("/stop"), Some(Command::Stop));
        assert_eq!(
            Command::parse("/model"),
            Some(Command::Model(ModelRequest::Show))
        );
        assert_eq!(
            Command::parse("/model LIST"),
            Some(Command::Model(ModelRequest::List))
        );
        assert_eq!(
            Command::parse("/model  fake-b "),
            Some(Command::Model(ModelRequest::Set("fake-b".into())))
        );
        assert_eq!(
            Command::parse("/model default"),
            Some(Command::Model(ModelRequest::Default))
        );
        assert_eq!(
            Command::parse("/think High"),
            Some(Command::Think(ThinkRequest::Set(ThinkingLevel::High)))
        );
        assert_eq!(
            Command::parse("/think"),
            Some(Command::Think(ThinkRequest::Show))
        );
        assert_eq!(
            Command::parse("/think hard"),
            Some(Command::Think(ThinkRequest::Invalid("hard".into())))
        );
        assert_eq!(Command::parse("/usage"), Some(Command::Usage));
        assert_eq!(Command::parse("/status@b"), Some(Command::Status));
        assert_eq!(Command::parse("/help"), Some(Command::Help));
        assert_eq!(Command::parse("/compact"), Some(Command::Compact(None)));
        assert_eq!(
            Command::parse("/compact  the API names "),
            Some(Command::Compact(Some("the API names".into())))
        );
    }

    #[test]
    fn other_slash_words_and_plain_text_go_to_the_model() {
        for text in [
            "/frobnicate now",
            "hello /new",
            "what is 2/3?",
            "/",
            "/ new",
        ] {
            assert_eq!(Command::parse(text), None, "{text:?}");
        }
    }
}
