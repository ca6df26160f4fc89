//! Conversations and messages in one DynamoDB table: the AWS twin of `local`'s SQLite store.
//!
//! Items (string keys `pk` and `sk`; ids never contain `#`, so one prefix can never run into another):
//!
//! | item         | `pk`                        | `sk`                  | attributes                                              |
//! |--------------|-----------------------------|-----------------------|---------------------------------------------------------|
//! | conversation | `USER#<user>`               | `CONV#<conversation>` | `title`, `createdAt`, `updatedAt`, `messageCount`       |
//! | message      | `CONV#<user>#<conversation>`| `MSG#<messageId>`     | `role`, `content`, `channel`, `createdAt`, `searchUser`, `searchText` (for [`crate::search`]); user: `clientMessageId`, `answeredBy` once replied; assistant: `replyTo`, `inputTokens`, `outputTokens`, `costUsd`, `durationMs`, `activity` (JSON text, only on replies whose turn called tools) |
//! | dedupe key   | `CONV#<user>#<conversation>`| `DEDUPE#<clientMessageId>` | `messageId`                                        |
//! | settings     | `CONV#<user>#<conversation>`| `SETTINGS`            | `model`, `thinking`, `freshSession` (each only when set) |
//!
//! A conversation's own settings live in its messages' partition, so they may be set before its first
//! message and deleting the conversation (which deletes that partition) removes them.
//!
//! Times are epoch milliseconds (numbers), as in the SQLite twin. `updatedAt` is set to the time of the
//! latest message written (SQLite keeps the maximum, which an update expression cannot); the two agree
//! because a conversation's messages are written in time order: the client's one after another, each
//! reply by the one turn processor the session lease allows. Message ids are UUIDv7, made by the
//! server, so `sk` order is creation order and `before` paging is a key range, never a scan.
//!
//! Every write that must not half-happen is one `TransactWriteItems`: a user message with its dedupe
//! key and the conversation's counters; a reply with the `answeredBy` marks (one per user message it
//! answers: a reply to a burst answers several) that allow only one. Reads
//! are strongly consistent, since the idempotency checks of the turn processor read what was just written.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::builders::PutBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, CancellationReason, DeleteRequest, KeyType, Put,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update, WriteRequest,
};
use serverless_openclaw_core::domain::{
    Channel, Conversation, ConversationSettings, ConversationSettingsUpdate, ExchangeVersion,
    Message, NewAssistantMessage, NewUserMessage, Rerun, Role, ThinkingLevel, TurnActivity, Usage,
    UserMessage, group_versions, title_from_message,
};
use serverless_openclaw_core::ids::{ClientMessageId, ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{Appended, ConversationStore, PortError};
use time::OffsetDateTime;

use crate::dynamodb::{
    Item, corrupt, enable_ttl, is_condition_failure, key_element, millis, number_of, query_prefix,
    sdk_failure, string_attribute, string_of,
};
use crate::search;

pub(crate) const PK: &str = "pk";
pub(crate) const SK: &str = "sk";
const TITLE: &str = "title";
pub(crate) const CREATED_AT: &str = "createdAt";
const UPDATED_AT: &str = "updatedAt";
const MESSAGE_COUNT: &str = "messageCount";
pub(crate) const ROLE: &str = "role";
pub(crate) const CONTENT: &str = "content";
const CHANNEL: &str = "channel";
const CLIENT_MESSAGE_ID: &str = "clientMessageId";
const ANSWERED_BY: &str = "answeredBy";
const REPLY_TO: &str = "replyTo";
const INPUT_TOKENS: &str = "inputTokens";
const OUTPUT_TOKENS: &str = "outputTokens";
const COST_USD: &str = "costUsd";
const DURATION_MS: &str = "durationMs";
const ACTIVITY: &str = "activity";
const MESSAGE_ID: &str = "messageId";
const VERSIONS_OF: &str = "versionsOf";
const MODEL: &str = "model";
const THINKING: &str = "thinking";
const FRESH_SESSION: &str = "freshSession";
const SETTINGS_SK: &str = "SETTINGS";

pub(crate) const CONVERSATION_PREFIX: &str = "CONV#";
pub(crate) const MESSAGE_PREFIX: &str = "MSG#";
/// Messages out of the current path: earlier versions of an edited or regenerated exchange.
const VERSION_PREFIX: &str = "VER#";

/// The cancellation code of an item whose condition did not hold.
const CONDITION_FAILED: &str = "ConditionalCheckFailed";
/// The cancellation code of an item another transaction was writing at the same moment.
const TRANSACTION_CONFLICT: &str = "TransactionConflict";
/// How often a conflicting transaction or an unprocessed batch is tried again before giving up.
pub(crate) const RETRIES: u32 = 5;
/// The most items one `BatchWriteItem` takes.
const BATCH_WRITE_MAX: usize = 25;

/// Creates the table this adapter (and [`crate::telegram`]'s) expects; the CDK app declares the same:
/// string partition key `pk`, string sort key `sk`, on-demand billing, the search index
/// ([`crate::search`]), TTL on `ttl` (Telegram items only). Returns once the table is active.
pub async fn create_table(client: &Client, name: &str) -> Result<(), PortError> {
    client
        .create_table()
        .table_name(name)
        .key_schema(key_element(PK, KeyType::Hash)?)
        .key_schema(key_element(SK, KeyType::Range)?)
        .attribute_definitions(string_attribute(PK)?)
        .attribute_definitions(string_attribute(SK)?)
        .attribute_definitions(string_attribute(search::SEARCH_USER)?)
        .global_secondary_indexes(search::messages_by_user()?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| sdk_failure("CreateTable", name, e))?;
    enable_ttl(client, name, "ttl").await
}

/// [`ConversationStore`] on one DynamoDB table with the items described in the module docs.
#[derive(Clone)]
pub struct DynamoConversationStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

/// What a transaction did.
enum Outcome {
    Written,
    /// A condition did not hold; one reason per item, in request order (code `None` for items that
    /// were fine).
    Refused(Vec<CancellationReason>),
}

impl DynamoConversationStore {
    /// A store on `table`, which must have the key schema [`create_table`] makes.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The start of a message item's `Put`: its key in the conversation's `messages` partition, the
    /// attributes that make it searchable, its role and content.
    fn message_put(
        &self,
        messages: &str,
        user: &UserId,
        id: &MessageId,
        role: Role,
        content: &str,
    ) -> PutBuilder {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(search::searchable(
                key(messages.to_owned(), message_sk(id)),
                user,
                content,
            )))
            .item(ROLE, s(role.as_str()))
            .item(CONTENT, s(content))
    }

    pub(crate) fn fail<E, R>(&self, operation: &'static str, e: SdkError<E, R>) -> PortError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        sdk_failure(operation, &self.table, e)
    }

    /// Runs one transaction. A cancellation because another transaction held an item at the same
    /// moment wrote nothing, so it is tried again (as AWS advises) until some condition decides.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Outcome, PortError> {
        let mut attempt = 0;
        loop {
            let err = match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await
            {
                Ok(_) => return Ok(Outcome::Written),
                Err(e) => e,
            };
            let reasons = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    c.cancellation_reasons().to_vec()
                }
                _ => return Err(self.fail("TransactWriteItems", err)),
            };
            let has = |code: &str| reasons.iter().any(|r| r.code() == Some(code));
            if has(CONDITION_FAILED) {
                return Ok(Outcome::Refused(reasons));
            }
            if !has(TRANSACTION_CONFLICT) || attempt == RETRIES {
                return Err(self.fail("TransactWriteItems", err));
            }
            attempt += 1;
            tokio::time::sleep(backoff(attempt)).await;
        }
    }

    async fn get(&self, key: Item, projection: &str) -> Result<Option<Item>, PortError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .projection_expression("#p")
            .expression_attribute_names("#p", projection)
            .send()
            .await
            .map(|out| out.item)
            .map_err(|e| self.fail("GetItem", e))
    }

    /// The items that store a user message, as one transaction: its dedupe key first (which fails
    /// the transaction when the client id was seen, and hands back the stored message id), the
    /// message (a new version of the last exchange when `versions_of` names the exchange), and the
    /// conversation's update time and count (`count_delta` more messages on its current path; the
    /// conversation is created on its first message).
    fn user_message_items(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        message: &NewUserMessage,
        versions_of: Option<&str>,
        count_delta: i64,
    ) -> Result<Vec<TransactWriteItem>, PortError> {
        let messages = messages_pk(user, conversation);
        let at = millis(message.created_at);
        let dedupe = Put::builder()
            .table_name(&self.table)
            .set_item(Some(key(
                messages.clone(),
                dedupe_sk(&message.client_message_id),
            )))
            .item(MESSAGE_ID, s(message.id.as_str()))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(PortError::backend)?;
        let mut stored = self
            .message_put(&messages, user, &message.id, Role::User, &message.content)
            .item(CHANNEL, s(message.channel.as_str()))
            .item(CLIENT_MESSAGE_ID, s(message.client_message_id.as_str()))
            .item(CREATED_AT, n(at));
        if let Some(slot) = versions_of {
            stored = stored.item(VERSIONS_OF, s(slot));
        }
        let stored = stored.build().map_err(PortError::backend)?;
        // `ADD` starts a missing count at zero.
        let touch = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user), conversation_sk(conversation))))
            .update_expression(
                "SET #title = if_not_exists(#title, :title), #created = if_not_exists(#created, :at), \
                 #updated = :at ADD #count :delta",
            )
            .expression_attribute_names("#title", TITLE)
            .expression_attribute_names("#created", CREATED_AT)
            .expression_attribute_names("#updated", UPDATED_AT)
            .expression_attribute_names("#count", MESSAGE_COUNT)
            .expression_attribute_values(":title", s(title_from_message(&message.content)))
            .expression_attribute_values(":at", n(at))
            .expression_attribute_values(":delta", n(count_delta))
            .build()
            .map_err(PortError::backend)?;
        Ok(vec![
            TransactWriteItem::builder().put(dedupe).build(),
            TransactWriteItem::builder().put(stored).build(),
            TransactWriteItem::builder().update(touch).build(),
        ])
    }

    /// The items that take a message of the current path (`item`, as read) out of it, into the
    /// versions of exchange `slot`: its `MSG#` item is deleted (only if it is still as read:
    /// `condition` on it) and a copy kept under `VER#<slot>#<id>`, out of the search index.
    fn supersede_items(
        &self,
        item: &Item,
        slot: &str,
        condition: Option<(&str, &str)>,
    ) -> Result<[TransactWriteItem; 2], PortError> {
        let id = id_in_sort_key(item, MESSAGE_PREFIX)?;
        let pk = string_of(item, PK)?.to_owned();
        let mut delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk.clone(), format!("{MESSAGE_PREFIX}{id}"))))
            .expression_attribute_names("#pk", PK);
        delete = match condition {
            Some((name, value)) => delete
                .condition_expression("attribute_exists(#pk) AND #mark = :mark")
                .expression_attribute_names("#mark", name)
                .expression_attribute_values(":mark", s(value)),
            None => delete.condition_expression("attribute_exists(#pk)"),
        };
        let mut kept = item.clone();
        search::unsearchable(&mut kept);
        kept.insert(SK.into(), s(version_sk(slot, id)));
        kept.insert(VERSIONS_OF.into(), s(slot));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(kept))
            .build()
            .map_err(PortError::backend)?;
        Ok([
            TransactWriteItem::builder()
                .delete(delete.build().map_err(PortError::backend)?)
                .build(),
            TransactWriteItem::builder().put(put).build(),
        ])
    }

    /// The newest items of the conversation's current path, newest first, at most `limit`; only
    /// user messages when `users_only`.
    async fn newest_messages(
        &self,
        messages: &str,
        limit: i32,
        users_only: bool,
    ) -> Result<Vec<Item>, PortError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .scan_index_forward(false)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :lo)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(messages))
            .expression_attribute_values(":lo", s(MESSAGE_PREFIX))
            .limit(limit);
        if users_only {
            query = query
                .filter_expression("#role = :user")
                .expression_attribute_names("#role", ROLE)
                .expression_attribute_values(":user", s(Role::User.as_str()));
        }
        let mut pages = query.into_paginator().send();
        let mut found = Vec::new();
        while found.len() < usize::try_from(limit).unwrap_or_default() {
            let Some(page) = pages.try_next().await.map_err(|e| self.fail("Query", e))? else {
                break;
            };
            found.extend(page.items().iter().cloned());
        }
        found.truncate(usize::try_from(limit).unwrap_or_default());
        Ok(found)
    }

    /// `NotFound` unless the conversation exists.
    async fn require_conversation(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<(), PortError> {
        let key = key(user_pk(user), conversation_sk(conversation));
        match self.get(key, PK).await? {
            Some(_) => Ok(()),
            None => Err(PortError::NotFound),
        }
    }

    /// Whether a stored user message has a reply; `None` when there is no such message.
    async fn answered(&self, messages: &str, id: &MessageId) -> Result<Option<bool>, PortError> {
        let found = self
            .get(key(messages.to_owned(), message_sk(id)), ANSWERED_BY)
            .await?;
        Ok(found.map(|item| item.contains_key(ANSWERED_BY)))
    }

    /// Deletes every item of a conversation's message partition (messages and dedupe keys), a page of
    /// keys at a time.
    async fn delete_partition(&self, messages: &str) -> Result<(), PortError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .projection_expression("#pk, #sk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(messages))
            .into_paginator()
            .send();
        while let Some(page) = pages.try_next().await.map_err(|e| self.fail("Query", e))? {
            for keys in page.items().chunks(BATCH_WRITE_MAX) {
                self.delete_batch(keys).await?;
            }
        }
        Ok(())
    }

    /// One `BatchWriteItem` of deletes, retrying what DynamoDB leaves unprocessed (it does under
    /// throttling) with backoff.
    async fn delete_batch(&self, keys: &[Item]) -> Result<(), PortError> {
        let mut pending = keys
            .iter()
            .map(|key| {
                let delete = DeleteRequest::builder()
                    .set_key(Some(key.clone()))
                    .build()
                    .map_err(PortError::backend)?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        let mut attempt = 0;
        while !pending.is_empty() {
            if attempt == RETRIES {
                return Err(PortError::backend(format!(
                    "DynamoDB BatchWriteItem on table {} left {} deletes unprocessed after {RETRIES} retries",
                    self.table,
                    pending.len()
                )));
            }
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            attempt += 1;
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, pending)
                .send()
                .await
                .map_err(|e| self.fail("BatchWriteItem", e))?;
            pending = out
                .unprocessed_items
                .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                .unwrap_or_default();
        }
        Ok(())
    }
}

/// 50 ms, 100 ms, 200 ms, … for retry `attempt` (1-based).
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(25 << attempt.min(6))
}

fn user_pk(user: &UserId) -> String {
    format!("USER#{user}")
}

fn conversation_sk(conversation: &ConversationId) -> String {
    format!("{CONVERSATION_PREFIX}{conversation}")
}

fn messages_pk(user: &UserId, conversation: &ConversationId) -> String {
    format!("{CONVERSATION_PREFIX}{user}#{conversation}")
}

fn message_sk(id: &MessageId) -> String {
    format!("{MESSAGE_PREFIX}{id}")
}

fn version_sk(slot: &str, id: &str) -> String {
    format!("{VERSION_PREFIX}{slot}#{id}")
}

fn dedupe_sk(client_id: &ClientMessageId) -> String {
    format!("DEDUPE#{client_id}")
}

pub(crate) fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk)),
        (SK.to_owned(), AttributeValue::S(sk)),
    ])
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The id after `prefix` in the item's sort key.
pub(crate) fn id_in_sort_key<'a>(item: &'a Item, prefix: &str) -> Result<&'a str, PortError> {
    string_of(item, SK)?
        .strip_prefix(prefix)
        .ok_or_else(|| corrupt(SK))
}

fn conversation_from(item: &Item) -> Result<Conversation, PortError> {
    Ok(Conversation {
        id: ConversationId::parse(id_in_sort_key(item, CONVERSATION_PREFIX)?)
            .map_err(PortError::backend)?,
        title: string_of(item, TITLE)?.to_owned(),
        updated_at: from_millis(number_of(item, UPDATED_AT)?),
        message_count: number_of(item, MESSAGE_COUNT)?,
    })
}

fn message_from(item: &Item, conversation: &ConversationId) -> Result<Message, PortError> {
    message_with_id(item, id_in_sort_key(item, MESSAGE_PREFIX)?, conversation)
}

/// A message kept as an earlier version (`VER#<slot>#<id>`).
fn version_from(item: &Item, conversation: &ConversationId) -> Result<Message, PortError> {
    let id = id_in_sort_key(item, VERSION_PREFIX)?
        .rsplit_once('#')
        .ok_or_else(|| corrupt(SK))?
        .1;
    message_with_id(item, id, conversation)
}

fn message_with_id(
    item: &Item,
    id: &str,
    conversation: &ConversationId,
) -> Result<Message, PortError> {
    Ok(Message {
        id: MessageId::parse(id).map_err(PortError::backend)?,
        conversation_id: conversation.clone(),
        role: Role::from_name(string_of(item, ROLE)?).ok_or_else(|| corrupt(ROLE))?,
        content: string_of(item, CONTENT)?.to_owned(),
        channel: Channel::from_name(string_of(item, CHANNEL)?).ok_or_else(|| corrupt(CHANNEL))?,
        created_at: from_millis(number_of(item, CREATED_AT)?),
        cost_usd: match item.get(COST_USD) {
            None => None,
            Some(_) => Some(number_of(item, COST_USD)?),
        },
        usage: match (item.get(INPUT_TOKENS), item.get(OUTPUT_TOKENS)) {
            (Some(_), Some(_)) => Some(Usage {
                input_tokens: number_of(item, INPUT_TOKENS)?,
                output_tokens: number_of(item, OUTPUT_TOKENS)?,
            }),
            _ => None,
        },
        // Replies stored before activity existed, and turns without tool calls, have none.
        activity: match item.get(ACTIVITY) {
            None => None,
            Some(_) => TurnActivity::from_stored(string_of(item, ACTIVITY)?),
        },
    })
}

fn user_message_from(item: &Item, conversation: &ConversationId) -> Result<UserMessage, PortError> {
    let message = message_from(item, conversation)?;
    Ok(UserMessage {
        id: message.id,
        content: message.content,
        channel: message.channel,
        created_at: message.created_at,
        answered: item.contains_key(ANSWERED_BY),
    })
}

/// The reason of item `index` when its condition failed.
fn condition_failed(reasons: &[CancellationReason], index: usize) -> Option<&CancellationReason> {
    reasons
        .get(index)
        .filter(|r| r.code() == Some(CONDITION_FAILED))
}

/// A refusal by a condition the transaction did not set (which DynamoDB never gives).
fn unexpected_refusal(table: &str, reasons: &[CancellationReason]) -> PortError {
    let codes: Vec<_> = reasons.iter().map(|r| r.code().unwrap_or("?")).collect();
    PortError::backend(format!(
        "DynamoDB transaction on table {table} cancelled unexpectedly: [{}]",
        codes.join(", ")
    ))
}

#[async_trait]
impl ConversationStore for DynamoConversationStore {
    async fn create_conversation(
        &self,
        user: &UserId,
        id: &ConversationId,
        title: &str,
    ) -> Result<(), PortError> {
        let now = millis(OffsetDateTime::now_utc());
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(key(user_pk(user), conversation_sk(id))))
            .item(TITLE, s(title))
            .item(CREATED_AT, n(now))
            .item(UPDATED_AT, n(now))
            .item(MESSAGE_COUNT, n(0))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => {
                Err(PortError::Conflict(format!("conversation {id} exists")))
            }
            Err(e) => Err(self.fail("PutItem", e)),
        }
    }

    /// One Query of the user's partition, sorted here: a person's conversations are a few hundred
    /// small items (one page holds thousands), and an index on `updatedAt` would cost a second write on
    /// every message.
    async fn list_conversations(&self, user: &UserId) -> Result<Vec<Conversation>, PortError> {
        let items = query_prefix(
            &self.client,
            &self.table,
            user_pk(user),
            CONVERSATION_PREFIX,
        )
        .await?;
        let mut conversations = items
            .iter()
            .map(conversation_from)
            .collect::<Result<Vec<_>, _>>()?;
        conversations.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.id.cmp(&b.id)));
        Ok(conversations)
    }

    async fn append_user_message(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        message: NewUserMessage,
    ) -> Result<Appended, PortError> {
        let messages = messages_pk(user, conversation);
        let items = self.user_message_items(user, conversation, &message, None, 1)?;
        let reasons = match self.transact(items).await? {
            Outcome::Written => {
                return Ok(Appended {
                    message_id: message.id,
                    duplicate: false,
                    answered: false,
                });
            }
            Outcome::Refused(reasons) => reasons,
        };
        let first = condition_failed(&reasons, 0)
            .and_then(|r| r.item())
            .ok_or_else(|| unexpected_refusal(&self.table, &reasons))?;
        let message_id =
            MessageId::parse(string_of(first, MESSAGE_ID)?).map_err(PortError::backend)?;
        // The first message is gone only if the conversation is being deleted right now.
        let answered = self
            .answered(&messages, &message_id)
            .await?
            .unwrap_or(false);
        Ok(Appended {
            message_id,
            duplicate: true,
            answered,
        })
    }

    async fn append_assistant_message(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        message: NewAssistantMessage,
    ) -> Result<(), PortError> {
        let messages = messages_pk(user, conversation);
        let at = millis(message.created_at);
        // The marks that allow one reply per user message: the one replied to and a burst's earlier ones.
        let answered: Vec<&MessageId> = message.answers().collect();
        let mut items = answered
            .iter()
            .map(|answered| {
                let mark = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(messages.clone(), message_sk(answered))))
                    .update_expression("SET #answeredBy = :id")
                    .condition_expression(
                        "attribute_exists(#pk) AND attribute_not_exists(#answeredBy)",
                    )
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_names("#answeredBy", ANSWERED_BY)
                    .expression_attribute_values(":id", s(message.id.as_str()))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .map_err(PortError::backend)?;
                Ok(TransactWriteItem::builder().update(mark).build())
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        let mut stored = self
            .message_put(
                &messages,
                user,
                &message.id,
                Role::Assistant,
                &message.content,
            )
            .item(CHANNEL, s(message.channel.as_str()))
            .item(REPLY_TO, s(message.reply_to.as_str()))
            .item(INPUT_TOKENS, n(message.usage.input_tokens))
            .item(OUTPUT_TOKENS, n(message.usage.output_tokens))
            .item(DURATION_MS, n(message.duration_ms))
            .item(CREATED_AT, n(at));
        // DynamoDB refuses NaN and infinities, which would lose the reply over an accounting figure.
        if let Some(cost) = message.cost_usd.filter(|c| c.is_finite()) {
            stored = stored.item(COST_USD, n(cost));
        }
        if let Some(activity) = &message.activity {
            stored = stored.item(ACTIVITY, s(activity.to_stored().as_str()));
        }
        let stored = stored.build().map_err(PortError::backend)?;
        let touch = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user), conversation_sk(conversation))))
            .update_expression("SET #updated = :at ADD #count :one")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#updated", UPDATED_AT)
            .expression_attribute_names("#count", MESSAGE_COUNT)
            .expression_attribute_values(":at", n(at))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(PortError::backend)?;
        items.push(TransactWriteItem::builder().put(stored).build());
        items.push(TransactWriteItem::builder().update(touch).build());
        let reasons = match self.transact(items).await? {
            Outcome::Written => return Ok(()),
            Outcome::Refused(reasons) => reasons,
        };
        if condition_failed(&reasons, answered.len() + 1).is_some() {
            return Err(PortError::NotFound);
        }
        let refused: Vec<_> = (0..answered.len())
            .filter_map(|i| condition_failed(&reasons, i).map(|r| (answered[i], r)))
            .collect();
        if let Some((id, _)) = refused.iter().find(|(_, r)| r.item().is_some()) {
            return Err(PortError::Conflict(format!(
                "message {id} already has a reply"
            )));
        }
        if refused.is_empty() {
            Err(unexpected_refusal(&self.table, &reasons))
        } else {
            Err(PortError::NotFound)
        }
    }

    async fn is_answered(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        user_message: &MessageId,
    ) -> Result<bool, PortError> {
        self.require_conversation(user, conversation).await?;
        let answered = self
            .answered(&messages_pk(user, conversation), user_message)
            .await?;
        Ok(answered.unwrap_or(false))
    }

    /// Newest first down the sort key, the replies filtered out by DynamoDB, until `limit` user
    /// messages are read; then reversed.
    async fn latest_user_messages(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        limit: usize,
    ) -> Result<Vec<UserMessage>, PortError> {
        self.require_conversation(user, conversation).await?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .scan_index_forward(false)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :lo)")
            .filter_expression("#role = :user")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_names("#role", ROLE)
            .expression_attribute_values(":pk", s(messages_pk(user, conversation)))
            .expression_attribute_values(":lo", s(MESSAGE_PREFIX))
            .expression_attribute_values(":user", s(Role::User.as_str()))
            // Replies are about half of what is read before the filter.
            .limit(i32::try_from(limit.saturating_mul(2)).unwrap_or(i32::MAX))
            .into_paginator()
            .send();
        let mut newest_first = Vec::new();
        while newest_first.len() < limit {
            let Some(page) = pages.try_next().await.map_err(|e| self.fail("Query", e))? else {
                break;
            };
            for item in page.items() {
                newest_first.push(user_message_from(item, conversation)?);
            }
        }
        newest_first.truncate(limit);
        newest_first.reverse();
        Ok(newest_first)
    }

    /// Newest first down the sort key from `before` (exclusive), then reversed. A `before` that names
    /// no stored message still pages by its place in id order, i.e. by time.
    async fn list_messages(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        limit: usize,
        before: Option<&MessageId>,
    ) -> Result<Vec<Message>, PortError> {
        self.require_conversation(user, conversation).await?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let upper = before.map(message_sk);
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .scan_index_forward(false)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(messages_pk(user, conversation)))
            .expression_attribute_values(":lo", s(MESSAGE_PREFIX))
            // One more than asked for: the range includes `before` itself, which is skipped.
            .limit(i32::try_from(limit.saturating_add(1)).unwrap_or(i32::MAX));
        // `BETWEEN` because the dedupe keys share the partition and sort below `MSG#`.
        let query = match &upper {
            Some(upper) => query
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                .expression_attribute_values(":hi", s(upper.as_str())),
            None => query.key_condition_expression("#pk = :pk AND begins_with(#sk, :lo)"),
        };
        let mut pages = query.into_paginator().send();
        let mut newest_first = Vec::new();
        while newest_first.len() < limit {
            let Some(page) = pages.try_next().await.map_err(|e| self.fail("Query", e))? else {
                break;
            };
            for item in page.items() {
                let is_before = |sk: &str| upper.as_deref() == Some(sk);
                if matches!(item.get(SK), Some(AttributeValue::S(sk)) if is_before(sk)) {
                    continue;
                }
                newest_first.push(message_from(item, conversation)?);
            }
        }
        newest_first.truncate(limit);
        newest_first.reverse();
        Ok(newest_first)
    }

    /// The conversation item goes first, so a turn still running sees `NotFound` and stops; then its
    /// messages and dedupe keys. The sweep also runs when the conversation is already gone, so calling
    /// again finishes a delete that died half-way (and still answers `NotFound`).
    async fn delete_conversation(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<(), PortError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user), conversation_sk(conversation))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        let existed = match result {
            Ok(_) => true,
            Err(e) if is_condition_failure(&e) => false,
            Err(e) => return Err(self.fail("DeleteItem", e)),
        };
        self.delete_partition(&messages_pk(user, conversation))
            .await?;
        if existed {
            Ok(())
        } else {
            Err(PortError::NotFound)
        }
    }

    async fn rename_conversation(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        title: &str,
    ) -> Result<(), PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user), conversation_sk(conversation))))
            .update_expression("SET #title = :title")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#title", TITLE)
            .expression_attribute_values(":title", s(title))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(PortError::NotFound),
            Err(e) => Err(self.fail("UpdateItem", e)),
        }
    }

    async fn conversation_settings(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<ConversationSettings, PortError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(
                messages_pk(user, conversation),
                SETTINGS_SK.into(),
            )))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.fail("GetItem", e))?;
        let Some(item) = got.item else {
            return Ok(ConversationSettings::default());
        };
        let model = item
            .contains_key(MODEL)
            .then(|| string_of(&item, MODEL).map(str::to_owned))
            .transpose()?;
        let thinking = item
            .contains_key(THINKING)
            .then(|| {
                ThinkingLevel::parse(string_of(&item, THINKING)?).ok_or_else(|| corrupt(THINKING))
            })
            .transpose()?;
        let fresh_session = matches!(item.get(FRESH_SESSION), Some(AttributeValue::Bool(true)));
        Ok(ConversationSettings {
            model,
            thinking,
            fresh_session,
        })
    }

    async fn update_conversation_settings(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        update: &ConversationSettingsUpdate,
    ) -> Result<(), PortError> {
        // One UpdateItem naming only the changed attributes: concurrent changes of other fields stay.
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut field = |name: &'static str, placeholder: &str, value: Option<AttributeValue>| {
            names.insert(format!("#{placeholder}"), name.to_owned());
            match value {
                Some(v) => {
                    set.push(format!("#{placeholder} = :{placeholder}"));
                    values.insert(format!(":{placeholder}"), v);
                }
                None => remove.push(format!("#{placeholder}")),
            }
        };
        if let Some(model) = &update.model {
            field(MODEL, "m", model.as_deref().map(s));
        }
        if let Some(thinking) = update.thinking {
            field(THINKING, "t", thinking.map(|t| s(t.as_str())));
        }
        if let Some(fresh) = update.fresh_session {
            field(
                FRESH_SESSION,
                "f",
                fresh.then_some(AttributeValue::Bool(true)),
            );
        }
        let mut expression = Vec::new();
        if !set.is_empty() {
            expression.push(format!("SET {}", set.join(", ")));
        }
        if !remove.is_empty() {
            expression.push(format!("REMOVE {}", remove.join(", ")));
        }
        if expression.is_empty() {
            return Ok(());
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                messages_pk(user, conversation),
                SETTINGS_SK.into(),
            )))
            .update_expression(expression.join(" "))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .send()
            .await
            .map(drop)
            .map_err(|e| self.fail("UpdateItem", e))
    }

    /// One transaction moves the superseded messages to `VER#` items (each deleted only if still as
    /// read) and, for an edit, stores the new message with its dedupe key.
    async fn supersede_last_exchange(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        rerun: Rerun,
    ) -> Result<Appended, PortError> {
        self.require_conversation(user, conversation).await?;
        let messages = messages_pk(user, conversation);
        if let Rerun::Edit { message, .. } = &rerun {
            let dedupe = key(messages.clone(), dedupe_sk(&message.client_message_id));
            if let Some(first) = self.get(dedupe, MESSAGE_ID).await? {
                let message_id =
                    MessageId::parse(string_of(&first, MESSAGE_ID)?).map_err(PortError::backend)?;
                let answered = self
                    .answered(&messages, &message_id)
                    .await?
                    .unwrap_or(false);
                return Ok(Appended {
                    message_id,
                    duplicate: true,
                    answered,
                });
            }
        }
        let newest = self.newest_messages(&messages, 2, false).await?;
        let [reply, question] = newest.as_slice() else {
            return Err(PortError::Conflict(
                "the conversation has no complete exchange".into(),
            ));
        };
        let reply_id = id_in_sort_key(reply, MESSAGE_PREFIX)?;
        let question_id = id_in_sort_key(question, MESSAGE_PREFIX)?;
        let answered_by = question.get(ANSWERED_BY).and_then(|v| v.as_s().ok());
        if string_of(reply, ROLE)? != Role::Assistant.as_str()
            || string_of(question, ROLE)? != Role::User.as_str()
            || answered_by.map(String::as_str) != Some(reply_id)
        {
            return Err(PortError::Conflict(
                "the last message is not the last exchange's reply".into(),
            ));
        }
        // The exchange's versions are found by the id of its first user message.
        let slot = match question.get(VERSIONS_OF) {
            Some(_) => string_of(question, VERSIONS_OF)?,
            None => question_id,
        };
        let (items, appended) = match &rerun {
            Rerun::Regenerate { reply: named } => {
                if named.as_str() != reply_id {
                    return Err(PortError::Conflict(format!(
                        "{named} is not the last reply"
                    )));
                }
                let mut items = self.supersede_items(reply, slot, None)?.to_vec();
                let reopen = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(
                        messages.clone(),
                        format!("{MESSAGE_PREFIX}{question_id}"),
                    )))
                    .update_expression("REMOVE #answeredBy SET #versionsOf = :slot")
                    .condition_expression("#answeredBy = :reply")
                    .expression_attribute_names("#answeredBy", ANSWERED_BY)
                    .expression_attribute_names("#versionsOf", VERSIONS_OF)
                    .expression_attribute_values(":slot", s(slot))
                    .expression_attribute_values(":reply", s(reply_id))
                    .build()
                    .map_err(PortError::backend)?;
                let uncount = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(user_pk(user), conversation_sk(conversation))))
                    .update_expression("ADD #count :minus")
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_names("#count", MESSAGE_COUNT)
                    .expression_attribute_values(":minus", n(-1))
                    .build()
                    .map_err(PortError::backend)?;
                items.push(TransactWriteItem::builder().update(reopen).build());
                items.push(TransactWriteItem::builder().update(uncount).build());
                let message_id = MessageId::parse(question_id).map_err(PortError::backend)?;
                (items, message_id)
            }
            Rerun::Edit { replaces, message } => {
                if replaces.as_str() != question_id {
                    return Err(PortError::Conflict(format!(
                        "{replaces} is not the last user message"
                    )));
                }
                // Two messages leave the current path, one joins it.
                let mut items =
                    self.user_message_items(user, conversation, message, Some(slot), -1)?;
                items.extend(self.supersede_items(
                    question,
                    slot,
                    Some((ANSWERED_BY, reply_id)),
                )?);
                items.extend(self.supersede_items(reply, slot, None)?);
                (items, message.id.clone())
            }
        };
        match self.transact(items).await? {
            Outcome::Written => Ok(Appended {
                message_id: appended,
                duplicate: false,
                answered: false,
            }),
            Outcome::Refused(_) => Err(PortError::Conflict(
                "the conversation's last exchange changed meanwhile".into(),
            )),
        }
    }

    /// The current last user message names its exchange (`versionsOf`); the earlier versions are
    /// the `VER#<exchange>#` items. Message ids are UUIDv7, so id order is creation order.
    async fn last_exchange_versions(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<Vec<ExchangeVersion>, PortError> {
        self.require_conversation(user, conversation).await?;
        let messages = messages_pk(user, conversation);
        let Some(question) = self.newest_messages(&messages, 1, true).await?.pop() else {
            return Ok(Vec::new());
        };
        if !question.contains_key(VERSIONS_OF) {
            return Ok(Vec::new());
        }
        let slot = string_of(&question, VERSIONS_OF)?;
        let mut found = query_prefix(
            &self.client,
            &self.table,
            messages.clone(),
            &format!("{VERSION_PREFIX}{slot}#"),
        )
        .await?
        .iter()
        .map(|item| version_from(item, conversation))
        .collect::<Result<Vec<_>, _>>()?;
        found.push(message_from(&question, conversation)?);
        let answered = question.contains_key(ANSWERED_BY);
        if answered {
            let reply_id =
                MessageId::parse(string_of(&question, ANSWERED_BY)?).map_err(PortError::backend)?;
            let reply = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key(messages, message_sk(&reply_id))))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| self.fail("GetItem", e))?
                .item;
            if let Some(reply) = reply {
                found.push(message_from(&reply, conversation)?);
            }
        }
        found.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        Ok(group_versions(found, answered))
    }
}
