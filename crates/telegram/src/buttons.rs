//! The bot's inline buttons: what a button's `callback_data` says, and the keyboards the bot attaches.
//!
//! Telegram hands `callback_data` back as the user's client sent it, so it is input like any message
//! text: [`Button::parse`] accepts only the shapes [`Button::data`] makes (`stop:<conversation>`,
//! `retry:<conversation>`, `model:<model id>`, each part checked by its own validator) within
//! Telegram's 64 bytes. A button never names a user: a press acts as the Telegram user who pressed it,
//! under the same access rules as their messages.

use serde_json::{Value, json};
use serverless_openclaw_core::ids::ConversationId;
use serverless_openclaw_core::settings::validate_model_id;

/// Telegram's limit on `callback_data`.
pub const MAX_DATA_BYTES: usize = 64;

/// What an inline button does when pressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Button {
    /// Stops the conversation's running turn (on the progress message while a turn runs).
    Stop(ConversationId),
    /// Runs the conversation's last message again (on a failed turn's error message).
    Retry(ConversationId),
    /// Sets the model of the presser's current conversation (under `/model`'s list).
    Model(String),
}

/// Callback data the bot did not make (or made for an older version of it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a button of this bot: {0}")]
pub struct BadButton(&'static str);

impl Button {
    /// The `callback_data`, or `None` when it would not fit Telegram's 64 bytes (the button is then
    /// left out).
    pub fn data(&self) -> Option<String> {
        let data = match self {
            Button::Stop(conversation) => format!("stop:{conversation}"),
            Button::Retry(conversation) => format!("retry:{conversation}"),
            Button::Model(id) => format!("model:{id}"),
        };
        (data.len() <= MAX_DATA_BYTES).then_some(data)
    }

    /// The button `data` stands for.
    pub fn parse(data: &str) -> Result<Button, BadButton> {
        if data.is_empty() || data.len() > MAX_DATA_BYTES {
            return Err(BadButton("empty or longer than 64 bytes"));
        }
        let (kind, value) = data.split_once(':').ok_or(BadButton("no kind"))?;
        let conversation = || {
            ConversationId::parse(value.to_owned()).map_err(|_| BadButton("not a conversation id"))
        };
        match kind {
            "stop" => conversation().map(Button::Stop),
            "retry" => conversation().map(Button::Retry),
            "model" => validate_model_id(value)
                .ok()
                .filter(|id| id == value)
                .map(Button::Model)
                .ok_or(BadButton("not a model id")),
            _ => Err(BadButton("unknown kind")),
        }
    }
}

/// An inline keyboard: rows of `(label, button)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keyboard {
    rows: Vec<Vec<(String, String)>>,
}

impl Keyboard {
    /// A keyboard of one button, or `None` when its data does not fit.
    pub fn single(label: &str, button: &Button) -> Option<Keyboard> {
        let data = button.data()?;
        Some(Keyboard {
            rows: vec![vec![(label.to_owned(), data)]],
        })
    }

    /// One button per row; buttons whose data does not fit are left out. `None` when none is left.
    pub fn column(buttons: impl IntoIterator<Item = (String, Button)>) -> Option<Keyboard> {
        let rows: Vec<_> = buttons
            .into_iter()
            .filter_map(|(label, button)| Some(vec![(label, button.data()?)]))
            .collect();
        (!rows.is_empty()).then_some(Keyboard { rows })
    }

    /// The `reply_markup` parameter.
    pub fn markup(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|(text, data)| json!({"text": text, "callback_data": data}))
                    .collect()
            })
            .collect();
        json!({"inline_keyboard": rows})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_round_trip_through_their_data() {
        let conversation = ConversationId::generate();
        for button in [
            Button::Stop(conversation.clone()),
            Button::Retry(conversation),
            Button::Model("claude-sonnet-4-5".into()),
        ] {
            let data = button.data().unwrap();
            assert!(data.len() <= MAX_DATA_BYTES, "{data}");
            assert_eq!(Button::parse(&data), Ok(button));
        }
    }

    #[test]
    fn data_the_bot_did_not_make_is_refused() {
        let long_model = format!("model:{}", "m".repeat(59));
        for data in [
            "",
            "stop",
            "stop:",
            "stop:../etc",
            "retry:a b",
            "model:",
            "model:bad id",
            "model: padded",
            "delete:everything",
            long_model.as_str(),
        ] {
            assert!(Button::parse(data).is_err(), "{data:?}");
        }
        assert_eq!(Button::Model("m".repeat(59)).data(), None);
        assert_eq!(
            Keyboard::column([("x".to_owned(), Button::Model("m".repeat(59)))]),
            None
        );
    }
}
