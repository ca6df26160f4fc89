//! Versioned files, shared by the file-backed stores: the version of a file is a SHA-256 prefix of its
//! content (the local stand-in for an S3 ETag), and a write goes to a temporary file that is synced and
//! renamed over the old one, so a reader sees the old or the new file, never a torn one.

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serverless_openclaw_core::ports::{ObjectVersion, PortError};
use sha2::{Digest, Sha256};

/// The version of some file content.
pub(crate) fn version_of(bytes: &[u8]) -> ObjectVersion {
    ObjectVersion(hex::encode(&Sha256::digest(bytes)[..16]))
}

/// Reads a file and its version; `None` when it does not exist.
pub(crate) fn read_versioned(path: &Path) -> Result<Option<(Vec<u8>, ObjectVersion)>, PortError> {
    match fs::read(path) {
        Ok(bytes) => {
            let version = version_of(&bytes);
            Ok(Some((bytes, version)))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PortError::backend(e)),
    }
}

/// Creates `dir` and its parents readable by the owner only (and tightens an existing `dir`): the data
/// dir holds conversations, memory and keys.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

/// Replaces `path` with `bytes` atomically, creating its folder if needed. The file is readable by its
/// owner only (conversations, memory and keys are private). The temporary file sits next
/// to it (a rename is only atomic within one file system) under a name no id or workspace path can
/// take (`~` is never valid), so a leftover is never mistaken for a stored file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().ok_or(ErrorKind::InvalidInput)?;
    if !dir.is_dir() {
        private_dir(dir)?;
    }
    let tmp = dir.join(format!(".{}.tmp~", uuid::Uuid::new_v4().simple()));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        // Persist the rename itself.
        fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}
