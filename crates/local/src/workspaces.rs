//! Per-user OpenClaw workspace files on the local file system: `<root>/<user>/<path>`.
//!
//! Versions are content hashes and writes are atomic renames, as for transcripts (see `files`). Every
//! read-compare-write, and the listing, runs under one lock, so two writers cannot both pass a version
//! check and a listing never sees a half-written temporary file. The lock is per store: one local
//! server owns a data dir. Where a user's folder is comes from a [`WorkspaceFolders`]: a fixed
//! `<root>/<user>`, or in local mode the agent runtime's, which knows where a folder is while a turn
//! has it checked out and keeps it there during each operation.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serverless_openclaw_core::domain::validate_workspace_path;
use serverless_openclaw_core::ids::UserId;
use serverless_openclaw_core::ports::{
    ObjectVersion, PortError, WorkspaceFile, WorkspaceFolders, WorkspaceStore,
};

use crate::blocking;
use crate::files::{read_versioned, version_of, write_atomically};

/// [`WorkspaceStore`] on the local file system.
#[derive(Clone)]
pub struct FileWorkspaceStore {
    folders: Arc<dyn WorkspaceFolders>,
    /// Serialises read-compare-write (and listings) within this store.
    lock: Arc<Mutex<()>>,
}

/// Workspaces that stay in `<root>/<user>/`.
struct FixedFolders(PathBuf);

impl WorkspaceFolders for FixedFolders {
    fn with_folder(&self, user: &UserId, f: &mut dyn FnMut(&Path)) {
        f(&self.0.join(user.as_str()));
    }
}

impl FileWorkspaceStore {
    /// Workspaces in `<root>/<user>/`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self::over(Arc::new(FixedFolders(root.into())))
    }

    /// Workspaces wherever `folders` says they are at the time of each operation.
    pub fn over(folders: Arc<dyn WorkspaceFolders>) -> Self {
        Self {
            folders,
            lock: Arc::new(Mutex::new(())),
        }
    }

    /// Runs `op` on `user`'s folder on a blocking thread, under this store's lock and with the folder
    /// held in place.
    async fn in_folder<T: Send + 'static>(
        &self,
        user: &UserId,
        op: impl FnOnce(&Path) -> Result<T, PortError> + Send + 'static,
    ) -> Result<T, PortError> {
        let (folders, lock, user) = (
            Arc::clone(&self.folders),
            Arc::clone(&self.lock),
            user.clone(),
        );
        blocking(move || {
            let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            let mut op = Some(op);
            let mut result = None;
            folders.with_folder(&user, &mut |folder| {
                result = op.take().map(|op| op(folder));
            });
            result.unwrap_or_else(|| Err(PortError::backend("the workspace folder was not given")))
        })
        .await
    }
}

/// Every regular file under `folder` with a valid workspace path, unsorted. Symbolic links are not
/// followed: a workspace holds files, and a link could point anywhere.
fn walk(folder: &Path) -> Result<Vec<(String, PathBuf)>, PortError> {
    let mut files = Vec::new();
    let mut pending = vec![(String::new(), folder.to_path_buf())];
    while let Some((prefix, dir)) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(PortError::backend(e)),
        };
        for entry in entries {
            let entry = entry.map_err(PortError::backend)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = format!("{prefix}{name}");
            let kind = entry.file_type().map_err(PortError::backend)?;
            if kind.is_dir() {
                pending.push((format!("{path}/"), entry.path()));
            } else if !kind.is_file() {
                tracing::warn!(
                    path,
                    "skipping a workspace entry that is not a regular file"
                );
            } else if let Err(e) = validate_workspace_path(&path) {
                tracing::warn!(error = %e, "skipping a workspace file with an invalid path");
            } else {
                files.push((path, entry.path()));
            }
        }
    }
    Ok(files)
}

/// Removes the now-empty folders between a deleted file and the workspace folder, so a later file may
/// take a removed folder's name.
fn remove_empty_parents(file: &Path, folder: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir.filter(|d| *d != folder && d.starts_with(folder)) {
        if fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[async_trait]
impl WorkspaceStore for FileWorkspaceStore {
    async fn list(&self, user: &UserId) -> Result<Vec<WorkspaceFile>, PortError> {
        self.in_folder(user, |folder| {
            let mut files = Vec::new();
            for (path, file) in walk(folder)? {
                if let Some((bytes, version)) = read_versioned(&file)? {
                    files.push(WorkspaceFile {
                        path,
                        bytes,
                        version,
                    });
                }
            }
            files.sort_by(|a, b| a.path.cmp(&b.path));
            Ok(files)
        })
        .await
    }

    async fn put(
        &self,
        user: &UserId,
        path: &str,
        bytes: &[u8],
        expected: Option<&ObjectVersion>,
    ) -> Result<ObjectVersion, PortError> {
        // Checked before the path is joined, so it can never leave the user's folder.
        validate_workspace_path(path).map_err(PortError::backend)?;
        let (path, bytes, expected) = (path.to_owned(), bytes.to_vec(), expected.cloned());
        self.in_folder(user, move |folder| {
            let file = folder.join(&path);
            let current = read_versioned(&file)?.map(|(_, v)| v);
            if current != expected {
                return Err(PortError::Conflict(format!(
                    "workspace file {path} is at version {current:?}, the writer expected \
                     {expected:?}"
                )));
            }
            write_atomically(&file, &bytes).map_err(PortError::backend)?;
            Ok(version_of(&bytes))
        })
        .await
    }

    async fn delete(
        &self,
        user: &UserId,
        path: &str,
        expected: &ObjectVersion,
    ) -> Result<(), PortError> {
        validate_workspace_path(path).map_err(PortError::backend)?;
        let (path, expected) = (path.to_owned(), expected.clone());
        self.in_folder(user, move |folder| {
            let file = folder.join(&path);
            match read_versioned(&file)? {
                None => return Ok(()),
                Some((_, current)) if current != expected => {
                    return Err(PortError::Conflict(format!(
                        "workspace file {path} is at version {current:?}, the deleter expected \
                         {expected:?}"
                    )));
                }
                Some(_) => {}
            }
            fs::remove_file(&file).map_err(PortError::backend)?;
            remove_empty_parents(&file, folder);
            Ok(())
        })
        .await
    }
}
