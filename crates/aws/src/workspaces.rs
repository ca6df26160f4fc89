//! [`WorkspaceStore`] on S3: one object per file, `workspaces/<user>/<path>`, versioned by its ETag.
//! Puts and deletes are conditional on the ETag (see [`crate::s3`]), so a writer that read an older
//! version loses with a `Conflict` instead of overwriting or removing a newer file.

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt, stream};
use serverless_openclaw_core::domain::validate_workspace_path;
use serverless_openclaw_core::ids::UserId;
use serverless_openclaw_core::ports::{ObjectVersion, PortError, WorkspaceFile, WorkspaceStore};

use crate::s3::Bucket;

/// How many objects `list` reads at once: a cold workspace of a few hundred small files loads in a few
/// round trips without opening hundreds of connections.
const PARALLEL_READS: usize = 16;

/// Per-user OpenClaw workspace files in one S3 bucket.
#[derive(Clone)]
pub struct S3WorkspaceStore {
    bucket: Bucket,
}

impl S3WorkspaceStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            bucket: Bucket::new(client, bucket),
        }
    }

    /// The key prefix of one user's workspace (ids hold no `/`, so it is the user's alone).
    pub fn prefix(user: &UserId) -> String {
        format!("workspaces/{user}/")
    }

    /// The object key of a file; the path is checked so a key can never leave the user's prefix.
    fn key(user: &UserId, path: &str) -> Result<String, PortError> {
        validate_workspace_path(path).map_err(PortError::backend)?;
        Ok(format!("{}{path}", Self::prefix(user)))
    }
}

#[async_trait]
impl WorkspaceStore for S3WorkspaceStore {
    async fn list(&self, user: &UserId) -> Result<Vec<WorkspaceFile>, PortError> {
        let prefix = Self::prefix(user);
        let mut wanted = Vec::new();
        for key in self.bucket.keys(&prefix).await? {
            let Some(path) = key.strip_prefix(&prefix).map(str::to_owned) else {
                continue;
            };
            match validate_workspace_path(&path) {
                Ok(()) => wanted.push((key, path)),
                // Not written by this store; it could not be synchronised anyway.
                Err(e) => {
                    tracing::warn!(
                        key, error = %e,
                        "skipping an object with an invalid workspace path"
                    )
                }
            }
        }
        let files: Vec<Option<WorkspaceFile>> = stream::iter(wanted)
            .map(|(key, path)| async move {
                let object = self.bucket.get(&key).await?;
                // `None`: deleted between the listing and the read, so no longer part of the workspace.
                Ok::<_, PortError>(object.map(|o| WorkspaceFile {
                    path,
                    bytes: o.bytes,
                    version: o.version,
                }))
            })
            .buffered(PARALLEL_READS)
            .try_collect()
            .await?;
        let mut files: Vec<WorkspaceFile> = files.into_iter().flatten().collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    async fn put(
        &self,
        user: &UserId,
        path: &str,
        bytes: &[u8],
        expected: Option<&ObjectVersion>,
    ) -> Result<ObjectVersion, PortError> {
        self.bucket
            .put(&Self::key(user, path)?, bytes, expected)
            .await
    }

    async fn delete(
        &self,
        user: &UserId,
        path: &str,
        expected: &ObjectVersion,
    ) -> Result<(), PortError> {
        self.bucket
            .delete(&Self::key(user, path)?, Some(expected))
            .await
    }
}
