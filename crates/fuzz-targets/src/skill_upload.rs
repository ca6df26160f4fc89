//! A skill upload (`PUT /api/skills/{name}`, `docs/protocol.md` "Skills"): the bytes as a zip of the
//! skill's folder (`skill_from_zip`) and as a `SKILL.md` (`skill_from_markdown`).
//!
//! Invariants: an accepted skill holds its `SKILL.md` naming it, at most the entry and size limits in
//! decompressed bytes, and only paths that stay in its workspace folder; a refusal says why.

use serverless_openclaw_core::domain::validate_workspace_path;
use serverless_openclaw_core::skills::{
    MAX_SKILL_BYTES, MAX_SKILL_ENTRIES, SKILL_FILE, SkillError, SkillUpload, skill_from_markdown,
    skill_from_zip, skill_path,
};

/// The name the uploads are sent as.
pub const NAME: &str = "fuzz-skill";

pub fn run(data: &[u8]) {
    check(skill_from_zip(NAME, data));
    check(skill_from_markdown(NAME, data));
}

fn check(result: Result<SkillUpload, SkillError>) {
    match result {
        Ok(upload) => {
            assert_eq!(upload.meta.name, NAME);
            assert!(upload.files.contains_key(SKILL_FILE));
            assert!(upload.files.len() <= MAX_SKILL_ENTRIES);
            assert!(upload.files.values().map(Vec::len).sum::<usize>() <= MAX_SKILL_BYTES);
            for path in upload.files.keys() {
                assert!(
                    validate_workspace_path(&skill_path(NAME, path)).is_ok(),
                    "accepted the path {path:?}"
                );
            }
        }
        Err(SkillError::Invalid(why)) => assert!(!why.is_empty()),
        Err(other) => panic!("a check that touches no store failed otherwise: {other:?}"),
    }
}
