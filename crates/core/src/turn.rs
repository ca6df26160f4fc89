//! The *process a turn* use case: run one queued turn on the agent and keep stored data consistent
//! whatever happens.
//!
//! A turn runs under the conversation's session lease, so a redelivered message cannot run beside its
//! first delivery; the lease is released on every path, and while the turn runs the processor watches
//! the lease for a cancel request (how Stop reaches a turn running in another process).
//!
//! A turn whose message is a new version of the last exchange (edited or regenerated: [`crate::chat`])
//! runs on the transcript without the superseded exchange's turn ([`crate::transcript`]).
//!
//! Order matters: the transcript is written back (with a version check) before the assistant message is
//! stored, so a turn that loses a race changes nothing; a failed turn stores nothing but leaves the user
//! message, and the transcript stays the last good version.
//!
//! A turn from a chat (a [`Turn::reply_to`]: Telegram) answers the burst its message belongs to: a
//! user who sends several short messages in a row means one thing, so the unanswered messages of that
//! chat sent within [`BURST_WINDOW`] of one another are one prompt and get one reply, which marks them
//! all answered. The turn of the burst's last message answers it, once that message is a window old
//! (so that messages still on their way join it); the turns of the earlier ones see a later message
//! and end without doing anything. So a burst runs once and a failed one is reported once, and Retry
//! (which queues the last message again) runs the whole burst again. The window is held in the
//! stored messages, not in a process, so local mode and the agent Lambda (where each message reaches
//! its own webhook invocation, possibly in parallel environments) merge the same way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::attachments::{Attachment, AttachmentKind, Attachments, TurnAttachment};
use crate::commands::expand_skill_invocation;
use crate::domain::{
    Channel, ConversationSettingsUpdate, NewAssistantMessage, Role, Turn, TurnActivity, TurnKind,
    Usage, UserMessage,
};
use crate::ids::{ClientMessageId, MessageId, UserId};
use crate::ports::{
    AgentCompaction, AgentError, AgentEvent, AgentRuntime, AgentState, AgentTurn, ApiKeyStore,
    ChannelReplies, ClientPush, Compacted, ConversationStore, Lease, PortError, ProducedFile,
    SessionLeases, SettingsStore, SpeechToText, SpokenAudio, ToolAccess, TranscriptStore,
};
use crate::protocol::{AttachmentView, ErrorCode, ServerFrame, TurnStatus};
use crate::settings::{ModelChoice, SpeechChoice, SpeechProvider, SpeechSettings};
use crate::transcript::without_superseded_turn;

/// What a user with a voice note but no speech-to-text key is told.
pub const NO_SPEECH_KEY: &str = "Voice notes need a speech-to-text key: add an OpenAI or Groq key in \
     Settings (or choose a speech provider there). Nothing was sent to the agent.";

/// How close together messages from one chat must come to be answered as one turn (a burst).
pub const BURST_WINDOW: Duration = Duration::from_secs(1);
/// The most messages one reply answers (the newest user messages read to find a burst): a reply
/// marks each one answered in the same write (DynamoDB takes 100 items in one transaction). The
/// turn of a message older than these answers it alone.
const MAX_BURST_MESSAGES: usize = 20;

/// How a turn ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnOutcome {
    /// The reply was stored and pushed.
    Answered(Answer),
    /// The user message already had a reply (a redelivery), or its conversation was deleted; nothing
    /// was done.
    Skipped,
    /// The turn failed; the user was told with this code.
    Failed(ErrorCode),
    /// Another processor holds the conversation's lease, or the user already has
    /// [`LeasePolicy::max_running_per_user`] turns running; nothing was done and nothing was pushed
    /// (the turn still shows as queued). The queue should deliver the turn again later.
    Busy,
    /// A compaction turn ran: the transcript was compacted and saved, or there was nothing to
    /// compact; the user was told which in a notice.
    Compacted,
}

/// A stored reply, as the turn's metrics need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub message_id: MessageId,
    pub usage: Usage,
    pub cost_usd: Option<f64>,
}

/// How the processor takes session leases.
#[derive(Debug, Clone)]
pub struct LeasePolicy {
    /// Who this processor is, recorded on its leases.
    pub holder: String,
    /// How long a lease lasts. Longer than the agent's turn deadline, so a live turn never outlasts it.
    pub ttl: Duration,
    /// How often a running turn looks for a cancel request on its lease.
    pub cancel_poll: Duration,
    /// How many turns of one user may run at once, in different conversations; another waits
    /// ([`TurnOutcome::Busy`]) until one ends.
    pub max_running_per_user: usize,
}

/// [`LeasePolicy::max_running_per_user`] by default: a few conversations at once is what a person
/// does; more is a script or a flood, and each running turn holds a runner's time (on AWS an agent
/// environment, billed).
pub const MAX_RUNNING_TURNS_PER_USER: usize = 4;

impl LeasePolicy {
    /// Leases that outlast the agent's turn deadline by a minute, watched for cancel every second.
    pub fn for_turn_timeout(holder: impl Into<String>, turn_timeout: Duration) -> Self {
        Self {
            holder: holder.into(),
            ttl: turn_timeout + Duration::from_secs(60),
            cancel_poll: Duration::from_secs(1),
            max_running_per_user: MAX_RUNNING_TURNS_PER_USER,
        }
    }
}

/// Runs queued turns.
#[derive(Clone)]
pub struct TurnProcessor {
    conversations: Arc<dyn ConversationStore>,
    transcripts: Arc<dyn TranscriptStore>,
    agent: Arc<dyn AgentRuntime>,
    push: Arc<dyn ClientPush>,
    leases: Arc<dyn SessionLeases>,
    policy: LeasePolicy,
    replies: Option<Arc<dyn ChannelReplies>>,
    /// Where each user's chosen model and keys are read from; without it, every turn runs the
    /// deployment's default model.
    model_settings: Option<(Arc<dyn SettingsStore>, Arc<dyn ApiKeyStore>)>,
    /// The tool access of guests from the Telegram allowlist (everyone else has full access).
    guest_tools: ToolAccess,
    /// Where a turn's attachments are read from; without it, turns run without attachments.
    attachments: Option<Attachments>,
    /// What transcribes a turn's voice notes (with the user's speech settings and key); without it,
    /// a voice note is answered with [`NO_SPEECH_KEY`].
    speech: Option<Arc<dyn SpeechToText>>,
    /// Messages from one chat sent within this of one another are one burst, answered as one turn.
    burst_window: Duration,
}

/// What one reply answers: a turn's own message, or the burst of messages it belongs to.
struct Question {
    /// The turn as run: for a burst, the texts joined by blank lines, and the last message as the one
    /// replied to.
    turn: Turn,
    /// The burst's earlier messages, which the same reply answers.
    also_answers: Vec<MessageId>,
}

impl Question {
    fn alone(turn: &Turn) -> Self {
        Self {
            turn: turn.clone(),
            also_answers: Vec::new(),
        }
    }

    /// Every message the reply answers, the turn's own last.
    fn messages(&self) -> Vec<MessageId> {
        let mut messages = self.also_answers.clone();
        messages.push(self.turn.user_message_id.clone());
        messages
    }

    /// One reply to every message of `burst` (oldest first), whose last message is `turn`'s.
    fn burst(turn: &Turn, burst: &[UserMessage]) -> Self {
        let Some((_, earlier)) = burst.split_last() else {
            return Self::alone(turn);
        };
        // A message may be only attachments (a photo without a caption): no empty paragraph for it.
        let texts: Vec<&str> = burst
            .iter()
            .map(|m| m.content.as_str())
            .filter(|text| !text.trim().is_empty())
            .collect();
        Self {
            turn: Turn {
                prompt: texts.join("\n\n"),
                ..turn.clone()
            },
            also_answers: earlier.iter().map(|m| m.id.clone()).collect(),
        }
    }
}

/// The burst the message `id` belongs to in `latest` (a conversation's newest user messages, oldest
/// first): the run of unanswered messages from `channel`, each sent within `window` of the one
/// before, that holds it. Empty when `id` is not such a message. (A conversation's messages from a
/// chat come from one chat: a Telegram user's conversations are their own.)
fn burst_around<'a>(
    latest: &'a [UserMessage],
    id: &MessageId,
    channel: Channel,
    window: Duration,
) -> &'a [UserMessage] {
    let joins = |m: &UserMessage| !m.answered && m.channel == channel;
    let close = |earlier: &UserMessage, later: &UserMessage| {
        later.created_at - earlier.created_at <= window
    };
    let Some(at) = latest.iter().position(|m| &m.id == id && joins(m)) else {
        return &[];
    };
    let mut first = at;
    while first > 0 && joins(&latest[first - 1]) && close(&latest[first - 1], &latest[first]) {
        first -= 1;
    }
    let mut last = at;
    while last + 1 < latest.len()
        && joins(&latest[last + 1])
        && close(&latest[last], &latest[last + 1])
    {
        last += 1;
    }
    &latest[first..=last]
}

/// Where one turn's frames go: the user's web connections, and the channel the turn came from when it
/// names one and the processor can reach it.
struct Outlet<'a> {
    push: &'a dyn ClientPush,
    user: &'a UserId,
    tee: Option<mpsc::UnboundedSender<ServerFrame>>,
}

impl<'a> Outlet<'a> {
    /// The outlet of `turn`, and the delivery to the turn's channel (when it names one and `replies`
    /// can reach it; else a future that ends at once), to be run beside whatever emits: it ends when
    /// the outlet is dropped and everything emitted is delivered.
    fn open(
        push: &'a dyn ClientPush,
        replies: Option<&'a Arc<dyn ChannelReplies>>,
        turn: &'a Turn,
    ) -> (Self, impl Future<Output = ()> + Send + 'a) {
        let replies = replies.filter(|_| turn.reply_to.is_some());
        let (tee, frames) = mpsc::unbounded_channel();
        let outlet = Outlet {
            push,
            user: &turn.user_id,
            tee: replies.is_some().then_some(tee),
        };
        let delivery = async move {
            if let Some(replies) = replies {
                replies.deliver(turn, frames).await;
            }
        };
        (outlet, delivery)
    }

    async fn emit(&self, frame: ServerFrame) {
        self.push.push(self.user, &frame).await;
        if let Some(tee) = &self.tee {
            // The receiver only goes away when the channel's delivery ended early; nothing to do.
            let _ = tee.send(frame);
        }
    }

    async fn status(&self, turn: &Turn, status: TurnStatus) {
        self.emit(ServerFrame::Status {
            conversation_id: turn.conversation_id.clone(),
            status,
        })
        .await;
    }

    /// Ends `turn`'s frames: a failure is one `error` frame tied to the user's message, and every
    /// turn ends with `idle`. Dropping the outlet then ends the channel's delivery.
    async fn finish(self, turn: &Turn, result: Result<TurnOutcome, AgentError>) -> TurnOutcome {
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(error) => {
                self.emit(ServerFrame::Error {
                    code: error.code,
                    message: error.message,
                    client_message_id: Some(turn.client_message_id.to_string()),
                    conversation_id: Some(turn.conversation_id.to_string()),
                })
                .await;
                TurnOutcome::Failed(error.code)
            }
        };
        self.status(turn, TurnStatus::Idle).await;
        outcome
    }
}

impl TurnProcessor {
    pub fn new(
        conversations: Arc<dyn ConversationStore>,
        transcripts: Arc<dyn TranscriptStore>,
        agent: Arc<dyn AgentRuntime>,
        push: Arc<dyn ClientPush>,
        leases: Arc<dyn SessionLeases>,
        policy: LeasePolicy,
    ) -> Self {
        Self {
            conversations,
            transcripts,
            agent,
            push,
            leases,
            policy,
            replies: None,
            model_settings: None,
            guest_tools: ToolAccess::Restricted,
            attachments: None,
            speech: None,
            burst_window: BURST_WINDOW,
        }
    }

    /// Transcribes each turn's audio attachments with `speech`, before the agent runs.
    pub fn with_speech(mut self, speech: Arc<dyn SpeechToText>) -> Self {
        self.speech = Some(speech);
        self
    }

    /// Hands each turn the attachments of the message it answers (and the conversation's earlier
    /// files).
    pub fn with_attachments(mut self, attachments: Attachments) -> Self {
        self.attachments = Some(attachments);
        self
    }

    /// Merges messages from one chat sent within `window` of one another ([`BURST_WINDOW`] unless
    /// set; tests shorten it).
    pub fn with_burst_window(mut self, window: Duration) -> Self {
        self.burst_window = window;
        self
    }

    /// Gives guests from the Telegram allowlist this tool access ([`ToolAccess::Restricted`] unless
    /// set: the owner opts in to more).
    pub fn with_guest_tools(mut self, access: ToolAccess) -> Self {
        self.guest_tools = access;
        self
    }

    /// The tool access of `user`'s turns.
    fn tool_access(&self, user: &UserId) -> ToolAccess {
        if user.is_guest() {
            self.guest_tools
        } else {
            ToolAccess::Full
        }
    }

    /// Whether `user`'s turn may use the browser: their setting, on where there are no settings.
    async fn browser_enabled(&self, user: &UserId) -> Result<bool, AgentError> {
        match &self.model_settings {
            Some((settings, _)) => settings.browser_enabled(user).await.map_err(storage_error),
            None => Ok(true),
        }
    }

    /// Runs each turn with the provider and model its user chose (and their key for it, if stored).
    pub fn with_model_settings(
        mut self,
        settings: Arc<dyn SettingsStore>,
        keys: Arc<dyn ApiKeyStore>,
    ) -> Self {
        self.model_settings = Some((settings, keys));
        self
    }

    /// The user's choice, read per turn (a change applies from the next turn on); `None`: the default.
    async fn model_choice(&self, user: &UserId) -> Result<Option<ModelChoice>, AgentError> {
        let Some((settings, keys)) = &self.model_settings else {
            return Ok(None);
        };
        let Some(chosen) = settings.model_settings(user).await.map_err(storage_error)? else {
            return Ok(None);
        };
        let api_key = keys
            .get(user, chosen.provider)
            .await
            .map_err(storage_error)?;
        Ok(Some(ModelChoice {
            settings: chosen,
            api_key,
        }))
    }

    /// Also delivers the turns that name a [`Turn::reply_to`] there (a Telegram chat).
    pub fn with_replies(mut self, replies: Arc<dyn ChannelReplies>) -> Self {
        self.replies = Some(replies);
        self
    }

    /// Processes one turn under the conversation's lease; every path that ran ends with an `idle`
    /// status frame and releases the lease. A turn with a [`Turn::reply_to`] is delivered there too
    /// (for a burst, as the reply to its last message).
    pub async fn process(&self, turn: &Turn, cancel: CancellationToken) -> TurnOutcome {
        let started = Instant::now();
        match self
            .leases
            .held_by(&turn.user_id, OffsetDateTime::now_utc())
            .await
        {
            Ok(running) if running >= self.policy.max_running_per_user => {
                tracing::info!(
                    user = %turn.user_id,
                    conversation = %turn.conversation_id,
                    running,
                    "the user's turn cap is reached; the turn will be delivered again"
                );
                return TurnOutcome::Busy;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "counting the user's running turns failed; running the turn")
            }
        }
        let acquired = self
            .leases
            .acquire(
                &turn.user_id,
                &turn.conversation_id,
                &self.policy.holder,
                self.policy.ttl,
                OffsetDateTime::now_utc(),
            )
            .await;
        let outcome = match acquired {
            Ok(Some(lease)) => {
                let outcome = self.work_watching(turn, &lease, cancel).await;
                if let Err(e) = self.leases.release(&lease).await {
                    tracing::warn!(error = %e, token = lease.token, "releasing a session lease failed; it expires on its own");
                }
                outcome
            }
            Ok(None) => {
                tracing::info!(
                    user = %turn.user_id,
                    conversation = %turn.conversation_id,
                    "another processor holds this conversation; the turn will be delivered again"
                );
                return TurnOutcome::Busy;
            }
            Err(e) => self.report(turn, Err(storage_error(e))).await,
        };
        tracing::info!(
            user = %turn.user_id,
            conversation = %turn.conversation_id,
            message = %turn.user_message_id,
            outcome = ?outcome,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "turn finished"
        );
        outcome
    }

    /// Tells the user how a turn that did no work ended: `idle`, after an `error` when it failed.
    async fn report(&self, turn: &Turn, result: Result<TurnOutcome, AgentError>) -> TurnOutcome {
        let (outlet, delivery) = Outlet::open(self.push.as_ref(), self.replies.as_ref(), turn);
        tokio::join!(outlet.finish(turn, result), delivery).0
    }

    /// Does the turn's work (a reply or a compaction) while watching the lease for a cancel request,
    /// which cancels the turn.
    async fn work_watching(
        &self,
        turn: &Turn,
        lease: &Lease,
        cancel: CancellationToken,
    ) -> TurnOutcome {
        let watch = async {
            loop {
                tokio::time::sleep(self.policy.cancel_poll).await;
                match self.leases.cancel_requested(lease).await {
                    Ok(true) => {
                        cancel.cancel();
                        // The turn now ends on its own; keep this branch from finishing first.
                        std::future::pending::<()>().await;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "checking the lease for a cancel request failed")
                    }
                }
            }
        };
        let work = async {
            let question = match turn.kind {
                TurnKind::Reply | TurnKind::Rerun => self.question(turn, &cancel).await,
                TurnKind::Compact => Ok(Some(Question::alone(turn))),
            };
            let question = match question {
                Ok(Some(question)) => question,
                Ok(None) => return self.report(turn, Ok(TurnOutcome::Skipped)).await,
                Err(e) => return self.report(turn, Err(e)).await,
            };
            let asked = &question.turn;
            let (outlet, delivery) = Outlet::open(self.push.as_ref(), self.replies.as_ref(), asked);
            let answered = async {
                let result = match asked.kind {
                    TurnKind::Reply | TurnKind::Rerun => self
                        .answer(&question, cancel.clone(), &outlet)
                        .await
                        .map(|answer| answer.map_or(TurnOutcome::Skipped, TurnOutcome::Answered)),
                    TurnKind::Compact => self
                        .compact(asked, cancel.clone(), &outlet)
                        .await
                        .map(|()| TurnOutcome::Compacted),
                };
                outlet.finish(asked, result).await
            };
            tokio::join!(answered, delivery).0
        };
        tokio::select! {
            outcome = work => outcome,
            () = watch => unreachable!("the lease watch never finishes"),
        }
    }

    /// What the reply to `turn` answers; `None` when there is nothing for this turn to do: its
    /// message already has a reply (a redelivery, or a burst answered by another turn), its
    /// conversation was deleted, or a later message of its burst arrived, whose turn answers the
    /// whole burst. A turn from a chat whose message is the newest of its burst waits until that
    /// message is [`Self::with_burst_window`] old (once, and not once the turn is cancelled), then
    /// answers the burst as it stands.
    async fn question(
        &self,
        turn: &Turn,
        cancel: &CancellationToken,
    ) -> Result<Option<Question>, AgentError> {
        let (user, conversation) = (&turn.user_id, &turn.conversation_id);
        match self
            .conversations
            .is_answered(user, conversation, &turn.user_message_id)
            .await
        {
            Ok(false) => {}
            Ok(true) | Err(PortError::NotFound) => return Ok(None),
            Err(e) => return Err(storage_error(e)),
        }
        if turn.reply_to.is_none() {
            return Ok(Some(Question::alone(turn)));
        }
        let mut waited = false;
        loop {
            let latest = match self
                .conversations
                .latest_user_messages(user, conversation, MAX_BURST_MESSAGES)
                .await
            {
                Ok(latest) => latest,
                Err(PortError::NotFound) => return Ok(None),
                Err(e) => return Err(storage_error(e)),
            };
            let burst = burst_around(
                &latest,
                &turn.user_message_id,
                turn.channel,
                self.burst_window,
            );
            let Some(newest) = burst.last() else {
                return Ok(Some(Question::alone(turn)));
            };
            if newest.id != turn.user_message_id {
                tracing::info!(
                    user = %user,
                    conversation = %conversation,
                    message = %turn.user_message_id,
                    "a later message joined this one; its turn answers both"
                );
                return Ok(None);
            }
            // A message stamped ahead of this clock (another machine's) counts as just sent.
            let age = Duration::try_from(OffsetDateTime::now_utc() - newest.created_at)
                .unwrap_or_default();
            let wait = self.burst_window.saturating_sub(age);
            if waited || wait.is_zero() || cancel.is_cancelled() {
                if burst.len() > 1 {
                    tracing::info!(
                        user = %user,
                        conversation = %conversation,
                        messages = burst.len(),
                        "answering a burst of messages as one turn"
                    );
                }
                return Ok(Some(Question::burst(turn, burst)));
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = cancel.cancelled() => {}
            }
            waited = true;
        }
    }

    /// A compaction turn (`/compact`): the agent compacts the stored transcript, which is saved with
    /// the version it was loaded at, and a notice tells the user the sizes before and after. A failed
    /// compaction (or a lost race) changes nothing and is reported like a failed turn.
    async fn compact(
        &self,
        turn: &Turn,
        cancel: CancellationToken,
        outlet: &Outlet<'_>,
    ) -> Result<(), AgentError> {
        let user = &turn.user_id;
        let conversation = &turn.conversation_id;
        let own = match self
            .conversations
            .conversation_settings(user, conversation)
            .await
        {
            Ok(own) => Some(own),
            Err(PortError::NotFound) => None,
            Err(e) => return Err(storage_error(e)),
        };
        let transcript = self
            .transcripts
            .load(user, conversation)
            .await
            .map_err(storage_error)?;
        let text = match (own, transcript) {
            // After `/reset` the next turn starts afresh anyway; the old transcript is not compacted.
            (Some(own), Some(stored)) if !own.fresh_session => {
                if self.agent.status().state != AgentState::Ready {
                    outlet.status(turn, TurnStatus::Starting).await;
                }
                outlet.status(turn, TurnStatus::Running).await;
                let bytes_before = stored.bytes.len();
                let compacted = self
                    .agent
                    .compact(
                        AgentCompaction {
                            user_id: user.clone(),
                            conversation_id: conversation.clone(),
                            transcript: stored.bytes,
                            instructions: (!turn.prompt.trim().is_empty())
                                .then(|| turn.prompt.clone()),
                            model: self.model_choice(user).await?,
                            model_id: own.model.clone(),
                        },
                        cancel,
                    )
                    .await
                    .map_err(|e| {
                        AgentError::new(
                            e.code,
                            format!(
                                "The conversation could not be compacted and is unchanged: {}",
                                e.message
                            ),
                        )
                    })?;
                match &compacted.transcript {
                    Some(bytes) => {
                        self.transcripts
                            .save(user, conversation, bytes, Some(&stored.version))
                            .await
                            .map_err(|e| match e {
                                PortError::Conflict(_) => AgentError::new(
                                    ErrorCode::Conflict,
                                    "the conversation changed while it was being compacted, so it \
                                     was left as it is; send /compact again",
                                ),
                                other => storage_error(other),
                            })?;
                        compacted_notice(&compacted, bytes_before, bytes.len())
                    }
                    None => format!(
                        "Nothing to compact: {}.",
                        compacted
                            .reason
                            .as_deref()
                            .unwrap_or("the conversation is short")
                    ),
                }
            }
            _ => "Nothing to compact: this conversation has no history for the agent yet.".into(),
        };
        // The command was answered at once under its own client message id (a client shows one
        // notice per id); this later notice carries the compaction's own id, the same on redelivery.
        let notice_id = ClientMessageId::parse(turn.user_message_id.as_str())
            .unwrap_or_else(|_| turn.client_message_id.clone());
        outlet
            .emit(ServerFrame::Notice {
                conversation_id: conversation.clone(),
                client_message_id: notice_id,
                text,
                new_conversation_id: None,
            })
            .await;
        Ok(())
    }

    async fn answer(
        &self,
        question: &Question,
        cancel: CancellationToken,
        outlet: &Outlet<'_>,
    ) -> Result<Option<Answer>, AgentError> {
        let turn = &question.turn;
        let user = &turn.user_id;
        let conversation = &turn.conversation_id;
        if self.agent.status().state != AgentState::Ready {
            outlet.status(turn, TurnStatus::Starting).await;
        }
        let transcript = self
            .transcripts
            .load(user, conversation)
            .await
            .map_err(storage_error)?;
        let own = self
            .conversations
            .conversation_settings(user, conversation)
            .await
            .map_err(storage_error)?;
        // After `/reset` the turn starts a fresh session; its transcript replaces the stored one.
        let (version, bytes) = match transcript {
            Some(t) if own.fresh_session => (Some(t.version), None),
            Some(t) => (Some(t.version), Some(t.bytes)),
            None => (None, None),
        };
        let bytes = match bytes {
            Some(bytes) if turn.kind == TurnKind::Rerun => {
                Some(self.without_superseded(turn, bytes).await?)
            }
            bytes => bytes,
        };
        let model = self.model_choice(user).await?;
        let disabled_skills = match &self.model_settings {
            Some((settings, _)) => settings
                .disabled_skills(user)
                .await
                .map_err(storage_error)?,
            None => Vec::new(),
        };
        let attachments = match &self.attachments {
            Some(attachments) => attachments
                .for_turn(user, conversation, &question.messages())
                .await
                .map_err(storage_error)?,
            None => Vec::new(),
        };
        // Voice goes to the agent as its transcript, never as a file.
        let (voice, attachments): (Vec<_>, Vec<_>) = attachments
            .into_iter()
            .partition(|a| a.with_prompt && a.attachment.kind == AttachmentKind::Audio);
        let prompt = if voice.is_empty() {
            turn.prompt.clone()
        } else {
            self.hear(turn, &voice, outlet).await?
        };
        let prompt = expand_skill_invocation(&prompt).unwrap_or(prompt);
        let assistant_id = MessageId::generate();
        let (events, mut received) = mpsc::unbounded_channel();
        let run = self.agent.run_turn(
            AgentTurn {
                user_id: user.clone(),
                conversation_id: conversation.clone(),
                message_id: turn.user_message_id.clone(),
                transcript: bytes,
                prompt,
                model,
                model_id: own.model.clone(),
                thinking: own.thinking,
                tools: self.tool_access(user),
                browser: self.browser_enabled(user).await?,
                attachments,
                disabled_skills,
            },
            events,
            cancel,
        );
        // Forward progress while the turn runs; the runtime drops its sender when the turn ends.
        // Tool lines are also gathered for the stored reply ("Worked for N s" after a reload).
        let mut activity = TurnActivity::default();
        let forward = async {
            while let Some(event) = received.recv().await {
                match event {
                    AgentEvent::Started => outlet.status(turn, TurnStatus::Running).await,
                    AgentEvent::Delta { text, replace } => {
                        outlet
                            .emit(ServerFrame::Delta {
                                conversation_id: conversation.clone(),
                                message_id: assistant_id.clone(),
                                text,
                                replace,
                            })
                            .await;
                    }
                    AgentEvent::Tool(tool) => {
                        activity.record(&tool);
                        outlet
                            .emit(ServerFrame::Activity {
                                conversation_id: conversation.clone(),
                                message_id: assistant_id.clone(),
                                tool,
                            })
                            .await;
                    }
                }
            }
        };
        let (reply, ()) = tokio::join!(run, forward);
        let reply = reply?;
        let activity = (activity.tool_count > 0).then_some(TurnActivity {
            worked_ms: reply.duration_ms,
            ..activity
        });

        self.transcripts
            .save(user, conversation, &reply.transcript, version.as_ref())
            .await
            .map_err(|e| match e {
                PortError::Conflict(detail) => {
                    tracing::warn!(%detail, "transcript changed during the turn; reply discarded");
                    AgentError::new(
                        ErrorCode::Conflict,
                        "the conversation changed while the agent was answering, so this reply was \
                         not saved; send the message again",
                    )
                }
                other => storage_error(other),
            })?;
        if own.fresh_session {
            let done = ConversationSettingsUpdate {
                fresh_session: Some(false),
                ..Default::default()
            };
            // Left set, the next turn would start afresh once more: worth a warning, not the reply.
            if let Err(e) = self
                .conversations
                .update_conversation_settings(user, conversation, &done)
                .await
            {
                tracing::warn!(error = %e, "could not clear the conversation's reset mark");
            }
        }
        let (attached, content) = self
            .attach_produced(turn, &assistant_id, &reply.files, reply.text)
            .await;
        let stored = self
            .conversations
            .append_assistant_message(
                user,
                conversation,
                NewAssistantMessage {
                    id: assistant_id.clone(),
                    reply_to: turn.user_message_id.clone(),
                    also_answers: question.also_answers.clone(),
                    content: content.clone(),
                    channel: turn.channel,
                    usage: reply.usage,
                    cost_usd: reply.cost_usd,
                    duration_ms: reply.duration_ms,
                    activity: activity.clone(),
                    created_at: OffsetDateTime::now_utc(),
                },
            )
            .await;
        if stored.is_err() {
            // The reply is not stored, so neither are the files it attached.
            self.forget_produced(turn, &attached).await;
        }
        match stored {
            Ok(()) => {}
            // Another delivery answered first (this turn, or one of its burst); its reply stands.
            Err(PortError::Conflict(_)) => return Ok(None),
            // The conversation was deleted during the turn: drop the transcript this turn wrote too.
            Err(PortError::NotFound) => {
                if let Err(e) = self.transcripts.delete(user, conversation).await {
                    tracing::warn!(error = %e, "could not remove the transcript of a deleted conversation");
                }
                return Ok(None);
            }
            Err(e) => return Err(storage_error(e)),
        }
        outlet
            .emit(ServerFrame::Message {
                conversation_id: conversation.clone(),
                message_id: assistant_id.clone(),
                role: Role::Assistant,
                content,
                usage: reply.usage,
                cost_usd: reply.cost_usd,
                duration_ms: reply.duration_ms,
                activity,
                attachments: attached.iter().map(AttachmentView::from).collect(),
            })
            .await;
        Ok(Some(Answer {
            message_id: assistant_id,
            usage: reply.usage,
            cost_usd: reply.cost_usd,
        }))
    }
}

impl TurnProcessor {
    /// The transcript to run `turn` on: when its message is a new version of the last exchange
    /// (edited or regenerated), without the turn of the version it replaces, so the model answers
    /// from the history before that exchange. Read for reruns only ([`TurnKind::Rerun`]: edits,
    /// regenerates and Retries), and derived from the stored versions, so a redelivery or a Retry
    /// after a failed rerun cuts the same way; the stored transcript changes only when the rerun
    /// succeeds.
    async fn without_superseded(&self, turn: &Turn, bytes: Vec<u8>) -> Result<Vec<u8>, AgentError> {
        let versions = self
            .conversations
            .last_exchange_versions(&turn.user_id, &turn.conversation_id)
            .await
            .map_err(storage_error)?;
        let Some((current, earlier)) = versions.split_last() else {
            return Ok(bytes);
        };
        if current.user.id != turn.user_message_id {
            return Ok(bytes);
        }
        let answered: Vec<&str> = earlier
            .iter()
            .filter(|v| v.reply.is_some())
            .map(|v| v.user.content.as_str())
            .collect();
        Ok(match without_superseded_turn(&bytes, &answered) {
            Some(cut) => {
                tracing::info!(
                    conversation = %turn.conversation_id,
                    message = %turn.user_message_id,
                    "running a new version of the last exchange on the transcript before it"
                );
                cut
            }
            None => bytes,
        })
    }

    /// The prompt of a turn with voice notes: the typed text, then what was said in each (in the
    /// order they were stored). Each transcript is stored with its attachment and echoed to the user
    /// (a `transcript` frame; on Telegram a "🎤" message); one stored by an earlier delivery is used
    /// again. Without a speech-to-text key, or when the endpoint fails or hears nothing, the turn
    /// fails before the agent runs: the user message stays, unanswered, and can be sent again.
    async fn hear(
        &self,
        turn: &Turn,
        voice: &[TurnAttachment],
        outlet: &Outlet<'_>,
    ) -> Result<String, AgentError> {
        let mut parts = Vec::new();
        if !turn.prompt.trim().is_empty() {
            parts.push(turn.prompt.clone());
        }
        let mut choice = None;
        for audio in voice {
            let attachment = &audio.attachment;
            let text = match &attachment.transcript {
                Some(stored) => stored.clone(),
                None => {
                    let (speech, choice) = match &choice {
                        Some(found) => found,
                        None => choice.insert(self.speech_choice(&turn.user_id).await?),
                    };
                    let spoken = SpokenAudio {
                        bytes: &audio.bytes,
                        media_type: &attachment.media_type,
                        name: &attachment.name,
                    };
                    let heard = speech.transcribe(spoken, choice).await.map_err(|e| {
                        tracing::warn!(error = %e, provider = ?choice.settings.provider, "transcription failed");
                        AgentError::new(
                            ErrorCode::TranscriptionFailed,
                            format!(
                                "Your voice note could not be transcribed: {e}. Nothing was sent \
                                 to the agent; send it again."
                            ),
                        )
                    })?;
                    let heard = heard.trim().to_owned();
                    if heard.is_empty() {
                        return Err(AgentError::new(
                            ErrorCode::TranscriptionFailed,
                            "No words were recognised in your voice note, so nothing was sent to \
                             the agent.",
                        ));
                    }
                    if let Some(attachments) = &self.attachments {
                        attachments
                            .set_transcript(
                                &turn.user_id,
                                &turn.conversation_id,
                                &attachment.id,
                                &heard,
                            )
                            .await
                            .map_err(storage_error)?;
                    }
                    heard
                }
            };
            outlet
                .emit(ServerFrame::Transcript {
                    conversation_id: turn.conversation_id.clone(),
                    message_id: attachment
                        .message_id
                        .clone()
                        .unwrap_or_else(|| turn.user_message_id.clone()),
                    attachment_id: attachment.id.clone(),
                    text: text.clone(),
                })
                .await;
            parts.push(text);
        }
        Ok(parts.join("\n\n"))
    }

    /// What transcribes `user`'s audio: their speech settings and the key for that provider; without
    /// settings, OpenAI when they stored an OpenAI key, else Groq when they stored a Groq key.
    async fn speech_choice(
        &self,
        user: &UserId,
    ) -> Result<(Arc<dyn SpeechToText>, SpeechChoice), AgentError> {
        let no_key = || AgentError::new(ErrorCode::NoProvider, NO_SPEECH_KEY);
        let (Some(speech), Some((settings, keys))) = (&self.speech, &self.model_settings) else {
            return Err(no_key());
        };
        let chosen = settings
            .speech_settings(user)
            .await
            .map_err(storage_error)?;
        let candidates = match &chosen {
            Some(chosen) => vec![chosen.clone()],
            None => [SpeechProvider::OpenAi, SpeechProvider::Groq]
                .into_iter()
                .map(|provider| SpeechSettings {
                    provider,
                    model: None,
                    base_url: None,
                })
                .collect(),
        };
        for candidate in candidates {
            let key = keys
                .get(user, candidate.provider.key_provider())
                .await
                .map_err(storage_error)?;
            if let Some(api_key) = key {
                let choice = SpeechChoice {
                    settings: candidate,
                    api_key,
                };
                return Ok((speech.clone(), choice));
            }
        }
        Err(match chosen {
            Some(chosen) => AgentError::new(
                ErrorCode::NoProvider,
                format!(
                    "Voice notes are to be transcribed by {} (Settings), but no {} key is stored: \
                     add it in Settings. Nothing was sent to the agent.",
                    chosen.provider.key_provider(),
                    chosen.provider.key_provider()
                ),
            ),
            None => no_key(),
        })
    }

    /// Stores the files the agent attached to its reply as attachments of `reply_id`. One that cannot
    /// be stored (a type we do not take, over a limit or the user's quota) is left out, and the reply
    /// says so in a line of its own. Returns what was stored and the reply's text.
    async fn attach_produced(
        &self,
        turn: &Turn,
        reply_id: &MessageId,
        files: &[ProducedFile],
        mut text: String,
    ) -> (Vec<Attachment>, String) {
        let Some(attachments) = self.attachments.as_ref().filter(|_| !files.is_empty()) else {
            return (Vec::new(), text);
        };
        let mut attached = Vec::new();
        for file in files {
            match attachments
                .store_produced(&turn.user_id, &turn.conversation_id, file, reply_id)
                .await
            {
                Ok(stored) => attached.push(stored),
                Err(e) => {
                    tracing::warn!(file = file.name, error = %e, "a file the agent attached was not stored");
                    text.push_str(&format!(
                        "\n\n(The agent's file {} could not be attached: {e}.)",
                        file.name
                    ));
                }
            }
        }
        (attached, text)
    }

    /// Deletes the files a reply that was not stored had attached.
    async fn forget_produced(&self, turn: &Turn, attached: &[Attachment]) {
        let Some(attachments) = &self.attachments else {
            return;
        };
        for stored in attached {
            if let Err(e) = attachments
                .delete(&turn.user_id, &turn.conversation_id, &stored.id)
                .await
            {
                tracing::warn!(error = %e, "could not delete a file of a reply that was not stored");
            }
        }
    }
}

/// The *give up on a turn* use case: a queued turn that will not be run any more (on AWS: it reached
/// the dead-letter queue, after deliveries that all ended without an outcome — the agent crashed or
/// was killed, or the conversation stayed busy) is reported to its user as a failed turn is: one
/// `error` frame and `idle`, on their web connections and in the channel the turn came from. Like a
/// failed turn it stores nothing: the user message stays, without a reply, and can be sent again.
pub struct AbandonedTurns {
    conversations: Arc<dyn ConversationStore>,
    push: Arc<dyn ClientPush>,
    replies: Option<Arc<dyn ChannelReplies>>,
}

impl AbandonedTurns {
    pub fn new(conversations: Arc<dyn ConversationStore>, push: Arc<dyn ClientPush>) -> Self {
        Self {
            conversations,
            push,
            replies: None,
        }
    }

    /// Also tells the turns that name a [`Turn::reply_to`] there (a Telegram chat).
    pub fn with_replies(mut self, replies: Arc<dyn ChannelReplies>) -> Self {
        self.replies = Some(replies);
        self
    }

    /// Tells the user of `turn` that their message could not be answered, and why (`reason`), and
    /// returns `true`; returns `false` without a word when the message has a reply after all (a
    /// delivery finished) or its conversation was deleted. Fails only when the store cannot say.
    pub async fn report(&self, turn: &Turn, reason: &str) -> Result<bool, PortError> {
        match self
            .conversations
            .is_answered(&turn.user_id, &turn.conversation_id, &turn.user_message_id)
            .await
        {
            Ok(false) => {}
            Ok(true) | Err(PortError::NotFound) => return Ok(false),
            Err(e) => return Err(e),
        }
        let error = AgentError::new(
            ErrorCode::Internal,
            format!("This message could not be answered: {reason}"),
        );
        let (outlet, delivery) = Outlet::open(self.push.as_ref(), self.replies.as_ref(), turn);
        tokio::join!(outlet.finish(turn, Err(error)), delivery);
        tracing::warn!(
            user = %turn.user_id,
            conversation = %turn.conversation_id,
            message = %turn.user_message_id,
            reason,
            "a turn was given up; its user was told"
        );
        Ok(true)
    }
}

/// What the user is told after a compaction: the history the model is sent, before and after, in
/// OpenClaw's token estimates, and the stored transcript's size.
fn compacted_notice(compacted: &Compacted, bytes_before: usize, bytes_after: usize) -> String {
    let kb = |bytes: usize| format!("{:.1} KB", bytes as f64 / 1000.0);
    format!(
        "Compacted this conversation: the history the agent is sent went from about {} to {} tokens \
         ({} to {} stored). The agent continues from a summary of the older part.",
        compacted.tokens_before,
        compacted.tokens_after,
        kb(bytes_before),
        kb(bytes_after)
    )
}

fn storage_error(e: PortError) -> AgentError {
    tracing::error!(error = %e, "storage failed during a turn");
    AgentError::new(
        ErrorCode::Internal,
        "storage failed during the turn; please retry",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ReplyTarget;
    use crate::ids::{ClientMessageId, ConversationId};

    /// A message from `channel` sent `at_ms` after the epoch.
    fn message(text: &str, at_ms: i64, channel: Channel, answered: bool) -> UserMessage {
        UserMessage {
            id: MessageId::generate(),
            content: text.into(),
            channel,
            created_at: OffsetDateTime::UNIX_EPOCH + time::Duration::milliseconds(at_ms),
            answered,
        }
    }

    fn texts(burst: &[UserMessage]) -> Vec<&str> {
        burst.iter().map(|m| m.content.as_str()).collect()
    }

    #[test]
    fn a_burst_is_the_run_of_unanswered_messages_from_one_channel_close_to_each_other() {
        let window = Duration::from_secs(1);
        let telegram = |text, at_ms, answered| message(text, at_ms, Channel::Telegram, answered);
        let latest = [
            telegram("answered", 0, true),
            telegram("failed long ago", 500, false),
            telegram("one", 5_000, false),
            telegram("two", 5_900, false),
            telegram("three", 6_800, false),
            message("from the web", 7_000, Channel::Web, false),
            telegram("after the web", 7_100, false),
            telegram("later", 9_000, false),
        ];
        let around = |i: usize| {
            texts(burst_around(
                &latest,
                &latest[i].id,
                Channel::Telegram,
                window,
            ))
        };
        for asked in 2..=4 {
            assert_eq!(around(asked), ["one", "two", "three"]);
        }
        assert_eq!(around(1), ["failed long ago"]);
        assert_eq!(around(6), ["after the web"]);
        assert_eq!(around(7), ["later"]);
        assert!(around(0).is_empty(), "answered");
        assert!(around(5).is_empty(), "another channel");
        assert!(
            burst_around(&latest, &MessageId::generate(), Channel::Telegram, window).is_empty()
        );
    }

    #[test]
    fn a_bursts_reply_joins_the_texts_and_answers_the_earlier_messages_too() {
        let burst = [
            message("one", 0, Channel::Telegram, false),
            message("two", 300, Channel::Telegram, false),
            message("three", 600, Channel::Telegram, false),
        ];
        let turn = Turn {
            user_id: UserId::parse("u").unwrap(),
            conversation_id: ConversationId::parse("c").unwrap(),
            user_message_id: burst[2].id.clone(),
            client_message_id: ClientMessageId::parse("tg-3").unwrap(),
            prompt: "three".into(),
            channel: Channel::Telegram,
            reply_to: Some(ReplyTarget::Telegram {
                chat_id: 7,
                message_id: 3,
            }),
            kind: TurnKind::Reply,
        };
        let question = Question::burst(&turn, &burst);
        assert_eq!(
            question.turn,
            Turn {
                prompt: "one\n\ntwo\n\nthree".into(),
                ..turn.clone()
            }
        );
        assert_eq!(
            question.also_answers,
            [burst[0].id.clone(), burst[1].id.clone()]
        );
        assert_eq!(
            question.messages(),
            [
                burst[0].id.clone(),
                burst[1].id.clone(),
                burst[2].id.clone()
            ]
        );
        let alone = Question::burst(&turn, &burst[2..]);
        assert_eq!(alone.turn, turn);
        assert!(alone.also_answers.is_empty());
        assert_eq!(alone.messages(), [burst[2].id.clone()]);
    }

    #[test]
    fn messages_that_are_only_attachments_add_no_empty_paragraph_to_a_burst() {
        // An album: one photo per message, the caption on the first.
        let burst = [
            message("what are these?", 0, Channel::Telegram, false),
            message("", 100, Channel::Telegram, false),
            message(" ", 200, Channel::Telegram, false),
        ];
        let turn = Turn {
            user_id: UserId::parse("u").unwrap(),
            conversation_id: ConversationId::parse("c").unwrap(),
            user_message_id: burst[2].id.clone(),
            client_message_id: ClientMessageId::parse("tg-3").unwrap(),
            prompt: " ".into(),
            channel: Channel::Telegram,
            reply_to: None,
            kind: TurnKind::Reply,
        };
        assert_eq!(
            Question::burst(&turn, &burst).turn.prompt,
            "what are these?"
        );
    }
}
