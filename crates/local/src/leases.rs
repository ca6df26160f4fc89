//! Session leases in memory ([`SessionLeases`]).
//!
//! Local mode runs every turn processor in one process, so one lock-guarded map is an exact lease
//! table: each operation is atomic under the lock, as each conditional write is on DynamoDB. A
//! conversation's slot keeps its last token after release, so fencing tokens only ever grow.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::{Lease, PortError, SessionLeases};
use time::OffsetDateTime;

type Key = (UserId, ConversationId);

/// One conversation's lease state.
#[derive(Default)]
struct Slot {
    /// The token of the latest grant (0 before the first); kept after release.
    token: u64,
    held: Option<Held>,
}

struct Held {
    holder: String,
    expires_at: OffsetDateTime,
    cancel_requested: bool,
}

impl Held {
    /// Live through its `expires_at` instant, as on DynamoDB (`expiresAt >= :now`).
    fn live_at(&self, now: OffsetDateTime) -> bool {
        self.expires_at >= now
    }
}

/// [`SessionLeases`] in memory.
#[derive(Default)]
pub struct MemorySessionLeases {
    slots: Mutex<HashMap<Key, Slot>>,
}

impl MemorySessionLeases {
    pub fn new() -> Self {
        Self::default()
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<Key, Slot>> {
        // No critical section can panic between its reads and writes, so a poisoned lock still
        // guards consistent data.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The slot's current grant, when `lease` is it (same token, still held).
fn current<'a>(slots: &'a mut HashMap<Key, Slot>, lease: &Lease) -> Option<&'a mut Slot> {
    slots
        .get_mut(&(lease.user.clone(), lease.conversation.clone()))
        .filter(|slot| slot.token == lease.token && slot.held.is_some())
}

#[async_trait]
impl SessionLeases for MemorySessionLeases {
    async fn acquire(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<Option<Lease>, PortError> {
        let mut slots = self.slots();
        let slot = slots
            .entry((user.clone(), conversation.clone()))
            .or_default();
        if slot.held.as_ref().is_some_and(|held| held.live_at(now)) {
            return Ok(None);
        }
        let expires_at = now + ttl;
        slot.token += 1;
        slot.held = Some(Held {
            holder: holder.to_owned(),
            expires_at,
            cancel_requested: false,
        });
        Ok(Some(Lease {
            user: user.clone(),
            conversation: conversation.clone(),
            holder: holder.to_owned(),
            token: slot.token,
            expires_at,
        }))
    }

    async fn release(&self, lease: &Lease) -> Result<(), PortError> {
        if let Some(slot) = current(&mut self.slots(), lease) {
            slot.held = None;
        }
        Ok(())
    }

    async fn request_cancel(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        now: OffsetDateTime,
    ) -> Result<bool, PortError> {
        let mut slots = self.slots();
        let held = slots
            .get_mut(&(user.clone(), conversation.clone()))
            .and_then(|slot| slot.held.as_mut())
            .filter(|held| held.live_at(now));
        Ok(match held {
            Some(held) => {
                held.cancel_requested = true;
                true
            }
            None => false,
        })
    }

    async fn cancel_requested(&self, lease: &Lease) -> Result<bool, PortError> {
        Ok(current(&mut self.slots(), lease)
            .and_then(|slot| slot.held.as_ref())
            .is_some_and(|held| held.cancel_requested))
    }

    async fn clear_expired(&self, now: OffsetDateTime) -> Result<Vec<Lease>, PortError> {
        let mut slots = self.slots();
        let mut cleared = Vec::new();
        for ((user, conversation), slot) in slots.iter_mut() {
            if let Some(held) = slot.held.take_if(|held| !held.live_at(now)) {
                cleared.push(Lease {
                    user: user.clone(),
                    conversation: conversation.clone(),
                    holder: held.holder,
                    token: slot.token,
                    expires_at: held.expires_at,
                });
            }
        }
        Ok(cleared)
    }

    async fn held_by(&self, user: &UserId, now: OffsetDateTime) -> Result<usize, PortError> {
        Ok(self
            .slots()
            .iter()
            .filter(|((owner, _), slot)| {
                owner == user && slot.held.as_ref().is_some_and(|held| held.live_at(now))
            })
            .count())
    }
}
