//! Full-text search over the messages in DynamoDB ([`MessageSearch`] for
//! [`DynamoConversationStore`]), with nothing that runs, or costs, between searches.
//!
//! Every message item carries `searchUser` (its owner) and `searchText` (`core`'s
//! [`indexed_text`] of its content: its words in lower case between spaces). The sparse global
//! secondary index `messagesByUser` (key `searchUser`, `sk`; projecting `searchText`, `role`,
//! `createdAt`) therefore holds exactly the message items, each user's in one partition in id order,
//! which is time order. A search
//!
//! 1. reads the user's conversations (one Query of their partition): the titles, and which
//!    conversations still exist, since the index lags a delete by a moment;
//! 2. queries the index newest first with one filter `contains(searchText, " <word>")` per query
//!    word, which is `core`'s rule exactly ([`word_start`]); DynamoDB reads every index item of a
//!    page (1 MB) but returns only the hits, and pages on until `limit` hits are found or the user's
//!    messages end;
//! 3. reads the hits' content from the table (BatchGetItem), so the index does not hold it twice.
//!
//! The cost of a search grows with the messages it passes over: a word in recent messages stops
//! after a page, a word nowhere reads the user's whole index (`docs/architecture.md`, "Search").
//!
//! Messages stored before search existed have neither attribute: [`DynamoConversationStore::backfill_search_index`]
//! adds them, a time-boxed piece per call, remembering where it stopped (the watchdog calls it).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, GlobalSecondaryIndex, KeyType, KeysAndAttributes, Projection, ProjectionType,
};
use futures::{StreamExt, TryStreamExt, stream};
use serverless_openclaw_core::domain::Role;
use serverless_openclaw_core::ids::{ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{ConversationStore, MessageSearch, PortError};
use serverless_openclaw_core::search::{FoundMessage, SearchQuery, indexed_text, word_start};

use crate::conversations::{
    CONTENT, CONVERSATION_PREFIX, CREATED_AT, DynamoConversationStore, MESSAGE_PREFIX, PK, RETRIES,
    ROLE, SK, backoff, from_millis, id_in_sort_key, key, s,
};
use crate::dynamodb::{Item, corrupt, is_condition_failure, key_element, number_of, string_of};

/// The index of every message by its owner.
pub const MESSAGES_BY_USER: &str = "messagesByUser";
/// A message's owner: the index's partition key.
pub(crate) const SEARCH_USER: &str = "searchUser";
/// A message's [`indexed_text`].
const SEARCH_TEXT: &str = "searchText";
/// The most keys one BatchGetItem takes.
const BATCH_GET_MAX: usize = 100;

/// The item that records how far the backfill got (no id contains `#`, and no other item's key is
/// free of one, so this key is never a conversation's or a user's).
const BACKFILL_PK: &str = "SEARCHINDEX";
const BACKFILL_SK: &str = "BACKFILL";
const BACKFILL_DONE: &str = "done";
const RESUME_PK: &str = "resumePk";
const RESUME_SK: &str = "resumeSk";
/// Message items indexed at once by the backfill.
const BACKFILL_CONCURRENCY: usize = 16;

/// The `messagesByUser` index, as [`crate::conversations::create_table`] and the CDK app declare it.
pub(crate) fn messages_by_user() -> Result<GlobalSecondaryIndex, PortError> {
    GlobalSecondaryIndex::builder()
        .index_name(MESSAGES_BY_USER)
        .key_schema(key_element(SEARCH_USER, KeyType::Hash)?)
        .key_schema(key_element(SK, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .non_key_attributes(SEARCH_TEXT)
                .non_key_attributes(ROLE)
                .non_key_attributes(CREATED_AT)
                .build(),
        )
        .build()
        .map_err(PortError::backend)
}

/// A message item's key with the attributes that put it in the index.
pub(crate) fn searchable(mut item: Item, user: &UserId, content: &str) -> Item {
    item.insert(SEARCH_USER.into(), s(user.as_str()));
    item.insert(SEARCH_TEXT.into(), s(indexed_text(content)));
    item
}

/// Takes a message item out of the index (an earlier version of an edited or regenerated exchange:
/// search covers the current path).
pub(crate) fn unsearchable(item: &mut Item) {
    item.remove(SEARCH_USER);
    item.remove(SEARCH_TEXT);
}

/// A message the index found, before its content is read.
struct IndexHit {
    key: Item,
    conversation_id: ConversationId,
    conversation_title: String,
    message_id: MessageId,
    role: Role,
    created_at: i64,
}

/// How far a call of [`DynamoConversationStore::backfill_search_index`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backfill {
    /// Finished by an earlier call: this one read one item and wrote nothing.
    Complete,
    /// This call indexed `indexed` messages and reached the end of the table.
    Finished { indexed: usize },
    /// This call indexed `indexed` messages and ran out of time; the next one continues.
    Paused { indexed: usize },
}

impl DynamoConversationStore {
    /// Up to `limit` of the user's messages whose index entry passes the filter, newest first,
    /// in conversations that exist (`titles`).
    async fn index_hits(
        &self,
        user: &UserId,
        query: &SearchQuery,
        titles: &HashMap<ConversationId, String>,
        limit: usize,
    ) -> Result<Vec<IndexHit>, PortError> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(MESSAGES_BY_USER)
            .scan_index_forward(false)
            .key_condition_expression("#user = :user")
            .projection_expression("#pk, #sk, #role, #created")
            .expression_attribute_names("#user", SEARCH_USER)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_names("#role", ROLE)
            .expression_attribute_names("#created", CREATED_AT)
            .expression_attribute_names("#text", SEARCH_TEXT)
            .expression_attribute_values(":user", s(user.as_str()));
        let mut filter = Vec::new();
        for (i, word) in query.words().iter().enumerate() {
            filter.push(format!("contains(#text, :w{i})"));
            request = request.expression_attribute_values(format!(":w{i}"), s(word_start(word)));
        }
        let mut pages = request
            .filter_expression(filter.join(" AND "))
            .into_paginator()
            .send();
        let messages_of_user = format!("{CONVERSATION_PREFIX}{user}#");
        let mut hits = Vec::new();
        while let Some(page) = pages.try_next().await.map_err(|e| self.fail("Query", e))? {
            for item in page.items() {
                let conversation = string_of(item, PK)?
                    .strip_prefix(&messages_of_user)
                    .ok_or_else(|| corrupt(PK))?;
                let conversation_id =
                    ConversationId::parse(conversation).map_err(PortError::backend)?;
                let Some(title) = titles.get(&conversation_id) else {
                    continue;
                };
                hits.push(IndexHit {
                    key: key(
                        string_of(item, PK)?.to_owned(),
                        string_of(item, SK)?.to_owned(),
                    ),
                    conversation_title: title.clone(),
                    conversation_id,
                    message_id: MessageId::parse(id_in_sort_key(item, MESSAGE_PREFIX)?)
                        .map_err(PortError::backend)?,
                    role: Role::from_name(string_of(item, ROLE)?).ok_or_else(|| corrupt(ROLE))?,
                    created_at: number_of(item, CREATED_AT)?,
                });
                if hits.len() == limit {
                    return Ok(hits);
                }
            }
        }
        Ok(hits)
    }

    /// The content of each message in `keys`, by sort key (a message deleted meanwhile is absent).
    async fn contents(&self, keys: Vec<Item>) -> Result<HashMap<String, String>, PortError> {
        let mut contents = HashMap::new();
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .projection_expression("#sk, #content")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_names("#content", CONTENT)
                    .build()
                    .map_err(PortError::backend)?,
            );
            let mut attempt = 0;
            while let Some(request) = pending.take() {
                if attempt == RETRIES {
                    return Err(PortError::backend(format!(
                        "DynamoDB BatchGetItem on table {} left keys unprocessed after {RETRIES} retries",
                        self.table
                    )));
                }
                if attempt > 0 {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                attempt += 1;
                let mut out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| self.fail("BatchGetItem", e))?;
                for item in out
                    .responses
                    .as_mut()
                    .and_then(|r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    contents.insert(
                        string_of(&item, SK)?.to_owned(),
                        string_of(&item, CONTENT)?.to_owned(),
                    );
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut unprocessed| unprocessed.remove(&self.table));
            }
        }
        Ok(contents)
    }

    /// Gives the message items stored before search existed their index attributes, scanning the
    /// table from where the last call stopped until `budget` has passed (checked between pages of
    /// at most 1 MB). Safe to call at any time and from several places: an item is only updated while
    /// it exists without `searchText`. Once the scan reaches the end, every later call reads one item.
    pub async fn backfill_search_index(&self, budget: Duration) -> Result<Backfill, PortError> {
        let started = Instant::now();
        let marker = key(BACKFILL_PK.into(), BACKFILL_SK.into());
        let progress = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(marker.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.fail("GetItem", e))?
            .item
            .unwrap_or_default();
        if matches!(
            progress.get(BACKFILL_DONE),
            Some(AttributeValue::Bool(true))
        ) {
            return Ok(Backfill::Complete);
        }
        let mut resume = match (progress.get(RESUME_PK), progress.get(RESUME_SK)) {
            (Some(_), Some(_)) => Some(key(
                string_of(&progress, RESUME_PK)?.to_owned(),
                string_of(&progress, RESUME_SK)?.to_owned(),
            )),
            _ => None,
        };
        let mut indexed = 0;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .filter_expression("begins_with(#sk, :message) AND attribute_not_exists(#text)")
                .projection_expression("#pk, #sk, #content")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_names("#content", CONTENT)
                .expression_attribute_names("#text", SEARCH_TEXT)
                .expression_attribute_values(":message", s(MESSAGE_PREFIX))
                .set_exclusive_start_key(resume.take())
                .send()
                .await
                .map_err(|e| self.fail("Scan", e))?;
            indexed += stream::iter(page.items().iter().map(|item| self.index_message(item)))
                .buffer_unordered(BACKFILL_CONCURRENCY)
                .try_fold(0, |n, updated| async move { Ok(n + usize::from(updated)) })
                .await?;
            let Some(next) = page.last_evaluated_key else {
                let mut done = marker;
                done.insert(BACKFILL_DONE.into(), AttributeValue::Bool(true));
                self.put_marker(done).await?;
                return Ok(Backfill::Finished { indexed });
            };
            let mut paused = marker.clone();
            paused.insert(RESUME_PK.into(), s(string_of(&next, PK)?));
            paused.insert(RESUME_SK.into(), s(string_of(&next, SK)?));
            self.put_marker(paused).await?;
            if started.elapsed() >= budget {
                return Ok(Backfill::Paused { indexed });
            }
            resume = Some(next);
        }
    }

    /// Adds the index attributes to one message item the backfill found; `false` when there was
    /// nothing to do (the message was deleted, or a newer write indexed it).
    async fn index_message(&self, item: &Item) -> Result<bool, PortError> {
        let pk = string_of(item, PK)?;
        let user = pk
            .strip_prefix(CONVERSATION_PREFIX)
            .and_then(|rest| rest.split_once('#'))
            .map(|(user, _)| user)
            .ok_or_else(|| corrupt(PK))?;
        let user = UserId::parse(user).map_err(PortError::backend)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk.to_owned(), string_of(item, SK)?.to_owned())))
            .update_expression("SET #user = :user, #text = :text")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#text)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#user", SEARCH_USER)
            .expression_attribute_names("#text", SEARCH_TEXT)
            .expression_attribute_values(":user", s(user.as_str()))
            .expression_attribute_values(":text", s(indexed_text(string_of(item, CONTENT)?)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(self.fail("UpdateItem", e)),
        }
    }

    async fn put_marker(&self, item: Item) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(drop)
            .map_err(|e| self.fail("PutItem", e))
    }
}

#[async_trait]
impl MessageSearch for DynamoConversationStore {
    async fn search_messages(
        &self,
        user: &UserId,
        query: &SearchQuery,
        limit: usize,
    ) -> Result<Vec<FoundMessage>, PortError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let titles: HashMap<ConversationId, String> = self
            .list_conversations(user)
            .await?
            .into_iter()
            .map(|c| (c.id, c.title))
            .collect();
        let hits = self.index_hits(user, query, &titles, limit).await?;
        let mut contents = self
            .contents(hits.iter().map(|h| h.key.clone()).collect())
            .await?;
        let mut found = Vec::with_capacity(hits.len());
        for hit in hits {
            let Some(content) = contents.remove(string_of(&hit.key, SK)?) else {
                continue;
            };
            found.push(FoundMessage {
                conversation_id: hit.conversation_id,
                conversation_title: hit.conversation_title,
                message_id: hit.message_id,
                role: hit.role,
                content,
                created_at: from_millis(hit.created_at),
            });
        }
        Ok(found)
    }
}
