//! Skills: folders with a `SKILL.md` (OpenClaw's AgentSkills format) kept in each user's workspace as
//! `skills/<name>/**`, so every runtime loads them as ordinary workspace files.
//!
//! - The rules ([`skill_from_markdown`], [`skill_from_zip`]) check an upload completely in memory, without
//!   I/O, before anything is stored: the frontmatter's `name` and `description`, at most
//!   [`MAX_SKILL_BYTES`] of actually decompressed content (read with a limit, whatever the zip headers
//!   claim), at most [`MAX_SKILL_ENTRIES`] entries, and only regular files with safe workspace paths.
//! - The use case ([`Skills`]) lists, reads, stores, deletes, enables and disables a user's skills on a
//!   [`WorkspaceStore`] and the user's disabled list in the [`SettingsStore`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read};
use std::sync::Arc;

use crate::domain::{MAX_WORKSPACE_FILES, validate_workspace_path};
use crate::ids::UserId;
use crate::ports::{PortError, SettingsStore, WorkspaceFile, WorkspaceStore};

/// The workspace folder that holds one folder per skill (where OpenClaw looks first).
pub const SKILLS_DIR: &str = "skills";
/// The file that makes a folder a skill.
pub const SKILL_FILE: &str = "SKILL.md";
/// The most a skill may hold, counted in decompressed bytes over all its files.
pub const MAX_SKILL_BYTES: usize = 1024 * 1024;
/// The most entries (files and folders) a skill's zip may hold.
pub const MAX_SKILL_ENTRIES: usize = 100;
/// The longest description accepted (the AgentSkills limit).
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

/// Why a skill was refused or could not be served.
#[derive(Debug, thiserror::Error)]
pub enum SkillError {
    /// The upload breaks a rule; the text names the rule and the entry, for the person uploading.
    #[error("{0}")]
    Invalid(String),
    /// The user has no skill by that name.
    #[error("no skill named {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Storage(#[from] PortError),
}

fn invalid(message: impl Into<String>) -> SkillError {
    SkillError::Invalid(message.into())
}

/// Checks a skill name: `^[a-z0-9][a-z0-9-]{0,63}$` (what OpenClaw and the AgentSkills spec accept,
/// and safe as a folder name and a URL segment).
pub fn validate_skill_name(name: &str) -> Result<(), SkillError> {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if first_ok && rest_ok && name.len() <= 64 {
        Ok(())
    } else {
        Err(invalid(format!(
            "invalid skill name {name:?}: 1 to 64 of a-z, 0-9 and '-', not starting with '-'"
        )))
    }
}

/// What a `SKILL.md`'s frontmatter says about its skill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillMeta {
    pub name: String,
    pub description: String,
    /// Whether the user may invoke it as a command (`user-invocable`, default true).
    pub user_invocable: bool,
}

/// Reads the frontmatter of a `SKILL.md`: a block between two `---` lines at the top, with top-level
/// `key: value` lines (values may be quoted, or a `>`/`|` block of indented lines). Only `name`,
/// `description` and `user-invocable` are read; both of the first two are required.
pub fn parse_frontmatter(text: &str) -> Result<SkillMeta, SkillError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines();
    if lines.next().map(str::trim_end) != Some("---") {
        return Err(invalid(
            "SKILL.md must start with a frontmatter block (a line '---', then name: and \
             description:, then '---')",
        ));
    }
    let mut fields: BTreeMap<&str, String> = BTreeMap::new();
    let mut block: Option<(&str, Vec<&str>)> = None;
    let mut closed = false;
    for line in lines.by_ref() {
        if line.trim_end() == "---" {
            closed = true;
            break;
        }
        if let Some((_, parts)) = &mut block
            && (line.starts_with([' ', '\t']) || line.trim().is_empty())
        {
            parts.push(line.trim());
            continue;
        }
        if let Some((key, parts)) = block.take() {
            fields.insert(key, parts.join(" ").trim().to_owned());
        }
        if line.starts_with([' ', '\t', '#']) {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if value.starts_with(['>', '|']) {
            block = Some((key, Vec::new()));
        } else {
            fields.insert(key, unquote(value).to_owned());
        }
    }
    if let Some((key, parts)) = block {
        fields.insert(key, parts.join(" ").trim().to_owned());
    }
    if !closed {
        return Err(invalid("SKILL.md's frontmatter has no closing '---' line"));
    }
    let field = |key: &str| fields.get(key).filter(|v| !v.is_empty()).cloned();
    let name = field("name").ok_or_else(|| invalid("SKILL.md's frontmatter has no name"))?;
    let description =
        field("description").ok_or_else(|| invalid("SKILL.md's frontmatter has no description"))?;
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(invalid(format!(
            "SKILL.md's description is longer than {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    Ok(SkillMeta {
        name,
        description,
        user_invocable: field("user-invocable").as_deref() != Some("false"),
    })
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// A checked skill, ready to store: its frontmatter and its files, paths relative to its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillUpload {
    pub meta: SkillMeta,
    pub files: BTreeMap<String, Vec<u8>>,
}

impl SkillUpload {
    /// Checks the `SKILL.md` among `files` against `name` (the name in the URL) and every path as a
    /// workspace path once under `skills/<name>/`.
    fn checked(name: &str, files: BTreeMap<String, Vec<u8>>) -> Result<Self, SkillError> {
        validate_skill_name(name)?;
        let skill_md = files
            .get(SKILL_FILE)
            .ok_or_else(|| invalid("the skill has no SKILL.md"))?;
        let text = std::str::from_utf8(skill_md).map_err(|_| invalid("SKILL.md is not UTF-8"))?;
        let meta = parse_frontmatter(text)?;
        if meta.name != name {
            return Err(invalid(format!(
                "SKILL.md names the skill {:?}, but it is uploaded as {name:?}; they must be equal",
                meta.name
            )));
        }
        let total: usize = files.values().map(Vec::len).sum();
        if total > MAX_SKILL_BYTES {
            return Err(too_large());
        }
        for path in files.keys() {
            validate_workspace_path(&skill_path(name, path))
                .map_err(|e| invalid(format!("entry {path:?}: {e}")))?;
        }
        Ok(Self { meta, files })
    }
}

fn too_large() -> SkillError {
    invalid(format!(
        "the skill is larger than {} KiB uncompressed",
        MAX_SKILL_BYTES / 1024
    ))
}

/// The workspace path of `file` (relative to its folder) in skill `name`.
pub fn skill_path(name: &str, file: &str) -> String {
    format!("{SKILLS_DIR}/{name}/{file}")
}

/// A skill given as its `SKILL.md` alone.
pub fn skill_from_markdown(name: &str, bytes: &[u8]) -> Result<SkillUpload, SkillError> {
    SkillUpload::checked(
        name,
        BTreeMap::from([(SKILL_FILE.to_owned(), bytes.to_vec())]),
    )
}

/// A skill given as a zip of its folder: `SKILL.md` at the zip's root, or in exactly one top folder
/// (which is dropped). Entries under `__MACOSX/` (the resource forks macOS adds) are skipped.
pub fn skill_from_zip(name: &str, bytes: &[u8]) -> Result<SkillUpload, SkillError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| invalid(format!("the upload is not a readable zip ({e})")))?;
    if archive.len() > MAX_SKILL_ENTRIES {
        return Err(invalid(format!(
            "the zip has {} entries; a skill may have at most {MAX_SKILL_ENTRIES}",
            archive.len()
        )));
    }
    let mut files = BTreeMap::new();
    let mut total = 0usize;
    for index in 0..archive.len() {
        let entry_name = {
            let entry = archive
                .by_index_data(index)
                .map_err(|e| invalid(format!("zip entry {index} cannot be read ({e})")))?;
            let entry_name = entry
                .name()
                .map_err(|_| invalid(format!("zip entry {index} has a name that is not UTF-8")))?
                .into_owned();
            check_entry_name(&entry_name)?;
            if entry.encrypted() {
                return Err(invalid(format!("entry {entry_name:?} is encrypted")));
            }
            if entry.is_symlink() {
                return Err(invalid(format!("entry {entry_name:?} is a symbolic link")));
            }
            let kind = entry.unix_mode().map_or(0, |mode| mode & 0o170_000);
            if entry.is_dir() || kind == 0o040_000 {
                continue;
            }
            if kind != 0 && kind != 0o100_000 {
                return Err(invalid(format!(
                    "entry {entry_name:?} is not a regular file"
                )));
            }
            entry_name
        };
        if entry_name.starts_with("__MACOSX/") {
            continue;
        }
        let mut entry = archive
            .by_index(index)
            .map_err(|e| invalid(format!("entry {entry_name:?} cannot be read ({e})")))?;
        let mut content = Vec::new();
        // Read one byte past what is left, so a lying header or a zip bomb stops at the limit.
        let room = (MAX_SKILL_BYTES - total) as u64 + 1;
        (&mut entry)
            .take(room)
            .read_to_end(&mut content)
            .map_err(|e| invalid(format!("entry {entry_name:?} cannot be read ({e})")))?;
        total += content.len();
        if total > MAX_SKILL_BYTES {
            return Err(too_large());
        }
        if files.insert(entry_name.clone(), content).is_some() {
            return Err(invalid(format!("entry {entry_name:?} appears twice")));
        }
    }
    SkillUpload::checked(name, strip_top_folder(files)?)
}

/// Refuses names that try to leave the skill's folder: absolute ones, drive letters, backslashes and
/// `..` (the workspace path check refuses them too; these say why in the user's terms).
fn check_entry_name(entry: &str) -> Result<(), SkillError> {
    let refuse = |why: &str| Err(invalid(format!("entry {entry:?} {why}")));
    if entry.contains('\\') {
        return refuse("contains a backslash");
    }
    if entry.starts_with('/') || entry.as_bytes().get(1) == Some(&b':') {
        return refuse("has an absolute path");
    }
    if entry.split('/').any(|part| part == "..") {
        return refuse("leaves its folder ('..')");
    }
    Ok(())
}

/// `files` with `SKILL.md` at the top: as they are, or without the one folder they all share.
fn strip_top_folder(
    files: BTreeMap<String, Vec<u8>>,
) -> Result<BTreeMap<String, Vec<u8>>, SkillError> {
    if files.contains_key(SKILL_FILE) {
        return Ok(files);
    }
    let tops: BTreeSet<&str> = files
        .keys()
        .map(|p| p.split_once('/').map_or(p.as_str(), |(top, _)| top))
        .collect();
    let [top] = tops.into_iter().collect::<Vec<_>>()[..] else {
        return Err(invalid(
            "the zip has no SKILL.md at its root or in a single top folder",
        ));
    };
    let prefix = format!("{top}/");
    Ok(files
        .into_iter()
        .filter_map(|(path, bytes)| Some((path.strip_prefix(&prefix)?.to_owned(), bytes)))
        .collect())
}

/// A stored skill as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillSummary {
    pub name: String,
    /// From its `SKILL.md`; `None` for a folder whose `SKILL.md` is missing or unreadable (the agent
    /// may have written one badly); such a folder is listed so it can be deleted.
    pub meta: Option<SkillMeta>,
    pub enabled: bool,
    pub files: usize,
    pub bytes: usize,
}

/// A stored skill with its `SKILL.md` and the paths and sizes of its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillDetail {
    pub summary: SkillSummary,
    pub skill_md: String,
    pub files: Vec<(String, usize)>,
}

/// Whether a store replaced a skill or created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Created,
    Replaced,
}

/// The skills use cases over a user's workspace and settings.
#[derive(Clone)]
pub struct Skills {
    workspaces: Arc<dyn WorkspaceStore>,
    settings: Arc<dyn SettingsStore>,
}

impl Skills {
    pub fn new(workspaces: Arc<dyn WorkspaceStore>, settings: Arc<dyn SettingsStore>) -> Self {
        Self {
            workspaces,
            settings,
        }
    }

    /// The user's workspace files under `skills/`, grouped by skill folder.
    async fn folders(
        &self,
        user: &UserId,
    ) -> Result<BTreeMap<String, Vec<WorkspaceFile>>, PortError> {
        let prefix = format!("{SKILLS_DIR}/");
        let mut folders: BTreeMap<String, Vec<WorkspaceFile>> = BTreeMap::new();
        for file in self.workspaces.list(user).await? {
            let Some((name, _)) = file
                .path
                .strip_prefix(&prefix)
                .and_then(|rest| rest.split_once('/'))
            else {
                continue;
            };
            folders.entry(name.to_owned()).or_default().push(file);
        }
        Ok(folders)
    }

    /// Every skill folder of the user, by name.
    pub async fn list(&self, user: &UserId) -> Result<Vec<SkillSummary>, SkillError> {
        let disabled = self.settings.disabled_skills(user).await?;
        let folders = self.folders(user).await?;
        Ok(folders
            .iter()
            .map(|(name, files)| summary(name, files, &disabled))
            .collect())
    }

    /// One skill with its `SKILL.md`.
    pub async fn get(&self, user: &UserId, name: &str) -> Result<SkillDetail, SkillError> {
        validate_skill_name(name)?;
        let disabled = self.settings.disabled_skills(user).await?;
        let folders = self.folders(user).await?;
        let files = folders
            .get(name)
            .ok_or_else(|| SkillError::NotFound(name.to_owned()))?;
        let prefix = skill_path(name, "");
        Ok(SkillDetail {
            summary: summary(name, files, &disabled),
            skill_md: files
                .iter()
                .find(|f| f.path == skill_path(name, SKILL_FILE))
                .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
                .unwrap_or_default(),
            files: files
                .iter()
                .map(|f| (f.path[prefix.len()..].to_owned(), f.bytes.len()))
                .collect(),
        })
    }

    /// Stores `upload` as skill `name`, replacing any folder of that name: its files are written, then
    /// the old folder's other files are deleted. The workspace's file limit counts the new folder. A
    /// failed write deletes what this call wrote (a replaced file keeps its new content).
    pub async fn put(
        &self,
        user: &UserId,
        name: &str,
        upload: SkillUpload,
    ) -> Result<Stored, SkillError> {
        let all = self.workspaces.list(user).await?;
        let folder = skill_path(name, "");
        let (old, others): (Vec<_>, Vec<_>) = all.iter().partition(|f| f.path.starts_with(&folder));
        if others.len() + upload.files.len() > MAX_WORKSPACE_FILES {
            return Err(invalid(format!(
                "the workspace would hold more than {MAX_WORKSPACE_FILES} files"
            )));
        }
        let old: BTreeMap<&str, &WorkspaceFile> =
            old.into_iter().map(|f| (f.path.as_str(), f)).collect();
        let mut created = Vec::new();
        for (file, bytes) in &upload.files {
            let path = skill_path(name, file);
            let existing = old.get(path.as_str()).map(|f| &f.version);
            match self.workspaces.put(user, &path, bytes, existing).await {
                Ok(version) if existing.is_none() => created.push((path, version)),
                Ok(_) => {}
                Err(e) => {
                    for (path, version) in &created {
                        if let Err(e) = self.workspaces.delete(user, path, version).await {
                            tracing::warn!(%user, path, error = %e, "could not undo a skill file");
                        }
                    }
                    return Err(e.into());
                }
            }
        }
        for (path, file) in &old {
            if !upload.files.contains_key(&path[folder.len()..]) {
                self.workspaces.delete(user, path, &file.version).await?;
            }
        }
        Ok(if old.is_empty() {
            Stored::Created
        } else {
            Stored::Replaced
        })
    }

    /// Deletes skill `name`'s folder and forgets that it was disabled.
    pub async fn delete(&self, user: &UserId, name: &str) -> Result<(), SkillError> {
        validate_skill_name(name)?;
        let folders = self.folders(user).await?;
        let files = folders
            .get(name)
            .ok_or_else(|| SkillError::NotFound(name.to_owned()))?;
        for file in files {
            self.workspaces
                .delete(user, &file.path, &file.version)
                .await?;
        }
        self.set_disabled(user, name, false).await
    }

    /// Enables or disables skill `name` without touching its files.
    pub async fn set_enabled(
        &self,
        user: &UserId,
        name: &str,
        enabled: bool,
    ) -> Result<(), SkillError> {
        validate_skill_name(name)?;
        if !self.folders(user).await?.contains_key(name) {
            return Err(SkillError::NotFound(name.to_owned()));
        }
        self.set_disabled(user, name, !enabled).await
    }

    async fn set_disabled(
        &self,
        user: &UserId,
        name: &str,
        disabled: bool,
    ) -> Result<(), SkillError> {
        let mut list = self.settings.disabled_skills(user).await?;
        let had = list.iter().any(|n| n == name);
        if had == disabled {
            return Ok(());
        }
        if disabled {
            list.push(name.to_owned());
            list.sort();
        } else {
            list.retain(|n| n != name);
        }
        Ok(self.settings.set_disabled_skills(user, &list).await?)
    }
}

fn summary(name: &str, files: &[WorkspaceFile], disabled: &[String]) -> SkillSummary {
    let meta = files
        .iter()
        .find(|f| f.path == skill_path(name, SKILL_FILE))
        .and_then(|f| std::str::from_utf8(&f.bytes).ok())
        .and_then(|text| parse_frontmatter(text).ok());
    SkillSummary {
        name: name.to_owned(),
        meta,
        enabled: !disabled.iter().any(|d| d == name),
        files: files.len(),
        bytes: files.iter().map(|f| f.bytes.len()).sum(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;

    use super::*;

    const MD: &str = "---\nname: zeta\ndescription: \"Does zeta things\"\n---\n# Zeta\n";

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in entries {
            writer
                .start_file(*name, SimpleFileOptions::default())
                .unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    fn refused(result: Result<SkillUpload, SkillError>) -> String {
        match result {
            Err(SkillError::Invalid(message)) => message,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn names_are_lowercase_words_joined_by_dashes() {
        for ok in ["a", "zeta-skill", "0x", &"a".repeat(64)] {
            assert!(validate_skill_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "A", "a_b", "a.b", "a/b", &"a".repeat(65)] {
            assert!(validate_skill_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn frontmatter_gives_name_description_and_invocability() {
        let meta = parse_frontmatter(MD).unwrap();
        assert_eq!(meta.name, "zeta");
        assert_eq!(meta.description, "Does zeta things");
        assert!(meta.user_invocable);
        let folded = "---\nname: z\ndescription: >\n  two\n  lines\nuser-invocable: false\n---\n";
        let meta = parse_frontmatter(folded).unwrap();
        assert_eq!(meta.description, "two lines");
        assert!(!meta.user_invocable);
        assert!(parse_frontmatter("# no frontmatter").is_err());
        assert!(parse_frontmatter("---\nname: z\n---\n").is_err());
        assert!(parse_frontmatter("---\nname: z\ndescription: d\n").is_err());
    }

    #[test]
    fn a_markdown_skill_must_carry_the_name_it_is_uploaded_as() {
        let upload = skill_from_markdown("zeta", MD.as_bytes()).unwrap();
        assert_eq!(upload.files.keys().collect::<Vec<_>>(), ["SKILL.md"]);
        assert!(refused(skill_from_markdown("other", MD.as_bytes())).contains("\"zeta\""));
    }

    #[test]
    fn a_zip_may_hold_its_folder_at_the_root_or_in_one_top_folder() {
        let flat = zip_of(&[("SKILL.md", MD.as_bytes()), ("scripts/run.sh", b"echo")]);
        let upload = skill_from_zip("zeta", &flat).unwrap();
        assert_eq!(
            upload.files.keys().collect::<Vec<_>>(),
            ["SKILL.md", "scripts/run.sh"]
        );
        let nested = zip_of(&[("zeta/SKILL.md", MD.as_bytes()), ("zeta/ref.md", b"x")]);
        let upload = skill_from_zip("zeta", &nested).unwrap();
        assert_eq!(
            upload.files.keys().collect::<Vec<_>>(),
            ["SKILL.md", "ref.md"]
        );
        let two_tops = zip_of(&[("a/SKILL.md", MD.as_bytes()), ("b/x.md", b"x")]);
        assert!(refused(skill_from_zip("zeta", &two_tops)).contains("no SKILL.md"));
    }

    #[test]
    fn zips_that_leave_their_folder_are_refused_naming_the_entry() {
        for (entry, why) in [
            ("../x", "'..'"),
            ("a/../../x", "'..'"),
            ("/etc/passwd", "absolute"),
            ("C:/x", "absolute"),
            ("a\\b", "backslash"),
        ] {
            let zip = zip_of(&[("SKILL.md", MD.as_bytes()), (entry, b"x")]);
            let message = refused(skill_from_zip("zeta", &zip));
            assert!(
                message.contains(why) && message.contains(&format!("{entry:?}")),
                "{entry}: {message}"
            );
        }
        let bad_chars = zip_of(&[("SKILL.md", MD.as_bytes()), ("a b.md", b"x")]);
        assert!(refused(skill_from_zip("zeta", &bad_chars)).contains("a b.md"));
    }

    #[test]
    fn symlinks_and_special_files_are_refused() {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        writer
            .start_file("SKILL.md", SimpleFileOptions::default())
            .unwrap();
        writer.write_all(MD.as_bytes()).unwrap();
        writer
            .add_symlink("link", "/etc/passwd", SimpleFileOptions::default())
            .unwrap();
        let zip = writer.finish().unwrap().into_inner();
        assert!(refused(skill_from_zip("zeta", &zip)).contains("\"link\" is a symbolic link"));

        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let fifo = SimpleFileOptions::default().external_attributes(0o010_644 << 16);
        writer.start_file("pipe", fifo).unwrap();
        let zip = writer.finish().unwrap().into_inner();
        assert!(refused(skill_from_zip("zeta", &zip)).contains("\"pipe\" is not a regular file"));
    }

    #[test]
    fn content_over_the_limit_is_refused_by_its_decompressed_size() {
        // 2 MiB of zeros deflate to a few KiB: the limit counts what comes out.
        let zeros = vec![0u8; 2 * MAX_SKILL_BYTES];
        let zip = zip_of(&[("SKILL.md", MD.as_bytes()), ("big.bin", &zeros)]);
        assert!(zip.len() < 64 * 1024);
        assert!(refused(skill_from_zip("zeta", &zip)).contains("larger than 1024 KiB"));
        let many: Vec<(String, &[u8])> = (0..=MAX_SKILL_ENTRIES)
            .map(|i| (format!("f{i}"), &b"x"[..]))
            .collect();
        let refs: Vec<(&str, &[u8])> = many.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        assert!(refused(skill_from_zip("zeta", &zip_of(&refs))).contains("entries"));
        assert!(refused(skill_from_zip("zeta", b"not a zip")).contains("not a readable zip"));
    }
}
