//! Open WebSocket connections in DynamoDB ([`ConnectionStore`]): one item per API Gateway connection.
//!
//! Table (the CDK app declares it; [`create_table`] builds the same one for tests):
//! - partition key `connectionId` (S); attributes `userId` (S), `expiresAt` (N, epoch seconds) and `ttl`
//!   (N, the same value: the table's TTL attribute, so DynamoDB deletes dead records eventually);
//! - GSI `byUser`: partition `userId`, sort `connectionId`, projecting `expiresAt`, to push to every
//!   connection of a user.
//!
//! Expiry is checked on every read: TTL deletion may run days late (and moto never runs it).

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, GlobalSecondaryIndex, KeyType, Projection, ProjectionType,
};
use serverless_openclaw_core::ids::{ConnectionId, UserId};
use serverless_openclaw_core::ports::{ConnectionStore, PortError};
use time::OffsetDateTime;

use crate::dynamodb::{
    Item, enable_ttl, is_condition_failure, key_element, number_of, string_attribute, string_of,
};

const CONNECTION_ID: &str = "connectionId";
const USER_ID: &str = "userId";
const EXPIRES_AT: &str = "expiresAt";
const TTL: &str = "ttl";
const BY_USER: &str = "byUser";

/// [`ConnectionStore`] on a DynamoDB table laid out as the module describes.
#[derive(Clone)]
pub struct DynamoConnectionStore {
    client: Client,
    table: String,
}

impl DynamoConnectionStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

/// Creates the connections table exactly as the CDK app must declare it: on-demand billing, key
/// `connectionId`, GSI `byUser` (`userId`, `connectionId`; includes `expiresAt`), TTL on `ttl`.
pub async fn create_table(client: &Client, name: &str) -> Result<(), PortError> {
    let by_user = GlobalSecondaryIndex::builder()
        .index_name(BY_USER)
        .key_schema(key_element(USER_ID, KeyType::Hash)?)
        .key_schema(key_element(CONNECTION_ID, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .non_key_attributes(EXPIRES_AT)
                .build(),
        )
        .build()
        .map_err(PortError::backend)?;
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(CONNECTION_ID)?)
        .attribute_definitions(string_attribute(USER_ID)?)
        .key_schema(key_element(CONNECTION_ID, KeyType::Hash)?)
        .global_secondary_indexes(by_user)
        .send()
        .await
        .map_err(PortError::backend)?;
    enable_ttl(client, name, TTL).await
}

fn seconds(t: OffsetDateTime) -> AttributeValue {
    AttributeValue::N(t.unix_timestamp().to_string())
}

fn connection_id(item: &Item) -> Result<ConnectionId, PortError> {
    ConnectionId::parse(string_of(item, CONNECTION_ID)?).map_err(PortError::backend)
}

#[async_trait]
impl ConnectionStore for DynamoConnectionStore {
    async fn register(
        &self,
        connection: &ConnectionId,
        user: &UserId,
        expires_at: OffsetDateTime,
    ) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(CONNECTION_ID, AttributeValue::S(connection.to_string()))
            .item(USER_ID, AttributeValue::S(user.to_string()))
            .item(EXPIRES_AT, seconds(expires_at))
            .item(TTL, seconds(expires_at))
            .send()
            .await
            .map_err(PortError::backend)?;
        Ok(())
    }

    async fn user_of(
        &self,
        connection: &ConnectionId,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, PortError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(CONNECTION_ID, AttributeValue::S(connection.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(PortError::backend)?;
        let Some(item) = found.item else {
            return Ok(None);
        };
        if number_of::<i64>(&item, EXPIRES_AT)? < now.unix_timestamp() {
            return Ok(None);
        }
        UserId::parse(string_of(&item, USER_ID)?)
            .map(Some)
            .map_err(PortError::backend)
    }

    async fn connections_of(
        &self,
        user: &UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<ConnectionId>, PortError> {
        // A GSI read is eventually consistent: a connection registered a moment ago may be missed by
        // one push, which the client's reconnect and history reload cover.
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_USER)
            .key_condition_expression("#userId = :user")
            .filter_expression("#expiresAt >= :now")
            .expression_attribute_names("#userId", USER_ID)
            .expression_attribute_names("#expiresAt", EXPIRES_AT)
            .expression_attribute_values(":user", AttributeValue::S(user.to_string()))
            .expression_attribute_values(":now", seconds(now))
            .into_paginator()
            .send();
        let mut connections = Vec::new();
        while let Some(page) = pages.next().await {
            for item in page.map_err(PortError::backend)?.items() {
                connections.push(connection_id(item)?);
            }
        }
        Ok(connections)
    }

    async fn remove(&self, connection: &ConnectionId) -> Result<(), PortError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(CONNECTION_ID, AttributeValue::S(connection.to_string()))
            .send()
            .await
            .map_err(PortError::backend)?;
        Ok(())
    }

    async fn remove_expired(&self, now: OffsetDateTime) -> Result<Vec<ConnectionId>, PortError> {
        // A Scan reads the whole table, which is fine here: this runs from the scheduled watchdog,
        // not on a request path, and the table holds only open connections.
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("#expiresAt < :now")
            .projection_expression("#connectionId")
            .expression_attribute_names("#expiresAt", EXPIRES_AT)
            .expression_attribute_names("#connectionId", CONNECTION_ID)
            .expression_attribute_values(":now", seconds(now))
            .into_paginator()
            .send();
        let mut removed = Vec::new();
        while let Some(page) = pages.next().await {
            for item in page.map_err(PortError::backend)?.items() {
                let id = connection_id(item)?;
                // Conditional, so a connection re-registered since the scan is left alone.
                let deleted = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .key(CONNECTION_ID, AttributeValue::S(id.to_string()))
                    .condition_expression("#expiresAt < :now")
                    .expression_attribute_names("#expiresAt", EXPIRES_AT)
                    .expression_attribute_values(":now", seconds(now))
                    .send()
                    .await;
                match deleted {
                    Ok(_) => removed.push(id),
                    Err(e) if is_condition_failure(&e) => {}
                    Err(e) => return Err(PortError::backend(e)),
                }
            }
        }
        Ok(removed)
    }
}
