//! [`SyncedWorkspaceRuntime`] with the local file store as the workspace store and a scripted runtime
//! that reads, writes and deletes files in the workspace folder the way OpenClaw does during a turn.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serverless_openclaw_agent::SyncedWorkspaceRuntime;
use serverless_openclaw_core::CancellationToken;
use serverless_openclaw_core::domain::{MAX_WORKSPACE_FILE_BYTES, MAX_WORKSPACE_FILES, Usage};
use serverless_openclaw_core::ids::{ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{
    AgentError, AgentEvent, AgentReply, AgentRuntime, AgentState, AgentStatus, AgentStatusSource,
    AgentTurn, ObjectVersion, PortError, ToolAccess, WorkspaceFile, WorkspaceStore,
};
use serverless_openclaw_core::protocol::ErrorCode;
use serverless_openclaw_local::FileWorkspaceStore;
use tokio::sync::mpsc;

type StepFuture = Pin<Box<dyn Future<Output = Result<(), AgentError>> + Send>>;

/// What a scripted turn does with the user's workspace folder.
type Step = Box<dyn Fn(PathBuf) -> StepFuture + Send + Sync>;

/// An agent runtime that runs a script against `<root>/<user>/` instead of OpenClaw.
struct Scripted {
    root: PathBuf,
    step: Step,
    turns: AtomicUsize,
}

impl AgentStatusSource for Scripted {
    fn status(&self) -> AgentStatus {
        AgentStatus {
            state: AgentState::Ready,
            openclaw_version: None,
            model: None,
        }
    }
}

#[async_trait]
impl AgentRuntime for Scripted {
    async fn run_turn(
        &self,
        turn: AgentTurn,
        events: mpsc::UnboundedSender<AgentEvent>,
        _cancel: CancellationToken,
    ) -> Result<AgentReply, AgentError> {
        self.turns.fetch_add(1, Ordering::SeqCst);
        let _ = events.send(AgentEvent::Started);
        (self.step)(self.root.join(turn.user_id.as_str())).await?;
        Ok(AgentReply {
            text: "done".into(),
            usage: Usage::default(),
            cost_usd: None,
            duration_ms: 1,
            transcript: b"{}\n".to_vec(),
            files: Vec::new(),
        })
    }
}

/// The local file store, recording every write and optionally failing or listing extra files.
struct Recording {
    inner: FileWorkspaceStore,
    extra: Vec<WorkspaceFile>,
    fail_list: bool,
    fail_writes: bool,
    writes: Mutex<Vec<String>>,
}

impl Recording {
    fn new(dir: &Path) -> Self {
        Self {
            inner: FileWorkspaceStore::new(dir),
            extra: Vec::new(),
            fail_list: false,
            fail_writes: false,
            writes: Mutex::new(Vec::new()),
        }
    }

    fn writes(&self) -> Vec<String> {
        self.writes.lock().unwrap().clone()
    }

    fn write(&self, what: String) -> Result<(), PortError> {
        self.writes.lock().unwrap().push(what);
        if self.fail_writes {
            return Err(PortError::backend("the store is down"));
        }
        Ok(())
    }
}

#[async_trait]
impl WorkspaceStore for Recording {
    async fn list(&self, user: &UserId) -> Result<Vec<WorkspaceFile>, PortError> {
        if self.fail_list {
            return Err(PortError::backend("the store is down"));
        }
        let mut files = self.inner.list(user).await?;
        files.extend(self.extra.iter().cloned());
        Ok(files)
    }

    async fn put(
        &self,
        user: &UserId,
        path: &str,
        bytes: &[u8],
        expected: Option<&ObjectVersion>,
    ) -> Result<ObjectVersion, PortError> {
        let how = if expected.is_some() {
            "replace"
        } else {
            "create"
        };
        self.write(format!("{how} {path}"))?;
        self.inner.put(user, path, bytes, expected).await
    }

    async fn delete(
        &self,
        user: &UserId,
        path: &str,
        expected: &ObjectVersion,
    ) -> Result<(), PortError> {
        self.write(format!("delete {path}"))?;
        self.inner.delete(user, path, expected).await
    }
}

/// A temporary data dir with the store under `store/` and workspace folders under `workspaces/`.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn store(&self) -> Recording {
        Recording::new(&self.dir.path().join("store"))
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("workspaces")
    }

    fn folder(&self) -> PathBuf {
        self.root().join("alice")
    }

    fn runtime(
        &self,
        store: &Arc<Recording>,
        step: impl Fn(PathBuf) -> StepFuture + Send + Sync + 'static,
    ) -> SyncedWorkspaceRuntime<Scripted> {
        let scripted = Scripted {
            root: self.root(),
            step: Box::new(step),
            turns: AtomicUsize::new(0),
        };
        SyncedWorkspaceRuntime::new(
            scripted,
            Arc::clone(store) as Arc<dyn WorkspaceStore>,
            self.root(),
        )
    }
}

fn alice() -> UserId {
    UserId::parse("alice").unwrap()
}

async fn turn(
    runtime: &SyncedWorkspaceRuntime<Scripted>,
    conversation: &str,
) -> Result<AgentReply, AgentError> {
    let (events, _received) = mpsc::unbounded_channel();
    let turn = AgentTurn {
        user_id: alice(),
        conversation_id: ConversationId::parse(conversation).unwrap(),
        message_id: MessageId::generate(),
        transcript: None,
        prompt: "hello".into(),
        model: None,
        model_id: None,
        thinking: None,
        tools: ToolAccess::Full,
        browser: true,
        attachments: Vec::new(),
        disabled_skills: Vec::new(),
    };
    runtime
        .run_turn(turn, events, CancellationToken::new())
        .await
}

/// Every regular file under `dir`, by relative path.
fn files_in(dir: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.map(Result::unwrap) {
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &format!("{name}/"), out);
            } else {
                out.insert(
                    name,
                    std::fs::read_to_string(entry.path()).unwrap_or_default(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

async fn stored(store: &Recording) -> BTreeMap<String, String> {
    store
        .inner
        .list(&alice())
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.path, String::from_utf8(f.bytes).unwrap()))
        .collect()
}

async fn put(store: &Recording, path: &str, text: &str) -> ObjectVersion {
    store
        .inner
        .put(&alice(), path, text.as_bytes(), None)
        .await
        .unwrap()
}

fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn files_come_down_before_the_turn_and_its_edits_new_files_and_deletions_go_up_after() {
    let fixture = Fixture::new();
    let store = Arc::new(fixture.store());
    put(&store, "MEMORY.md", "likes tea").await;
    put(&store, "AGENTS.md", "be brief").await;
    put(&store, "memory/2026-11-20.md", "- met Bob").await;
    // Left by an earlier turn on this host: a stray file and a stale copy.
    write(&fixture.folder().join("stray.md"), "not in the store");
    write(&fixture.folder().join("MEMORY.md"), "stale");
    write(&fixture.folder().join("old/deep/x.md"), "not in the store");

    let seen = Arc::new(Mutex::new(BTreeMap::new()));
    let runtime = fixture.runtime(&store, {
        let seen = Arc::clone(&seen);
        move |dir| {
            let seen = Arc::clone(&seen);
            Box::pin(async move {
                *seen.lock().unwrap() = files_in(&dir);
                write(&dir.join("MEMORY.md"), "likes coffee");
                std::fs::remove_file(dir.join("AGENTS.md")).unwrap();
                write(&dir.join("memory/2026-11-21.md"), "- met Carol");
                Ok(())
            })
        }
    });

    let reply = turn(&runtime, "c1").await.expect("the turn succeeds");
    assert_eq!(reply.text, "done");
    assert_eq!(
        *seen.lock().unwrap(),
        map(&[
            ("AGENTS.md", "be brief"),
            ("MEMORY.md", "likes tea"),
            ("memory/2026-11-20.md", "- met Bob"),
        ]),
        "the folder holds exactly the stored files when the turn starts"
    );
    assert!(
        !fixture.folder().exists(),
        "nothing of the user stays on the host's disk after the turn"
    );
    assert_eq!(
        stored(&store).await,
        map(&[
            ("MEMORY.md", "likes coffee"),
            ("memory/2026-11-20.md", "- met Bob"),
            ("memory/2026-11-21.md", "- met Carol"),
        ])
    );
    assert_eq!(
        store.writes(),
        [
            "replace MEMORY.md",
            "create memory/2026-11-21.md",
            "delete AGENTS.md"
        ],
        "only changes are written, each conditional on what was loaded"
    );
}

#[tokio::test]
async fn a_file_changed_by_another_conversation_meanwhile_keeps_that_version_and_the_turn_succeeds()
{
    let fixture = Fixture::new();
    let store = Arc::new(fixture.store());
    put(&store, "MEMORY.md", "v1").await;
    put(&store, "NOTES.md", "n1").await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let runtime = fixture.runtime(&store, {
        let (store, seen) = (Arc::clone(&store), Arc::clone(&seen));
        move |dir| {
            let (store, seen) = (Arc::clone(&store), Arc::clone(&seen));
            Box::pin(async move {
                seen.lock().unwrap().push(files_in(&dir));
                if seen.lock().unwrap().len() == 1 {
                    // This turn edits one file and deletes the other, while another conversation of
                    // the same user (on another host) saves both.
                    write(&dir.join("MEMORY.md"), "mine");
                    std::fs::remove_file(dir.join("NOTES.md")).unwrap();
                    for (path, theirs) in [("MEMORY.md", "theirs"), ("NOTES.md", "n2")] {
                        let current = store
                            .inner
                            .list(&alice())
                            .await
                            .unwrap()
                            .into_iter()
                            .find(|f| f.path == path)
                            .unwrap()
                            .version;
                        store
                            .inner
                            .put(&alice(), path, theirs.as_bytes(), Some(&current))
                            .await
                            .unwrap();
                    }
                }
                Ok(())
            })
        }
    });

    turn(&runtime, "c1")
        .await
        .expect("a conflict does not fail the turn");
    let theirs = map(&[("MEMORY.md", "theirs"), ("NOTES.md", "n2")]);
    assert_eq!(
        stored(&store).await,
        theirs,
        "the other version is not lost"
    );
    assert_eq!(store.writes(), ["replace MEMORY.md", "delete NOTES.md"]);

    turn(&runtime, "c1").await.unwrap();
    assert_eq!(
        seen.lock().unwrap()[1],
        theirs,
        "the next turn starts from the stored files"
    );
}

#[tokio::test]
async fn a_failed_turn_saves_nothing_and_the_next_turn_starts_from_the_store() {
    let fixture = Fixture::new();
    let store = Arc::new(fixture.store());
    put(&store, "MEMORY.md", "kept").await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let runtime = fixture.runtime(&store, {
        let seen = Arc::clone(&seen);
        move |dir| {
            let seen = Arc::clone(&seen);
            Box::pin(async move {
                seen.lock().unwrap().push(files_in(&dir));
                write(&dir.join("MEMORY.md"), "half done");
                write(&dir.join("NEW.md"), "half done");
                Err(AgentError::new(ErrorCode::LlmError, "the provider failed"))
            })
        }
    });

    let failed = turn(&runtime, "c1").await.unwrap_err();
    assert_eq!(failed.code, ErrorCode::LlmError);
    assert!(store.writes().is_empty(), "{:?}", store.writes());
    assert!(
        !fixture.folder().exists(),
        "a failed turn leaves nothing of the user on the host's disk either"
    );
    assert_eq!(stored(&store).await, map(&[("MEMORY.md", "kept")]));

    turn(&runtime, "c1").await.unwrap_err();
    assert_eq!(seen.lock().unwrap()[1], map(&[("MEMORY.md", "kept")]));
}

#[tokio::test]
async fn invalid_linked_and_oversized_files_are_skipped_without_failing_the_turn() {
    let fixture = Fixture::new();
    let store = Arc::new(fixture.store());
    let secret = fixture.dir.path().join("secret.txt");
    write(&secret, "outside the workspace");
    let runtime = fixture.runtime(&store, {
        let secret = secret.clone();
        move |dir| {
            let secret = secret.clone();
            Box::pin(async move {
                write(&dir.join("ok.md"), "fine");
                write(&dir.join("bad name.md"), "a space is not allowed");
                write(
                    &dir.join("big.md"),
                    &"x".repeat(MAX_WORKSPACE_FILE_BYTES + 1),
                );
                std::os::unix::fs::symlink(&secret, dir.join("link.md")).unwrap();
                Ok(())
            })
        }
    });

    turn(&runtime, "c1")
        .await
        .expect("skipped files do not fail the turn");
    assert_eq!(stored(&store).await, map(&[("ok.md", "fine")]));
}

#[tokio::test]
async fn new_files_beyond_the_file_limit_are_not_saved() {
    let fixture = Fixture::new();
    let store = Arc::new(fixture.store());
    put(&store, "MEMORY.md", "m").await;
    let runtime = fixture.runtime(&store, |dir| {
        Box::pin(async move {
            for i in 0..MAX_WORKSPACE_FILES {
                write(&dir.join(format!("memory/{i:04}.md")), "note");
            }
            Ok(())
        })
    });

    turn(&runtime, "c1").await.unwrap();
    let files = stored(&store).await;
    assert_eq!(files.len(), MAX_WORKSPACE_FILES);
    assert!(files.contains_key("MEMORY.md"));
    assert!(!files.contains_key(&format!("memory/{:04}.md", MAX_WORKSPACE_FILES - 1)));
}

#[tokio::test]
async fn paths_cannot_leave_the_users_workspace_folder() {
    let fixture = Fixture::new();
    let mut store = fixture.store();
    let outside = fixture.dir.path().join("abs.md");
    store.extra = [
        "../escape.md",
        "a/../../escape.md",
        outside.to_str().unwrap(),
    ]
    .into_iter()
    .map(|path| WorkspaceFile {
        path: path.into(),
        bytes: b"escaped".to_vec(),
        version: ObjectVersion("v".into()),
    })
    .collect();
    let store = Arc::new(store);
    put(&store, "MEMORY.md", "mine").await;
    let seen = Arc::new(Mutex::new(BTreeMap::new()));
    let runtime = fixture.runtime(&store, {
        let seen = Arc::clone(&seen);
        move |dir| {
            let seen = Arc::clone(&seen);
            Box::pin(async move {
                *seen.lock().unwrap() = files_in(&dir);
                // A turn that writes next to its folder (into another user's) saves nothing there.
                write(&dir.join("../bob/MEMORY.md"), "planted");
                Ok(())
            })
        }
    });

    turn(&runtime, "c1").await.unwrap();
    assert_eq!(*seen.lock().unwrap(), map(&[("MEMORY.md", "mine")]));
    assert_eq!(
        files_in(fixture.dir.path())
            .keys()
            .filter(|p| p.contains("escape") || p.ends_with("abs.md"))
            .count(),
        0,
        "{:?}",
        files_in(fixture.dir.path())
    );
    assert!(store.writes().is_empty(), "{:?}", store.writes());
    assert!(
        store
            .inner
            .list(&UserId::parse("bob").unwrap())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_store_that_cannot_be_read_fails_the_turn_before_it_runs() {
    let fixture = Fixture::new();
    let mut store = fixture.store();
    store.fail_list = true;
    let store = Arc::new(store);
    let runtime = fixture.runtime(&store, |_| Box::pin(async { Ok(()) }));

    let failed = turn(&runtime, "c1").await.unwrap_err();
    assert_eq!(failed.code, ErrorCode::Internal);
    assert_eq!(runtime.inner().turns.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_store_that_cannot_be_written_after_the_turn_keeps_the_reply() {
    let fixture = Fixture::new();
    let mut store = fixture.store();
    store.fail_writes = true;
    let store = Arc::new(store);
    let runtime = fixture.runtime(&store, |dir| {
        Box::pin(async move {
            write(&dir.join("MEMORY.md"), "new");
            Ok(())
        })
    });

    let reply = turn(&runtime, "c1").await.expect("the reply is kept");
    assert_eq!(reply.text, "done");
    assert_eq!(store.writes(), ["create MEMORY.md"]);
    assert!(stored(&store).await.is_empty());
}

#[tokio::test]
async fn turns_of_one_user_take_turns_with_the_shared_folder() {
    let fixture = Fixture::new();
    let store = Arc::new(fixture.store());
    let log = Arc::new(Mutex::new(Vec::new()));
    let runtime = fixture.runtime(&store, {
        let log = Arc::clone(&log);
        move |dir| {
            let log = Arc::clone(&log);
            Box::pin(async move {
                let n = files_in(&dir).len();
                log.lock().unwrap().push(format!("start with {n}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                write(&dir.join(format!("file-{n}.md")), "x");
                log.lock().unwrap().push("end".to_string());
                Ok(())
            })
        }
    });

    let (a, b) = tokio::join!(turn(&runtime, "c1"), turn(&runtime, "c2"));
    a.unwrap();
    b.unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        ["start with 0", "end", "start with 1", "end"],
        "the second turn starts after the first one's files are saved"
    );
    assert_eq!(stored(&store).await.len(), 2);
}

#[tokio::test]
async fn a_turn_s_attachment_copies_are_never_saved_as_workspace_files() {
    let fixture = Fixture::new();
    let store = Arc::new(fixture.store());
    let runtime = fixture.runtime(&store, |dir| {
        Box::pin(async move {
            // What OpenClawRuntime leaves while the turn runs, beside a real memory edit.
            write(&dir.join(".attachments/c1/report.txt"), "an attachment");
            write(&dir.join("MEMORY.md"), "read the report");
            Ok(())
        })
    });
    turn(&runtime, "c1").await.expect("the turn succeeds");
    assert_eq!(
        stored(&store).await,
        map(&[("MEMORY.md", "read the report")])
    );
    assert_eq!(store.writes(), ["create MEMORY.md"]);
}
