//! How a turn's attachments reach OpenClaw (`docs/architecture.md`, "Attachments"): the images of
//! the message go to the model as images (files in the turn's private folder, named on the `run`
//! line), the conversation's files are written into the user's workspace under
//! `.attachments/<conversation>/` for OpenClaw's file tools, and the prompt gets a line per attachment
//! of the message saying what came with it and where it is. Going back, the files the reply attached
//! (its `MEDIA:` lines) are read from the workspace, and only from there: a path the model names is
//! untrusted, and the host reads with more rights than the runner.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use serverless_openclaw_core::attachments::{
    AttachmentKind, MAX_FILE_BYTES, TurnAttachment, WORKSPACE_ATTACHMENTS_DIR,
};
use serverless_openclaw_core::ids::ConversationId;
use serverless_openclaw_core::ports::ProducedFile;

use crate::protocol::RunImage;

/// A turn's attachments, laid out for the runner.
pub(crate) struct StagedAttachments {
    /// The images to name on the `run` line.
    pub images: Vec<RunImage>,
    /// The prompt: the user's text, then one line per attachment of the message.
    pub prompt: String,
    /// Held for the turn: dropping it removes the workspace copies.
    pub _copies: WorkspaceCopies,
}

/// The conversation's files copied into the workspace for one turn; removed on drop, however the
/// turn ends (the attachment store keeps them, and the workspace is synchronised without them).
pub(crate) struct WorkspaceCopies(Option<PathBuf>);

impl Drop for WorkspaceCopies {
    fn drop(&mut self) {
        let Some(folder) = self.0.take() else {
            return;
        };
        if let Err(e) = std::fs::remove_dir_all(&folder)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(folder = %folder.display(), error = %e, "could not remove a turn's attachment copies");
        }
        // Fails, as intended, while another conversation's turn has copies there.
        if let Some(parent) = folder.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// Writes the images into `turn_dir` and the files into `workspace`, and composes the prompt.
/// Files keep their names; a name used twice in the conversation gets a number in front (`2-notes.md`),
/// in the order the attachments were stored, so a file keeps its path from turn to turn.
pub(crate) fn stage(
    turn_dir: &Path,
    workspace: &Path,
    conversation: &ConversationId,
    prompt: &str,
    attachments: &[TurnAttachment],
) -> io::Result<StagedAttachments> {
    let relative = Path::new(WORKSPACE_ATTACHMENTS_DIR).join(conversation.as_str());
    let folder = workspace.join(&relative);
    let mut images = Vec::new();
    let mut notes = Vec::new();
    let mut copies = WorkspaceCopies(None);
    let mut taken = HashSet::new();
    for attachment in attachments {
        let meta = &attachment.attachment;
        match meta.kind {
            AttachmentKind::Image if attachment.with_prompt => {
                let path = turn_dir.join(format!("image-{}", images.len()));
                std::fs::write(&path, &attachment.bytes)?;
                images.push(RunImage {
                    path: path.to_string_lossy().into_owned(),
                    mime_type: meta.media_type.clone(),
                });
                notes.push(format!("[Attached image: {}]", meta.name));
            }
            // Earlier images are in OpenClaw's transcript already; audio reaches the agent as its
            // transcript, made by the turn processor.
            AttachmentKind::Image | AttachmentKind::Audio => {}
            AttachmentKind::File => {
                let name = (1..)
                    .map(|n| match n {
                        1 => meta.name.clone(),
                        n => format!("{n}-{}", meta.name),
                    })
                    .find(|name| taken.insert(name.clone()))
                    .unwrap_or_else(|| meta.id.to_string());
                if copies.0.is_none() {
                    std::fs::create_dir_all(&folder)?;
                    copies.0 = Some(folder.clone());
                }
                std::fs::write(folder.join(&name), &attachment.bytes)?;
                if attachment.with_prompt {
                    notes.push(format!(
                        "[Attached file: {} ({}, {}) in your workspace: read it with your file tools]",
                        relative.join(&name).display(),
                        meta.media_type,
                        size(meta.size)
                    ));
                }
            }
        }
    }
    let prompt = match (prompt.trim().is_empty(), notes.is_empty()) {
        (_, true) => prompt.to_owned(),
        (true, false) => notes.join("\n"),
        (false, false) => format!("{prompt}\n\n{}", notes.join("\n")),
    };
    Ok(StagedAttachments {
        images,
        prompt,
        _copies: copies,
    })
}

/// The workspace folder the runner writes a turn's browser screenshots into and names as the reply's
/// media (`docs/runner-protocol.md`, "Browser"), under the turn-only attachment area.
const BROWSER_SCREENSHOTS: &str = "browser";

/// Removes the browser screenshots a turn left in `workspace`, once they were read as the reply's files:
/// they belong to that reply, not to the workspace.
pub(crate) fn remove_browser_screenshots(workspace: &Path) {
    let folder = workspace
        .join(WORKSPACE_ATTACHMENTS_DIR)
        .join(BROWSER_SCREENSHOTS);
    match std::fs::remove_dir_all(&folder) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            tracing::warn!(error = %e, "the browser's screenshots could not be removed");
        }
        _ => {}
    }
}

/// What a reply attached, read: the files, and the reply's text with a line for each reference that
/// is not a file to share (a URL is kept as a link; a path outside the workspace, a missing or oversized
/// file is named).
pub(crate) fn collect_produced(
    workspace: &Path,
    references: &[String],
    mut text: String,
) -> (Vec<ProducedFile>, String) {
    let mut files = Vec::new();
    let mut note = |line: String| {
        text.push_str("\n\n");
        text.push_str(&line);
    };
    let root = match workspace.canonicalize() {
        Ok(root) => root,
        Err(e) => {
            tracing::warn!(error = %e, "the workspace is gone; the reply's files are not read");
            return (files, text);
        }
    };
    for reference in references {
        if reference.starts_with("https://") || reference.starts_with("http://") {
            note(format!("<{reference}>"));
            continue;
        }
        let path = Path::new(reference.strip_prefix("file://").unwrap_or(reference));
        let inside = root
            .join(path)
            .canonicalize()
            .ok()
            .filter(|p| p.starts_with(&root) && p.is_file());
        let Some(file) = inside else {
            tracing::warn!(
                reference,
                "the reply attached a file outside its workspace, or none"
            );
            note(format!(
                "(The agent attached {reference}, which is not a file in its workspace.)"
            ));
            continue;
        };
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match std::fs::metadata(&file).map(|m| m.len()) {
            Ok(size) if size > MAX_FILE_BYTES => note(format!(
                "(The agent's file {name} could not be attached: it is larger than {} MiB.)",
                MAX_FILE_BYTES / (1024 * 1024)
            )),
            _ => match std::fs::read(&file) {
                Ok(bytes) => files.push(ProducedFile { name, bytes }),
                Err(e) => {
                    tracing::warn!(reference, error = %e, "a file the reply attached cannot be read");
                    note(format!(
                        "(The agent's file {name} could not be attached: it cannot be read.)"
                    ));
                }
            },
        }
    }
    (files, text)
}

/// A size as people read it.
fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1000 => format!("{b} bytes"),
        b if b < 1_000_000 => format!("{:.0} KB", b as f64 / 1000.0),
        b => format!("{:.1} MB", b as f64 / 1_000_000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serverless_openclaw_core::attachments::Attachment;
    use serverless_openclaw_core::ids::AttachmentId;
    use time::OffsetDateTime;

    fn attachment(name: &str, kind: AttachmentKind, with_prompt: bool) -> TurnAttachment {
        TurnAttachment {
            attachment: Attachment {
                id: AttachmentId::generate(),
                conversation_id: ConversationId::parse("c1").unwrap(),
                name: name.into(),
                media_type: match kind {
                    AttachmentKind::Image => "image/png".into(),
                    AttachmentKind::File => "text/markdown".into(),
                    AttachmentKind::Audio => "audio/ogg".into(),
                },
                kind,
                size: 2048,
                created_at: OffsetDateTime::now_utc(),
                message_id: None,
                transcript: None,
            },
            bytes: name.as_bytes().to_vec(),
            with_prompt,
        }
    }

    #[test]
    fn images_go_to_the_turn_folder_files_to_the_workspace_and_the_prompt_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let (turn, workspace) = (dir.path().join("turn"), dir.path().join("ws"));
        std::fs::create_dir_all(&turn).unwrap();
        let conversation = ConversationId::parse("c1").unwrap();
        let staged = stage(
            &turn,
            &workspace,
            &conversation,
            "what is this?",
            &[
                attachment("old.md", AttachmentKind::File, false),
                attachment("old.png", AttachmentKind::Image, false),
                attachment("cat.png", AttachmentKind::Image, true),
                attachment("notes.md", AttachmentKind::File, true),
                attachment("notes.md", AttachmentKind::File, true),
            ],
        )
        .unwrap();
        assert_eq!(
            staged.images.len(),
            1,
            "earlier images are in the transcript"
        );
        assert_eq!(
            std::fs::read(&staged.images[0].path).unwrap(),
            b"cat.png",
            "the image is the turn's own file"
        );
        let files = workspace.join(".attachments/c1");
        for (name, content) in [
            ("old.md", "old.md"),
            ("notes.md", "notes.md"),
            ("2-notes.md", "notes.md"),
        ] {
            assert_eq!(std::fs::read_to_string(files.join(name)).unwrap(), content);
        }
        assert_eq!(
            staged.prompt,
            "what is this?\n\n[Attached image: cat.png]\n\
             [Attached file: .attachments/c1/notes.md (text/markdown, 2 KB) in your workspace: read it with your file tools]\n\
             [Attached file: .attachments/c1/2-notes.md (text/markdown, 2 KB) in your workspace: read it with your file tools]"
        );
        drop(staged);
        assert!(
            !workspace.join(".attachments").exists(),
            "the copies go when the turn ends"
        );
        assert!(workspace.exists(), "the workspace stays");
    }

    #[test]
    fn browser_screenshots_are_the_replys_files_and_leave_the_workspace_afterwards() {
        let dir = tempfile::tempdir().unwrap();
        let shots = dir.path().join(".attachments/browser");
        std::fs::create_dir_all(&shots).unwrap();
        std::fs::write(shots.join("screenshot-1-t1.png"), b"png").unwrap();
        std::fs::write(dir.path().join("MEMORY.md"), b"kept").unwrap();
        let (files, _) = collect_produced(
            dir.path(),
            &[".attachments/browser/screenshot-1-t1.png".into()],
            String::new(),
        );
        assert_eq!(files.len(), 1);
        remove_browser_screenshots(dir.path());
        assert!(!shots.exists());
        assert!(dir.path().join("MEMORY.md").exists());
        remove_browser_screenshots(dir.path());
    }

    #[test]
    fn a_reply_s_files_are_read_from_the_workspace_only() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().join("ws");
        std::fs::create_dir_all(workspace.join("out")).unwrap();
        std::fs::write(workspace.join("out/chart.png"), b"chart").unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"host secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), workspace.join("link.txt"))
            .unwrap();
        let absolute = workspace
            .join("out/chart.png")
            .to_string_lossy()
            .into_owned();
        let (files, text) = collect_produced(
            &workspace,
            &[
                "./out/chart.png".into(),
                absolute,
                "../secret.txt".into(),
                "link.txt".into(),
                "/etc/passwd".into(),
                "gone.png".into(),
                "https://example.com/x.png".into(),
            ],
            "Done.".into(),
        );
        assert_eq!(
            files,
            [
                ProducedFile {
                    name: "chart.png".into(),
                    bytes: b"chart".to_vec()
                },
                ProducedFile {
                    name: "chart.png".into(),
                    bytes: b"chart".to_vec()
                }
            ]
        );
        assert!(!text.contains("host secret"));
        for refused in ["../secret.txt", "link.txt", "/etc/passwd", "gone.png"] {
            assert!(
                text.contains(&format!(
                    "attached {refused}, which is not a file in its workspace"
                )),
                "{text}"
            );
        }
        assert!(
            text.starts_with("Done.") && text.contains("<https://example.com/x.png>"),
            "{text}"
        );
    }

    #[test]
    fn a_prompt_without_text_is_its_attachments_and_one_without_attachments_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let conversation = ConversationId::parse("c1").unwrap();
        let only = stage(
            dir.path(),
            dir.path(),
            &conversation,
            " ",
            &[attachment("cat.png", AttachmentKind::Image, true)],
        )
        .unwrap();
        assert_eq!(only.prompt, "[Attached image: cat.png]");
        let plain = stage(dir.path(), dir.path(), &conversation, "hi", &[]).unwrap();
        assert_eq!(plain.prompt, "hi");
        assert!(!dir.path().join(".attachments").exists());
    }
}
