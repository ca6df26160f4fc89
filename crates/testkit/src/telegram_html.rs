//! A strict reader of Telegram's HTML parse mode: the oracle the Markdown → Telegram HTML renderer is
//! checked against, by its tests (`crates/telegram/tests/markdown.rs`) and by the fuzz target
//! (`crates/fuzz-targets`).
//!
//! It is stricter than [`crate::fake_telegram`]'s parser, which takes what Telegram takes: the renderer
//! must also never emit an empty element, a tag inside itself, markup inside code, or a block (`pre`,
//! `blockquote`) inside another element, because Telegram quietly drops or mangles those.

/// Reads `html` the way Telegram's HTML parse mode does and returns the text it shows, or why it would
/// refuse the message (or quietly drop markup from it). Telegram's rules: only its tags, properly nested
/// and closed; attributes only `href` on `a` (http, https, mailto, tg) and `class="language-…"` on a
/// `code` inside `pre`; entities only `&lt; &gt; &amp; &quot;` and `<`, `>`, `&` escaped everywhere else.
/// Stricter where our output can afford it: no empty element, no tag inside itself, nothing inside code,
/// `pre` and `blockquote` only at the top.
pub fn telegram_text(html: &str) -> Result<String, String> {
    let mut text = String::new();
    // Open tags, and where their text starts.
    let mut open: Vec<(&str, usize)> = Vec::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let end = rest.find('>').ok_or("unclosed tag")?;
                let tag = &rest[1..end];
                rest = &rest[end + 1..];
                if let Some(name) = tag.strip_prefix('/') {
                    let (top, start) = open.pop().ok_or(format!("unmatched </{name}>"))?;
                    if top != name {
                        return Err(format!("</{name}> closes <{top}>"));
                    }
                    if text[start..].trim().is_empty() {
                        return Err(format!("empty <{name}>"));
                    }
                } else {
                    let (name, attributes) = tag.split_once(' ').unwrap_or((tag, ""));
                    check_start_tag(name, attributes, &open)?;
                    open.push((name, text.len()));
                }
            }
            '&' => {
                let (decoded, len) = entity(rest).ok_or(format!("bare & at {rest:?}"))?;
                text.push(decoded);
                rest = &rest[len..];
            }
            '>' => return Err("bare >".into()),
            c => {
                text.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    match open.last() {
        Some((name, _)) => Err(format!("unclosed <{name}>")),
        None => Ok(text),
    }
}

/// The character an entity at the start of `s` stands for, and its length.
fn entity(s: &str) -> Option<(char, usize)> {
    [
        ("&amp;", '&'),
        ("&lt;", '<'),
        ("&gt;", '>'),
        ("&quot;", '"'),
    ]
    .into_iter()
    .find(|(name, _)| s.starts_with(name))
    .map(|(name, c)| (c, name.len()))
}

const TELEGRAM_TAGS: [&str; 13] = [
    "b",
    "strong",
    "i",
    "em",
    "u",
    "s",
    "del",
    "strike",
    "code",
    "pre",
    "a",
    "blockquote",
    "tg-spoiler",
];

fn check_start_tag(name: &str, attributes: &str, open: &[(&str, usize)]) -> Result<(), String> {
    let parent = open.last().map(|(tag, _)| *tag);
    if !TELEGRAM_TAGS.contains(&name) {
        return Err(format!("unsupported <{name}>"));
    }
    if open.iter().any(|(tag, _)| *tag == name) {
        return Err(format!("<{name}> inside itself"));
    }
    let in_code = open.iter().any(|(tag, _)| matches!(*tag, "code" | "pre"));
    let language_code = name == "code" && parent == Some("pre");
    if in_code && !language_code {
        return Err(format!("<{name}> inside code"));
    }
    if matches!(name, "pre" | "blockquote") && parent.is_some() {
        return Err(format!("<{name}> inside <{}>", parent.unwrap_or_default()));
    }
    if name == "code" && open.iter().any(|(tag, _)| *tag == "a") {
        return Err("<code> inside <a>".into());
    }
    let attribute_ok = match name {
        "a" => attribute_value(attributes, "href").is_some_and(|url| {
            ["http://", "https://", "mailto:", "tg://"]
                .iter()
                .any(|scheme| url.to_ascii_lowercase().starts_with(scheme))
        }),
        "code" if language_code && !attributes.is_empty() => attribute_value(attributes, "class")
            .is_some_and(|class| {
                class.strip_prefix("language-").is_some_and(|lang| {
                    !lang.is_empty()
                        && lang
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b))
                })
            }),
        _ => attributes.is_empty(),
    };
    if attribute_ok {
        Ok(())
    } else {
        Err(format!("bad attributes on <{name}>: {attributes:?}"))
    }
}

/// The value of the only attribute, `name="value"`, with entities decoded; none if it is anything else.
fn attribute_value(attributes: &str, name: &str) -> Option<String> {
    let value = attributes
        .strip_prefix(name)?
        .strip_prefix("=\"")?
        .strip_suffix('"')?;
    if value.contains(['"', '<', '>']) {
        return None;
    }
    telegram_text(value).ok()
}

/// Checks a rendered reply's parts, each given as its HTML and the plain text it should show: Telegram
/// accepts the HTML ([`telegram_text`]), it shows exactly the plain text, which is not blank and fits in
/// `limit` UTF-16 units (what Telegram counts). Panics naming the part and `source` (what was rendered)
/// otherwise.
pub fn check_parts<'a>(
    source: &str,
    parts: impl IntoIterator<Item = (&'a str, &'a str)>,
    limit: usize,
) {
    for (k, (html, plain)) in parts.into_iter().enumerate() {
        let shown =
            telegram_text(html).unwrap_or_else(|e| panic!("part {k} of {source:?}: {e}\n{html}"));
        assert_eq!(shown, plain, "part {k} of {source:?}");
        let units: usize = shown.chars().map(char::len_utf16).sum();
        assert!(
            units <= limit,
            "part {k} of {source:?}: {units} UTF-16 units"
        );
        assert!(!shown.trim().is_empty(), "empty part {k} of {source:?}");
    }
}

/// Pieces that random Markdown is made of: every marker, and the characters that need escaping (the
/// renderer's random tests and property tests put them together).
pub const MARKDOWN_PIECES: [&str; 36] = [
    "*",
    "**",
    "_",
    "__",
    "~~",
    "~",
    "`",
    "``",
    "```",
    "```py\n",
    "~~~\n",
    "\n```\n",
    "[",
    "]",
    "(",
    ")",
    "](https://e.x/a_b?c=1&d=\"2\")",
    "](javascript:x)",
    "<",
    ">",
    "&",
    "\"",
    " ",
    " ",
    "\n",
    "\n\n",
    "\r\n",
    "> ",
    "# ",
    "word",
    "snake_case",
    "2*3",
    "é",
    "😀",
    "\t",
    "longwordwithoutanyspaces",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checker_rejects_html_telegram_would_not_take() {
        for html in [
            "<b>x",
            "x</b>",
            "<b><i>x</b></i>",
            "a < b",
            "a > b",
            "a & b",
            "&nbsp;",
            "<p>x</p>",
            "<b></b>",
            "<b> </b>",
            "<b><b>x</b></b>",
            "<code><b>x</b></code>",
            "<a href=\"https://x\"><code>x</code></a>",
            "<a href=\"javascript:x\">x</a>",
            "<a href=\"https://x\" onclick=\"y\">x</a>",
            "<a href=\"https://x\"y\">x</a>",
            "<pre><code class=\"language-a b\">x</code></pre>",
            "<code class=\"language-rust\">x</code>",
            "<b><blockquote>x</blockquote></b>",
        ] {
            assert!(telegram_text(html).is_err(), "{html}");
        }
        assert_eq!(
            telegram_text(
                "<b>a</b> &amp; <pre><code class=\"language-rust\">x</code></pre>\
                 <a href=\"https://e.x/?a=1&amp;b=&quot;2&quot;\"><i>t</i></a> <u>u</u><tg-spoiler>s</tg-spoiler>"
            ),
            Ok("a & xt us".into())
        );
    }
}
