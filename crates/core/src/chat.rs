//! The *submit a message* use case: store the user's message, queue its turn, acknowledge — or, for a
//! chat command ([`crate::commands`]), answer it at once without a turn. It never waits for the agent,
//! so a gateway (a WebSocket handler, a 30-second Lambda) returns at once.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::attachments::{AttachmentError, Attachments, title_from_attachments};
use crate::commands::{ChatCommands, Command, CommandOrigin, CommandReply};
use crate::domain::{Channel, NewUserMessage, ReplyTarget, Rerun, Role, Turn, TurnKind};
use crate::ids::{AttachmentId, ClientMessageId, ConversationId, MessageId, UserId};
use crate::ports::{
    AgentStatusSource, Appended, ClientPush, ConversationStore, PortError, SettingsStore, TurnQueue,
};
use crate::protocol::{
    ClientFrame, ErrorCode, FrameError, ServerFrame, TurnStatus, parse_client_frame,
    validate_message,
};
use crate::skills::Skills;

/// Accepts user messages on any channel.
#[derive(Clone)]
pub struct ChatService {
    conversations: Arc<dyn ConversationStore>,
    queue: Arc<dyn TurnQueue>,
    push: Arc<dyn ClientPush>,
    commands: ChatCommands,
    /// Where the attachments a message names are checked and linked; without it, a message with
    /// attachments is refused.
    attachments: Option<Attachments>,
}

/// A user message to submit; ids are already validated by their types.
#[derive(Debug, Clone)]
pub struct Submission {
    pub conversation_id: ConversationId,
    pub client_message_id: ClientMessageId,
    pub text: String,
    pub channel: Channel,
    /// Where the reply goes besides the web connections.
    pub reply_to: Option<ReplyTarget>,
    /// Uploaded attachments that go with the message (see [`Attachments`]).
    pub attachments: Vec<AttachmentId>,
}

impl ChatService {
    /// `settings` and `agent` are what the commands report (`/model`, `/status`).
    pub fn new(
        conversations: Arc<dyn ConversationStore>,
        queue: Arc<dyn TurnQueue>,
        push: Arc<dyn ClientPush>,
        settings: Arc<dyn SettingsStore>,
        agent: Arc<dyn AgentStatusSource>,
    ) -> Self {
        Self {
            commands: ChatCommands::new(conversations.clone(), queue.clone(), settings, agent),
            conversations,
            queue,
            push,
            attachments: None,
        }
    }

    /// Answers `/skills` and `/skill` from the users' `skills`.
    pub fn with_skills(mut self, skills: Skills) -> Self {
        self.commands = self.commands.with_skills(skills);
        self
    }

    /// Lets messages carry attachments, checked and linked through `attachments`.
    pub fn with_attachments(mut self, attachments: Attachments) -> Self {
        self.attachments = Some(attachments);
        self
    }

    /// Where messages' attachments are stored, for a surface that receives the files itself
    /// (Telegram); `None` when messages may not carry attachments.
    pub fn attachments(&self) -> Option<&Attachments> {
        self.attachments.as_ref()
    }

    /// The commands, for a surface that recognises them itself (Telegram, beside its own).
    pub fn commands(&self) -> &ChatCommands {
        &self.commands
    }

    /// Handles one frame a user's connection sent (local WebSocket or API Gateway). Returns the frame
    /// to answer on that connection only (a `pong` or an `error`), if any; everything else reaches all
    /// of the user's connections through [`ClientPush`].
    pub async fn handle_frame(&self, user: &UserId, text: &str) -> Option<ServerFrame> {
        let frame = match parse_client_frame(text) {
            Ok(frame) => frame,
            Err(e) => return Some(e.into_frame()),
        };
        match frame {
            ClientFrame::Ping => Some(ServerFrame::Pong),
            ClientFrame::SendMessage {
                conversation_id,
                message,
                client_message_id,
                attachments,
            } => {
                if let Some(command) = Command::parse(&message) {
                    let origin = CommandOrigin {
                        client_message_id: client_message_id.clone(),
                        channel: Channel::Web,
                        reply_to: None,
                    };
                    return Some(
                        match self
                            .commands
                            .run(user, &conversation_id, command, origin)
                            .await
                        {
                            Ok(reply) if reply.pass_on => {
                                let submission = Submission {
                                    conversation_id,
                                    client_message_id,
                                    text: message,
                                    channel: Channel::Web,
                                    reply_to: None,
                                    attachments,
                                };
                                return self
                                    .submit(user, submission)
                                    .await
                                    .err()
                                    .map(FrameError::into_frame);
                            }
                            Ok(reply) => notice(conversation_id, client_message_id, reply),
                            Err(e) => {
                                tracing::error!(error = %e, "a command failed");
                                ServerFrame::Error {
                                    code: ErrorCode::Internal,
                                    message: "the command failed; please retry".into(),
                                    client_message_id: Some(client_message_id.to_string()),
                                    conversation_id: Some(conversation_id.to_string()),
                                }
                            }
                        },
                    );
                }
                let submission = Submission {
                    conversation_id,
                    client_message_id,
                    text: message,
                    channel: Channel::Web,
                    reply_to: None,
                    attachments,
                };
                self.submit(user, submission)
                    .await
                    .err()
                    .map(FrameError::into_frame)
            }
            ClientFrame::Regenerate {
                conversation_id,
                message_id,
                client_message_id,
            } => self
                .rerun(
                    user,
                    conversation_id,
                    client_message_id,
                    RerunRequest::Regenerate { reply: message_id },
                )
                .await
                .err()
                .map(FrameError::into_frame),
            ClientFrame::EditMessage {
                conversation_id,
                message_id,
                message,
                client_message_id,
            } => self
                .rerun(
                    user,
                    conversation_id,
                    client_message_id,
                    RerunRequest::Edit {
                        replaces: message_id,
                        text: message,
                    },
                )
                .await
                .err()
                .map(FrameError::into_frame),
            ClientFrame::Cancel { conversation_id } => {
                match self.cancel(user, &conversation_id).await {
                    Ok(true) => None,
                    Ok(false) => Some(ServerFrame::Error {
                        code: ErrorCode::BadRequest,
                        message: "no turn is running in this conversation".into(),
                        client_message_id: None,
                        conversation_id: Some(conversation_id.to_string()),
                    }),
                    Err(e) => Some(e.into_frame()),
                }
            }
        }
    }

    /// Stores the message and queues its turn, then pushes `ack` and `status: queued` to the user.
    ///
    /// Idempotent on the client message id: a repeat is acknowledged with the first message's id, and
    /// re-queued only while it has no reply (the turn processor skips answered messages, so a repeat
    /// can never be answered twice).
    pub async fn submit(&self, user: &UserId, s: Submission) -> Result<MessageId, FrameError> {
        let fail = |code: ErrorCode, message: String| FrameError {
            code,
            message,
            client_message_id: Some(s.client_message_id.to_string()),
            conversation_id: Some(s.conversation_id.to_string()),
        };
        validate_message(&s.text, !s.attachments.is_empty())
            .map_err(|e| fail(e.code, e.message))?;
        let attachments = match (&self.attachments, s.attachments.is_empty()) {
            (_, true) => None,
            (Some(attachments), false) => Some(attachments),
            (None, false) => {
                return Err(fail(
                    ErrorCode::BadRequest,
                    "attachments are not accepted here".into(),
                ));
            }
        };
        if let Some(attachments) = attachments {
            let sent = attachments
                .check_for_message(user, &s.conversation_id, &s.attachments)
                .await
                .map_err(|e| refused_attachments(e, &fail))?;
            // A conversation is titled from its first message; one without text, from what it sent.
            if s.text.trim().is_empty() {
                self.title_new_conversation(
                    user,
                    &s.conversation_id,
                    &title_from_attachments(&sent),
                )
                .await
                .map_err(|e| refused_attachments(e.into(), &fail))?;
            }
        }
        let appended = self
            .conversations
            .append_user_message(
                user,
                &s.conversation_id,
                NewUserMessage {
                    id: MessageId::generate(),
                    client_message_id: s.client_message_id.clone(),
                    content: s.text.clone(),
                    channel: s.channel,
                    created_at: OffsetDateTime::now_utc(),
                },
            )
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "storing a user message failed");
                fail(
                    ErrorCode::Internal,
                    "the message could not be stored; please retry".into(),
                )
            })?;
        if let Some(attachments) = attachments {
            // After the message is stored, before its turn is queued: the turn finds them linked. A
            // resent message links them to itself again, which changes nothing.
            attachments
                .link(
                    user,
                    &s.conversation_id,
                    &s.attachments,
                    &appended.message_id,
                )
                .await
                .map_err(|e| refused_attachments(e.into(), &fail))?;
        }
        if !appended.answered {
            let turn = Turn {
                user_id: user.clone(),
                conversation_id: s.conversation_id.clone(),
                user_message_id: appended.message_id.clone(),
                client_message_id: s.client_message_id.clone(),
                prompt: s.text,
                channel: s.channel,
                reply_to: s.reply_to,
                kind: TurnKind::Reply,
            };
            self.queue.enqueue(turn).await.map_err(|e: PortError| {
                tracing::error!(error = %e, "queueing a turn failed");
                fail(
                    ErrorCode::Internal,
                    "the message was stored but could not be queued; send it again with the same id".into(),
                )
            })?;
        }
        self.acknowledge(user, s.client_message_id, s.conversation_id, &appended)
            .await;
        Ok(appended.message_id)
    }

    /// Starts a new version of the conversation's last exchange and queues its turn (regenerate the
    /// last reply, or edit the last user message): only when the conversation's last message is the
    /// reply to its last user message, so never while a turn of it is queued or running. The turn is
    /// an ordinary reply to the (new or same) user message; the processor cuts the superseded
    /// exchange out of the transcript before running it ([`crate::turn`]). Pushes `ack` and `status:
    /// queued` like [`Self::submit`].
    async fn rerun(
        &self,
        user: &UserId,
        conversation_id: ConversationId,
        client_message_id: ClientMessageId,
        request: RerunRequest,
    ) -> Result<MessageId, FrameError> {
        let fail = |code: ErrorCode, message: &str| FrameError {
            code,
            message: message.into(),
            client_message_id: Some(client_message_id.to_string()),
            conversation_id: Some(conversation_id.to_string()),
        };
        let storage = |e: PortError| {
            tracing::error!(error = %e, "starting a new version of an exchange failed");
            fail(
                ErrorCode::Internal,
                "the conversation could not be changed; please retry",
            )
        };
        let last = match self
            .conversations
            .list_messages(user, &conversation_id, 1, None)
            .await
        {
            Ok(mut last) => last.pop(),
            Err(PortError::NotFound) => {
                return Err(fail(
                    ErrorCode::NotFound,
                    "this conversation does not exist",
                ));
            }
            Err(e) => return Err(storage(e)),
        };
        let unanswered = match (&request, last) {
            (RerunRequest::Regenerate { reply }, Some(last))
                if last.role == Role::User && &last.id == reply =>
            {
                Some(last)
            }
            _ => None,
        };
        let (appended, prompt, channel) = match unanswered {
            // Regenerate names the last user message itself, which has no reply: its turn failed (or
            // is still on its way: then the turn queued here finds it answered and is skipped). It is
            // queued again, as Retry does; no new version is made.
            Some(asked) => (
                Appended {
                    message_id: asked.id,
                    duplicate: false,
                    answered: false,
                },
                asked.content,
                asked.channel,
            ),
            None => {
                let (rerun, named) = match request {
                    RerunRequest::Regenerate { reply } => (
                        Rerun::Regenerate {
                            reply: reply.clone(),
                        },
                        reply,
                    ),
                    RerunRequest::Edit { replaces, text } => {
                        let message = NewUserMessage {
                            id: MessageId::generate(),
                            client_message_id: client_message_id.clone(),
                            content: text,
                            channel: Channel::Web,
                            created_at: OffsetDateTime::now_utc(),
                        };
                        (
                            Rerun::Edit {
                                replaces: replaces.clone(),
                                message,
                            },
                            replaces,
                        )
                    }
                };
                let edited = match &rerun {
                    Rerun::Edit { message, .. } => Some(message.content.clone()),
                    Rerun::Regenerate { .. } => None,
                };
                let appended = match self
                    .conversations
                    .supersede_last_exchange(user, &conversation_id, rerun)
                    .await
                {
                    Ok(appended) => appended,
                    Err(PortError::Conflict(_)) => {
                        let why = self
                            .why_not_rerun(user, &conversation_id, &named, edited.is_some())
                            .await
                            .map_err(storage)?;
                        return Err(fail(why.0, why.1));
                    }
                    Err(PortError::NotFound) => {
                        return Err(fail(
                            ErrorCode::NotFound,
                            "this conversation does not exist",
                        ));
                    }
                    Err(e) => return Err(storage(e)),
                };
                // The turn's prompt: the new text, or the user message answered again (now the last).
                let (prompt, channel) = match edited {
                    Some(text) => (text, Channel::Web),
                    None => self
                        .conversations
                        .list_messages(user, &conversation_id, 1, None)
                        .await
                        .map_err(storage)?
                        .pop()
                        .filter(|m| m.id == appended.message_id)
                        .map(|m| (m.content, m.channel))
                        .ok_or_else(|| {
                            fail(
                                ErrorCode::Conflict,
                                "the conversation changed meanwhile; reload it and try again",
                            )
                        })?,
                };
                (appended, prompt, channel)
            }
        };
        if !appended.answered {
            self.queue
                .enqueue(Turn {
                    user_id: user.clone(),
                    conversation_id: conversation_id.clone(),
                    user_message_id: appended.message_id.clone(),
                    client_message_id: client_message_id.clone(),
                    prompt,
                    channel,
                    reply_to: None,
                    kind: TurnKind::Rerun,
                })
                .await
                .map_err(|e: PortError| {
                    tracing::error!(error = %e, "queueing a turn failed");
                    fail(
                        ErrorCode::Internal,
                        "the new version was stored but could not be answered; regenerate it",
                    )
                })?;
        }
        self.acknowledge(user, client_message_id, conversation_id, &appended)
            .await;
        Ok(appended.message_id)
    }

    /// Tells the user's clients their message is stored (`ack`, with its id) and, unless it already
    /// has a reply, that its turn is queued.
    async fn acknowledge(
        &self,
        user: &UserId,
        client_message_id: ClientMessageId,
        conversation_id: ConversationId,
        appended: &Appended,
    ) {
        self.push
            .push(
                user,
                &ServerFrame::Ack {
                    client_message_id,
                    conversation_id: conversation_id.clone(),
                    message_id: appended.message_id.clone(),
                },
            )
            .await;
        if !appended.answered {
            self.push
                .push(
                    user,
                    &ServerFrame::Status {
                        conversation_id,
                        status: TurnStatus::Queued,
                    },
                )
                .await;
        }
    }

    /// Why the store refused to rerun `named` (the reply to regenerate, or with `edit` the message to
    /// edit): the error code and message to show.
    async fn why_not_rerun(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        named: &MessageId,
        edit: bool,
    ) -> Result<(ErrorCode, &'static str), PortError> {
        let last = self
            .conversations
            .list_messages(user, conversation, 2, None)
            .await?;
        Ok(match last.as_slice() {
            [.., last] if last.role == Role::User => (
                ErrorCode::Conflict,
                "the agent is still answering (or failed to answer) the last message; wait for its \
                 reply or send it again",
            ),
            [.., question, reply] if (if edit { &question.id } else { &reply.id }) == named => (
                ErrorCode::Conflict,
                "the conversation changed meanwhile; reload it and try again",
            ),
            _ => (
                ErrorCode::BadRequest,
                "only the last message and the last reply of a conversation can be edited or \
                 regenerated",
            ),
        })
    }

    /// Creates the conversation with `title` unless it exists (then it keeps its own).
    async fn title_new_conversation(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        title: &str,
    ) -> Result<(), PortError> {
        match self
            .conversations
            .create_conversation(user, conversation, title)
            .await
        {
            Ok(()) | Err(PortError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Runs the conversation's last message again when it has no answer (its turn failed or was
    /// stopped): the same stored message is queued as a new turn, so the history does not repeat it;
    /// a rerun ([`TurnKind::Rerun`]), since the message may be a new version whose rerun failed. From a chat, that turn answers the whole burst the message ends ([`crate::turn`]).
    /// `client_message_id` names this attempt in the frames. Returns the message's id, or `None`
    /// when the conversation's last message is an answer (nothing to retry).
    pub async fn retry(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        client_message_id: ClientMessageId,
        reply_to: Option<ReplyTarget>,
    ) -> Result<Option<MessageId>, PortError> {
        let last = self
            .conversations
            .list_messages(user, conversation, 1, None)
            .await?
            .pop();
        let Some(message) = last.filter(|m| m.role == Role::User) else {
            return Ok(None);
        };
        self.queue
            .enqueue(Turn {
                user_id: user.clone(),
                conversation_id: conversation.clone(),
                user_message_id: message.id.clone(),
                client_message_id,
                prompt: message.content,
                channel: message.channel,
                reply_to,
                kind: TurnKind::Rerun,
            })
            .await?;
        self.push
            .push(
                user,
                &ServerFrame::Status {
                    conversation_id: conversation.clone(),
                    status: TurnStatus::Queued,
                },
            )
            .await;
        Ok(Some(message.id))
    }

    /// Asks the running turn of a conversation to stop. Returns whether one was running.
    pub async fn cancel(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<bool, FrameError> {
        self.queue.cancel(user, conversation).await.map_err(|e| {
            tracing::error!(error = %e, "cancelling a turn failed");
            FrameError {
                code: ErrorCode::Internal,
                message: "the turn could not be cancelled".into(),
                client_message_id: None,
                conversation_id: Some(conversation.to_string()),
            }
        })
    }
}

/// What a client asked to rerun, before it is checked against the conversation.
enum RerunRequest {
    Regenerate { reply: MessageId },
    Edit { replaces: MessageId, text: String },
}

/// The error for attachments a message may not carry (or that could not be checked).
fn refused_attachments(
    e: AttachmentError,
    fail: &impl Fn(ErrorCode, String) -> FrameError,
) -> FrameError {
    match e {
        AttachmentError::Storage(PortError::Conflict(_)) => fail(
            ErrorCode::BadRequest,
            "an attachment already went with another message".into(),
        ),
        AttachmentError::NotFound => fail(
            ErrorCode::BadRequest,
            "an attachment of the message does not exist any more; upload it again".into(),
        ),
        AttachmentError::Storage(e) => {
            tracing::error!(error = %e, "checking a message's attachments failed");
            fail(
                ErrorCode::Internal,
                "the message's attachments could not be checked; please retry".into(),
            )
        }
        other => fail(other.code(), other.to_string()),
    }
}

/// The `notice` frame that answers a command on the connection that sent it.
fn notice(
    conversation_id: ConversationId,
    client_message_id: ClientMessageId,
    reply: CommandReply,
) -> ServerFrame {
    ServerFrame::Notice {
        conversation_id,
        client_message_id,
        text: reply.text,
        new_conversation_id: reply.new_conversation,
    }
}
