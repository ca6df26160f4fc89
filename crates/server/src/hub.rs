//! The open WebSocket connections of this process, per user, and the in-process [`ClientPush`] over them.
//!
//! Each connection has a channel drained by its own writer task, so pushing never waits on a slow
//! client (the turn goes on) and frames to one connection keep their order. The channel holds at most
//! [`MAX_QUEUED_FRAMES`]: a client that stops reading while frames keep coming is disconnected
//! (its [`Connection::overflowed`] fires) rather than growing the server's memory; the web app
//! reconnects and reloads the history, so nothing stored is lost.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serverless_openclaw_core::ids::UserId;
use serverless_openclaw_core::ports::ClientPush;
use serverless_openclaw_core::protocol::ServerFrame;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;

/// The most WebSocket connections one user may hold open on this server (a page per tab, a few
/// devices); past it a new one is refused, so one user's client cannot use up the server's sockets.
pub const MAX_CONNECTIONS_PER_USER: usize = 32;

/// The most frames waiting to be written to one connection (a long reply streams a few hundred
/// deltas; a client that is reading keeps the queue near empty).
pub const MAX_QUEUED_FRAMES: usize = 1024;

/// A registered connection: its id, the sender its writer task drains, and the signal that its
/// queue overflowed and it must close.
#[derive(Clone)]
pub struct Connection {
    pub id: u64,
    frames: mpsc::Sender<String>,
    pub overflowed: CancellationToken,
}

impl Connection {
    /// Queues `text` for this connection; a full queue closes it (see the module docs). False once
    /// the connection is closed or closing.
    pub fn send(&self, text: String) -> bool {
        match self.frames.try_send(text) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                tracing::warn!(
                    connection = self.id,
                    "a WebSocket client stopped reading ({MAX_QUEUED_FRAMES} frames queued); closing it"
                );
                self.overflowed.cancel();
                false
            }
            Err(TrySendError::Closed(_)) => false,
        }
    }

    fn is_closed(&self) -> bool {
        self.frames.is_closed() || self.overflowed.is_cancelled()
    }
}

/// Open connections by user.
#[derive(Default)]
pub struct ConnectionHub {
    next_id: AtomicU64,
    connections: Mutex<HashMap<UserId, HashMap<u64, Connection>>>,
}

impl ConnectionHub {
    /// Registers a connection of `user`; the receiver yields the JSON frames to write to it. `None`
    /// when the user already has [`MAX_CONNECTIONS_PER_USER`] open.
    pub fn register(&self, user: &UserId) -> Option<(Connection, mpsc::Receiver<String>)> {
        let mut connections = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        let mine = connections.entry(user.clone()).or_default();
        // Sockets that went away (or are closing) without unregistering yet do not count.
        mine.retain(|_, connection| !connection.is_closed());
        if mine.len() >= MAX_CONNECTIONS_PER_USER {
            return None;
        }
        let (frames, receiver) = mpsc::channel(MAX_QUEUED_FRAMES);
        let connection = Connection {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            frames,
            overflowed: CancellationToken::new(),
        };
        mine.insert(connection.id, connection.clone());
        Some((connection, receiver))
    }

    pub fn unregister(&self, user: &UserId, id: u64) {
        let mut connections = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mine) = connections.get_mut(user) {
            mine.remove(&id);
            if mine.is_empty() {
                connections.remove(user);
            }
        }
    }
}

#[async_trait]
impl ClientPush for ConnectionHub {
    async fn push(&self, user: &UserId, frame: &ServerFrame) {
        let text = frame.to_json();
        let mut connections = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mine) = connections.get_mut(user) {
            // A closed or overflowing channel means the socket is gone or going: forget it.
            mine.retain(|_, connection| connection.send(text.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use serverless_openclaw_core::ids::ConversationId;
    use serverless_openclaw_core::protocol::TurnStatus;

    use super::*;

    #[test]
    fn a_user_may_hold_a_bounded_number_of_connections() {
        let hub = ConnectionHub::default();
        let alice = UserId::parse("alice").unwrap();
        let mut open: Vec<_> = (0..MAX_CONNECTIONS_PER_USER)
            .map(|_| hub.register(&alice).expect("below the cap"))
            .collect();
        assert!(hub.register(&alice).is_none(), "past the cap");
        assert!(
            hub.register(&UserId::parse("bob").unwrap()).is_some(),
            "the cap is per user"
        );
        let (closed, _) = open.pop().unwrap();
        hub.unregister(&alice, closed.id);
        let (_, receiver) = hub.register(&alice).expect("a slot freed by unregister");
        drop(receiver);
        assert!(
            hub.register(&alice).is_some(),
            "a socket that went away without unregistering frees its slot"
        );
    }

    #[tokio::test]
    async fn a_connection_that_stops_reading_is_closed_and_the_others_keep_their_frames() {
        let hub = ConnectionHub::default();
        let alice = UserId::parse("alice").unwrap();
        let (stuck, _unread) = hub.register(&alice).unwrap();
        let (reading, mut received) = hub.register(&alice).unwrap();
        let frame = ServerFrame::Status {
            conversation_id: ConversationId::parse("default").unwrap(),
            status: TurnStatus::Idle,
        };
        for _ in 0..MAX_QUEUED_FRAMES {
            hub.push(&alice, &frame).await;
            received
                .recv()
                .await
                .expect("the reading socket gets each frame");
        }
        assert!(
            !stuck.overflowed.is_cancelled(),
            "a full queue is still within the cap"
        );
        hub.push(&alice, &frame).await;
        assert!(
            stuck.overflowed.is_cancelled(),
            "one frame past the cap closes it"
        );
        assert!(!reading.overflowed.is_cancelled());
        received
            .recv()
            .await
            .expect("the reading socket still gets frames");
        assert!(
            !stuck.send("late".into()),
            "a closed connection takes no more frames"
        );
    }
}
