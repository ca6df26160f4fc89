//! What a message asks for: one of the bot's own commands (linking, welcome, help), one of the chat
//! commands every surface shares ([`serverless_openclaw_core::commands`]), or text for the agent.

use serverless_openclaw_core::commands::{self, split_command};

/// A command only the Telegram bot has: they concern this Telegram account, not a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Start,
    Help,
    /// `/link CODE`; the code with spaces removed (empty when none was given).
    Link(String),
    /// `/unlink`, and `/unlink yes` to confirm.
    Unlink {
        confirmed: bool,
    },
}

/// A message, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    Command(Command),
    /// `/new`, `/model`, `/stop`, ...: answered by the shared core.
    Shared(commands::Command),
    /// Text for the agent, including a `/word` that is no command.
    Text(&'a str),
}

impl<'a> Input<'a> {
    /// A message whose first word is a command (`/name@bot args` as Telegram clients send it in
    /// menus) is that command; anything else is text for the agent.
    pub fn parse(text: &'a str) -> Self {
        let Some((name, args)) = split_command(text) else {
            return Input::Text(text);
        };
        match name.as_str() {
            "start" => Input::Command(Command::Start),
            "help" => Input::Command(Command::Help),
            "link" => Input::Command(Command::Link(
                args.chars().filter(|c| !c.is_whitespace()).collect(),
            )),
            "unlink" => Input::Command(Command::Unlink {
                confirmed: args.eq_ignore_ascii_case("yes"),
            }),
            _ => commands::Command::parse(text).map_or(Input::Text(text), Input::Shared),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serverless_openclaw_core::commands::ModelRequest;

    #[test]
    fn commands_are_recognised_with_a_bot_name_and_arguments() {
        assert_eq!(Input::parse("/start"), Input::Command(Command::Start));
        assert_eq!(
            Input::parse(" /HELP@my_bot "),
            Input::Command(Command::Help)
        );
        assert_eq!(Input::parse("/new"), Input::Shared(commands::Command::New));
        assert_eq!(
            Input::parse("/model@b gpt-5.5"),
            Input::Shared(commands::Command::Model(ModelRequest::Set(
                "gpt-5.5".into()
            )))
        );
        assert_eq!(
            Input::parse("/link 1234 5678"),
            Input::Command(Command::Link("12345678".into()))
        );
        assert_eq!(
            Input::parse("/link"),
            Input::Command(Command::Link(String::new()))
        );
        assert_eq!(
            Input::parse("/unlink"),
            Input::Command(Command::Unlink { confirmed: false })
        );
        assert_eq!(
            Input::parse("/unlink YES"),
            Input::Command(Command::Unlink { confirmed: true })
        );
    }

    #[test]
    fn everything_else_is_text_for_the_agent() {
        for text in ["hello /start", "  what is 2/3?", "/frobnicate now"] {
            assert_eq!(Input::parse(text), Input::Text(text));
        }
    }
}
