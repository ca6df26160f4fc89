//! The open WebSocket connections of this process, per user, and the in-process [`ClientPush`] over them.
//!
//! Each connection has an unbounded channel drained by its own writer task, so pushing never waits on a
//! slow client (the turn goes on) and frames to one connection keep their order.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serverless_openclaw_core::ids::UserId;
use serverless_openclaw_core::ports::ClientPush;
use serverless_openclaw_core::protocol::ServerFrame;
use tokio::sync::mpsc;

/// The most WebSocket connections one user may hold open on this server (a page per tab, a few
/// devices); past it a new one is refused, so one user's client cannot use up the server's sockets.
pub const MAX_CONNECTIONS_PER_USER: usize = 32;

/// A registered connection: its id and the sender its writer task drains.
pub struct Connection {
    pub id: u64,
    pub frames: mpsc::UnboundedSender<String>,
}

/// Open connections by user.
#[derive(Default)]
pub struct ConnectionHub {
    next_id: AtomicU64,
    connections: Mutex<HashMap<UserId, HashMap<u64, mpsc::UnboundedSender<String>>>>,
}

impl ConnectionHub {
    /// Registers a connection of `user`; the receiver yields the JSON frames to write to it. `None`
    /// when the user already has [`MAX_CONNECTIONS_PER_USER`] open.
    pub fn register(&self, user: &UserId) -> Option<(Connection, mpsc::UnboundedReceiver<String>)> {
        let mut connections = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        let mine = connections.entry(user.clone()).or_default();
        // Sockets that went away without unregistering yet do not count.
        mine.retain(|_, tx| !tx.is_closed());
        if mine.len() >= MAX_CONNECTIONS_PER_USER {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        mine.insert(id, tx.clone());
        Some((Connection { id, frames: tx }, rx))
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
            // A closed channel means the socket is gone: forget it.
            mine.retain(|_, tx| tx.send(text.clone()).is_ok());
        }
    }
}

#[cfg(test)]
mod tests {
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
}
