//! The Markdown → Telegram HTML renderer (`telegram::format`): an agent's reply, whatever it contains,
//! becomes messages Telegram accepts.
//!
//! Invariants: every part is HTML the strict reader of Telegram's parse mode accepts (only Telegram's
//! tags, properly nested, safe links, everything else escaped), showing exactly the part's plain text,
//! not blank and within [`PART_UTF16`] (below Telegram's 4096 UTF-16 units); a blank reply has no
//! parts; the streaming preview fits one message.

use serverless_openclaw_telegram::format::{
    MAX_MESSAGE_UTF16, PART_UTF16, render_reply, streaming_preview, utf16_len,
};
use serverless_openclaw_testkit::telegram_html::check_parts;

pub fn run(data: &[u8]) {
    // The agent's reply is a JSON string, so UTF-8.
    let Ok(markdown) = std::str::from_utf8(data) else {
        return;
    };
    let parts = render_reply(markdown);
    check_parts(
        markdown,
        parts.iter().map(|p| (p.html.as_str(), p.plain.as_str())),
        PART_UTF16,
    );
    if markdown.trim().is_empty() {
        assert!(parts.is_empty(), "{markdown:?}");
    }
    // The preview is cut to PART_UTF16 and an ellipsis added.
    assert!(utf16_len(&streaming_preview(markdown)) < MAX_MESSAGE_UTF16);
}
