//! What the turn processor needs to know of OpenClaw's transcript (its JSONL session records,
//! `docs/runner-protocol.md`, "Transcript files") to edit or regenerate the last exchange: the
//! superseded exchange's turn is cut off the end, so the rerun continues from the history before it
//! and the model never sees the old question or answer.
//!
//! The runner stores one branch, in order (root first, each record's `parentId` the one before), so
//! a prefix of the records is itself a whole transcript and OpenClaw continues from its last record.
//! A turn appends the user's prompt (a `message` record with role `user` whose text begins with the
//! user's text; attachment notes follow it) and then the turn's other records (assistant replies,
//! tool results, OpenClaw's own retry prompts); cutting at that prompt removes the whole turn.

use serde_json::Value;

/// `transcript` without the turn that asked one of `superseded` (the texts of the superseded
/// versions that were answered): cut before the last user prompt that begins with one of them.
/// `None` when no prompt matches (the superseded exchange never reached the transcript, e.g. its
/// turn failed), so the transcript stays as it is. Blank texts (messages that were only
/// attachments) match nothing: any prompt would begin with them.
pub fn without_superseded_turn(transcript: &[u8], superseded: &[&str]) -> Option<Vec<u8>> {
    let superseded: Vec<&str> = superseded
        .iter()
        .map(|asked| asked.trim())
        .filter(|asked| !asked.is_empty())
        .collect();
    if superseded.is_empty() {
        return None;
    }
    let text = std::str::from_utf8(transcript).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let cut = lines.iter().rposition(|line| {
        user_prompt(line).is_some_and(|prompt| {
            let prompt = prompt.trim_start();
            superseded.iter().any(|asked| prompt.starts_with(asked))
        })
    })?;
    let mut kept = lines[..cut].join("\n");
    kept.push('\n');
    Some(kept.into_bytes())
}

/// The text of a transcript line that is a user `message` record (its text blocks, joined).
fn user_prompt(line: &str) -> Option<String> {
    let record: Value = serde_json::from_str(line).ok()?;
    if record.get("type")?.as_str()? != "message" {
        return None;
    }
    let message = record.get("message")?;
    if message.get("role")?.as_str()? != "user" {
        return None;
    }
    match message.get("content")? {
        Value::String(text) => Some(text.clone()),
        Value::Array(blocks) => Some(
            blocks
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: &str, role: &str, text: &str) -> String {
        serde_json::json!({
            "type": kind, "id": text, "parentId": null,
            "message": {"role": role, "content": [{"type": "text", "text": text}]}
        })
        .to_string()
    }

    fn transcript(records: &[String]) -> Vec<u8> {
        let mut text = String::from(r#"{"type":"session","version":4,"id":"s"}"#);
        for r in records {
            text.push('\n');
            text.push_str(r);
        }
        text.push('\n');
        text.into_bytes()
    }

    #[test]
    fn the_superseded_turn_is_cut_off_with_everything_after_it() {
        let first = [
            record("message", "user", "FIRST"),
            record("message", "assistant", "one"),
        ];
        let mut whole = first.to_vec();
        whole.extend([
            record("message", "user", "SECOND\n\n(attached: a.png)"),
            record("message", "assistant", "calling a tool"),
            record("message", "toolResult", "SECOND"),
            record(
                "message",
                "user",
                "Continue the current task from the existing transcript",
            ),
            record("message", "assistant", "two"),
        ]);
        assert_eq!(
            without_superseded_turn(&transcript(&whole), &["SECOND"]),
            Some(transcript(&first))
        );
    }

    #[test]
    fn a_transcript_without_the_superseded_prompt_is_left_alone() {
        let whole = transcript(&[
            record("message", "user", "FIRST"),
            record("message", "assistant", "one"),
        ]);
        assert_eq!(without_superseded_turn(&whole, &["SECOND"]), None);
        assert_eq!(without_superseded_turn(&whole, &[]), None);
        assert_eq!(without_superseded_turn(&whole, &[" "]), None);
        assert_eq!(without_superseded_turn(b"not json\n", &["x"]), None);
    }
}
