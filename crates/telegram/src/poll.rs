//! Long polling for local mode: `getUpdates` in a loop, each update handled by the same [`Bot`] as
//! the webhook, so no public URL is needed.
//!
//! Each message is handed on as it comes, as the webhook does: a burst of messages sent together
//! becomes one turn in the turn processor, which holds the merge window in the stored messages
//! (`serverless_openclaw_core::turn`), the same way on both paths.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::bot::Bot;
use crate::command::menu;
use crate::update::Update;

/// How long one `getUpdates` waits for an update.
const POLL_WAIT: Duration = Duration::from_secs(25);
/// The longest pause after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Attempts at an update whose handling keeps failing before it is skipped.
const UPDATE_ATTEMPTS: u32 = 3;

/// Registers the command menu, then polls until `cancel` fires. Stops early only when the token is
/// refused.
pub async fn long_poll(bot: &Bot, cancel: CancellationToken) {
    let api = &bot.api;
    // On every start, as `telegram set-webhook` does for a deployment: the menu then matches this
    // version's commands. A failure costs only the menu (a refused token is reported by the poll).
    if let Err(e) = api.set_my_commands(menu()).await {
        tracing::warn!(error = %e, "could not register the bot's command menu");
    }
    let mut offset = 0;
    let mut backoff = Duration::from_secs(1);
    loop {
        let polled = tokio::select! {
            () = cancel.cancelled() => return,
            polled = api.get_updates(offset, POLL_WAIT) => polled,
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
        for update in updates {
            offset = update.update_id + 1;
            handle(bot, update).await;
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
