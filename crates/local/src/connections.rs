//! Open WebSocket connections in memory ([`ConnectionStore`]).
//!
//! Local mode is one process serving every WebSocket itself, so a connection never outlives the
//! process and the registry needs no persistence: a map behind a lock is the whole store. Expiry is
//! checked on read, like the DynamoDB twin, so both honour the same contract.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use serverless_openclaw_core::ids::{ConnectionId, UserId};
use serverless_openclaw_core::ports::{ConnectionStore, PortError};
use time::OffsetDateTime;

struct Registration {
    user: UserId,
    expires_at: OffsetDateTime,
}

impl Registration {
    /// Live through its `expires_at` instant, as on DynamoDB (`expiresAt >= :now`).
    fn live_at(&self, now: OffsetDateTime) -> bool {
        self.expires_at >= now
    }
}

/// [`ConnectionStore`] in memory.
#[derive(Default)]
pub struct MemoryConnectionStore {
    connections: Mutex<HashMap<ConnectionId, Registration>>,
}

impl MemoryConnectionStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn connections(&self) -> MutexGuard<'_, HashMap<ConnectionId, Registration>> {
        // Every critical section is a single map operation, so a panic elsewhere cannot leave the map
        // half-updated; a poisoned lock is safe to keep using.
        self.connections.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl ConnectionStore for MemoryConnectionStore {
    async fn register(
        &self,
        connection: &ConnectionId,
        user: &UserId,
        expires_at: OffsetDateTime,
    ) -> Result<(), PortError> {
        self.connections().insert(
            connection.clone(),
            Registration {
                user: user.clone(),
                expires_at,
            },
        );
        Ok(())
    }

    async fn user_of(
        &self,
        connection: &ConnectionId,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, PortError> {
        Ok(self
            .connections()
            .get(connection)
            .filter(|r| r.live_at(now))
            .map(|r| r.user.clone()))
    }

    async fn connections_of(
        &self,
        user: &UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<ConnectionId>, PortError> {
        Ok(self
            .connections()
            .iter()
            .filter(|(_, r)| r.user == *user && r.live_at(now))
            .map(|(id, _)| id.clone())
            .collect())
    }

    async fn remove(&self, connection: &ConnectionId) -> Result<(), PortError> {
        self.connections().remove(connection);
        Ok(())
    }

    async fn remove_expired(&self, now: OffsetDateTime) -> Result<Vec<ConnectionId>, PortError> {
        let mut connections = self.connections();
        let mut removed = Vec::new();
        connections.retain(|id, r| {
            let live = r.live_at(now);
            if !live {
                removed.push(id.clone());
            }
            live
        });
        Ok(removed)
    }
}
