//! The progress message of a turn that calls tools: one plain-text line per tool call, edited as calls
//! start and end, then finalised as "Worked for N s" above the same lines once the answer is sent (as a
//! message of its own, so the phone is notified: an edit does not notify).

use serverless_openclaw_core::domain::{ToolActivity, ToolStatus, TurnActivity};

/// The most tool lines a progress message shows (the latest ones): a long turn's lines would outgrow a
/// Telegram message (4096 characters) and a phone screen.
pub const SHOWN_TOOL_LINES: usize = 10;

/// The progress message: a heading, then the latest calls' lines. `worked_ms` is `None` while the turn
/// runs ("Working…"), and the turn's working time once it is answered. `writing`: the answer is
/// streaming (shown as a last line while the turn runs).
pub fn progress_text(activity: &TurnActivity, worked_ms: Option<u64>, writing: bool) -> String {
    let calls = match activity.tool_count {
        1 => "1 tool".to_owned(),
        n => format!("{n} tools"),
    };
    let mut lines = vec![match worked_ms {
        None => format!("⚙️ Working… · {calls}"),
        Some(ms) => format!("✅ Worked for {} · {calls}", seconds(ms)),
    }];
    let hidden = usize::try_from(activity.tool_count)
        .unwrap_or(usize::MAX)
        .saturating_sub(SHOWN_TOOL_LINES);
    if hidden > 0 {
        lines.push(format!("… {hidden} earlier"));
    }
    let shown = activity.tools.len().saturating_sub(SHOWN_TOOL_LINES);
    lines.extend(
        activity.tools[shown..]
            .iter()
            .map(|t| tool_line(t, worked_ms.is_none())),
    );
    if writing && worked_ms.is_none() {
        lines.push("✍️ Writing the answer…".to_owned());
    }
    lines.join("\n")
}

/// `✓ exec · ls -la (0.2 s)`; a call still running in a finished turn was cut off (`–`).
fn tool_line(tool: &ToolActivity, live: bool) -> String {
    let icon = match tool.status {
        ToolStatus::Running if live => "⏳",
        ToolStatus::Running => "–",
        ToolStatus::Ok => "✓",
        ToolStatus::Error => "✗",
    };
    let mut line = format!("{icon} {}", tool.name);
    if !tool.summary.is_empty() {
        line.push_str(" · ");
        line.push_str(&tool.summary);
    }
    if let Some(ms) = tool.duration_ms {
        line.push_str(&format!(" ({})", seconds(ms)));
    }
    line
}

/// `0.2 s`, `12 s`, `3 min 5 s`.
fn seconds(ms: u64) -> String {
    match ms {
        0..10_000 => format!("{:.1} s", ms as f64 / 1000.0),
        10_000..60_000 => format!("{} s", (ms + 500) / 1000),
        _ => {
            let s = (ms + 500) / 1000;
            format!("{} min {} s", s / 60, s % 60)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(id: &str, status: ToolStatus, duration_ms: Option<u64>) -> ToolActivity {
        ToolActivity {
            tool_id: id.into(),
            name: "exec".into(),
            summary: format!("echo {id}"),
            status,
            duration_ms,
        }
    }

    #[test]
    fn lists_the_calls_while_working_and_says_how_long_it_worked_at_the_end() {
        let mut activity = TurnActivity::default();
        activity.record(&tool("a", ToolStatus::Running, None));
        activity.record(&tool("b", ToolStatus::Running, None));
        activity.record(&tool("a", ToolStatus::Ok, Some(1500)));
        assert_eq!(
            progress_text(&activity, None, false),
            "⚙️ Working… · 2 tools\n✓ exec · echo a (1.5 s)\n⏳ exec · echo b"
        );
        assert_eq!(
            progress_text(&activity, None, true).lines().last(),
            Some("✍️ Writing the answer…")
        );
        assert_eq!(
            progress_text(&activity, Some(12_345), true),
            "✅ Worked for 12 s · 2 tools\n✓ exec · echo a (1.5 s)\n– exec · echo b"
        );
    }

    #[test]
    fn a_long_turn_shows_its_latest_calls() {
        let mut activity = TurnActivity::default();
        for i in 0..25 {
            activity.record(&tool(&format!("t{i}"), ToolStatus::Error, Some(61_000)));
        }
        let text = progress_text(&activity, Some(100_000), false);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 2 + SHOWN_TOOL_LINES);
        assert_eq!(lines[0], "✅ Worked for 1 min 40 s · 25 tools");
        assert_eq!(lines[1], "… 15 earlier");
        assert_eq!(lines[2], "✗ exec · echo t15 (1 min 1 s)");
    }
}
