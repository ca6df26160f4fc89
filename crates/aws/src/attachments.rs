//! [`AttachmentStore`] on S3 and DynamoDB: the bytes are the object `attachments/<user>/<conversation>/<id>`,
//! the metadata an item of the conversations table, and each user's usage one counter item:
//!
//! | item       | `pk`                              | `sk`          | attributes                                                        |
//! |------------|-----------------------------------|---------------|-------------------------------------------------------------------|
//! | attachment | `ATT#<user>#<conversation>`       | `ATT#<id>`    | `name`, `mediaType`, `kind`, `size`, `createdAt` (ms), `messageId`?, `transcript`? |
//! | usage      | `USER#<user>`                     | `ATTUSAGE`    | `bytes`                                                           |
//!
//! The metadata has a partition of its own, not the conversation's messages partition, so deleting the
//! conversation's messages cannot drop it without giving its bytes back to the quota. A put is the
//! object, then one transaction of the counter (conditional on staying within the quota) and the
//! metadata; a refused transaction removes the object again. A delete is one transaction of the
//! metadata (conditional on it existing, so a concurrent delete counts once) and the counter, then the
//! object. Metadata therefore never names a missing object.
//!
//! Its [`AttachmentLinks`] are presigned `GetObject` requests of the object, with the type and
//! disposition it is served with ([`served`]) signed in as `response-content-*` overrides: a file of
//! any accepted size is read straight from S3, never through a Lambda answer (bounded at 6 MB).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use serverless_openclaw_core::attachments::{Attachment, AttachmentKind, served};
use serverless_openclaw_core::ids::{AttachmentId, ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{
    AttachmentLinks, AttachmentStore, DownloadLink, PortError, Stored,
};
use time::OffsetDateTime;

use crate::dynamodb::{
    Item, corrupt, is_condition_failure, millis, number_of, query_prefix, sdk_failure, string_of,
};
use crate::s3::Bucket;

const PK: &str = "pk";
const SK: &str = "sk";
const NAME: &str = "name";
const MEDIA_TYPE: &str = "mediaType";
const KIND: &str = "kind";
const SIZE: &str = "size";
const CREATED_AT: &str = "createdAt";
const MESSAGE_ID: &str = "messageId";
const TRANSCRIPT: &str = "transcript";
const BYTES: &str = "bytes";
const ITEM_PREFIX: &str = "ATT#";
const USAGE_SK: &str = "ATTUSAGE";

/// Attachments in the conversations table and the bucket.
#[derive(Clone)]
pub struct DynamoS3AttachmentStore {
    client: Client,
    table: String,
    bucket: Bucket,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn partition(user: &UserId, conversation: &ConversationId) -> String {
    format!("ATT#{user}#{conversation}")
}

fn sort_key(id: &AttachmentId) -> String {
    format!("{ITEM_PREFIX}{id}")
}

fn usage_key(user: &UserId) -> Item {
    Item::from([
        (PK.into(), s(format!("USER#{user}"))),
        (SK.into(), s(USAGE_SK)),
    ])
}

impl DynamoS3AttachmentStore {
    pub fn new(
        client: Client,
        table: impl Into<String>,
        s3: aws_sdk_s3::Client,
        bucket: impl Into<String>,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            bucket: Bucket::new(s3, bucket),
        }
    }

    /// The object key of an attachment's bytes. Ids are validated types, so it stays under the prefix.
    pub fn object_key(user: &UserId, conversation: &ConversationId, id: &AttachmentId) -> String {
        format!("attachments/{user}/{conversation}/{id}")
    }

    fn item_key(user: &UserId, conversation: &ConversationId, id: &AttachmentId) -> Item {
        Item::from([
            (PK.into(), s(partition(user, conversation))),
            (SK.into(), s(sort_key(id))),
        ])
    }

    fn fail<E, R>(
        &self,
        operation: &'static str,
        e: aws_sdk_dynamodb::error::SdkError<E, R>,
    ) -> PortError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        sdk_failure(operation, &self.table, e)
    }

    async fn item(&self, key: Item) -> Result<Option<Item>, PortError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map(|output| output.item)
            .map_err(|e| self.fail("GetItem", e))
    }

    /// Runs a transaction; `Ok(false)` when a condition in it did not hold.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, PortError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c))
                    if c.cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed")) =>
                {
                    Ok(false)
                }
                _ => Err(self.fail("TransactWriteItems", e)),
            },
        }
    }

    /// Deletes the metadata and gives its bytes back, as one transaction; `false` when it was gone.
    async fn remove(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        attachment: &Attachment,
    ) -> Result<bool, PortError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| PortError::backend(e);
        let metadata = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::item_key(user, conversation, &attachment.id)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(build)?;
        let usage = Update::builder()
            .table_name(&self.table)
            .set_key(Some(usage_key(user)))
            .update_expression("ADD #bytes :minus")
            .expression_attribute_names("#bytes", BYTES)
            .expression_attribute_values(":minus", n(-(attachment.size as i64)))
            .build()
            .map_err(build)?;
        let removed = self
            .transact(vec![
                TransactWriteItem::builder().delete(metadata).build(),
                TransactWriteItem::builder().update(usage).build(),
            ])
            .await?;
        if removed {
            self.bucket
                .delete(&Self::object_key(user, conversation, &attachment.id), None)
                .await?;
        }
        Ok(removed)
    }
}

fn attachment_of(conversation: &ConversationId, item: &Item) -> Result<Attachment, PortError> {
    let id = string_of(item, SK)?
        .strip_prefix(ITEM_PREFIX)
        .and_then(|id| AttachmentId::parse(id).ok())
        .ok_or_else(|| corrupt(SK))?;
    let created_at = OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(number_of::<i64>(item, CREATED_AT)?) * 1_000_000,
    )
    .map_err(|_| corrupt(CREATED_AT))?;
    let message_id = match item.get(MESSAGE_ID) {
        None => None,
        Some(AttributeValue::S(m)) => {
            Some(MessageId::parse(m.as_str()).map_err(|_| corrupt(MESSAGE_ID))?)
        }
        Some(_) => return Err(corrupt(MESSAGE_ID)),
    };
    let transcript = match item.get(TRANSCRIPT) {
        None => None,
        Some(AttributeValue::S(text)) => Some(text.clone()),
        Some(_) => return Err(corrupt(TRANSCRIPT)),
    };
    Ok(Attachment {
        id,
        conversation_id: conversation.clone(),
        name: string_of(item, NAME)?.to_owned(),
        media_type: string_of(item, MEDIA_TYPE)?.to_owned(),
        kind: AttachmentKind::from_name(string_of(item, KIND)?).ok_or_else(|| corrupt(KIND))?,
        size: number_of(item, SIZE)?,
        created_at,
        message_id,
        transcript,
    })
}

#[async_trait]
impl AttachmentStore for DynamoS3AttachmentStore {
    async fn put(
        &self,
        user: &UserId,
        attachment: &Attachment,
        bytes: &[u8],
        quota: u64,
    ) -> Result<Stored, PortError> {
        let Some(room) = quota.checked_sub(attachment.size) else {
            return Ok(Stored::OverQuota {
                used: self.usage(user).await?,
            });
        };
        let conversation = &attachment.conversation_id;
        let key = Self::object_key(user, conversation, &attachment.id);
        self.bucket.put(&key, bytes, None).await?;
        let build = |e: aws_sdk_dynamodb::error::BuildError| PortError::backend(e);
        let usage = Update::builder()
            .table_name(&self.table)
            .set_key(Some(usage_key(user)))
            .update_expression("ADD #bytes :size")
            .condition_expression("attribute_not_exists(#bytes) OR #bytes <= :room")
            .expression_attribute_names("#bytes", BYTES)
            .expression_attribute_values(":size", n(attachment.size))
            .expression_attribute_values(":room", n(room))
            .build()
            .map_err(build)?;
        let mut item = Self::item_key(user, conversation, &attachment.id);
        item.extend([
            (NAME.into(), s(&attachment.name)),
            (MEDIA_TYPE.into(), s(&attachment.media_type)),
            (KIND.into(), s(attachment.kind.as_str())),
            (SIZE.into(), n(attachment.size)),
            (CREATED_AT.into(), n(millis(attachment.created_at))),
        ]);
        let metadata = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(build)?;
        let written = self
            .transact(vec![
                TransactWriteItem::builder().update(usage).build(),
                TransactWriteItem::builder().put(metadata).build(),
            ])
            .await;
        match written {
            Ok(true) => Ok(Stored::Stored),
            refused => {
                // Nothing names the object: remove it before reporting.
                self.bucket.delete(&key, None).await?;
                refused?;
                Ok(Stored::OverQuota {
                    used: self.usage(user).await?,
                })
            }
        }
    }

    async fn get(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
    ) -> Result<Option<Attachment>, PortError> {
        self.item(Self::item_key(user, conversation, id))
            .await?
            .map(|item| attachment_of(conversation, &item))
            .transpose()
    }

    async fn read(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
    ) -> Result<Option<Vec<u8>>, PortError> {
        if self.get(user, conversation, id).await?.is_none() {
            return Ok(None);
        }
        Ok(self
            .bucket
            .get(&Self::object_key(user, conversation, id))
            .await?
            .map(|object| object.bytes))
    }

    async fn list(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<Vec<Attachment>, PortError> {
        query_prefix(
            &self.client,
            &self.table,
            partition(user, conversation),
            ITEM_PREFIX,
        )
        .await?
        .iter()
        .map(|item| attachment_of(conversation, item))
        .collect()
    }

    async fn link(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
        message: &MessageId,
    ) -> Result<(), PortError> {
        let linked = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::item_key(user, conversation, id)))
            .update_expression("SET #message = :message")
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(#message) OR #message = :message)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#message", MESSAGE_ID)
            .expression_attribute_values(":message", s(message.as_str()))
            .send()
            .await;
        match linked {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => match self.get(user, conversation, id).await? {
                None => Err(PortError::NotFound),
                Some(a) => Err(PortError::Conflict(format!(
                    "attachment {id} went with message {}",
                    a.message_id.map(String::from).unwrap_or_default()
                ))),
            },
            Err(e) => Err(self.fail("UpdateItem", e)),
        }
    }

    async fn set_transcript(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
        transcript: &str,
    ) -> Result<(), PortError> {
        let set = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::item_key(user, conversation, id)))
            .update_expression("SET #transcript = :transcript")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#transcript", TRANSCRIPT)
            .expression_attribute_values(":transcript", s(transcript))
            .send()
            .await;
        match set {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(PortError::NotFound),
            Err(e) => Err(self.fail("UpdateItem", e)),
        }
    }

    async fn delete(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        id: &AttachmentId,
    ) -> Result<bool, PortError> {
        match self.get(user, conversation, id).await? {
            None => Ok(false),
            Some(attachment) => self.remove(user, conversation, &attachment).await,
        }
    }

    async fn delete_conversation(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<(), PortError> {
        for attachment in self.list(user, conversation).await? {
            self.remove(user, conversation, &attachment).await?;
        }
        Ok(())
    }

    async fn usage(&self, user: &UserId) -> Result<u64, PortError> {
        match self.item(usage_key(user)).await? {
            None => Ok(0),
            // Signed: the counter is only ever added to, and a negative one would be a bug to show as 0.
            Some(item) => Ok(number_of::<i64>(&item, BYTES)?.max(0) as u64),
        }
    }
}

#[async_trait]
impl AttachmentLinks for DynamoS3AttachmentStore {
    async fn link(
        &self,
        user: &UserId,
        attachment: &Attachment,
        valid_for: Duration,
    ) -> Result<DownloadLink, PortError> {
        let expires_at = OffsetDateTime::now_utc() + valid_for;
        let served = served(attachment);
        let presigned = self
            .bucket
            .presigned_get(
                &Self::object_key(user, &attachment.conversation_id, &attachment.id),
                &served.content_type,
                &served.content_disposition,
                valid_for,
            )
            .await?;
        Ok(DownloadLink {
            url: presigned.uri().to_owned(),
            expires_at,
        })
    }
}
