//! Long polling for local mode: `getUpdates` in a loop, each update handled by the same [`Bot`] as
//! the webhook, so no public URL is needed.
//!
//! A burst of plain text messages in one chat becomes one turn: after a text message, the poller
//! waits up to the merge window for the next update, and consecutive texts of one chat are handed to
//! the bot as one message (texts joined by blank lines; the last message is the one answered). This
//! process reads every update of the bot in order, so it can hold the window itself; the webhook cannot
//! (see `docs/architecture.md`). Held messages are confirmed to Telegram by the poll that waits for
//! more, so a crash inside the window drops them (local mode only; the window is a second).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::bot::Bot;
use crate::command::{Input, menu};
use crate::update::Update;

/// How long one `getUpdates` waits for an update.
const POLL_WAIT: Duration = Duration::from_secs(25);
/// How long after a plain text message the next one is waited for to merge them into one turn
/// (`getUpdates` waits whole seconds).
pub const MERGE_WINDOW: Duration = Duration::from_secs(1);
/// The longest pause after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Attempts at an update whose handling keeps failing before it is skipped.
const UPDATE_ATTEMPTS: u32 = 3;

/// [`long_poll_merging`] with the [`MERGE_WINDOW`].
pub async fn long_poll(bot: &Bot, cancel: CancellationToken) {
    long_poll_merging(bot, MERGE_WINDOW, cancel).await
}

/// Registers the command menu, then polls until `cancel` fires, merging texts sent within
/// `merge_window` of each other (`Duration::ZERO`: never). Stops early only when the token is
/// refused.
pub async fn long_poll_merging(bot: &Bot, merge_window: Duration, cancel: CancellationToken) {
    let api = &bot.api;
    // On every start, as `telegram set-webhook` does for a deployment: the menu then matches this
    // version's commands. A failure costs only the menu (a refused token is reported by the poll).
    if let Err(e) = api.set_my_commands(menu()).await {
        tracing::warn!(error = %e, "could not register the bot's command menu");
    }
    let mut offset = 0;
    let mut backoff = Duration::from_secs(1);
    let mut held: Vec<Update> = Vec::new();
    loop {
        let merging = !merge_window.is_zero() && held.last().is_some_and(|u| text_of(u).is_some());
        let wait = if merging { merge_window } else { POLL_WAIT };
        let polled = tokio::select! {
            () = cancel.cancelled() => return,
            polled = api.get_updates(offset, wait) => polled,
        };
        let updates = match polled {
            Ok(updates) => {
                backoff = Duration::from_secs(1);
                updates
            }
            Err(e) if e.is_unauthorized() => {
                tracing::error!(error = %e, "Telegram refused the bot token; Telegram polling stopped (check TELEGRAM_BOT_TOKEN)");
                return;
            }
            Err(e) => {
                if e.is_conflict() {
                    tracing::error!(error = %e, "this bot has a webhook (a deployment on AWS?) or another poller; run `serverless-openclaw telegram delete-webhook` or use another bot");
                } else {
                    tracing::warn!(error = %e, "polling Telegram failed; retrying");
                }
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let quiet = updates.is_empty();
        if let Some(last) = updates.last() {
            offset = last.update_id + 1;
        }
        held.extend(updates);
        let more_may_come =
            !merge_window.is_zero() && !quiet && held.last().is_some_and(|u| text_of(u).is_some());
        if !more_may_come {
            for update in merge_bursts(std::mem::take(&mut held)) {
                handle(bot, update).await;
            }
        }
    }
}

/// Handles one update, again while it fails on our side (storage), up to [`UPDATE_ATTEMPTS`] times.
async fn handle(bot: &Bot, update: Update) {
    let mut backoff = Duration::from_secs(1);
    for attempt in 1..=UPDATE_ATTEMPTS {
        match bot.handle_update(update.clone()).await {
            Ok(()) => return,
            Err(e) if attempt < UPDATE_ATTEMPTS => {
                tracing::warn!(error = %e, "handling an update failed; trying again");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            Err(e) => {
                tracing::error!(error = %e, update_id = update.update_id, "handling an update keeps failing; skipped")
            }
        }
    }
}

/// The text of a plain text message in a private chat (not a command): what may be merged.
fn text_of(update: &Update) -> Option<&str> {
    let message = update.message.as_ref()?;
    let text = message.text.as_deref()?;
    (message.chat.is_private() && matches!(Input::parse(text), Input::Text(_))).then_some(text)
}

/// Merges each run of consecutive plain texts of one chat into one update: the first's update id (its
/// claim and client message id), the last message (the one answered, and its reply-to), the texts
/// joined by blank lines.
fn merge_bursts(updates: Vec<Update>) -> Vec<Update> {
    let mut merged: Vec<Update> = Vec::new();
    for update in updates {
        if let (Some(previous), Some(text)) = (merged.last_mut(), text_of(&update)) {
            let same_chat = previous.message.as_ref().map(|m| m.chat.id)
                == update.message.as_ref().map(|m| m.chat.id);
            if let Some(before) = text_of(previous).filter(|_| same_chat) {
                let joined = format!("{before}\n\n{text}");
                let mut message = update.message.clone();
                if let Some(message) = message.as_mut() {
                    message.text = Some(joined);
                }
                previous.message = message;
                continue;
            }
        }
        merged.push(update);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(update_id: i64, chat: i64, text: &str) -> Update {
        serde_json::from_value(serde_json::json!({
            "update_id": update_id,
            "message": {
                "message_id": 100 + update_id,
                "from": {"id": chat, "first_name": "T"},
                "chat": {"id": chat, "type": "private"},
                "text": text,
            },
        }))
        .unwrap()
    }

    fn summary(updates: &[Update]) -> Vec<(i64, i64, String)> {
        updates
            .iter()
            .map(|u| {
                let m = u.message.as_ref().unwrap();
                (u.update_id, m.message_id, m.text.clone().unwrap())
            })
            .collect()
    }

    #[test]
    fn consecutive_texts_of_one_chat_merge_and_commands_or_other_chats_split_them() {
        let merged = merge_bursts(vec![
            update(1, 7, "first"),
            update(2, 7, "second"),
            update(3, 7, "/stop"),
            update(4, 7, "third"),
            update(5, 8, "elsewhere"),
            update(6, 7, "fourth"),
            update(7, 7, "fifth"),
        ]);
        assert_eq!(
            summary(&merged),
            [
                (1, 102, "first\n\nsecond".to_owned()),
                (3, 103, "/stop".to_owned()),
                (4, 104, "third".to_owned()),
                (5, 105, "elsewhere".to_owned()),
                (6, 107, "fourth\n\nfifth".to_owned()),
            ]
        );
    }
}
