//! The Telegram bot's state in the conversations table (the twin of `local`'s SQLite tables).
//!
//! Items, beside the conversation items and never colliding with them (their `pk` prefixes differ;
//! link codes are digits, Telegram ids numbers):
//!
//! | item            | `pk`                 | `sk`       | attributes                               |
//! |-----------------|----------------------|------------|------------------------------------------|
//! | claimed update  | `TGUPDATE#<updateId>`| `TGUPDATE` | `expiresAt` (ms), `ttl` (s)              |
//! | link code       | `TGCODE#<code>`      | `TGCODE`   | `userId`, `expiresAt` (ms), `ttl` (s)    |
//! | failed attempts | `TGUSER#<telegramId>`| `LINKFAIL` | `failures` (list of ms), `ttl` (s)       |
//! | Telegram user   | `TGUSER#<telegramId>`| `USER`     | `userId` once linked, `conversationId`   |
//! | owner's link    | `USER#<userId>`      | `TGLINK#<telegramId>` | none (an index of the links above) |
//!
//! Expiry is part of every conditional write and read (TTL deletes items only eventually); `ttl` just
//! lets DynamoDB clean up. Every write that must happen once is one conditional request.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::{
    LinkCodes, PortError, ProcessedUpdates, TelegramLinks, TelegramUserId,
};
use time::OffsetDateTime;

use crate::dynamodb::{
    Item, corrupt, is_condition_failure, millis, query_prefix, sdk_failure, string_of,
};

const PK: &str = "pk";
const SK: &str = "sk";
const EXPIRES_AT: &str = "expiresAt";
const TTL: &str = "ttl";
const USER_ID: &str = "userId";
const CONVERSATION_ID: &str = "conversationId";
const FAILURES: &str = "failures";

const UPDATE_SK: &str = "TGUPDATE";
const CODE_SK: &str = "TGCODE";
const FAILURES_SK: &str = "LINKFAIL";
const USER_SK: &str = "USER";
const OWNER_LINK_PREFIX: &str = "TGLINK#";

/// [`TelegramStore`] on the conversations table.
#[derive(Clone)]
pub struct DynamoTelegramStore {
    client: Client,
    table: String,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Epoch seconds for DynamoDB's TTL.
fn ttl(t: OffsetDateTime) -> AttributeValue {
    n(t.unix_timestamp())
}

fn user_pk(telegram_user: TelegramUserId) -> String {
    format!("TGUSER#{telegram_user}")
}

/// The owner's side of a link (an index, so the web settings can list an owner's Telegram accounts):
/// in the owner's partition, beside their conversations.
fn owner_pk(user: &UserId) -> String {
    format!("USER#{user}")
}

fn owner_link_sk(telegram_user: TelegramUserId) -> String {
    format!("{OWNER_LINK_PREFIX}{telegram_user}")
}

fn window_start(now: OffsetDateTime, window: Duration) -> i64 {
    millis(now) - i64::try_from(window.as_millis()).unwrap_or(i64::MAX)
}

/// The failure times of an attempts item that fall within the window ending at `now`.
fn failures_within(item: Option<&Item>, now: OffsetDateTime, window: Duration) -> Vec<i64> {
    let Some(AttributeValue::L(failures)) = item.and_then(|i| i.get(FAILURES)) else {
        return Vec::new();
    };
    let (start, end) = (window_start(now, window), millis(now));
    failures
        .iter()
        .filter_map(|f| f.as_n().ok()?.parse::<i64>().ok())
        .filter(|at| *at > start && *at <= end)
        .collect()
}

impl DynamoTelegramStore {
    /// A store on the conversations table (see `conversations::create_table`).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn fail<E, R>(&self, operation: &'static str, e: SdkError<E, R>) -> PortError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        sdk_failure(operation, &self.table, e)
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, PortError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.fail("GetItem", e))?;
        Ok(got.item)
    }

    /// One string attribute of the Telegram user's item, if set.
    async fn user_attribute(
        &self,
        telegram_user: TelegramUserId,
        name: &str,
    ) -> Result<Option<String>, PortError> {
        let item = self.get(user_pk(telegram_user), USER_SK).await?;
        match item {
            Some(item) if item.contains_key(name) => Ok(Some(string_of(&item, name)?.to_owned())),
            _ => Ok(None),
        }
    }

    async fn delete_owner_link(
        &self,
        owner: &UserId,
        telegram_user: TelegramUserId,
    ) -> Result<(), PortError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(owner_pk(owner)))
            .key(SK, s(owner_link_sk(telegram_user)))
            .send()
            .await
            .map_err(|e| self.fail("DeleteItem", e))?;
        Ok(())
    }

    /// Sets one attribute of the Telegram user's item, creating the item.
    async fn set_user_attribute(
        &self,
        telegram_user: TelegramUserId,
        name: &str,
        value: &str,
    ) -> Result<(), PortError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(user_pk(telegram_user)))
            .key(SK, s(USER_SK))
            .update_expression("SET #a = :v")
            .expression_attribute_names("#a", name)
            .expression_attribute_values(":v", s(value))
            .send()
            .await
            .map_err(|e| self.fail("UpdateItem", e))?;
        Ok(())
    }
}

#[async_trait]
impl ProcessedUpdates for DynamoTelegramStore {
    async fn claim_update(
        &self,
        update_id: i64,
        keep_until: OffsetDateTime,
    ) -> Result<bool, PortError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(format!("TGUPDATE#{update_id}")))
            .item(SK, s(UPDATE_SK))
            .item(EXPIRES_AT, n(millis(keep_until)))
            .item(TTL, ttl(keep_until))
            .condition_expression("attribute_not_exists(#pk) OR #expiresAt < :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#expiresAt", EXPIRES_AT)
            .expression_attribute_values(":now", n(millis(OffsetDateTime::now_utc())))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(self.fail("PutItem", e)),
        }
    }

    async fn release_update(&self, update_id: i64) -> Result<(), PortError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(format!("TGUPDATE#{update_id}")))
            .key(SK, s(UPDATE_SK))
            .send()
            .await
            .map_err(|e| self.fail("DeleteItem", e))?;
        Ok(())
    }
}

#[async_trait]
impl LinkCodes for DynamoTelegramStore {
    async fn put_link_code(
        &self,
        code: &str,
        user: &UserId,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), PortError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(format!("TGCODE#{code}")))
            .item(SK, s(CODE_SK))
            .item(USER_ID, s(user.as_str()))
            .item(EXPIRES_AT, n(millis(expires_at)))
            .item(TTL, ttl(expires_at))
            .condition_expression("attribute_not_exists(#pk) OR #expiresAt <= :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#expiresAt", EXPIRES_AT)
            .expression_attribute_values(":now", n(millis(now)))
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => {
                Err(PortError::Conflict("the link code is in use".into()))
            }
            Err(e) => Err(self.fail("PutItem", e)),
        }
    }

    async fn take_link_code(
        &self,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, PortError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(format!("TGCODE#{code}")))
            .key(SK, s(CODE_SK))
            .condition_expression("#expiresAt > :now")
            .expression_attribute_names("#expiresAt", EXPIRES_AT)
            .expression_attribute_values(":now", n(millis(now)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match deleted {
            Ok(out) => {
                let item = out.attributes.ok_or_else(|| corrupt(USER_ID))?;
                let user = UserId::parse(string_of(&item, USER_ID)?).map_err(PortError::backend)?;
                Ok(Some(user))
            }
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(self.fail("DeleteItem", e)),
        }
    }

    async fn record_link_failure(
        &self,
        telegram_user: TelegramUserId,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<u32, PortError> {
        let keep_until = now + window;
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(user_pk(telegram_user)))
            .key(SK, s(FAILURES_SK))
            .update_expression(
                "SET #failures = list_append(if_not_exists(#failures, :none), :now), #ttl = :ttl",
            )
            .expression_attribute_names("#failures", FAILURES)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":now", AttributeValue::L(vec![n(millis(now))]))
            .expression_attribute_values(":ttl", ttl(keep_until))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| self.fail("UpdateItem", e))?;
        let item = updated.attributes;
        let recent = failures_within(item.as_ref(), now, window);
        let stored = match item.as_ref().and_then(|i| i.get(FAILURES)) {
            Some(AttributeValue::L(all)) => all.len(),
            _ => 0,
        };
        if stored > recent.len() {
            // Drop the attempts that left the window, so the list stays short. Only when nothing
            // was appended meanwhile; otherwise the next attempt prunes.
            let pruned = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(PK, s(user_pk(telegram_user)))
                .key(SK, s(FAILURES_SK))
                .update_expression("SET #failures = :recent")
                .condition_expression("size(#failures) = :stored")
                .expression_attribute_names("#failures", FAILURES)
                .expression_attribute_values(
                    ":recent",
                    AttributeValue::L(recent.iter().map(|at| n(*at)).collect()),
                )
                .expression_attribute_values(":stored", n(stored as i64))
                .send()
                .await;
            match pruned {
                Ok(_) => {}
                Err(e) if is_condition_failure(&e) => {}
                Err(e) => {
                    let error = self.fail("UpdateItem", e);
                    tracing::warn!(%error, "pruning old link attempts failed");
                }
            }
        }
        Ok(recent.len() as u32)
    }

    async fn link_failures(
        &self,
        telegram_user: TelegramUserId,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<u32, PortError> {
        let item = self.get(user_pk(telegram_user), FAILURES_SK).await?;
        Ok(failures_within(item.as_ref(), now, window).len() as u32)
    }
}

#[async_trait]
impl TelegramLinks for DynamoTelegramStore {
    /// The owner's index item first, then the link itself; an index item left behind by a failure in
    /// between is harmless, because `linked_telegram_users` checks every one against the link.
    async fn link(&self, telegram_user: TelegramUserId, user: &UserId) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(owner_pk(user)))
            .item(SK, s(owner_link_sk(telegram_user)))
            .send()
            .await
            .map_err(|e| self.fail("PutItem", e))?;
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(user_pk(telegram_user)))
            .key(SK, s(USER_SK))
            .update_expression("SET #a = :v")
            .expression_attribute_names("#a", USER_ID)
            .expression_attribute_values(":v", s(user.as_str()))
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await
            .map_err(|e| self.fail("UpdateItem", e))?;
        match updated
            .attributes
            .as_ref()
            .map(|old| string_of(old, USER_ID))
        {
            Some(Ok(previous)) if previous != user.as_str() => {
                let previous = UserId::parse(previous).map_err(PortError::backend)?;
                self.delete_owner_link(&previous, telegram_user).await
            }
            _ => Ok(()),
        }
    }

    async fn linked_user(
        &self,
        telegram_user: TelegramUserId,
    ) -> Result<Option<UserId>, PortError> {
        self.user_attribute(telegram_user, USER_ID)
            .await?
            .map(|u| UserId::parse(u).map_err(PortError::backend))
            .transpose()
    }

    async fn unlink(
        &self,
        telegram_user: TelegramUserId,
        owner: &UserId,
    ) -> Result<bool, PortError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(user_pk(telegram_user)))
            .key(SK, s(USER_SK))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", USER_ID)
            .expression_attribute_values(":owner", s(owner.to_string()))
            .send()
            .await;
        match deleted {
            Ok(_) => {
                self.delete_owner_link(owner, telegram_user).await?;
                Ok(true)
            }
            // Not linked, or linked to someone else since the caller looked.
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(self.fail("DeleteItem", e)),
        }
    }

    async fn linked_telegram_users(&self, user: &UserId) -> Result<Vec<TelegramUserId>, PortError> {
        let index =
            query_prefix(&self.client, &self.table, owner_pk(user), OWNER_LINK_PREFIX).await?;
        let mut linked = Vec::new();
        for item in &index {
            let telegram_user = string_of(item, SK)?
                .strip_prefix(OWNER_LINK_PREFIX)
                .and_then(|id| id.parse::<TelegramUserId>().ok())
                .ok_or_else(|| corrupt(SK))?;
            if self.linked_user(telegram_user).await?.as_ref() == Some(user) {
                linked.push(telegram_user);
            }
        }
        linked.sort_unstable();
        Ok(linked)
    }

    async fn current_conversation(
        &self,
        telegram_user: TelegramUserId,
    ) -> Result<Option<ConversationId>, PortError> {
        self.user_attribute(telegram_user, CONVERSATION_ID)
            .await?
            .map(|c| ConversationId::parse(c).map_err(PortError::backend))
            .transpose()
    }

    async fn set_current_conversation(
        &self,
        telegram_user: TelegramUserId,
        conversation: &ConversationId,
    ) -> Result<(), PortError> {
        self.set_user_attribute(telegram_user, CONVERSATION_ID, conversation.as_str())
            .await
    }
}
