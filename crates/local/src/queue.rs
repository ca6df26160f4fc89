//! The in-process turn queue: one lane per conversation.
//!
//! A lane is a FIFO of turns plus at most one worker task. The worker exists exactly while the lane is in
//! the map: `enqueue` spawns one when it creates the lane, and the worker removes the lane (under the same
//! lock) when it finds it empty, so no turn is ever left without a worker. Lanes run in parallel.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::domain::Turn;
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::{PortError, TurnQueue};
use serverless_openclaw_core::turn::{TurnOutcome, TurnProcessor};

/// What the queue does with a turn (the core turn processor in production).
#[async_trait]
pub trait TurnHandler: Send + Sync + 'static {
    async fn handle(&self, turn: Turn, cancel: CancellationToken);
}

/// How long a turn waits before trying again when the user's turn cap is reached.
const BUSY_RETRY: Duration = Duration::from_millis(500);

#[async_trait]
impl TurnHandler for TurnProcessor {
    /// Runs the turn; while the processor says `Busy` (the user has the most turns running that one
    /// user may: one lane's turns never overlap), it waits and tries again, as SQS redelivers on AWS.
    /// A Stop while it waits drops the turn: its message stays unanswered, ready for Retry.
    async fn handle(&self, turn: Turn, cancel: CancellationToken) {
        while matches!(self.process(&turn, cancel.clone()).await, TurnOutcome::Busy) {
            tokio::select! {
                () = tokio::time::sleep(BUSY_RETRY) => {}
                () = cancel.cancelled() => return,
            }
        }
    }
}

type LaneKey = (UserId, ConversationId);

#[derive(Default)]
struct Lane {
    pending: VecDeque<Turn>,
    /// Cancels the turn the worker is running now.
    running: Option<CancellationToken>,
}

struct Shared {
    handler: Arc<dyn TurnHandler>,
    lanes: Mutex<HashMap<LaneKey, Lane>>,
}

/// [`TurnQueue`] inside the process.
#[derive(Clone)]
pub struct LocalTurnQueue {
    shared: Arc<Shared>,
}

impl LocalTurnQueue {
    pub fn new(handler: Arc<dyn TurnHandler>) -> Self {
        Self {
            shared: Arc::new(Shared {
                handler,
                lanes: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl Shared {
    async fn drain(self: Arc<Self>, key: LaneKey) {
        loop {
            let (turn, cancel) = {
                let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
                let Some(lane) = lanes.get_mut(&key) else {
                    return;
                };
                match lane.pending.pop_front() {
                    Some(turn) => {
                        let cancel = CancellationToken::new();
                        lane.running = Some(cancel.clone());
                        (turn, cancel)
                    }
                    None => {
                        lanes.remove(&key);
                        return;
                    }
                }
            };
            self.handler.handle(turn, cancel).await;
            let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(lane) = lanes.get_mut(&key) {
                lane.running = None;
            }
        }
    }
}

#[async_trait]
impl TurnQueue for LocalTurnQueue {
    async fn enqueue(&self, turn: Turn) -> Result<(), PortError> {
        let key = (turn.user_id.clone(), turn.conversation_id.clone());
        let mut lanes = self.shared.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let start_worker = !lanes.contains_key(&key);
        lanes
            .entry(key.clone())
            .or_default()
            .pending
            .push_back(turn);
        if start_worker {
            tokio::spawn(Arc::clone(&self.shared).drain(key));
        }
        Ok(())
    }

    async fn cancel(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<bool, PortError> {
        let lanes = self.shared.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let running = lanes
            .get(&(user.clone(), conversation.clone()))
            .and_then(|lane| lane.running.as_ref());
        Ok(running.map(CancellationToken::cancel).is_some())
    }
}

#[cfg(test)]
mod tests {

    use serverless_openclaw_core::domain::{Channel, TurnKind};
    use serverless_openclaw_core::ids::{ClientMessageId, MessageId};
    use tokio::sync::mpsc;

    use super::*;

    /// Records start and end of each turn; each turn takes a while so overlaps would show.
    struct Recorder {
        events: mpsc::UnboundedSender<(String, &'static str)>,
    }

    #[async_trait]
    impl TurnHandler for Recorder {
        async fn handle(&self, turn: Turn, cancel: CancellationToken) {
            let _ = self.events.send((turn.prompt.clone(), "start"));
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(50)) => {
                    let _ = self.events.send((turn.prompt, "end"));
                }
                () = cancel.cancelled() => {
                    let _ = self.events.send((turn.prompt, "cancelled"));
                }
            }
        }
    }

    fn turn(conversation: &str, prompt: &str) -> Turn {
        Turn {
            user_id: UserId::parse("u").unwrap(),
            conversation_id: ConversationId::parse(conversation).unwrap(),
            user_message_id: MessageId::generate(),
            client_message_id: ClientMessageId::parse("c").unwrap(),
            prompt: prompt.into(),
            channel: Channel::Web,
            reply_to: None,
            kind: TurnKind::Reply,
        }
    }

    async fn collect(
        rx: &mut mpsc::UnboundedReceiver<(String, &'static str)>,
        n: usize,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..n {
            let (p, e) = rx.recv().await.unwrap();
            out.push(format!("{p}:{e}"));
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn turns_of_one_conversation_run_one_at_a_time_in_order() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let queue = LocalTurnQueue::new(Arc::new(Recorder { events: tx }));
        for p in ["1", "2", "3"] {
            queue.enqueue(turn("a", p)).await.unwrap();
        }
        assert_eq!(
            collect(&mut rx, 6).await,
            ["1:start", "1:end", "2:start", "2:end", "3:start", "3:end"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn different_conversations_run_in_parallel() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let queue = LocalTurnQueue::new(Arc::new(Recorder { events: tx }));
        queue.enqueue(turn("a", "a1")).await.unwrap();
        queue.enqueue(turn("b", "b1")).await.unwrap();
        let events = collect(&mut rx, 4).await;
        assert_eq!(
            &events[..2].iter().filter(|e| e.ends_with(":start")).count(),
            &2,
            "{events:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cancel_stops_the_running_turn_and_the_next_one_still_runs() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let queue = LocalTurnQueue::new(Arc::new(Recorder { events: tx }));
        queue.enqueue(turn("a", "1")).await.unwrap();
        queue.enqueue(turn("a", "2")).await.unwrap();
        assert_eq!(collect(&mut rx, 1).await, ["1:start"]);
        let (user, conv) = (
            UserId::parse("u").unwrap(),
            ConversationId::parse("a").unwrap(),
        );
        assert!(queue.cancel(&user, &conv).await.unwrap());
        assert_eq!(
            collect(&mut rx, 3).await,
            ["1:cancelled", "2:start", "2:end"]
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(
            !queue.cancel(&user, &conv).await.unwrap(),
            "nothing runs any more"
        );
    }
}
