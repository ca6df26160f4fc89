//! Each user's model, speech and browser settings and disabled skills (rows in the SQLite file, next to the conversations) and API keys (one
//! owner-only file per key under `<data>/secrets/`, never in the database, so a copied or shared
//! database file carries no key).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serverless_openclaw_core::ids::UserId;
use serverless_openclaw_core::ports::{ApiKeyStore, PortError, SettingsStore};
use serverless_openclaw_core::settings::{ApiKey, ModelSettings, Provider, SpeechSettings};

use crate::blocking;
use crate::files::private_dir;
use crate::files::write_atomically;
use crate::sqlite::{Db, sql};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS user_settings (
    user_id TEXT PRIMARY KEY,
    model   TEXT
);
CREATE TABLE IF NOT EXISTS user_speech_settings (
    user_id TEXT PRIMARY KEY,
    speech  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS user_browser_settings (
    user_id TEXT PRIMARY KEY,
    enabled TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS user_disabled_skills (
    user_id TEXT PRIMARY KEY,
    names   TEXT NOT NULL
);
";

/// [`SettingsStore`] on SQLite: the model settings as a JSON column; the speech settings, the
/// browser switch and the disabled skills as JSON in tables of their own (a database from before them gets them when opened).
#[derive(Clone)]
pub struct SqliteSettingsStore {
    db: Db,
}

impl SqliteSettingsStore {
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

impl SqliteSettingsStore {
    /// The JSON in the one column `select` reads for `user` (`?1`); `None` when there is no row or it
    /// holds NULL.
    async fn json_of<T: DeserializeOwned>(
        &self,
        select: &'static str,
        user: &UserId,
    ) -> Result<Option<T>, PortError> {
        let user = user.to_string();
        let stored = self
            .db
            .with(move |conn| {
                conn.query_row(select, params![user], |r| r.get::<_, Option<String>>(0))
                    .optional()
                    .map(Option::flatten)
                    .map_err(sql)
            })
            .await?;
        stored
            .map(|json| serde_json::from_str(&json).map_err(PortError::backend))
            .transpose()
    }

    /// Stores `value` as JSON for `user` with `upsert` (`?1` the user, `?2` the JSON), or runs
    /// `clear` (`?1` the user) when it is `None`.
    async fn set_json<T: Serialize>(
        &self,
        upsert: &'static str,
        clear: &'static str,
        user: &UserId,
        value: Option<&T>,
    ) -> Result<(), PortError> {
        let user = user.to_string();
        let json = value
            .map(serde_json::to_string)
            .transpose()
            .map_err(PortError::backend)?;
        self.db
            .with(move |conn| {
                match json {
                    Some(json) => conn.execute(upsert, params![user, json]),
                    None => conn.execute(clear, params![user]),
                }
                .map(drop)
                .map_err(sql)
            })
            .await
    }
}

#[async_trait]
impl SettingsStore for SqliteSettingsStore {
    async fn model_settings(&self, user: &UserId) -> Result<Option<ModelSettings>, PortError> {
        self.json_of("SELECT model FROM user_settings WHERE user_id = ?1", user)
            .await
    }

    async fn set_model_settings(
        &self,
        user: &UserId,
        settings: Option<&ModelSettings>,
    ) -> Result<(), PortError> {
        self.set_json(
            "INSERT INTO user_settings (user_id, model) VALUES (?1, ?2)
             ON CONFLICT (user_id) DO UPDATE SET model = ?2",
            "UPDATE user_settings SET model = NULL WHERE user_id = ?1",
            user,
            settings,
        )
        .await
    }

    async fn speech_settings(&self, user: &UserId) -> Result<Option<SpeechSettings>, PortError> {
        self.json_of(
            "SELECT speech FROM user_speech_settings WHERE user_id = ?1",
            user,
        )
        .await
    }

    async fn set_speech_settings(
        &self,
        user: &UserId,
        settings: Option<&SpeechSettings>,
    ) -> Result<(), PortError> {
        self.set_json(
            "INSERT INTO user_speech_settings (user_id, speech) VALUES (?1, ?2)
             ON CONFLICT (user_id) DO UPDATE SET speech = ?2",
            "DELETE FROM user_speech_settings WHERE user_id = ?1",
            user,
            settings,
        )
        .await
    }

    async fn browser_enabled(&self, user: &UserId) -> Result<bool, PortError> {
        let stored = self
            .json_of(
                "SELECT enabled FROM user_browser_settings WHERE user_id = ?1",
                user,
            )
            .await?;
        Ok(stored.unwrap_or(true))
    }

    async fn set_browser_enabled(&self, user: &UserId, enabled: bool) -> Result<(), PortError> {
        self.set_json(
            "INSERT INTO user_browser_settings (user_id, enabled) VALUES (?1, ?2)
             ON CONFLICT (user_id) DO UPDATE SET enabled = ?2",
            "DELETE FROM user_browser_settings WHERE user_id = ?1",
            user,
            Some(&enabled),
        )
        .await
    }

    async fn disabled_skills(&self, user: &UserId) -> Result<Vec<String>, PortError> {
        Ok(self
            .json_of(
                "SELECT names FROM user_disabled_skills WHERE user_id = ?1",
                user,
            )
            .await?
            .unwrap_or_default())
    }

    async fn set_disabled_skills(&self, user: &UserId, names: &[String]) -> Result<(), PortError> {
        self.set_json(
            "INSERT INTO user_disabled_skills (user_id, names) VALUES (?1, ?2)
             ON CONFLICT (user_id) DO UPDATE SET names = ?2",
            "DELETE FROM user_disabled_skills WHERE user_id = ?1",
            user,
            (!names.is_empty()).then_some(&names),
        )
        .await
    }
}

/// [`ApiKeyStore`] as files: `<root>/<user>/<provider>.key`, folders `0700` and files `0600`.
#[derive(Debug, Clone)]
pub struct FileApiKeyStore {
    root: PathBuf,
}

impl FileApiKeyStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn folder(&self, user: &UserId) -> PathBuf {
        self.root.join(user.as_str())
    }

    fn file(&self, user: &UserId, provider: Provider) -> PathBuf {
        self.folder(user).join(format!("{provider}.key"))
    }
}

/// I/O errors name the file, never its content; the path holds only validated ids.
fn io(e: std::io::Error) -> PortError {
    PortError::backend(e)
}

#[async_trait]
impl ApiKeyStore for FileApiKeyStore {
    async fn put(&self, user: &UserId, provider: Provider, key: &ApiKey) -> Result<(), PortError> {
        let (root, folder, file) = (
            self.root.clone(),
            self.folder(user),
            self.file(user, provider),
        );
        let key = key.clone();
        blocking(move || {
            private_dir(&root).map_err(io)?;
            private_dir(&folder).map_err(io)?;
            write_atomically(&file, key.expose().as_bytes()).map_err(io)
        })
        .await
    }

    async fn get(&self, user: &UserId, provider: Provider) -> Result<Option<ApiKey>, PortError> {
        let file = self.file(user, provider);
        blocking(move || match fs::read_to_string(&file) {
            Ok(text) => ApiKey::parse(&text)
                .map(Some)
                .map_err(|_| PortError::backend(format!("corrupt key file {}", file.display()))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        })
        .await
    }

    async fn delete(&self, user: &UserId, provider: Provider) -> Result<(), PortError> {
        let file = self.file(user, provider);
        blocking(move || match fs::remove_file(&file) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        })
        .await
    }

    async fn providers(&self, user: &UserId) -> Result<Vec<Provider>, PortError> {
        let store = self.clone();
        let user = user.clone();
        blocking(move || {
            Ok(Provider::ALL
                .into_iter()
                .filter(|p| store.file(&user, *p).is_file())
                .collect())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[tokio::test]
    async fn key_files_and_their_folders_are_private_to_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileApiKeyStore::new(dir.path().join("secrets"));
        let user = UserId::parse("owner").unwrap();
        store
            .put(&user, Provider::OpenAi, &ApiKey::parse("sk-1").unwrap())
            .await
            .unwrap();
        let mode = |p: PathBuf| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.path().join("secrets")), 0o700);
        assert_eq!(mode(dir.path().join("secrets/owner")), 0o700);
        assert_eq!(mode(dir.path().join("secrets/owner/openai.key")), 0o600);
    }
}
