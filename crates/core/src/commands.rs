//! The chat commands both surfaces share — `/new`, `/reset`, `/stop`, `/model`, `/think`, `/status`,
//! `/usage`, `/compact`, `/skills`, `/skill`, `/help` — recognised and answered here, before a message
//! could become a turn: OpenClaw handles its own slash commands in its gateway, which the embedded
//! runner does not run, so without this they would reach the model as plain text.
//!
//! `/skill <name> [request]` is the one command that goes on to the agent: once the user's skill is
//! found enabled and invocable ([`CommandReply::pass_on`]), the message is submitted as usual, and its
//! turn's prompt is expanded the way OpenClaw's gateway expands a skill invocation
//! ([`expand_skill_invocation`]).
//!
//! A message is a command only when its first word is one of these names (`/name@bot` as Telegram
//! menus send it); any other `/word` goes to the model as text.
//! Commands and their answers are not stored in the conversation's history. `/compact` is the one
//! command that queues work: a compaction turn (`TurnKind::Compact`), answered when it is done.
//!
//! The web app's model and thinking picker reads and changes the same settings over REST
//! ([`ChatCommands::settings_view`], [`ChatCommands::change_settings`]), so it offers what `/model list`
//! lists and shows what `/status` says.

use std::sync::Arc;

use crate::domain::{
    Channel, ConversationSettings, ConversationSettingsUpdate, ReplyTarget, Role, ThinkingLevel,
    Turn, TurnKind,
};
use crate::ids::{ClientMessageId, ConversationId, MessageId, UserId};
use crate::ports::{
    AgentState, AgentStatusSource, ConversationStore, PortError, SettingsStore, TurnQueue,
};
use crate::protocol::{ConversationSettingsView, ModelChoice, ModelSource};
use crate::settings::validate_model_id;
use crate::skills::{SKILL_FILE, SkillError, SkillSummary, Skills, skill_path};

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
    /// `/skills`: the user's skills.
    Skills,
    /// `/skill <name> [request]`: run the user's skill `name` (empty: none named).
    Skill(String),
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
            "skills" => Command::Skills,
            "skill" => Command::Skill(
                args.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            ),
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
    /// `/model` and `/model list`: the model ids to offer as choices (a surface with buttons shows
    /// one per id): the default one, then the conversation's own when it differs.
    pub models: Vec<String>,
    /// `/skill` of a skill that can run: the message goes on to the agent as an ordinary one (its
    /// turn expands it), and `text` is not shown.
    pub pass_on: bool,
}

impl CommandReply {
    fn say(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            new_conversation: None,
            models: Vec::new(),
            pass_on: false,
        }
    }
}

/// The prompt a `/skill <name> …` message becomes for the agent, exactly as OpenClaw's gateway expands
/// an explicit skill invocation (`expandExplicitSkillReferences`, with the path it gives a skill the
/// model is not shown): the `SKILL.md` path is relative to the workspace, the agent's working folder.
/// `None` for any other message.
pub fn expand_skill_invocation(message: &str) -> Option<String> {
    let Some(Command::Skill(name)) = Command::parse(message) else {
        return None;
    };
    if name.is_empty() {
        return None;
    }
    Some(format!(
        "Use the following explicitly referenced skills for this request. Read each skill's \
         SKILL.md before acting:\n- {name} ({SKILL_FILE}: {path})\n\nUser request:\n{message}",
        path = skill_path(&name, SKILL_FILE)
    ))
}

/// A command as the help and Telegram's command menu show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandInfo {
    /// The name, without `/`.
    pub name: &'static str,
    /// What may follow the name, as the help shows it (` <id>`), or nothing.
    pub usage: &'static str,
    /// What it does, in a few words: the command menu's description.
    pub summary: &'static str,
    /// More of the help line after the summary (the forms of `/model`), or nothing.
    pub details: &'static str,
}

impl CommandInfo {
    /// `/name usage – summary details`, one line of the help.
    pub fn help_line(&self) -> String {
        format!(
            "/{}{} – {}{}",
            self.name, self.usage, self.summary, self.details
        )
    }
}

/// The commands users are told about, in the help's order: the one list the help and Telegram's
/// command menu (`setMyCommands`) are made from.
pub const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: "new",
        usage: "",
        summary: "start a new conversation",
        details: "",
    },
    CommandInfo {
        name: "reset",
        usage: "",
        summary: "start this conversation's agent session afresh",
        details: " (the history stays readable)",
    },
    CommandInfo {
        name: "stop",
        usage: "",
        summary: "stop the running answer",
        details: "",
    },
    CommandInfo {
        name: "model",
        usage: "",
        summary: "this conversation's model",
        details: "; /model list, /model <id>, /model default",
    },
    CommandInfo {
        name: "think",
        usage: " <off|minimal|low|medium|high|default>",
        summary: "how much the model reasons in this conversation",
        details: "",
    },
    CommandInfo {
        name: "status",
        usage: "",
        summary: "the agent, this conversation's model and the last turn's cost",
        details: "",
    },
    CommandInfo {
        name: "usage",
        usage: "",
        summary: "tokens and cost of this conversation so far",
        details: "",
    },
    CommandInfo {
        name: "compact",
        usage: " [focus]",
        summary: "summarise the older part of this conversation",
        details: " (the agent continues from the summary)",
    },
    CommandInfo {
        name: "skills",
        usage: "",
        summary: "your skills",
        details: " (add them on the Skills page)",
    },
    CommandInfo {
        name: "skill",
        usage: " <name> [request]",
        summary: "run one of your skills",
        details: "",
    },
    CommandInfo {
        name: "help",
        usage: "",
        summary: "this help",
        details: "",
    },
];

/// The help both surfaces show (Telegram adds its own commands).
pub fn help() -> String {
    let lines: Vec<String> = COMMANDS.iter().map(CommandInfo::help_line).collect();
    format!(
        "Talk to your OpenClaw agent: just send a message.\n\n{}\n\n\
         Any other /word is sent to the agent as text.",
        lines.join("\n")
    )
}

/// What `/skills` and `/skill` answer where there are no skills.
const NO_SKILLS_HERE: &str = "Skills are not available in this deployment.";

/// Answers commands for one user and conversation, and shows and changes a conversation's settings.
#[derive(Clone)]
pub struct ChatCommands {
    conversations: Arc<dyn ConversationStore>,
    queue: Arc<dyn TurnQueue>,
    settings: Arc<dyn SettingsStore>,
    agent: Arc<dyn AgentStatusSource>,
    /// The users' skills, for `/skills` and `/skill`; `None` where the deployment has no workspaces.
    skills: Option<Skills>,
}

/// The model a conversation's turns run with, as the user sees it.
struct EffectiveModel {
    /// `provider/model`, or `None` when no provider is configured anywhere.
    label: Option<String>,
    source: ModelSource,
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
            skills: None,
        }
    }

    /// Answers `/skills` and `/skill` from the users' `skills`.
    pub fn with_skills(mut self, skills: Skills) -> Self {
        self.skills = Some(skills);
        self
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
            Command::Help => CommandReply::say(help()),
            Command::New => CommandReply {
                new_conversation: Some(ConversationId::generate()),
                ..CommandReply::say("Started a new conversation. What's on your mind?")
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
            Command::Skills => CommandReply::say(self.list_skills(user).await?),
            Command::Skill(name) => self.skill(user, &name).await?,
        })
    }

    /// The user's skills, by name; `None` where there are no skills.
    async fn skill_list(&self, user: &UserId) -> Result<Option<Vec<SkillSummary>>, PortError> {
        let Some(skills) = &self.skills else {
            return Ok(None);
        };
        match skills.list(user).await {
            Ok(list) => Ok(Some(list)),
            Err(SkillError::Storage(e)) => Err(e),
            Err(other) => Err(PortError::backend(other)),
        }
    }

    async fn list_skills(&self, user: &UserId) -> Result<String, PortError> {
        let Some(list) = self.skill_list(user).await? else {
            return Ok(NO_SKILLS_HERE.into());
        };
        if list.is_empty() {
            return Ok(
                "You have no skills yet. Add one on the Skills page, or ask the agent to \
                       write one."
                    .into(),
            );
        }
        let lines: Vec<String> = list
            .iter()
            .map(|skill| {
                let mark = if skill.enabled {
                    "✓"
                } else {
                    "✗ (disabled)"
                };
                let description = skill
                    .meta
                    .as_ref()
                    .map_or("(no readable SKILL.md)", |m| m.description.as_str());
                format!("{mark} {} – {description}", skill.name)
            })
            .collect();
        Ok(format!(
            "Your skills:\n{}\n\nRun one with /skill <name> [request].",
            lines.join("\n")
        ))
    }

    /// `/skill <name>`: passed on when the user has that skill enabled and invocable, else refused
    /// with the ones they may run.
    async fn skill(&self, user: &UserId, name: &str) -> Result<CommandReply, PortError> {
        let Some(list) = self.skill_list(user).await? else {
            return Ok(CommandReply::say(NO_SKILLS_HERE));
        };
        let runnable: Vec<&str> = list
            .iter()
            .filter(|s| s.enabled && s.meta.as_ref().is_some_and(|m| m.user_invocable))
            .map(|s| s.name.as_str())
            .collect();
        if runnable.contains(&name) {
            return Ok(CommandReply {
                pass_on: true,
                ..CommandReply::say("")
            });
        }
        let available = if runnable.is_empty() {
            "You have no skills to run (add one on the Skills page).".to_owned()
        } else {
            format!("Available: {}.", runnable.join(", "))
        };
        Ok(CommandReply::say(if name.is_empty() {
            format!("Which skill? Use /skill <name> [request]. {available}")
        } else {
            format!("There is no enabled skill named {name:?}. {available}")
        }))
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
                ModelSource::Settings,
            ),
            None => match self.agent.status().model {
                Some(label) => match label.split_once('/') {
                    Some((p, m)) => (
                        Some(p.to_owned()),
                        Some(m.to_owned()),
                        ModelSource::Deployment,
                    ),
                    None => (None, Some(label), ModelSource::Deployment),
                },
                None => (None, None, ModelSource::Unconfigured),
            },
        };
        let (id, source) = match own {
            Some(own) => (Some(own.to_owned()), ModelSource::Conversation),
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
        let choices: Vec<String> = effective
            .default_id
            .iter()
            .chain(
                own.iter()
                    .filter(|o| Some(*o) != effective.default_id.as_ref()),
            )
            .cloned()
            .collect();
        let offers_choices = matches!(request, ModelRequest::Show | ModelRequest::List);
        let mut reply = CommandReply::say(match request {
            ModelRequest::Show => match effective.label {
                Some(label) => format!(
                    "Model of this conversation: {label} (from {}). /model list shows the choices.",
                    source_label(effective.source)
                ),
                None => "No model is configured: choose one in Settings.".into(),
            },
            ModelRequest::List => {
                let mut lines = vec!["Models for this conversation:".to_owned()];
                lines.extend(
                    model_choices(effective.default_id.as_deref(), own.as_deref())
                        .into_iter()
                        .map(|choice| match choice.default {
                            true => format!("• {} (the default) – /model default", choice.id),
                            false => format!("• {} (chosen here)", choice.id),
                        }),
                );
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
        });
        if offers_choices {
            reply.models = choices;
        }
        Ok(reply)
    }

    /// A conversation's settings as the web app's picker shows them; the defaults for a conversation
    /// with none (one without messages yet included).
    pub async fn settings_view(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<ConversationSettingsView, PortError> {
        let own = self.stored(user, conversation).await?;
        let effective = self.effective_model(user, own.model.as_deref()).await?;
        Ok(ConversationSettingsView {
            models: model_choices(effective.default_id.as_deref(), own.model.as_deref()),
            model: own.model,
            thinking: own.thinking,
            effective_model: effective.label,
            model_source: effective.source,
            default_model: effective.default_id,
            thinking_levels: ThinkingLevel::ALL.to_vec(),
        })
    }

    /// Stores a (validated) change of a conversation's model or thinking level, as `/model` and `/think`
    /// do, and returns the settings after it.
    pub async fn change_settings(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        change: &ConversationSettingsUpdate,
    ) -> Result<ConversationSettingsView, PortError> {
        self.conversations
            .update_conversation_settings(user, conversation, change)
            .await?;
        self.settings_view(user, conversation).await
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
            Some(label) => format!("{label} (from {})", source_label(model.source)),
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

/// The models `/model list` offers: the default one, and the conversation's own when it is another.
fn model_choices(default_id: Option<&str>, own: Option<&str>) -> Vec<ModelChoice> {
    let default = default_id.map(|id| ModelChoice {
        id: id.to_owned(),
        default: true,
    });
    let own = own
        .filter(|o| Some(*o) != default_id)
        .map(|id| ModelChoice {
            id: id.to_owned(),
            default: false,
        });
    default.into_iter().chain(own).collect()
}

fn source_label(source: ModelSource) -> &'static str {
    match source {
        ModelSource::Conversation => "this conversation",
        ModelSource::Settings => "your settings",
        ModelSource::Deployment => "the deployment",
        ModelSource::Unconfigured => "nowhere",
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
    fn model_choices_are_the_default_and_a_different_own_model() {
        let ids = |choices: Vec<ModelChoice>| -> Vec<(String, bool)> {
            choices.into_iter().map(|c| (c.id, c.default)).collect()
        };
        assert_eq!(
            ids(model_choices(Some("fake-model"), None)),
            [("fake-model".to_owned(), true)]
        );
        assert_eq!(
            ids(model_choices(Some("fake-model"), Some("fake-b"))),
            [
                ("fake-model".to_owned(), true),
                ("fake-b".to_owned(), false)
            ]
        );
        assert_eq!(
            ids(model_choices(Some("fake-model"), Some("fake-model"))),
            [("fake-model".to_owned(), true)],
            "the default chosen explicitly is listed once"
        );
        assert_eq!(
            ids(model_choices(None, Some("fake-b"))),
            [("fake-b".to_owned(), false)]
        );
        assert!(model_choices(None, None).is_empty());
    }

    #[test]
    fn every_listed_command_is_one_that_parses() {
        for info in COMMANDS {
            assert!(
                Command::parse(&format!("/{}", info.name)).is_some(),
                "{info:?}"
            );
        }
        assert!(help().contains("\n/think <off|minimal|low|medium|high|default> – how much"));
    }

    #[test]
    fn a_skill_invocation_becomes_openclaw_s_explicit_skill_prompt() {
        assert_eq!(Command::parse("/skills"), Some(Command::Skills));
        assert_eq!(
            Command::parse("/skill zeta-skill tidy my notes"),
            Some(Command::Skill("zeta-skill".into()))
        );
        assert_eq!(
            Command::parse("/skill"),
            Some(Command::Skill(String::new()))
        );
        assert_eq!(
            expand_skill_invocation("/skill zeta-skill tidy my notes").as_deref(),
            Some(
                "Use the following explicitly referenced skills for this request. Read each \
                 skill's SKILL.md before acting:\n- zeta-skill (SKILL.md: \
                 skills/zeta-skill/SKILL.md)\n\nUser request:\n/skill zeta-skill tidy my notes"
            )
        );
        for other in ["/skill", "/skills", "tidy my notes", "/zeta-skill now"] {
            assert_eq!(expand_skill_invocation(other), None, "{other:?}");
        }
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
