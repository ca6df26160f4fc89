//! Workspace sync for hosts whose disk does not outlive them (the agent Lambda's `/tmp`). OpenClaw reads
//! and writes a user's memory files in `<workspace_root>/<user>/`; [`SyncedWorkspaceRuntime`] wraps any
//! [`AgentRuntime`] and fills that folder from a [`WorkspaceStore`] before each turn, then writes the
//! turn's changes back after a successful one. The folder is removed when the turn ends, however it
//! ends: a warm host runs other users' turns next, and their tools must find nothing of this user.
//!
//! Write-back is conditional on the version each file was loaded at. Two conversations of one user can
//! run at once on different hosts; when both change a file, the first write wins and the other change is
//! logged and dropped (that host reloads the stored file on its next turn) instead of overwriting it. A
//! failed turn writes nothing back. Files with invalid paths, oversized files and files beyond the count
//! limit are skipped with a warning and never fail a turn; a store that cannot be read fails the turn
//! before it starts, while a failed write-back is logged and the reply kept. The turn's attachment
//! copies (`.attachments/`) are not workspace files and are never saved.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::error::Error as StdError;
use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::attachments::WORKSPACE_ATTACHMENTS_DIR;
use serverless_openclaw_core::domain::{
    MAX_WORKSPACE_FILE_BYTES, MAX_WORKSPACE_FILES, validate_workspace_path,
};
use serverless_openclaw_core::ids::UserId;
use serverless_openclaw_core::ports::{
    AgentCompaction, AgentError, AgentEvent, AgentReply, AgentRuntime, AgentStatus,
    AgentStatusSource, AgentTurn, Compacted, ObjectVersion, PortError, WorkspaceFile,
    WorkspaceStore,
};
use serverless_openclaw_core::protocol::ErrorCode;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedMutexGuard, mpsc};

/// An [`AgentRuntime`] whose per-user workspace folders are loaded from, and saved to, a
/// [`WorkspaceStore`] around every turn.
pub struct SyncedWorkspaceRuntime<R> {
    inner: R,
    store: Arc<dyn WorkspaceStore>,
    workspace_root: PathBuf,
    /// One turn per user at a time in this process: a user's conversations share one folder, so a
    /// second turn must not refill it while the first one's changes are unsaved.
    users: Mutex<HashMap<UserId, Arc<tokio::sync::Mutex<()>>>>,
}

type Hash = [u8; 32];

/// A file as loaded into the folder: the version to write back against and its content's hash.
struct Loaded {
    version: ObjectVersion,
    hash: Hash,
}

/// What a turn left in the folder.
struct Scan {
    /// Valid paths of regular files, oversized ones included (they are kept in the store, not deleted).
    present: BTreeSet<String>,
    /// The files small enough to save, with their content's hash.
    savable: BTreeMap<String, Hash>,
}

/// An entry found under a workspace folder (directories are listed apart).
struct Entry {
    /// Relative, `/`-separated; lossily decoded, so a non-UTF-8 name never passes validation.
    path: String,
    full: PathBuf,
    /// A regular file (symbolic links are never followed: they could point anywhere).
    is_file: bool,
}

impl<R: AgentRuntime> SyncedWorkspaceRuntime<R> {
    /// Wraps `inner`, whose workspaces live in `<workspace_root>/<user>/`.
    pub fn new(
        inner: R,
        store: Arc<dyn WorkspaceStore>,
        workspace_root: impl Into<PathBuf>,
    ) -> Self {
        Self {
            inner,
            store,
            workspace_root: workspace_root.into(),
            users: Mutex::new(HashMap::new()),
        }
    }

    /// The wrapped runtime (to start or stop it).
    pub fn inner(&self) -> &R {
        &self.inner
    }

    async fn lock_user(&self, user: &UserId) -> UserTurn<'_> {
        let lock = Arc::clone(
            self.users
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(user.clone())
                .or_default(),
        );
        UserTurn {
            users: &self.users,
            user: user.clone(),
            guard: Some(lock.lock_owned().await),
        }
    }

    /// Makes the user's folder hold exactly the stored files; returns what was loaded.
    async fn load(
        &self,
        user: &UserId,
        folder: &Path,
    ) -> Result<BTreeMap<String, Loaded>, AgentError> {
        let failed = |what: &str, e: &dyn StdError| {
            tracing::error!(%user, error = chain(e), "{what}");
            AgentError::new(
                ErrorCode::Internal,
                "the agent could not load the user's workspace files",
            )
        };
        let stored = self
            .store
            .list(user)
            .await
            .map_err(|e| failed("listing the workspace files failed", &e))?;
        let mut wanted = Vec::new();
        for file in stored {
            if let Err(e) = validate_workspace_path(&file.path) {
                tracing::warn!(
                    %user, error = e,
                    "skipping a stored workspace file with an invalid path"
                );
            } else if file.bytes.len() > MAX_WORKSPACE_FILE_BYTES {
                tracing::warn!(
                    %user, path = file.path, bytes = file.bytes.len(),
                    "skipping a stored workspace file over the size limit"
                );
            } else if wanted.len() == MAX_WORKSPACE_FILES {
                tracing::warn!(
                    %user, path = file.path,
                    "skipping a stored workspace file beyond the file limit"
                );
            } else {
                wanted.push(file);
            }
        }
        let folder = folder.to_path_buf();
        blocking(move || fill(&folder, wanted))
            .await
            .map_err(|e| failed("filling the workspace folder failed", &e))
    }

    /// Saves what the turn changed in the folder: new files, changed files and deletions, each
    /// conditional on the version it was loaded at. Failures are logged; nothing is returned.
    async fn save(&self, user: &UserId, folder: &Path, loaded: BTreeMap<String, Loaded>) {
        let scan = {
            let folder = folder.to_path_buf();
            match blocking(move || scan(&folder)).await {
                Ok(scan) => scan,
                Err(e) => {
                    tracing::error!(
                        %user, error = chain(&e),
                        "reading the workspace folder failed; the turn's file changes are not saved"
                    );
                    return;
                }
            }
        };
        let kept = loaded.keys().filter(|p| scan.present.contains(*p)).count();
        let mut room = MAX_WORKSPACE_FILES.saturating_sub(kept);
        for (path, hash) in &scan.savable {
            let expected = match loaded.get(path) {
                Some(file) if file.hash == *hash => continue,
                Some(file) => Some(&file.version),
                None if room == 0 => {
                    tracing::warn!(
                        %user, path,
                        "not saving a new workspace file beyond the file limit"
                    );
                    continue;
                }
                None => {
                    room -= 1;
                    None
                }
            };
            let result = match tokio::fs::read(folder.join(path)).await {
                Ok(bytes) => self.store.put(user, path, &bytes, expected).await.map(drop),
                Err(e) => Err(PortError::backend(e)),
            };
            report(user, path, "save", result);
        }
        for (path, file) in &loaded {
            if !scan.present.contains(path) {
                let result = self.store.delete(user, path, &file.version).await;
                report(user, path, "delete", result);
            }
        }
    }
}

impl<R: AgentRuntime> AgentStatusSource for SyncedWorkspaceRuntime<R> {
    fn status(&self) -> AgentStatus {
        self.inner.status()
    }
}

#[async_trait]
impl<R: AgentRuntime> AgentRuntime for SyncedWorkspaceRuntime<R> {
    async fn run_turn(
        &self,
        turn: AgentTurn,
        events: mpsc::UnboundedSender<AgentEvent>,
        cancel: CancellationToken,
    ) -> Result<AgentReply, AgentError> {
        let user = turn.user_id.clone();
        let _one_turn = self.lock_user(&user).await;
        let folder = self.workspace_root.join(user.as_str());
        let outcome = match self.load(&user, &folder).await {
            Ok(loaded) => {
                let reply = self.inner.run_turn(turn, events, cancel).await;
                if reply.is_ok() {
                    self.save(&user, &folder, loaded).await;
                }
                reply
            }
            Err(e) => Err(e),
        };
        self.remove_local(&user, folder).await;
        outcome
    }

    /// A compaction reads no workspace file (the summary is made from the transcript alone), so the
    /// workspace is not loaded; it holds the user's lock like a turn, and whatever folder the inner
    /// runtime left is removed as after a turn.
    async fn compact(
        &self,
        request: AgentCompaction,
        cancel: CancellationToken,
    ) -> Result<Compacted, AgentError> {
        let user = request.user_id.clone();
        let _one_turn = self.lock_user(&user).await;
        let outcome = self.inner.compact(request, cancel).await;
        self.remove_local(&user, self.workspace_root.join(user.as_str()))
            .await;
        outcome
    }
}

impl<R: AgentRuntime> SyncedWorkspaceRuntime<R> {
    /// Removes the user's local workspace folder after a turn (the store has its files).
    async fn remove_local(&self, user: &UserId, folder: PathBuf) {
        if let Err(e) = blocking(move || remove_folder(&folder)).await {
            tracing::error!(%user, error = chain(&e), "removing the workspace folder after a turn failed");
        }
    }
}

/// A user's turn lock, held for the turn; the lock is forgotten once no other turn of the user wants it.
struct UserTurn<'a> {
    users: &'a Mutex<HashMap<UserId, Arc<tokio::sync::Mutex<()>>>>,
    user: UserId,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for UserTurn<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        // Waiting turns clone the lock under this map's mutex, so a count of one means nobody waits.
        if users
            .get(&self.user)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            users.remove(&self.user);
        }
    }
}

fn report(user: &UserId, path: &str, action: &str, result: Result<(), PortError>) {
    match result {
        Ok(()) => tracing::debug!(%user, path, action, "workspace file synchronised"),
        Err(PortError::Conflict(why)) => tracing::warn!(
            %user, path, action, why,
            "a workspace file changed in another conversation meanwhile; the stored version is \
             kept and this turn's change to it is dropped"
        ),
        Err(e) => tracing::error!(
            %user, path, action, error = chain(&e),
            "synchronising a workspace file failed; the reply is kept"
        ),
    }
}

/// An error and its causes, on one line.
fn chain(e: &dyn StdError) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(io::Error::other)?
}

fn hash(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// Every entry under `folder`, and its subfolders deepest first. A missing folder is empty.
fn walk(folder: &Path) -> io::Result<(Vec<Entry>, Vec<PathBuf>)> {
    let (mut entries, mut dirs) = (Vec::new(), Vec::new());
    let mut pending = vec![(String::new(), folder.to_path_buf())];
    while let Some((prefix, dir)) = pending.pop() {
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in listing {
            let entry = entry?;
            let path = format!("{prefix}{}", entry.file_name().to_string_lossy());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
                pending.push((format!("{path}/"), entry.path()));
            } else {
                entries.push(Entry {
                    path,
                    full: entry.path(),
                    is_file: kind.is_file(),
                });
            }
        }
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    Ok((entries, dirs))
}

/// Makes `folder` hold exactly `files`: removes every other entry (links included) and empty
/// subfolders, then writes the files whose content differs. A file that cannot be written is skipped
/// with a warning (it stays in the store untouched, since it is not reported as loaded).
fn fill(folder: &Path, files: Vec<WorkspaceFile>) -> io::Result<BTreeMap<String, Loaded>> {
    fs::create_dir_all(folder)?;
    let wanted: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let (entries, dirs) = walk(folder)?;
    for entry in entries {
        if !(entry.is_file && wanted.contains(entry.path.as_str())) {
            fs::remove_file(&entry.full)?;
        }
    }
    for dir in dirs {
        // Fails, as intended, while the folder still holds something.
        let _ = fs::remove_dir(dir);
    }
    let mut loaded = BTreeMap::new();
    for file in files {
        let target = folder.join(&file.path);
        let content = hash(&file.bytes);
        let unchanged = fs::read(&target).is_ok_and(|bytes| hash(&bytes) == content);
        let written = if unchanged {
            Ok(())
        } else {
            target
                .parent()
                .map_or(Ok(()), fs::create_dir_all)
                .and_then(|()| fs::write(&target, &file.bytes))
        };
        match written {
            Ok(()) => {
                loaded.insert(
                    file.path,
                    Loaded {
                        version: file.version,
                        hash: content,
                    },
                );
            }
            Err(e) => tracing::warn!(
                path = file.path, error = %e,
                "a stored workspace file could not be written; the turn runs without it"
            ),
        }
    }
    Ok(loaded)
}

/// What is in `folder` after a turn. Entries that are not regular files, have invalid paths, are too
/// large or cannot be read are not saved (with a warning); a file that exists is never deleted from the
/// store, even when it cannot be saved.
fn scan(folder: &Path) -> io::Result<Scan> {
    let mut scan = Scan {
        present: BTreeSet::new(),
        savable: BTreeMap::new(),
    };
    let copies = format!("{WORKSPACE_ATTACHMENTS_DIR}/");
    for entry in walk(folder)?.0 {
        // A turn's attachment copies: the attachment store has them.
        if entry.path.starts_with(&copies) {
            continue;
        }
        if !entry.is_file {
            tracing::warn!(
                path = entry.path,
                "not saving a workspace entry that is not a regular file"
            );
            continue;
        }
        if let Err(e) = validate_workspace_path(&entry.path) {
            tracing::warn!(
                error = e,
                "not saving a workspace file with an invalid path"
            );
            continue;
        }
        scan.present.insert(entry.path.clone());
        match read_limited(&entry.full) {
            Ok(Some(bytes)) => {
                scan.savable.insert(entry.path, hash(&bytes));
            }
            Ok(None) => tracing::warn!(
                path = entry.path,
                limit = MAX_WORKSPACE_FILE_BYTES,
                "not saving a workspace file over the size limit"
            ),
            Err(e) => {
                tracing::warn!(
                    path = entry.path, error = %e,
                    "not saving an unreadable workspace file"
                )
            }
        }
    }
    Ok(scan)
}

/// A file's content, or `None` when it is over the size limit (checked before reading it whole).
fn read_limited(path: &Path) -> io::Result<Option<Vec<u8>>> {
    if path.metadata()?.len() > MAX_WORKSPACE_FILE_BYTES as u64 {
        return Ok(None);
    }
    fs::read(path).map(Some)
}

/// Removes a workspace folder and everything in it; a folder that is not there is fine.
fn remove_folder(folder: &Path) -> io::Result<()> {
    match fs::remove_dir_all(folder) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
