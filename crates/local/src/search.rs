//! Full-text search over the messages in SQLite ([`MessageSearch`] for [`SqliteConversationStore`]):
//! an FTS5 table beside `messages`, kept in step by triggers.
//!
//! What is indexed is not the message but its [`indexed_text`] (its words in lower case, as `core`
//! defines them), computed by the SQL function `openclaw_indexed_text`, which every connection of this
//! crate registers. The table's `ascii` tokenizer splits that text at the spaces only (every other
//! character in it is a letter, a digit or non-ASCII), so SQLite finds exactly the words `core`'s
//! rule finds, and a query word `w` becomes the prefix query `"w"*`. The table is contentless (the
//! text lives in `messages`) with `contentless_delete`, so a row can be removed by its `rowid`, which
//! is the message's `seq`.
//!
//! Triggers keep the index in step with `messages` whatever writes it: an insert indexes the message,
//! a delete (also the cascade when a conversation is deleted) removes it, an edit of `content`
//! re-indexes it. A database from before search gets the table, the triggers and an index of every
//! stored message when it is opened.

use async_trait::async_trait;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, params};
use serverless_openclaw_core::domain::Role;
use serverless_openclaw_core::ids::{ConversationId, MessageId, UserId};
use serverless_openclaw_core::ports::{MessageSearch, PortError};
use serverless_openclaw_core::search::{FoundMessage, SearchQuery, indexed_text};

use crate::sqlite::{Db, SqliteConversationStore, from_millis, parse_stored, sql};

/// The index table, created (and filled from `messages`) by [`migrate`] when missing.
const INDEX_TABLE: &str = "
CREATE VIRTUAL TABLE message_search USING fts5(
    words, content = '', contentless_delete = 1, tokenize = 'ascii'
);
INSERT INTO message_search (rowid, words) SELECT seq, openclaw_indexed_text(content) FROM messages;
";

const TRIGGERS: &str = "
CREATE TRIGGER IF NOT EXISTS message_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_search (rowid, words) VALUES (new.seq, openclaw_indexed_text(new.content));
END;
CREATE TRIGGER IF NOT EXISTS message_search_delete AFTER DELETE ON messages BEGIN
    DELETE FROM message_search WHERE rowid = old.seq;
END;
CREATE TRIGGER IF NOT EXISTS message_search_update AFTER UPDATE OF content ON messages BEGIN
    DELETE FROM message_search WHERE rowid = old.seq;
    INSERT INTO message_search (rowid, words) VALUES (new.seq, openclaw_indexed_text(new.content));
END;
";

/// Registers `openclaw_indexed_text(content)` on a connection: the triggers call it, so every
/// connection that may write `messages` needs it.
pub(crate) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "openclaw_indexed_text",
        1,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| Ok(indexed_text(&ctx.get::<String>(0)?)),
    )
}

/// Creates the index (indexing every stored message) if the database has none, and the triggers.
/// One transaction: no message is written between the fill and the triggers.
pub(crate) fn migrate(db: &Db) -> Result<(), PortError> {
    db.on_this_thread(|conn| {
        let tx = conn.transaction().map_err(sql)?;
        let indexed: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'message_search')",
                [],
                |r| r.get(0),
            )
            .map_err(sql)?;
        if !indexed {
            tx.execute_batch(INDEX_TABLE).map_err(sql)?;
        }
        tx.execute_batch(TRIGGERS).map_err(sql)?;
        tx.commit().map_err(sql)
    })
}

/// The FTS5 query for `query`: each word as a prefix of a token, all required. A word holds no
/// quote (see [`SearchQuery::words`]), so quoting it is enough.
fn fts_query(query: &SearchQuery) -> String {
    query
        .words()
        .iter()
        .map(|w| format!("\"{w}\"*"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

#[async_trait]
impl MessageSearch for SqliteConversationStore {
    /// Walks the index newest first (`rowid` is the message's `seq`) and stops at `limit` hits of
    /// the user's own.
    async fn search_messages(
        &self,
        user: &UserId,
        query: &SearchQuery,
        limit: usize,
    ) -> Result<Vec<FoundMessage>, PortError> {
        let (user, matching) = (user.to_string(), fts_query(query));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db()
            .with(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT m.conversation_id, c.title, m.id, m.role, m.content, m.created_at
                         FROM message_search s
                         JOIN messages m ON m.seq = s.rowid
                         JOIN conversations c ON c.user_id = m.user_id AND c.id = m.conversation_id
                         WHERE message_search MATCH ?1 AND m.user_id = ?2 AND m.superseded = 0
                         ORDER BY s.rowid DESC LIMIT ?3",
                    )
                    .map_err(sql)?;
                let rows = stmt
                    .query_map(params![matching, user, limit], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, i64>(5)?,
                        ))
                    })
                    .map_err(sql)?;
                rows.map(|row| {
                    let (conversation, title, id, role, content, created) = row.map_err(sql)?;
                    Ok(FoundMessage {
                        conversation_id: ConversationId::parse(conversation)
                            .map_err(PortError::backend)?,
                        conversation_title: title,
                        message_id: MessageId::parse(id).map_err(PortError::backend)?,
                        role: parse_stored(Role::from_name(&role), "role")?,
                        content,
                        created_at: from_millis(created),
                    })
                })
                .collect()
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use serverless_openclaw_core::domain::{Channel, NewUserMessage};
    use serverless_openclaw_core::ids::ClientMessageId;
    use serverless_openclaw_core::ports::ConversationStore;
    use time::OffsetDateTime;

    use super::*;

    /// The `seq` of the indexed messages whose words match `fts` (an FTS5 query).
    fn indexed(store: &SqliteConversationStore, fts: &str) -> Vec<i64> {
        store
            .db()
            .on_this_thread(|conn| {
                let mut stmt = conn
                    .prepare("SELECT rowid FROM message_search WHERE message_search MATCH ?1 ORDER BY rowid")
                    .map_err(sql)?;
                let rows = stmt.query_map([fts], |r| r.get(0)).map_err(sql)?;
                rows.collect::<Result<_, _>>().map_err(sql)
            })
            .unwrap()
    }

    #[tokio::test]
    async fn the_index_follows_every_insert_edit_and_delete_of_a_message() {
        let store = SqliteConversationStore::in_memory().unwrap();
        let (alice, notes) = (
            UserId::parse("alice").unwrap(),
            ConversationId::parse("notes").unwrap(),
        );
        for (client, text) in [("m1", "Quokkas, again"), ("m2", "and wombats")] {
            store
                .append_user_message(
                    &alice,
                    &notes,
                    NewUserMessage {
                        id: MessageId::generate(),
                        client_message_id: ClientMessageId::parse(client).unwrap(),
                        content: text.into(),
                        channel: Channel::Web,
                        created_at: OffsetDateTime::now_utc(),
                    },
                )
                .await
                .unwrap();
        }
        assert_eq!(indexed(&store, "quokkas"), [1]);
        assert_eq!(indexed(&store, "wombat*"), [2]);

        // An edit (none of today's writes makes one, but the index must not go stale when one does).
        store
            .db()
            .on_this_thread(|conn| {
                conn.execute(
                    "UPDATE messages SET content = 'Koalas now' WHERE seq = 1",
                    [],
                )
                .map_err(sql)
            })
            .unwrap();
        assert!(indexed(&store, "quokkas").is_empty());
        assert_eq!(indexed(&store, "koalas"), [1]);

        // Deleting the conversation cascades to its messages and from there to the index.
        store.delete_conversation(&alice, &notes).await.unwrap();
        assert!(indexed(&store, "koalas OR wombats").is_empty());
    }
}
