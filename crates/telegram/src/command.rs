//! What a message asks for: one of the bot's own commands (linking, welcome, help), one of the chat
//! commands every surface shares ([`serverless_openclaw_core::commands`]), or text for the agent.

use serverless_openclaw_core::commands::{self, COMMANDS, CommandInfo, split_command};

/// The bot's own commands users are told about (`/start` is what Telegram sends on opening the chat).
pub const BOT_COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: "link",
        usage: " CODE",
        summary: "link this Telegram account with a code from the web app",
        details: "",
    },
    CommandInfo {
        name: "unlink",
        usage: "",
        summary: "disconnect this Telegram account",
        details: "",
    },
];

/// The command menu (`setMyCommands`): the chat commands, then the bot's own.
pub fn menu() -> impl Iterator<Item = &'static CommandInfo> {
    COMMANDS.iter().chain(BOT_COMMANDS)
}

/// The help: the chat commands' help, then the bot's own commands.
pub fn help() -> String {
    let own: Vec<String> = BOT_COMMANDS.iter().map(CommandInfo::help_line).collect();
    format!("{}\n\n{}", commands::help(), own.join("\n"))
}

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
    fn every_menu_entry_is_a_command_and_fits_telegrams_rules() {
        for info in menu() {
            assert!(
                !matches!(Input::parse(&format!("/{}", info.name)), Input::Text(_)),
                "{info:?}"
            );
            assert!(
                (1..=32).contains(&info.name.len())
                    && info
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{info:?}"
            );
            assert!(
                (1..=256).contains(&info.summary.chars().count()),
                "{info:?}"
            );
        }
    }

    #[test]
    fn everything_else_is_text_for_the_agent() {
        for text in ["hello /start", "  what is 2/3?", "/frobnicate now"] {
            assert_eq!(Input::parse(text), Input::Text(text));
        }
    }
}
