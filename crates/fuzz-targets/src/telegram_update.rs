//! A Telegram update as the webhook receives it (and `getUpdates` lists it), and what the bot reads from
//! it: the command in a message's text ([`Input::parse`]) and the button in a press's `callback_data`
//! ([`Button::parse`]).
//!
//! Invariants: only text starting with `/` is a command, and text for the agent is passed on whole; a
//! shared command is what the core's parser makes of the same text; a link code has no spaces; a
//! button is accepted only for data the bot itself would have made for it.

use serverless_openclaw_core::commands;
use serverless_openclaw_telegram::buttons::Button;
use serverless_openclaw_telegram::command::{Command, Input};
use serverless_openclaw_telegram::update::{Message, Update};

pub fn run(data: &[u8]) {
    let Ok(update) = serde_json::from_slice::<Update>(data) else {
        return;
    };
    let press = update.callback_query.as_ref();
    let messages = [
        update.message.as_ref(),
        press.and_then(|q| q.message.as_ref()),
    ];
    for message in messages.into_iter().flatten() {
        read(message);
        if let Some(replied) = &message.reply_to_message {
            read(replied);
        }
    }
    if let Some(data) = press.and_then(|q| q.data.as_deref())
        && let Ok(button) = Button::parse(data)
    {
        assert_eq!(button.data().as_deref(), Some(data), "{button:?}");
    }
}

fn read(message: &Message) {
    for text in [&message.text, &message.caption].into_iter().flatten() {
        match Input::parse(text) {
            Input::Text(passed) => {
                assert_eq!(passed, text);
                assert_eq!(commands::Command::parse(text), None, "{text:?}");
            }
            Input::Shared(command) => {
                assert!(text.trim_start().starts_with('/'), "{text:?}");
                assert_eq!(commands::Command::parse(text), Some(command));
            }
            Input::Command(command) => {
                assert!(text.trim_start().starts_with('/'), "{text:?}");
                if let Command::Link(code) = command {
                    assert!(!code.contains(char::is_whitespace), "{code:?}");
                }
            }
        }
    }
}
