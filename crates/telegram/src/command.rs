//! What a message asks for: one of the bot's commands, or text for the agent.

/// A bot command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Start,
    Help,
    New,
    Status,
    /// `/link CODE`; the code with spaces removed (empty when none was given).
    Link(String),
    /// `/unlink`, and `/unlink yes` to confirm.
    Unlink {
        confirmed: bool,
    },
    /// A command the bot does not know (its name, without `/` and `@bot`).
    Unknown(String),
}

/// A message, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    Command(Command),
    Text(&'a str),
}

impl<'a> Input<'a> {
    /// A message starting with `/` is a command (`/name@bot args` as Telegram clients send it in
    /// menus); anything else is text for the agent.
    pub fn parse(text: &'a str) -> Self {
        let trimmed = text.trim();
        let Some(rest) = trimmed.strip_prefix('/') else {
            return Input::Text(text);
        };
        let (word, args) = rest
            .split_once(char::is_whitespace)
            .map_or((rest, ""), |(w, a)| (w, a.trim()));
        let name = word
            .split('@')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        Input::Command(match name.as_str() {
            "start" => Command::Start,
            "help" => Command::Help,
            "new" => Command::New,
            "status" => Command::Status,
            "link" => Command::Link(args.chars().filter(|c| !c.is_whitespace()).collect()),
            "unlink" => Command::Unlink {
                confirmed: args.eq_ignore_ascii_case("yes"),
            },
            _ => Command::Unknown(name),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_recognised_with_a_bot_name_and_arguments() {
        assert_eq!(Input::parse("/start"), Input::Command(Command::Start));
        assert_eq!(
            Input::parse(" /HELP@my_bot "),
            Input::Command(Command::Help)
        );
        assert_eq!(Input::parse("/new"), Input::Command(Command::New));
        assert_eq!(Input::parse("/status@b"), Input::Command(Command::Status));
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
        assert_eq!(
            Input::parse("/frobnicate now"),
            Input::Command(Command::Unknown("frobnicate".into()))
        );
    }

    #[test]
    fn everything_else_is_text_for_the_agent() {
        assert_eq!(Input::parse("hello /start"), Input::Text("hello /start"));
        assert_eq!(
            Input::parse("  what is 2/3?"),
            Input::Text("  what is 2/3?")
        );
    }
}
