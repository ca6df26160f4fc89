//! The Telegram bot's state in SQLite, in the same database file as the conversations.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::{
    LinkCodes, PortError, ProcessedUpdates, TelegramLinks, TelegramUserId,
};
use time::OffsetDateTime;

use crate::sqlite::{Db, is_unique_violation, millis, sql};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS telegram_updates (
    update_id  INTEGER PRIMARY KEY,
    keep_until INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS telegram_link_codes (
    code       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS telegram_link_failures (
    telegram_user INTEGER NOT NULL,
    at            INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS telegram_link_failures_by_user
    ON telegram_link_failures (telegram_user, at);
CREATE TABLE IF NOT EXISTS telegram_users (
    telegram_user INTEGER PRIMARY KEY,
    user_id       TEXT,
    conversation  TEXT
);
";

/// [`TelegramStore`] on SQLite.
#[derive(Clone)]
pub struct SqliteTelegramStore {
    db: Db,
}

impl SqliteTelegramStore {
    /// Opens (and creates or migrates) the database file.
    pub fn open(path: &Path) -> Result<Self, PortError> {
        Ok(Self {
            db: Db::open(path, SCHEMA)?,
        })
    }

    /// An in-memory database, for tests.
    pub fn in_memory() -> Result<Self, PortError> {
        Ok(Self {
            db: Db::in_memory(SCHEMA)?,
        })
    }
}

impl SqliteTelegramStore {
    /// Sets one column of the Telegram user's row (`user_id` or `conversation`), creating the row.
    async fn set_user_column(
        &self,
        telegram_user: TelegramUserId,
        column: &'static str,
        value: String,
    ) -> Result<(), PortError> {
        self.db
            .with(move |conn| {
                conn.execute(
                    &format!(
                        "INSERT INTO telegram_users (telegram_user, {column}) VALUES (?1, ?2)
                         ON CONFLICT (telegram_user) DO UPDATE SET {column} = ?2"
                    ),
                    params![telegram_user, value],
                )
                .map_err(sql)?;
                Ok(())
            })
            .await
    }

    /// One column of the Telegram user's row (`user_id` or `conversation`), if set.
    async fn user_column(
        &self,
        telegram_user: TelegramUserId,
        column: &'static str,
    ) -> Result<Option<String>, PortError> {
        self.db
            .with(move |conn| {
                conn.query_row(
                    &format!("SELECT {column} FROM telegram_users WHERE telegram_user = ?1"),
                    params![telegram_user],
                    |r| r.get::<_, Option<String>>(0),
                )
                .optional()
                .map(Option::flatten)
                .map_err(sql)
            })
            .await
    }
}

fn window_start(now: OffsetDateTime, window: Duration) -> i64 {
    millis(now) - i64::try_from(window.as_millis()).unwrap_or(i64::MAX)
}

fn count_failures(
    conn: &rusqlite::Connection,
    telegram_user: TelegramUserId,
    now: OffsetDateTime,
    window: Duration,
) -> Result<u32, PortError> {
    conn.query_row(
        "SELECT COUNT(*) FROM telegram_link_failures
         WHERE telegram_user = ?1 AND at > ?2 AND at <= ?3",
        params![telegram_user, window_start(now, window), millis(now)],
        |r| r.get::<_, u32>(0),
    )
    .map_err(sql)
}

#[async_trait]
impl ProcessedUpdates for SqliteTelegramStore {
    async fn claim_update(
        &self,
        update_id: i64,
        keep_until: OffsetDateTime,
    ) -> Result<bool, PortError> {
        let keep_until = millis(keep_until);
        self.db
            .with(move |conn| {
                let now = millis(OffsetDateTime::now_utc());
                conn.execute(
                    "DELETE FROM telegram_updates WHERE keep_until < ?1",
                    params![now],
                )
                .map_err(sql)?;
                match conn.execute(
                    "INSERT INTO telegram_updates (update_id, keep_until) VALUES (?1, ?2)",
                    params![update_id, keep_until],
                ) {
                    Ok(_) => Ok(true),
                    Err(e) if is_unique_violation(&e) => Ok(false),
                    Err(e) => Err(sql(e)),
                }
            })
            .await
    }

    async fn release_update(&self, update_id: i64) -> Result<(), PortError> {
        self.db
            .with(move |conn| {
                conn.execute(
                    "DELETE FROM telegram_updates WHERE update_id = ?1",
                    params![update_id],
                )
                .map_err(sql)?;
                Ok(())
            })
            .await
    }
}

#[async_trait]
impl LinkCodes for SqliteTelegramStore {
    async fn put_link_code(
        &self,
        code: &str,
        user: &UserId,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), PortError> {
        let (code, user) = (code.to_owned(), user.to_string());
        let (now, expires_at) = (millis(now), millis(expires_at));
        self.db
            .with(move |conn| {
                let written = conn
                    .execute(
                        "INSERT INTO telegram_link_codes (code, user_id, expires_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT (code) DO UPDATE SET user_id = ?2, expires_at = ?3
                         WHERE telegram_link_codes.expires_at <= ?4",
                        params![code, user, expires_at, now],
                    )
                    .map_err(sql)?;
                if written == 0 {
                    Err(PortError::Conflict("the link code is in use".into()))
                } else {
                    Ok(())
                }
            })
            .await
    }

    async fn take_link_code(
        &self,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, PortError> {
        let (code, now) = (code.to_owned(), millis(now));
        self.db
            .with(move |conn| {
                let user = conn
                    .query_row(
                        "DELETE FROM telegram_link_codes WHERE code = ?1 AND expires_at > ?2
                         RETURNING user_id",
                        params![code, now],
                        |r| r.get::<_, String>(0),
                    )
                    .optional()
                    .map_err(sql)?;
                user.map(|u| UserId::parse(u).map_err(PortError::backend))
                    .transpose()
            })
            .await
    }

    async fn record_link_failure(
        &self,
        telegram_user: TelegramUserId,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<u32, PortError> {
        self.db
            .with(move |conn| {
                let tx = conn.transaction().map_err(sql)?;
                tx.execute(
                    "DELETE FROM telegram_link_failures WHERE telegram_user = ?1 AND at <= ?2",
                    params![telegram_user, window_start(now, window)],
                )
                .map_err(sql)?;
                tx.execute(
                    "INSERT INTO telegram_link_failures (telegram_user, at) VALUES (?1, ?2)",
                    params![telegram_user, millis(now)],
                )
                .map_err(sql)?;
                let count = count_failures(&tx, telegram_user, now, window)?;
                tx.commit().map_err(sql)?;
                Ok(count)
            })
            .await
    }

    async fn link_failures(
        &self,
        telegram_user: TelegramUserId,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<u32, PortError> {
        self.db
            .with(move |conn| count_failures(conn, telegram_user, now, window))
            .await
    }
}

#[async_trait]
impl TelegramLinks for SqliteTelegramStore {
    async fn link(&self, telegram_user: TelegramUserId, user: &UserId) -> Result<(), PortError> {
        self.set_user_column(telegram_user, "user_id", user.to_string())
            .await
    }

    async fn linked_user(
        &self,
        telegram_user: TelegramUserId,
    ) -> Result<Option<UserId>, PortError> {
        self.user_column(telegram_user, "user_id")
            .await?
            .map(|u| UserId::parse(u).map_err(PortError::backend))
            .transpose()
    }

    async fn unlink(
        &self,
        telegram_user: TelegramUserId,
        owner: &UserId,
    ) -> Result<bool, PortError> {
        let owner = owner.to_string();
        self.db
            .with(move |conn| {
                let removed = conn
                    .execute(
                        "DELETE FROM telegram_users WHERE telegram_user = ?1 AND user_id = ?2",
                        params![telegram_user, owner],
                    )
                    .map_err(sql)?;
                Ok(removed > 0)
            })
            .await
    }

    async fn linked_telegram_users(&self, user: &UserId) -> Result<Vec<TelegramUserId>, PortError> {
        let user = user.to_string();
        self.db
            .with(move |conn| {
                let mut statement = conn
                    .prepare(
                        "SELECT telegram_user FROM telegram_users WHERE user_id = ?1 ORDER BY telegram_user",
                    )
                    .map_err(sql)?;
                let rows = statement
                    .query_map(params![user], |r| r.get::<_, TelegramUserId>(0))
                    .map_err(sql)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(sql)
            })
            .await
    }

    async fn current_conversation(
        &self,
        telegram_user: TelegramUserId,
    ) -> Result<Option<ConversationId>, PortError> {
        self.user_column(telegram_user, "conversation")
            .await?
            .map(|c| ConversationId::parse(c).map_err(PortError::backend))
            .transpose()
    }

    async fn set_current_conversation(
        &self,
        telegram_user: TelegramUserId,
        conversation: &ConversationId,
    ) -> Result<(), PortError> {
        self.set_user_column(telegram_user, "conversation", conversation.to_string())
            .await
    }
}
