//! What every DynamoDB adapter shares: reading attributes out of items (a missing or mistyped one is
//! a backend error naming it) and creating tables the way the CDK app declares them.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use serverless_openclaw_core::ports::PortError;
use time::OffsetDateTime;

/// A DynamoDB call that failed, named with its operation and table so the log says what broke.
#[derive(Debug, thiserror::Error)]
#[error("DynamoDB {operation} on table {table} failed{detail}")]
struct DynamoError {
    operation: &'static str,
    table: String,
    /// `: <code>: <message>` when DynamoDB answered with an error, empty when the call never got an
    /// answer (the source then says why). The SDK's own display is just "service error".
    detail: String,
    #[source]
    source: Box<dyn StdError + Send + Sync>,
}

pub(crate) fn sdk_failure<E, R>(
    operation: &'static str,
    table: &str,
    e: SdkError<E, R>,
) -> PortError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let detail = match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!(": {code}: {message}"),
        (Some(code), None) => format!(": {code}"),
        _ => String::new(),
    };
    PortError::backend(DynamoError {
        operation,
        table: table.to_owned(),
        detail,
        source: Box::new(e),
    })
}

/// Whether a conditional write was refused because its condition did not hold (any operation).
pub(crate) fn is_condition_failure<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

/// One DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Every item of partition `pk` (attribute `pk`) whose sort key (attribute `sk`) starts with
/// `prefix`, all pages, strongly consistent.
pub(crate) async fn query_prefix(
    client: &Client,
    table: &str,
    pk: String,
    prefix: &str,
) -> Result<Vec<Item>, PortError> {
    client
        .query()
        .table_name(table)
        .consistent_read(true)
        .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
        .expression_attribute_names("#pk", "pk")
        .expression_attribute_names("#sk", "sk")
        .expression_attribute_values(":pk", AttributeValue::S(pk))
        .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| sdk_failure("Query", table, e))
}

/// The error for an item missing an attribute or holding a bad one.
pub(crate) fn corrupt(name: &str) -> PortError {
    PortError::backend(format!(
        "corrupt DynamoDB item: missing or bad attribute `{name}`"
    ))
}

/// A string attribute.
pub(crate) fn string_of<'a>(item: &'a Item, name: &str) -> Result<&'a str, PortError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(corrupt(name)),
    }
}

/// A number attribute, parsed.
pub(crate) fn number_of<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, PortError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| corrupt(name)),
        _ => Err(corrupt(name)),
    }
}

/// Epoch milliseconds (fit an i64 for hundreds of millions of years).
pub(crate) fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A key of a table or index.
pub(crate) fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, PortError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(PortError::backend)
}

/// A string key attribute.
pub(crate) fn string_attribute(name: &str) -> Result<AttributeDefinition, PortError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(PortError::backend)
}

/// Waits until a table just created is active.
async fn wait_until_active(client: &Client, table: &str) -> Result<(), PortError> {
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(Duration::from_secs(300))
        .await
        .map_err(|e| PortError::backend(format!("waiting for table {table} to be active: {e}")))?;
    Ok(())
}

/// Waits until the table is active (TTL can only be set then) and turns TTL on for `attribute`.
pub(crate) async fn enable_ttl(
    client: &Client,
    table: &str,
    attribute: &str,
) -> Result<(), PortError> {
    wait_until_active(client, table).await?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(attribute)
                .enabled(true)
                .build()
                .map_err(PortError::backend)?,
        )
        .send()
        .await
        .map_err(PortError::backend)?;
    Ok(())
}
