//! Conversations and messages in one DynamoDB table: the AWS twin of `local`'s SQLite store.
//!
//! Items (string keys `pk` and `sk`; ids never contain `#`, so one prefix can never run into another):
//!
//! | item         | `pk`                        | `sk`                  | attributes                                              |
//! |--------------|-----------------------------|-----------------------|---------------------------------------------------------|
//! | conversation | `USER#<user>`               | `CONV#<conversation>` | `title`, `createdAt`, `updatedAt`, `messageCount`       |
//! | message      | `CONV#<user>#<conversation>`| `MSG#<messageId>`     | `role`, `content`, `channel`, `createdAt`; user: `clientMessageId`, `answeredBy` once replied; assistant: `replyTo`, `inputTokens`, `outputTokens`, `costUsd`, `durationMs`, `activity` (JSON text, only on replies whose turn called tools) |
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
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, CancellationReason, DeleteRequest, KeyType, Put,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update, WriteRequest,
};
use serverless_openclaw_core::domain::{
    Channel, Conversation, ConversationSettings, ConversationSettingsUpdate, Message,
    NewAssistantMessage, NewUserMessage, Role, ThinkingLevel, TurnActivity, Usage, UserMessage,
    title_from_message,
};
use serverless_openclaw_core::ids::{ClientMessageId, ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{Appended, ConversationStore, PortError};
use time::OffsetDateTime;

use crate::dynamodb::{
    Item, corrupt, enable_ttl, is_condition_failure, key_element, millis, number_of, query_prefix,
    sdk_failure, string_attribute, string_of,
};

const PK: &str = "pk";
const SK: &str = "sk";
const TITLE: &str = "title";
const CREATED_AT: &str = "createdAt";
const UPDATED_AT: &str = "updatedAt";
const MESSAGE_COUNT: &str = "messageCount";
const ROLE: &str = "role";
const CONTENT: &str = "content";
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
const MODEL: &str = "model";
const THINKING: &str = "thinking";
const FRESH_SESSION: &str = "freshSession";
const SETTINGS_SK: &str = "SETTINGS";

const CONVERSATION_PREFIX: &str = "CONV#";
const MESSAGE_PREFIX: &str = "MSG#";

/// The cancellation code of an item whose condition did not hold.
const CONDITION_FAILED: &str = "ConditionalCheckFailed";
/// The cancellation code of an item another transaction was writing at the same moment.
const TRANSACTION_CONFLICT: &str = "TransactionConflict";
/// How often a conflicting transaction or an unprocessed batch is tried again before giving up.
const RETRIES: u32 = 5;
/// The most items one `BatchWriteItem` takes.
const BATCH_WRITE_MAX: usize = 25;

/// Creates the table this adapter (and [`crate::telegram`]'s) expects; the CDK app declares the same:
/// string partition key `pk`, string sort key `sk`, on-demand billing, TTL on `ttl` (Telegram items
/// only). Returns once the table is active.
pub async fn create_table(client: &Client, name: &str) -> Result<(), PortError> {
    client
        .create_table()
        .table_name(name)
        .key_schema(key_element(PK, KeyType::Hash)?)
        .key_schema(key_element(SK, KeyType::Range)?)
        .attribute_definitions(string_attribute(PK)?)
        .attribute_definitions(string_attribute(SK)?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| sdk_failure("CreateTable", name, e))?;
    enable_ttl(client, name, "ttl").await
}

/// [`ConversationStore`] on one DynamoDB table with the items described in the module docs.
#[derive(Clone)]
pub struct DynamoConversationStore {
    client: Client,
    table: String,
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

    fn fail<E, R>(&self, operation: &'static str, e: SdkError<E, R>) -> PortError
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
fn backoff(attempt: u32) -> Duration {
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

fn dedupe_sk(client_id: &ClientMessageId) -> String {
    format!("DEDUPE#{client_id}")
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk)),
        (SK.to_owned(), AttributeValue::S(sk)),
    ])
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The id after `prefix` in the item's sort key.
fn id_in_sort_key<'a>(item: &'a Item, prefix: &str) -> Result<&'a str, PortError> {
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
    Ok(Message {
        id: MessageId::parse(id_in_sort_key(item, MESSAGE_PREFIX)?).map_err(PortError::backend)?,
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
        let at = millis(message.created_at);
        // Fails the whole transaction when the client id was seen, and hands back the stored message id.
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
        let stored = Put::builder()
            .table_name(&self.table)
            .set_item(Some(key(messages.clone(), message_sk(&message.id))))
            .item(ROLE, s(Role::User.as_str()))
            .item(CONTENT, s(message.content.as_str()))
            .item(CHANNEL, s(message.channel.as_str()))
            .item(CLIENT_MESSAGE_ID, s(message.client_message_id.as_str()))
            .item(CREATED_AT, n(at))
            .build()
            .map_err(PortError::backend)?;
        // Creates the conversation on its first message; `ADD` starts a missing count at zero.
        let touch = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user), conversation_sk(conversation))))
            .update_expression(
                "SET #title = if_not_exists(#title, :title), #created = if_not_exists(#created, :at), \
                 #updated = :at ADD #count :one",
            )
            .expression_attribute_names("#title", TITLE)
            .expression_attribute_names("#created", CREATED_AT)
            .expression_attribute_names("#updated", UPDATED_AT)
            .expression_attribute_names("#count", MESSAGE_COUNT)
            .expression_attribute_values(":title", s(title_from_message(&message.content)))
            .expression_attribute_values(":at", n(at))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(PortError::backend)?;
        let items = vec![
            TransactWriteItem::builder().put(dedupe).build(),
            TransactWriteItem::builder().put(stored).build(),
            TransactWriteItem::builder().update(touch).build(),
        ];
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
        let mut stored = Put::builder()
            .table_name(&self.table)
            .set_item(Some(key(messages.clone(), message_sk(&message.id))))
            .item(ROLE, s(Role::Assistant.as_str()))
            .item(CONTENT, s(message.content.as_str()))
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
}
