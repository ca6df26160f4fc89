//! Conversations and messages in SQLite (bundled, one file in the data dir). A conversation's own
//! settings (`/model`, `/think`, `/reset`) are rows of their own, since they may be set before the
//! conversation's first message creates it; an older database gets the table on open.
//!
//! One connection behind a mutex: local mode serves one person, and SQLite serialises writers anyway.
//! Work runs on the blocking pool so the async threads never wait on disk.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode as SqlErrorCode, OptionalExtension, params};
use serverless_openclaw_core::domain::{
    Channel, Conversation, ConversationSettings, ConversationSettingsUpdate, ExchangeVersion,
    Message, NewAssistantMessage, NewUserMessage, Rerun, Role, ThinkingLevel, TurnActivity, Usage,
    UserMessage, group_versions, title_from_message,
};
use serverless_openclaw_core::ids::{ClientMessageId, ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{Appended, ConversationStore, PortError};
use time::OffsetDateTime;

use crate::blocking;

const SCHEMA: &str = "
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS conversations (
    user_id    TEXT NOT NULL,
    id         TEXT NOT NULL,
    title      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, id)
);
CREATE TABLE IF NOT EXISTS messages (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT NOT NULL UNIQUE,
    user_id           TEXT NOT NULL,
    conversation_id   TEXT NOT NULL,
    role              TEXT NOT NULL,
    content           TEXT NOT NULL,
    channel           TEXT NOT NULL,
    client_message_id TEXT,
    answered_by       TEXT,
    reply_to          TEXT UNIQUE,
    input_tokens      INTEGER,
    output_tokens     INTEGER,
    cost_usd          REAL,
    duration_ms       INTEGER,
    activity          TEXT,
    versions_of       TEXT,
    superseded        INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    UNIQUE (user_id, conversation_id, client_message_id),
    FOREIGN KEY (user_id, conversation_id) REFERENCES conversations (user_id, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (user_id, conversation_id, seq);
CREATE TABLE IF NOT EXISTS conversation_settings (
    user_id         TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    model           TEXT,
    thinking        TEXT,
    fresh_session   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, conversation_id)
);
";

/// One SQLite database behind a mutex, shared by the stores that keep their tables in it.
#[derive(Clone)]
pub(crate) struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (and creates or migrates) the database file with `schema`.
    /// Opens (or creates) the database at `path`, readable by the owner only: SQLite gives its `-wal`
    /// and `-shm` files the database file's mode, so they are private too.
    pub(crate) fn open(path: &Path, schema: &str) -> Result<Self, PortError> {
        private_file(path).map_err(PortError::backend)?;
        let conn = Connection::open(path).map_err(PortError::backend)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(PortError::backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(PortError::backend)?;
        Self::with_connection(conn, schema)
    }

    /// An in-memory database, for tests.
    pub(crate) fn in_memory(schema: &str) -> Result<Self, PortError> {
        Self::with_connection(
            Connection::open_in_memory().map_err(PortError::backend)?,
            schema,
        )
    }

    fn with_connection(conn: Connection, schema: &str) -> Result<Self, PortError> {
        crate::search::register_functions(&conn).map_err(PortError::backend)?;
        conn.execute_batch(schema).map_err(PortError::backend)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Adds `column` (with its SQL declaration) to `table` in a database made before the column
    /// existed: `CREATE TABLE IF NOT EXISTS` leaves an old table as it is. Returns whether it added it.
    pub(crate) fn add_missing_column(
        &self,
        table: &str,
        column: &str,
        declaration: &str,
    ) -> Result<bool, PortError> {
        self.on_this_thread(|conn| {
            let present: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
                    params![table, column],
                    |r| r.get(0),
                )
                .map_err(PortError::backend)?;
            if !present {
                conn.execute_batch(&format!(
                    "ALTER TABLE {table} ADD COLUMN {column} {declaration}"
                ))
                .map_err(PortError::backend)?;
            }
            Ok(!present)
        })
    }

    /// Runs `sql` once, outside a transaction (a migration's data step).
    pub(crate) fn execute_batch(&self, sql: &str) -> Result<(), PortError> {
        self.on_this_thread(|conn| conn.execute_batch(sql).map_err(PortError::backend))
    }

    /// Runs `work` on the connection on the calling thread: for migrations while a store is opened,
    /// before anything async can share it.
    pub(crate) fn on_this_thread<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, PortError>,
    ) -> Result<T, PortError> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        work(&mut guard)
    }

    /// Runs `work` on the connection, on the blocking pool.
    pub(crate) async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, PortError> + Send + 'static,
    ) -> Result<T, PortError> {
        let conn = Arc::clone(&self.conn);
        blocking(move || {
            // A poisoned lock means a panic mid-statement; SQLite rolled the statement back, so the
            // connection is still consistent and can be used.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            work(&mut guard)
        })
        .await
    }
}

/// [`ConversationStore`] on SQLite.
#[derive(Clone)]
pub struct SqliteConversationStore {
    db: Db,
}

impl SqliteConversationStore {
    /// Opens (and creates or migrates) the database file.
    pub fn open(path: &Path) -> Result<Self, PortError> {
        Self::migrated(Db::open(path, SCHEMA)?)
    }

    /// An in-memory database, for tests.
    pub fn in_memory() -> Result<Self, PortError> {
        Self::migrated(Db::in_memory(SCHEMA)?)
    }

    /// Brings a database from an older version up to [`SCHEMA`]: replies got `activity` (JSON of a
    /// [`TurnActivity`]; NULL on older rows and on turns without tool calls); user messages got
    /// `answered_by` (the reply's id: a reply may answer a burst of messages), filled in from the
    /// older replies' `reply_to` when it is added; messages got their search index
    /// ([`crate::search`]); messages got `versions_of` and `superseded` (edit and regenerate: see
    /// [`ConversationStore::supersede_last_exchange`]).
    fn migrated(db: Db) -> Result<Self, PortError> {
        db.add_missing_column("messages", "activity", "TEXT")?;
        db.add_missing_column("messages", "versions_of", "TEXT")?;
        db.add_missing_column("messages", "superseded", "INTEGER NOT NULL DEFAULT 0")?;
        if db.add_missing_column("messages", "answered_by", "TEXT")? {
            db.execute_batch(
                "UPDATE messages SET answered_by = (SELECT r.id FROM messages r WHERE r.reply_to = messages.id)
                 WHERE role = 'user'",
            )?;
        }
        crate::search::migrate(&db)?;
        Ok(Self { db })
    }

    /// The database, for the search beside the store ([`crate::search`]).
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, PortError> + Send + 'static,
    ) -> Result<T, PortError> {
        self.db.with(work).await
    }

    /// Runs a read of one conversation's rows, given the user's and the conversation's ids as text,
    /// once the conversation is known to exist (`NotFound` otherwise).
    async fn in_conversation<T: Send + 'static>(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        read: impl FnOnce(&Connection, &str, &str) -> Result<T, PortError> + Send + 'static,
    ) -> Result<T, PortError> {
        let (user, conv) = (user.to_string(), conversation.to_string());
        self.with(move |conn| {
            if !conversation_exists(conn, &user, &conv)? {
                return Err(PortError::NotFound);
            }
            read(conn, &user, &conv)
        })
        .await
    }
}

pub(crate) fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(crate) fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(crate) fn sql(e: rusqlite::Error) -> PortError {
    PortError::backend(e)
}

pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == SqlErrorCode::ConstraintViolation)
}

fn conversation_exists(conn: &Connection, user: &str, id: &str) -> Result<bool, PortError> {
    conn.query_row(
        "SELECT 1 FROM conversations WHERE user_id = ?1 AND id = ?2",
        params![user, id],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
    .map_err(sql)
}

fn touch(conn: &Connection, user: &str, id: &str, at: i64) -> Result<(), PortError> {
    conn.execute(
        "UPDATE conversations SET updated_at = MAX(updated_at, ?3) WHERE user_id = ?1 AND id = ?2",
        params![user, id, at],
    )
    .map(drop)
    .map_err(sql)
}

/// The message already stored under `client_message_id`, as a repeat's [`Appended`].
fn stored_duplicate(
    conn: &Connection,
    user: &str,
    conv: &str,
    client_message_id: &ClientMessageId,
) -> Result<Option<Appended>, PortError> {
    let existing: Option<(String, bool)> = conn
        .query_row(
            "SELECT id, answered_by IS NOT NULL
             FROM messages WHERE user_id = ?1 AND conversation_id = ?2 AND client_message_id = ?3",
            params![user, conv, client_message_id.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sql)?;
    existing
        .map(|(id, answered)| {
            Ok(Appended {
                message_id: MessageId::parse(id).map_err(PortError::backend)?,
                duplicate: true,
                answered,
            })
        })
        .transpose()
}

/// Inserts a user message of an existing conversation (a new version of its last exchange when
/// `versions_of` names the exchange) and touches the conversation.
fn insert_user_message(
    conn: &Connection,
    user: &str,
    conv: &str,
    message: &NewUserMessage,
    versions_of: Option<&str>,
) -> Result<(), PortError> {
    let at = millis(message.created_at);
    conn.execute(
        "INSERT INTO messages (id, user_id, conversation_id, role, content, channel, client_message_id, versions_of, created_at)
         VALUES (?1, ?2, ?3, 'user', ?4, ?5, ?6, ?7, ?8)",
        params![
            message.id.as_str(),
            user,
            conv,
            message.content,
            message.channel.as_str(),
            message.client_message_id.as_str(),
            versions_of,
            at
        ],
    )
    .map_err(sql)?;
    touch(conn, user, conv, at)
}

/// The columns [`message_from_row`] reads, in its order.
const MESSAGE_COLUMNS: &str =
    "id, role, content, channel, created_at, cost_usd, input_tokens, output_tokens, activity";

fn message_from_row(
    r: &rusqlite::Row<'_>,
    conversation: &ConversationId,
) -> Result<Message, PortError> {
    let get = |e: rusqlite::Error| sql(e);
    let (id, role, channel): (String, String, String) = (
        r.get(0).map_err(get)?,
        r.get(1).map_err(get)?,
        r.get(3).map_err(get)?,
    );
    let tokens = r
        .get::<_, Option<i64>>(6)
        .map_err(get)?
        .zip(r.get::<_, Option<i64>>(7).map_err(get)?);
    Ok(Message {
        id: MessageId::parse(id).map_err(PortError::backend)?,
        conversation_id: conversation.clone(),
        role: parse_stored(Role::from_name(&role), "role")?,
        content: r.get(2).map_err(get)?,
        channel: parse_stored(Channel::from_name(&channel), "channel")?,
        created_at: from_millis(r.get(4).map_err(get)?),
        cost_usd: r.get(5).map_err(get)?,
        usage: tokens.map(|(input, output)| Usage {
            input_tokens: input.unsigned_abs(),
            output_tokens: output.unsigned_abs(),
        }),
        activity: r
            .get::<_, Option<String>>(8)
            .map_err(get)?
            .and_then(|json| TurnActivity::from_stored(&json)),
    })
}

/// A message of the current path as [`ConversationStore::supersede_last_exchange`] checks it.
struct PathMessage {
    id: String,
    role: String,
    versions_of: Option<String>,
    answered_by: Option<String>,
}

/// The conversation's last two messages of its current path, newest first.
fn last_two(conn: &Connection, user: &str, conv: &str) -> Result<Vec<PathMessage>, PortError> {
    let mut stmt = conn
        .prepare(
            "SELECT id, role, versions_of, answered_by FROM messages
             WHERE user_id = ?1 AND conversation_id = ?2 AND superseded = 0
             ORDER BY seq DESC LIMIT 2",
        )
        .map_err(sql)?;
    stmt.query_map(params![user, conv], |r| {
        Ok(PathMessage {
            id: r.get(0)?,
            role: r.get(1)?,
            versions_of: r.get(2)?,
            answered_by: r.get(3)?,
        })
    })
    .map_err(sql)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(sql)
}

pub(crate) fn parse_stored<T>(value: Option<T>, what: &str) -> Result<T, PortError> {
    value.ok_or_else(|| PortError::backend(format!("corrupt row: bad {what}")))
}

#[async_trait]
impl ConversationStore for SqliteConversationStore {
    async fn create_conversation(
        &self,
        user: &UserId,
        id: &ConversationId,
        title: &str,
    ) -> Result<(), PortError> {
        let (user, id, title) = (user.to_string(), id.to_string(), title.to_owned());
        self.with(move |conn| {
            let now = millis(OffsetDateTime::now_utc());
            conn.execute(
                "INSERT INTO conversations (user_id, id, title, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![user, id, title, now],
            )
            .map(drop)
            .map_err(|e| {
                if is_unique_violation(&e) {
                    PortError::Conflict(format!("conversation {id} exists"))
                } else {
                    sql(e)
                }
            })
        })
        .await
    }

    async fn list_conversations(&self, user: &UserId) -> Result<Vec<Conversation>, PortError> {
        let user = user.to_string();
        self.with(move |conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT c.id, c.title, c.updated_at,
                            (SELECT COUNT(*) FROM messages m WHERE m.user_id = c.user_id AND m.conversation_id = c.id AND m.superseded = 0)
                     FROM conversations c WHERE c.user_id = ?1 ORDER BY c.updated_at DESC, c.id",
                )
                .map_err(sql)?;
            let rows = stmt
                .query_map(params![user], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
                })
                .map_err(sql)?;
            rows.map(|row| {
                let (id, title, updated, count) = row.map_err(sql)?;
                Ok(Conversation {
                    id: ConversationId::parse(id).map_err(PortError::backend)?,
                    title,
                    updated_at: from_millis(updated),
                    message_count: u64::try_from(count).unwrap_or_default(),
                })
            })
            .collect()
        })
        .await
    }

    async fn append_user_message(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        message: NewUserMessage,
    ) -> Result<Appended, PortError> {
        let (user, conv) = (user.to_string(), conversation.to_string());
        self.with(move |conn| {
            let tx = conn.transaction().map_err(sql)?;
            if let Some(appended) = stored_duplicate(&tx, &user, &conv, &message.client_message_id)? {
                return Ok(appended);
            }
            let at = millis(message.created_at);
            tx.execute(
                "INSERT OR IGNORE INTO conversations (user_id, id, title, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![user, conv, title_from_message(&message.content), at],
            )
            .map_err(sql)?;
            insert_user_message(&tx, &user, &conv, &message, None)?;
            tx.commit().map_err(sql)?;
            Ok(Appended {
                message_id: message.id,
                duplicate: false,
                answered: false,
            })
        })
        .await
    }

    async fn append_assistant_message(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        message: NewAssistantMessage,
    ) -> Result<(), PortError> {
        let (user, conv) = (user.to_string(), conversation.to_string());
        let activity = message.activity.as_ref().map(TurnActivity::to_stored);
        self.with(move |conn| {
            let tx = conn.transaction().map_err(sql)?;
            if !conversation_exists(&tx, &user, &conv)? {
                return Err(PortError::NotFound);
            }
            // The marks that allow one reply per user message, checked before anything is written.
            for id in message.answers() {
                let mark: Option<Option<String>> = tx
                    .query_row(
                        "SELECT answered_by FROM messages
                         WHERE user_id = ?1 AND conversation_id = ?2 AND id = ?3 AND role = 'user'",
                        params![user, conv, id.as_str()],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(sql)?;
                match mark {
                    None => return Err(PortError::NotFound),
                    Some(Some(_)) => {
                        return Err(PortError::Conflict(format!("message {id} already has a reply")));
                    }
                    Some(None) => {}
                }
                tx.execute(
                    "UPDATE messages SET answered_by = ?4 WHERE user_id = ?1 AND conversation_id = ?2 AND id = ?3",
                    params![user, conv, id.as_str(), message.id.as_str()],
                )
                .map_err(sql)?;
            }
            let at = millis(message.created_at);
            tx.execute(
                "INSERT INTO messages (id, user_id, conversation_id, role, content, channel, reply_to,
                                       input_tokens, output_tokens, cost_usd, duration_ms, activity, created_at)
                 VALUES (?1, ?2, ?3, 'assistant', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    message.id.as_str(),
                    user,
                    conv,
                    message.content,
                    message.channel.as_str(),
                    message.reply_to.as_str(),
                    i64::try_from(message.usage.input_tokens).unwrap_or(i64::MAX),
                    i64::try_from(message.usage.output_tokens).unwrap_or(i64::MAX),
                    message.cost_usd,
                    i64::try_from(message.duration_ms).unwrap_or(i64::MAX),
                    activity,
                    at
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    PortError::Conflict(format!("message {} already has a reply", message.reply_to))
                } else {
                    sql(e)
                }
            })?;
            touch(&tx, &user, &conv, at)?;
            tx.commit().map_err(sql)
        })
        .await
    }

    async fn is_answered(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        user_message: &MessageId,
    ) -> Result<bool, PortError> {
        let id = user_message.to_string();
        self.in_conversation(user, conversation, move |conn, user, conv| {
            conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM messages
                                WHERE user_id = ?1 AND conversation_id = ?2 AND id = ?3 AND answered_by IS NOT NULL)",
                params![user, conv, id],
                |r| r.get(0),
            )
            .map_err(sql)
        })
        .await
    }

    async fn latest_user_messages(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        limit: usize,
    ) -> Result<Vec<UserMessage>, PortError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.in_conversation(user, conversation, move |conn, user, conv| {
            let mut stmt = conn
                .prepare(
                    "SELECT id, content, channel, created_at, answered_by IS NOT NULL FROM messages
                     WHERE user_id = ?1 AND conversation_id = ?2 AND role = 'user' AND superseded = 0
                     ORDER BY seq DESC LIMIT ?3",
                )
                .map_err(sql)?;
            let rows = stmt
                .query_map(params![user, conv, limit], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, bool>(4)?,
                    ))
                })
                .map_err(sql)?;
            let mut messages = rows
                .map(|row| {
                    let (id, content, channel, created, answered) = row.map_err(sql)?;
                    Ok(UserMessage {
                        id: MessageId::parse(id).map_err(PortError::backend)?,
                        content,
                        channel: parse_stored(Channel::from_name(&channel), "channel")?,
                        created_at: from_millis(created),
                        answered,
                    })
                })
                .collect::<Result<Vec<_>, PortError>>()?;
            messages.reverse();
            Ok(messages)
        })
        .await
    }

    async fn list_messages(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        limit: usize,
        before: Option<&MessageId>,
    ) -> Result<Vec<Message>, PortError> {
        let before = before.map(|b| b.to_string());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conversation_id = conversation.clone();
        self.in_conversation(user, conversation, move |conn, user, conv| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages
                     WHERE user_id = ?1 AND conversation_id = ?2 AND superseded = 0
                       AND (?3 IS NULL OR seq < (SELECT seq FROM messages WHERE id = ?3 AND user_id = ?1 AND conversation_id = ?2))
                     ORDER BY seq DESC LIMIT ?4"
                ))
                .map_err(sql)?;
            let mut rows = stmt.query(params![user, conv, before, limit]).map_err(sql)?;
            let mut messages = Vec::new();
            while let Some(row) = rows.next().map_err(sql)? {
                messages.push(message_from_row(row, &conversation_id)?);
            }
            messages.reverse();
            Ok(messages)
        })
        .await
    }

    async fn delete_conversation(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<(), PortError> {
        let (user, conv) = (user.to_string(), conversation.to_string());
        self.with(move |conn| {
            let deleted = conn
                .execute(
                    "DELETE FROM conversations WHERE user_id = ?1 AND id = ?2",
                    params![user, conv],
                )
                .map_err(sql)?;
            conn.execute(
                "DELETE FROM conversation_settings WHERE user_id = ?1 AND conversation_id = ?2",
                params![user, conv],
            )
            .map_err(sql)?;
            if deleted == 0 {
                Err(PortError::NotFound)
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn rename_conversation(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        title: &str,
    ) -> Result<(), PortError> {
        let (user, conv, title) = (user.to_string(), conversation.to_string(), title.to_owned());
        self.with(move |conn| {
            let renamed = conn
                .execute(
                    "UPDATE conversations SET title = ?3 WHERE user_id = ?1 AND id = ?2",
                    params![user, conv, title],
                )
                .map_err(sql)?;
            if renamed == 0 {
                Err(PortError::NotFound)
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn conversation_settings(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<ConversationSettings, PortError> {
        let (user, conv) = (user.to_string(), conversation.to_string());
        self.with(move |conn| {
            let row = conn
                .query_row(
                    "SELECT model, thinking, fresh_session FROM conversation_settings
                     WHERE user_id = ?1 AND conversation_id = ?2",
                    params![user, conv],
                    |r| {
                        Ok((
                            r.get::<_, Option<String>>(0)?,
                            r.get::<_, Option<String>>(1)?,
                            r.get::<_, bool>(2)?,
                        ))
                    },
                )
                .optional()
                .map_err(sql)?;
            let Some((model, thinking, fresh_session)) = row else {
                return Ok(ConversationSettings::default());
            };
            let thinking = match thinking {
                Some(name) => Some(parse_stored(ThinkingLevel::parse(&name), "thinking")?),
                None => None,
            };
            Ok(ConversationSettings {
                model,
                thinking,
                fresh_session,
            })
        })
        .await
    }

    async fn update_conversation_settings(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        update: &ConversationSettingsUpdate,
    ) -> Result<(), PortError> {
        let (user, conv, update) = (user.to_string(), conversation.to_string(), update.clone());
        self.with(move |conn| {
            let tx = conn.transaction().map_err(sql)?;
            tx.execute(
                "INSERT OR IGNORE INTO conversation_settings (user_id, conversation_id) VALUES (?1, ?2)",
                params![user, conv],
            )
            .map_err(sql)?;
            let key = "WHERE user_id = ?1 AND conversation_id = ?2";
            if let Some(model) = &update.model {
                tx.execute(
                    &format!("UPDATE conversation_settings SET model = ?3 {key}"),
                    params![user, conv, model],
                )
                .map_err(sql)?;
            }
            if let Some(thinking) = update.thinking {
                tx.execute(
                    &format!("UPDATE conversation_settings SET thinking = ?3 {key}"),
                    params![user, conv, thinking.map(ThinkingLevel::as_str)],
                )
                .map_err(sql)?;
            }
            if let Some(fresh) = update.fresh_session {
                tx.execute(
                    &format!("UPDATE conversation_settings SET fresh_session = ?3 {key}"),
                    params![user, conv, fresh],
                )
                .map_err(sql)?;
            }
            tx.commit().map_err(sql)
        })
        .await
    }

    async fn supersede_last_exchange(
        &self,
        user: &UserId,
        conversation: &ConversationId,
        rerun: Rerun,
    ) -> Result<Appended, PortError> {
        let (user, conv) = (user.to_string(), conversation.to_string());
        self.with(move |conn| {
            let tx = conn.transaction().map_err(sql)?;
            if !conversation_exists(&tx, &user, &conv)? {
                return Err(PortError::NotFound);
            }
            if let Rerun::Edit { message, .. } = &rerun
                && let Some(appended) =
                    stored_duplicate(&tx, &user, &conv, &message.client_message_id)?
            {
                return Ok(appended);
            }
            let last = last_two(&tx, &user, &conv)?;
            let [reply, question] = last.as_slice() else {
                return Err(PortError::Conflict(
                    "the conversation has no complete exchange".into(),
                ));
            };
            if reply.role != "assistant"
                || question.role != "user"
                || question.answered_by.as_ref() != Some(&reply.id)
            {
                return Err(PortError::Conflict(
                    "the last message is not the last exchange's reply".into(),
                ));
            }
            // The exchange's versions are found by the id of its first user message.
            let slot = question
                .versions_of
                .clone()
                .unwrap_or_else(|| question.id.clone());
            let supersede = |id: &str| {
                tx.execute(
                    "UPDATE messages SET superseded = 1, versions_of = ?4, reply_to = NULL
                     WHERE user_id = ?1 AND conversation_id = ?2 AND id = ?3",
                    params![user, conv, id, slot],
                )
                .map_err(sql)
            };
            let appended = match &rerun {
                Rerun::Regenerate { reply: named } => {
                    if named.as_str() != reply.id {
                        return Err(PortError::Conflict(format!(
                            "{named} is not the last reply"
                        )));
                    }
                    supersede(&reply.id)?;
                    tx.execute(
                        "UPDATE messages SET answered_by = NULL, versions_of = ?4
                         WHERE user_id = ?1 AND conversation_id = ?2 AND id = ?3",
                        params![user, conv, question.id, slot],
                    )
                    .map_err(sql)?;
                    Appended {
                        message_id: MessageId::parse(question.id.as_str())
                            .map_err(PortError::backend)?,
                        duplicate: false,
                        answered: false,
                    }
                }
                Rerun::Edit { replaces, message } => {
                    if replaces.as_str() != question.id {
                        return Err(PortError::Conflict(format!(
                            "{replaces} is not the last user message"
                        )));
                    }
                    supersede(&question.id)?;
                    supersede(&reply.id)?;
                    insert_user_message(&tx, &user, &conv, message, Some(&slot))?;
                    Appended {
                        message_id: message.id.clone(),
                        duplicate: false,
                        answered: false,
                    }
                }
            };
            tx.commit().map_err(sql)?;
            Ok(appended)
        })
        .await
    }

    async fn last_exchange_versions(
        &self,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<Vec<ExchangeVersion>, PortError> {
        let conversation_id = conversation.clone();
        self.in_conversation(user, conversation, move |conn, user, conv| {
            let current: Option<(Option<String>, Option<String>)> = conn
                .query_row(
                    "SELECT versions_of, answered_by FROM messages
                     WHERE user_id = ?1 AND conversation_id = ?2 AND role = 'user' AND superseded = 0
                     ORDER BY seq DESC LIMIT 1",
                    params![user, conv],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(sql)?;
            let Some((Some(slot), answered_by)) = current else {
                return Ok(Vec::new());
            };
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages
                     WHERE user_id = ?1 AND conversation_id = ?2 AND (versions_of = ?3 OR id = ?3 OR id = ?4)
                     ORDER BY seq"
                ))
                .map_err(sql)?;
            let mut rows = stmt.query(params![user, conv, slot, answered_by]).map_err(sql)?;
            let mut messages = Vec::new();
            while let Some(row) = rows.next().map_err(sql)? {
                messages.push(message_from_row(row, &conversation_id)?);
            }
            Ok(group_versions(messages, answered_by.is_some()))
        })
        .await
    }
}

/// Creates `path` empty with mode 0600 if it does not exist, and tightens an existing one (and its
/// `-wal` and `-shm` files, from a version that left them readable by others).
fn private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}
