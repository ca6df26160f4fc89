//! Session leases in DynamoDB ([`SessionLeases`]): one item per conversation, every change one
//! conditional write, so two turn processors racing for a conversation cannot both win.
//!
//! Table (the CDK app declares it; [`create_table`] builds the same one for tests):
//! - partition key `userId` (S), sort key `conversationId` (S);
//! - `holder` (S, absent while free), `token` (N, the latest grant's fencing token, kept after release),
//!   `expiresAt` (N, epoch milliseconds), `cancelRequested` (BOOL), and `ttl` (N, epoch seconds a day
//!   after expiry: the table's TTL attribute, so DynamoDB drops idle conversations' items eventually).
//!
//! Expiry is part of each condition (`expiresAt < :now` is expired), never left to the TTL sweep.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, BillingMode, KeyType, ReturnValue, Select};
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::{Lease, PortError, SessionLeases};
use time::OffsetDateTime;

use crate::dynamodb::{
    Item, enable_ttl, is_condition_failure, key_element, millis, number_of, string_attribute,
    string_of,
};

const USER_ID: &str = "userId";
const CONVERSATION_ID: &str = "conversationId";
const HOLDER: &str = "holder";
const TOKEN: &str = "token";
const EXPIRES_AT: &str = "expiresAt";
const CANCEL_REQUESTED: &str = "cancelRequested";
const TTL: &str = "ttl";

/// How long after a lease's expiry its item may be deleted by TTL: far longer than any turn, so no one
/// still acts on a deleted item's lease (and tokens stay monotonic across the deletion, see `acquire`).
const KEEP_AFTER_EXPIRY: time::Duration = time::Duration::days(1);

/// [`SessionLeases`] on a DynamoDB table laid out as the module describes.
#[derive(Clone)]
pub struct DynamoSessionLeases {
    client: Client,
    table: String,
}

impl DynamoSessionLeases {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// An UpdateItem on one conversation's item whose expressions name `attributes` as `#<name>`.
    fn update(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        attributes: &[&str],
    ) -> UpdateItemFluentBuilder {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(USER_ID, AttributeValue::S(user.to_string()))
            .key(CONVERSATION_ID, AttributeValue::S(conversation.to_string()));
        named(
            update,
            attributes,
            UpdateItemFluentBuilder::expression_attribute_names,
        )
    }

    /// Frees the conversation if `lease` is still its current grant; whether it was.
    async fn end(&self, lease: &Lease) -> Result<bool, PortError> {
        let ended = self
            .update(
                &lease.user,
                &lease.conversation,
                &[HOLDER, TOKEN, EXPIRES_AT, CANCEL_REQUESTED],
            )
            .update_expression("REMOVE #holder SET #expiresAt = :zero, #cancelRequested = :false")
            .condition_expression("#token = :mine AND attribute_exists(#holder)")
            .expression_attribute_values(":mine", number(lease.token))
            .expression_attribute_values(":zero", number(0))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .send()
            .await;
        Ok(applied(ended)?.is_some())
    }
}

/// Creates the leases table exactly as the CDK app must declare it: on-demand billing, key
/// (`userId`, `conversationId`), TTL on `ttl`.
pub async fn create_table(client: &Client, name: &str) -> Result<(), PortError> {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(USER_ID)?)
        .attribute_definitions(string_attribute(CONVERSATION_ID)?)
        .key_schema(key_element(USER_ID, KeyType::Hash)?)
        .key_schema(key_element(CONVERSATION_ID, KeyType::Range)?)
        .send()
        .await
        .map_err(PortError::backend)?;
    enable_ttl(client, name, TTL).await
}

/// Names each attribute as `#<name>` in a request's expressions. Every expression goes through
/// placeholders because `token` and `ttl` are reserved words; only used names are passed, since
/// DynamoDB refuses unused ones.
fn named<B>(builder: B, attributes: &[&str], name: fn(B, String, String) -> B) -> B {
    attributes
        .iter()
        .fold(builder, |b, a| name(b, format!("#{a}"), (*a).to_owned()))
}

/// A conditional update's output, or `None` when its condition failed (the lease was not the caller's
/// to take, end or mark).
fn applied(
    result: Result<UpdateItemOutput, SdkError<UpdateItemError>>,
) -> Result<Option<UpdateItemOutput>, PortError> {
    match result {
        Ok(output) => Ok(Some(output)),
        Err(e) if is_condition_failure(&e) => Ok(None),
        Err(e) => Err(PortError::backend(e)),
    }
}

fn number(n: impl ToString) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// The lease a held item describes.
fn lease_of(item: &Item) -> Result<Lease, PortError> {
    let expires_at = OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(number_of::<i64>(item, EXPIRES_AT)?) * 1_000_000,
    )
    .map_err(PortError::backend)?;
    Ok(Lease {
        user: UserId::parse(string_of(item, USER_ID)?).map_err(PortError::backend)?,
        conversation: ConversationId::parse(string_of(item, CONVERSATION_ID)?)
            .map_err(PortError::backend)?,
        holder: string_of(item, HOLDER)?.to_owned(),
        token: number_of(item, TOKEN)?,
        expires_at,
    })
}

#[async_trait]
impl SessionLeases for DynamoSessionLeases {
    async fn acquire(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<Option<Lease>, PortError> {
        let expires_at = now + ttl;
        // A conversation's first token (and its first after TTL deleted an idle item) starts from the
        // clock in milliseconds rather than zero, so tokens stay greater than every earlier one even
        // across that deletion: an earlier item's counter started from an earlier clock reading and
        // grew by one per grant, far fewer than the milliseconds elapsed since.
        let granted = self
            .update(
                user,
                conversation,
                &[HOLDER, TOKEN, EXPIRES_AT, CANCEL_REQUESTED, TTL],
            )
            .update_expression(
                "SET #token = if_not_exists(#token, :first) + :one, #holder = :holder, \
                 #expiresAt = :expires, #cancelRequested = :false, #ttl = :ttl",
            )
            .condition_expression("attribute_not_exists(#holder) OR #expiresAt < :now")
            .expression_attribute_values(":first", number(millis(now)))
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":holder", AttributeValue::S(holder.to_owned()))
            .expression_attribute_values(":expires", number(millis(expires_at)))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(
                ":ttl",
                number((expires_at + KEEP_AFTER_EXPIRY).unix_timestamp()),
            )
            .expression_attribute_values(":now", number(millis(now)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let Some(output) = applied(granted)? else {
            return Ok(None);
        };
        let item = output
            .attributes()
            .ok_or_else(|| PortError::backend("UpdateItem returned no attributes for ALL_NEW"))?;
        lease_of(item).map(Some)
    }

    async fn release(&self, lease: &Lease) -> Result<(), PortError> {
        // A lost condition means the lease was already released or granted anew: nothing to do.
        self.end(lease).await.map(drop)
    }

    async fn request_cancel(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        now: OffsetDateTime,
    ) -> Result<bool, PortError> {
        let marked = self
            .update(user, conversation, &[HOLDER, EXPIRES_AT, CANCEL_REQUESTED])
            .update_expression("SET #cancelRequested = :true")
            .condition_expression("attribute_exists(#holder) AND #expiresAt >= :now")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":now", number(millis(now)))
            .send()
            .await;
        Ok(applied(marked)?.is_some())
    }

    async fn cancel_requested(&self, lease: &Lease) -> Result<bool, PortError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(USER_ID, AttributeValue::S(lease.user.to_string()))
            .key(
                CONVERSATION_ID,
                AttributeValue::S(lease.conversation.to_string()),
            )
            .consistent_read(true)
            .send()
            .await
            .map_err(PortError::backend)?;
        let Some(item) = found.item else {
            return Ok(false);
        };
        Ok(item.contains_key(HOLDER)
            && number_of::<u64>(&item, TOKEN)? == lease.token
            && item
                .get(CANCEL_REQUESTED)
                .is_some_and(|v| v.as_bool() == Ok(&true)))
    }

    async fn clear_expired(&self, now: OffsetDateTime) -> Result<Vec<Lease>, PortError> {
        // A Scan reads the whole table, which is fine here: this runs from the scheduled watchdog,
        // not on a request path. Each release is conditional on the token, so a lease granted anew
        // since the scan is left alone.
        let scan = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("attribute_exists(#holder) AND #expiresAt < :now")
            .expression_attribute_values(":now", number(millis(now)));
        let mut pages = named(
            scan,
            &[HOLDER, EXPIRES_AT],
            ScanFluentBuilder::expression_attribute_names,
        )
        .into_paginator()
        .send();
        let mut cleared = Vec::new();
        while let Some(page) = pages.next().await {
            for item in page.map_err(PortError::backend)?.items() {
                let lease = lease_of(item)?;
                if self.end(&lease).await? {
                    cleared.push(lease);
                }
            }
        }
        Ok(cleared)
    }

    async fn held_by(&self, user: &UserId, now: OffsetDateTime) -> Result<usize, PortError> {
        // One partition: the user's conversations (a handful of items), counted by DynamoDB.
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#userId = :user")
            .filter_expression("attribute_exists(#holder) AND #expiresAt >= :now")
            .expression_attribute_values(":user", AttributeValue::S(user.to_string()))
            .expression_attribute_values(":now", number(millis(now)))
            .select(Select::Count);
        let mut pages = named(
            query,
            &[USER_ID, HOLDER, EXPIRES_AT],
            QueryFluentBuilder::expression_attribute_names,
        )
        .into_paginator()
        .send();
        let mut held = 0;
        while let Some(page) = pages.next().await {
            held += page.map_err(PortError::backend)?.count();
        }
        Ok(usize::try_from(held).unwrap_or(0))
    }
}
