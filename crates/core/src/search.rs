//! The *search my conversations* use case: what a search query is, which messages it finds, and the
//! snippet shown for each hit.
//!
//! The rule both storage twins follow ([`crate::ports::MessageSearch`]): a message is found when every
//! word of the query begins a word of the message. A word is a run of Unicode letters and digits, and
//! words are compared in lower case, so "Quok" finds "quokka's" and "QUOKKAS" but not "aquokka", and
//! "CRÈME" finds "crème" (accents count: "creme" does not). Only the first [`MAX_INDEXED_BYTES`] of a
//! message's words are searched. [`indexed_text`] is the one form of a message both twins search: the
//! SQLite twin indexes it with FTS5, the DynamoDB twin filters on it, so they cannot drift apart.

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::{Role, format_time};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::ports::{MessageSearch, PortError};
use crate::protocol::SearchHit;

/// The longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// The most words a query may have.
pub const MAX_QUERY_WORDS: usize = 8;
/// How much of a message's [`indexed_text`] is kept, in bytes: a reply may be long, and on DynamoDB
/// the indexed text is stored beside the message in an item of at most 400 KB.
pub const MAX_INDEXED_BYTES: usize = 64 * 1024;
/// Hits per search unless the caller asks for fewer or more.
pub const DEFAULT_SEARCH_LIMIT: usize = 20;
/// The most hits one search returns.
pub const MAX_SEARCH_LIMIT: usize = 50;
/// How far a snippet reaches back before its first match, in characters.
const SNIPPET_CONTEXT_CHARS: usize = 40;
/// The longest snippet, in characters (cut at a word boundary, so usually a little shorter).
const SNIPPET_CHARS: usize = 160;

/// A query the search refuses, with the reason in words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidQuery(pub String);

/// A checked search query: its words, in lower case, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    words: Vec<String>,
}

impl SearchQuery {
    /// Takes what the user typed: not blank, at most [`MAX_QUERY_CHARS`] characters and
    /// [`MAX_QUERY_WORDS`] words, and at least one letter or digit (punctuation is ignored).
    pub fn parse(raw: &str) -> Result<Self, InvalidQuery> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(InvalidQuery("the search is empty".into()));
        }
        if raw.chars().count() > MAX_QUERY_CHARS {
            return Err(InvalidQuery(format!(
                "the search is longer than {MAX_QUERY_CHARS} characters"
            )));
        }
        let mut query = Vec::new();
        for (_, word) in words(raw) {
            if !query.contains(&word) {
                query.push(word);
            }
        }
        if query.is_empty() {
            return Err(InvalidQuery(
                "the search needs at least one letter or digit".into(),
            ));
        }
        if query.len() > MAX_QUERY_WORDS {
            return Err(InvalidQuery(format!(
                "the search has more than {MAX_QUERY_WORDS} words"
            )));
        }
        Ok(Self { words: query })
    }

    /// The query's words, lower case, in the order typed. Each is made of letters and digits (and
    /// what lower-casing them gave), never of spaces, quotes or other punctuation.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Whether `content` is found: every query word begins a word of its [`indexed_text`].
    pub fn matches(&self, content: &str) -> bool {
        let text = indexed_text(content);
        self.words
            .iter()
            .all(|word| text.contains(&word_start(word)))
    }

    /// Whether a message word (lower case) begins with one of the query's words.
    fn begins(&self, message_word: &str) -> bool {
        self.words.iter().any(|w| message_word.starts_with(w))
    }
}

/// What [`indexed_text`] holds where `word` begins a word: a space then the word. A query word is
/// found in a message exactly when its indexed text contains this, which is how the DynamoDB twin
/// filters (`contains`).
pub fn word_start(word: &str) -> String {
    format!(" {word}")
}

/// The searched form of a message: its words in lower case, each followed by a space, after a
/// leading space (`" where do quokkas live "`), at most [`MAX_INDEXED_BYTES`] (whole words only).
pub fn indexed_text(content: &str) -> String {
    let mut text = String::from(" ");
    for (_, word) in indexed_words(content) {
        text.push_str(&word);
        text.push(' ');
    }
    text
}

/// The words of `content` that [`indexed_text`] keeps, with their byte ranges in `content`.
fn indexed_words(content: &str) -> impl Iterator<Item = (Range<usize>, String)> + '_ {
    let mut size = 1;
    words(content).take_while(move |(_, word)| {
        size += word.len() + 1;
        size <= MAX_INDEXED_BYTES
    })
}

/// The words of `text` (runs of letters and digits) with their byte ranges, in lower case.
fn words(text: &str) -> impl Iterator<Item = (Range<usize>, String)> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let start = chars.find(|(_, c)| c.is_alphanumeric())?.0;
        let mut end = text.len();
        while let Some(&(at, c)) = chars.peek() {
            if !c.is_alphanumeric() {
                end = at;
                break;
            }
            chars.next();
        }
        Some((start..end, text[start..end].to_lowercase()))
    })
}

/// A piece of a hit's snippet; the pieces joined are the snippet's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnippetPart {
    pub text: String,
    /// A message word that a query word begins: shown highlighted.
    #[serde(rename = "match")]
    pub is_match: bool,
}

/// The part of `content` around its first match, as one line (runs of white space become one space)
/// of at most about [`SNIPPET_CHARS`] characters, with every matching word marked, and `…` where
/// text was left out. A message without a match (none is returned by a search) gives its beginning.
pub fn snippet(content: &str, query: &SearchQuery) -> Vec<SnippetPart> {
    let matches: Vec<Range<usize>> = indexed_words(content)
        .filter(|(_, word)| query.begins(word))
        .map(|(range, _)| range)
        .collect();
    let first = matches.first().map_or(0, |m| m.start);
    let start = word_start_from(content, chars_before(content, first, SNIPPET_CONTEXT_CHARS));
    let end = word_boundary_before(content, chars_after(content, start, SNIPPET_CHARS))
        .max(matches.first().map_or(start, |m| m.end));
    let mut parts = Vec::new();
    let mut plain = String::new();
    if !content[..start].trim().is_empty() {
        plain.push('…');
    }
    let mut at = start;
    for m in matches.iter().filter(|m| m.start >= start && m.end <= end) {
        plain.push_str(&content[at..m.start]);
        push_plain(&mut parts, &plain);
        plain.clear();
        parts.push(SnippetPart {
            text: content[m.clone()].to_owned(),
            is_match: true,
        });
        at = m.end;
    }
    plain.push_str(content[at..end].trim_end());
    if !content[end..].trim().is_empty() {
        plain.push('…');
    }
    push_plain(&mut parts, &plain);
    parts
}

/// Adds unmarked text with its white space runs collapsed to single spaces (nothing if empty).
fn push_plain(parts: &mut Vec<SnippetPart>, text: &str) {
    let mut one_line = String::with_capacity(text.len());
    for c in text.chars() {
        if !c.is_whitespace() {
            one_line.push(c);
        } else if !one_line.ends_with(' ') {
            one_line.push(' ');
        }
    }
    if !one_line.is_empty() {
        parts.push(SnippetPart {
            text: one_line,
            is_match: false,
        });
    }
}

/// The byte index `n` characters before `at` (or 0).
fn chars_before(text: &str, at: usize, n: usize) -> usize {
    text[..at]
        .char_indices()
        .rev()
        .nth(n.saturating_sub(1))
        .map_or(0, |(i, _)| i)
}

/// The byte index `n` characters after `at` (or the end).
fn chars_after(text: &str, at: usize, n: usize) -> usize {
    text[at..]
        .char_indices()
        .nth(n)
        .map_or(text.len(), |(i, _)| at + i)
}

/// `at`, or past the rest of the word it falls inside and the separators after it: where a snippet
/// that leaves out the text before `at` begins.
fn word_start_from(text: &str, at: usize) -> usize {
    if at == 0 {
        return 0;
    }
    let rest = &text[at..];
    let word_rest = if inside_word(text, at) {
        rest.find(|c: char| !c.is_alphanumeric())
            .unwrap_or(rest.len())
    } else {
        0
    };
    let after = &rest[word_rest..];
    at + word_rest + after.find(char::is_alphanumeric).unwrap_or(after.len())
}

/// `at`, or the start of the word it falls inside.
fn word_boundary_before(text: &str, at: usize) -> usize {
    if !inside_word(text, at) {
        return at;
    }
    text[..at]
        .char_indices()
        .rev()
        .find(|(_, c)| !c.is_alphanumeric())
        .map_or(0, |(i, c)| i + c.len_utf8())
}

/// Whether the characters on both sides of byte `at` are letters or digits.
fn inside_word(text: &str, at: usize) -> bool {
    let before = text[..at].chars().next_back();
    let after = text[at..].chars().next();
    before.is_some_and(char::is_alphanumeric) && after.is_some_and(char::is_alphanumeric)
}

/// A message a search found, as the store returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundMessage {
    pub conversation_id: ConversationId,
    /// The conversation's title now.
    pub conversation_title: String,
    pub message_id: MessageId,
    pub role: Role,
    pub content: String,
    pub created_at: OffsetDateTime,
}

/// Why a search failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Invalid(#[from] InvalidQuery),
    #[error(transparent)]
    Store(#[from] PortError),
}

/// Searches a user's own messages.
#[derive(Clone)]
pub struct ConversationSearch {
    index: Arc<dyn MessageSearch>,
}

impl ConversationSearch {
    pub fn new(index: Arc<dyn MessageSearch>) -> Self {
        Self { index }
    }

    /// Up to `limit` (at most [`MAX_SEARCH_LIMIT`]) of `user`'s messages that `raw_query` finds,
    /// newest first, each with a snippet around its first match.
    pub async fn search(
        &self,
        user: &UserId,
        raw_query: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>, SearchError> {
        let query = SearchQuery::parse(raw_query)?;
        let found = self
            .index
            .search_messages(user, &query, limit.min(MAX_SEARCH_LIMIT))
            .await?;
        Ok(found
            .into_iter()
            .map(|m| SearchHit {
                snippet: snippet(&m.content, &query),
                conversation_id: m.conversation_id,
                title: m.conversation_title,
                message_id: m.message_id,
                role: m.role,
                created_at: format_time(m.created_at),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(raw: &str) -> SearchQuery {
        SearchQuery::parse(raw).unwrap()
    }

    /// The snippet with matches in brackets.
    fn marked(content: &str, raw: &str) -> String {
        snippet(content, &query(raw))
            .iter()
            .map(|p| {
                if p.is_match {
                    format!("[{}]", p.text)
                } else {
                    p.text.clone()
                }
            })
            .collect()
    }

    #[test]
    fn a_query_is_its_distinct_words_in_lower_case() {
        assert_eq!(
            query("  Quokka, ISLAND! quokka ").words(),
            ["quokka", "island"]
        );
        assert_eq!(query("ÉCOLE straße").words(), ["école", "straße"]);
        assert_eq!(query("c++ 2026").words(), ["c", "2026"]);
    }

    #[test]
    fn blank_punctuation_only_long_and_wordy_queries_are_refused() {
        for (raw, reason) in [
            ("", "empty"),
            (" \n\t", "empty"),
            ("?!… --", "letter or digit"),
            (&"a".repeat(MAX_QUERY_CHARS + 1), "longer than 200"),
            ("a b c d e f g h i", "more than 8 words"),
        ] {
            let refused = SearchQuery::parse(raw).unwrap_err();
            assert!(refused.0.contains(reason), "{raw:?}: {refused}");
        }
        assert!(SearchQuery::parse(&"a".repeat(MAX_QUERY_CHARS)).is_ok());
        assert!(SearchQuery::parse("a b c d e f g h").is_ok());
    }

    #[test]
    fn every_query_word_must_begin_a_word_of_the_message() {
        let message = "Quokkas live on Rottnest Island, near Perth.";
        for found in [
            "quokka",
            "QUOK",
            "rottnest island",
            "perth.",
            "isl quo",
            "Q",
        ] {
            assert!(query(found).matches(message), "{found}");
        }
        for missed in ["okka", "quokka sydney", "islands", "rottnestisland"] {
            assert!(!query(missed).matches(message), "{missed}");
        }
    }

    #[test]
    fn matching_ignores_case_in_every_script_but_keeps_accents() {
        let message = "Une crème brûlée à l'ÉCOLE, Straße 5, ΣΟΦΊΑ, 東京タワー";
        for found in [
            "CRÈME",
            "brû",
            "école",
            "l",
            "STRASSE",
            "straße",
            "σοφία",
            "東京",
        ] {
            assert_eq!(query(found).matches(message), found != "STRASSE", "{found}");
        }
        assert!(!query("creme").matches(message));
        assert!(
            !query("タワー").matches(message),
            "only the start of a run of letters"
        );
    }

    #[test]
    fn the_indexed_text_is_the_words_in_lower_case_within_its_bound() {
        assert_eq!(indexed_text("Hello, World! 42"), " hello world 42 ");
        assert_eq!(indexed_text("…"), " ");
        let long = "word ".repeat(MAX_INDEXED_BYTES);
        let text = indexed_text(&long);
        assert!(text.len() <= MAX_INDEXED_BYTES && text.len() > MAX_INDEXED_BYTES - 10);
        assert!(text.ends_with(" word "));
        let late = format!("{long} needle");
        assert!(
            !query("needle").matches(&late),
            "past the bound nothing is found"
        );
    }

    #[test]
    fn a_snippet_shows_the_first_match_in_context_on_one_line() {
        assert_eq!(
            marked("Where do quokkas\n\nlive?", "quokka"),
            "Where do [quokkas] live?"
        );
        let long = format!(
            "{}the quokka is a small marsupial. {}",
            "Lorem ipsum dolor sit amet. ".repeat(10),
            "More text follows here. ".repeat(20)
        );
        let shown = marked(&long, "quokka marsupial");
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        assert!(
            shown.contains("[quokka] is a small [marsupial]."),
            "{shown}"
        );
        assert!(shown.chars().count() <= SNIPPET_CHARS + 2, "{shown}");
        // Cuts fall between words.
        let inner = shown.trim_matches('…');
        assert!(!inner.starts_with(' ') && long.contains(&inner.replace(['[', ']'], "")));
    }

    #[test]
    fn a_snippet_marks_every_match_in_it_and_keeps_the_original_case() {
        assert_eq!(
            marked("QUOKKA or quokka's? Quokkas!", "quok"),
            "[QUOKKA] or [quokka]'s? [Quokkas]!"
        );
        assert_eq!(marked("crème BRÛLÉE", "brû"), "crème [BRÛLÉE]");
    }

    #[test]
    fn a_snippet_of_a_message_without_a_match_is_its_beginning() {
        assert_eq!(marked("nothing here", "quokka"), "nothing here");
        assert_eq!(marked("", "quokka"), "");
    }
}
