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
    /// Registers a connection of `user`; the receiver yields the JSON frames to write to it.
    pub fn register(&self, user: &UserId) -> (Connection, mpsc::UnboundedReceiver<String>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        self.connections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(user.clone())
            .or_default()
            .insert(id, tx.clone());
        (Connection { id, frames: tx }, rx)
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
