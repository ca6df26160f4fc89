//! S3 objects versioned by their ETag, shared by the transcript and workspace stores: a read that treats
//! a missing key as absent, conditional writes and deletes that never replace or remove an object that
//! changed since it was read, and the one place where S3 SDK errors become [`PortError`]s.
//!
//! Conditions are S3's own (`If-None-Match: *`, `If-Match: <etag>` on PutObject and DeleteObject), so
//! the check and the write are one atomic step on the server. Conditional deletes need `s3:GetObject`
//! besides `s3:DeleteObject`.

use std::error::Error as StdError;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;
use serverless_openclaw_core::ports::{ObjectVersion, PortError};

/// One bucket of versioned objects.
#[derive(Clone)]
pub(crate) struct Bucket {
    client: Client,
    name: String,
}

/// An object as read: its bytes and its ETag.
pub(crate) struct Object {
    pub bytes: Vec<u8>,
    pub version: ObjectVersion,
}

/// A failed S3 call, with enough context for the log.
#[derive(Debug, thiserror::Error)]
#[error("S3 {operation} of {location} failed ({code})")]
struct S3Error {
    operation: &'static str,
    location: String,
    code: String,
    #[source]
    source: Box<dyn StdError + Send + Sync>,
}

/// How an S3 call failed, as far as the stores care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// `NoSuchKey`: the object does not exist.
    Missing,
    /// `412 PreconditionFailed`, or `409 ConditionalRequestConflict` (a concurrent conditional write
    /// to the same key won): the condition does not hold.
    Precondition,
    /// Anything else (a missing bucket, access denied, the network): a backend error.
    Other,
}

impl Failure {
    fn of<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> Self {
        let status = e.raw_response().map(|r| r.status().as_u16());
        match (status, e.code()) {
            (_, Some("NoSuchKey")) => Failure::Missing,
            (Some(412), _) | (_, Some("PreconditionFailed" | "ConditionalRequestConflict")) => {
                Failure::Precondition
            }
            _ => Failure::Other,
        }
    }
}

impl Bucket {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }

    /// Reads an object; `None` when the key does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Object>, PortError> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if Failure::of(&e) == Failure::Missing => return Ok(None),
            Err(e) => return Err(self.backend("GetObject", key, e)),
        };
        let version = self.etag("GetObject", key, output.e_tag())?;
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| self.error("GetObject", key, "body", e))?
            .into_bytes()
            .to_vec();
        Ok(Some(Object { bytes, version }))
    }

    /// Writes an object only if it does not exist (`expected: None`) or still has the `expected`
    /// ETag; otherwise it is a `Conflict` and the stored object is untouched. Returns the new ETag.
    pub async fn put(
        &self,
        key: &str,
        bytes: &[u8],
        expected: Option<&ObjectVersion>,
    ) -> Result<ObjectVersion, PortError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .body(ByteStream::from(bytes.to_vec()));
        let request = match expected {
            None => request.if_none_match("*"),
            Some(v) => request.if_match(&v.0),
        };
        match request.send().await {
            Ok(output) => self.etag("PutObject", key, output.e_tag()),
            Err(e) => Err(match Failure::of(&e) {
                // If-Match on a key that is gone: it was deleted since it was read.
                Failure::Missing | Failure::Precondition => self.conflict(key, expected),
                Failure::Other => self.backend("PutObject", key, e),
            }),
        }
    }

    /// Deletes an object, only if it still has the `expected` ETag when one is given (a `Conflict`
    /// otherwise, leaving it in place). Deleting a missing object succeeds.
    pub async fn delete(
        &self,
        key: &str,
        expected: Option<&ObjectVersion>,
    ) -> Result<(), PortError> {
        let request = self
            .client
            .delete_object()
            .bucket(&self.name)
            .key(key)
            .set_if_match(expected.map(|v| v.0.clone()));
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) => match Failure::of(&e) {
                Failure::Missing => Ok(()),
                Failure::Precondition => Err(self.conflict(key, expected)),
                Failure::Other => Err(self.backend("DeleteObject", key, e)),
            },
        }
    }

    /// Reads at most the first `max` bytes of an object (a ranged GET); `None` when the key does not
    /// exist.
    pub async fn get_head(&self, key: &str, max: u64) -> Result<Option<Vec<u8>>, PortError> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .range(format!("bytes=0-{}", max.saturating_sub(1)))
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if Failure::of(&e) == Failure::Missing => return Ok(None),
            // An empty object has no byte 0 to start a range at.
            Err(e) if e.code() == Some("InvalidRange") => return Ok(Some(Vec::new())),
            Err(e) => return Err(self.backend("GetObject", key, e)),
        };
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| self.error("GetObject", key, "body", e))?
            .into_bytes();
        Ok(Some(bytes.to_vec()))
    }

    /// A presigned `PutObject` of exactly `size` bytes to `key` (the `Content-Length` is signed, so S3
    /// refuses any other size), valid for `valid_for`.
    pub async fn presigned_put(
        &self,
        key: &str,
        size: u64,
        valid_for: Duration,
    ) -> Result<PresignedRequest, PortError> {
        let config = PresigningConfig::expires_in(valid_for).map_err(PortError::backend)?;
        let size = i64::try_from(size).map_err(PortError::backend)?;
        self.client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .content_length(size)
            .presigned(config)
            .await
            .map_err(|e| self.backend("PutObject (presigning)", key, e))
    }

    /// A presigned `GetObject` of `key`, valid for `valid_for`, whose answer carries `content_type`
    /// and `content_disposition` (the `response-content-*` overrides, signed with the rest, so the
    /// URL cannot be altered to serve the bytes as something else).
    pub async fn presigned_get(
        &self,
        key: &str,
        content_type: &str,
        content_disposition: &str,
        valid_for: Duration,
    ) -> Result<PresignedRequest, PortError> {
        let config = PresigningConfig::expires_in(valid_for).map_err(PortError::backend)?;
        self.client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .response_content_type(content_type)
            .response_content_disposition(content_disposition)
            .presigned(config)
            .await
            .map_err(|e| self.backend("GetObject (presigning)", key, e))
    }

    /// Every key under `prefix`, in S3's (lexicographic) order, across all pages.
    pub async fn keys(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.name)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.backend("ListObjectsV2", prefix, e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        Ok(keys)
    }

    fn location(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.name)
    }

    fn conflict(&self, key: &str, expected: Option<&ObjectVersion>) -> PortError {
        let location = self.location(key);
        PortError::Conflict(match expected {
            None => format!("{location} already exists; it is never overwritten"),
            Some(v) => format!(
                "{location} changed or was deleted since it was read at version {}",
                v.0
            ),
        })
    }

    fn backend<E>(
        &self,
        operation: &'static str,
        key: &str,
        e: SdkError<E, HttpResponse>,
    ) -> PortError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let code = match (e.code(), e.raw_response()) {
            (Some(code), _) => code.to_owned(),
            (None, Some(response)) => format!("HTTP {}", response.status().as_u16()),
            (None, None) => "no response".to_owned(),
        };
        self.error(operation, key, &code, e)
    }

    fn error(
        &self,
        operation: &'static str,
        key: &str,
        code: &str,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> PortError {
        PortError::backend(S3Error {
            operation,
            location: self.location(key),
            code: code.to_owned(),
            source: source.into(),
        })
    }

    fn etag(
        &self,
        operation: &'static str,
        key: &str,
        etag: Option<&str>,
    ) -> Result<ObjectVersion, PortError> {
        etag.map(|e| ObjectVersion(e.to_owned()))
            .ok_or_else(|| self.error(operation, key, "no ETag", "S3 returned no ETag"))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::put_object::PutObjectError;
    use aws_sdk_s3::primitives::SdkBody;

    use super::*;

    fn failure(status: u16, code: &str) -> Failure {
        let e = SdkError::service_error(
            PutObjectError::generic(ErrorMetadata::builder().code(code).build()),
            HttpResponse::new(status.try_into().expect("status"), SdkBody::empty()),
        );
        Failure::of(&e)
    }

    // moto answers conditional writes with 412 only; real S3 also answers 409 when a concurrent
    // conditional write to the same key is in flight, which must be a lost race too.
    #[test]
    fn failed_preconditions_and_concurrent_conditional_writes_are_lost_races() {
        assert_eq!(failure(412, "PreconditionFailed"), Failure::Precondition);
        assert_eq!(
            failure(409, "ConditionalRequestConflict"),
            Failure::Precondition
        );
    }

    #[test]
    fn a_missing_key_is_absent_but_a_missing_bucket_or_other_conflict_is_a_backend_failure() {
        assert_eq!(failure(404, "NoSuchKey"), Failure::Missing);
        assert_eq!(failure(404, "NoSuchBucket"), Failure::Other);
        assert_eq!(failure(409, "OperationAborted"), Failure::Other);
        assert_eq!(failure(403, "AccessDenied"), Failure::Other);
    }
}
