//! How an agent's Markdown reply becomes Telegram messages.
//!
//! The reply is parsed by pulldown-cmark (CommonMark with tables, strikethrough and task lists) and
//! rendered for Telegram's HTML parse mode, which knows a handful of tags and needs only `<`, `>` and `&`
//! escaped. What Telegram has no markup for is written out: headings bold, list items with bullets or
//! numbers and indented by depth, task items as ☐/☑, tables as monospace `<pre>` blocks with aligned
//! columns, images as links, rules as a line. Raw HTML in the reply is shown as text, and links are made
//! only for http, https, mailto and tg URLs (any other shows its text). A part Telegram still refuses can
//! be resent as the same text without markup ([`Part::plain`]).
//!
//! Long replies are split after rendering, on the text Telegram will show (which is what its 4096-unit
//! limit counts): each part's text fits in [`PART_UTF16`] units, cut preferably at a blank line, then a
//! line break, then a space. A cut never falls inside a tag or an entity: the markup open at a cut (a code
//! block, a quote, bold text) is closed at the end of one part and opened again at the start of the next.

use pulldown_cmark::{Alignment, CodeBlockKind, Event, LinkType, Options, Parser, Tag, TagEnd};

/// Telegram's limit on a message's text, in UTF-16 code units after entity parsing.
pub const MAX_MESSAGE_UTF16: usize = 4096;

/// What we aim parts at: a margin below the limit.
pub const PART_UTF16: usize = 4000;

/// The schemes a link may have to become `<a href>`: anything else (`javascript:`, `data:`, a relative
/// path) shows the link's text only.
const LINK_SCHEMES: [&str; 4] = ["http://", "https://", "mailto:", "tg://"];

/// The longest language name kept on a code block (it goes into a class attribute).
const MAX_LANG_LEN: usize = 32;

/// The length of a text as Telegram counts it: UTF-16 code units (characters outside the Basic
/// Multilingual Plane, like most emoji, count twice).
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Escapes text for Telegram's HTML parse mode: & < > (and " so it is safe inside attribute values).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// One message of a reply: `html` for parse_mode "HTML", `plain` the text it shows (sent without
/// parse_mode when Telegram rejects the HTML).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub html: String,
    pub plain: String,
}

/// Renders a Markdown reply and splits it into parts.
///
/// Every part's text (`plain`, and what Telegram shows for `html`) fits in [`PART_UTF16`] units. An empty
/// or whitespace-only reply has no parts.
pub fn render_reply(markdown: &str) -> Vec<Part> {
    let pieces = render(markdown);
    split(&pieces, PART_UTF16)
        .into_iter()
        .map(|part| serialize(&part))
        .filter(|part| !part.plain.is_empty())
        .collect()
}

/// The preview shown while a reply streams: plain text, cut to fit one message (ending with "…" when
/// cut).
pub fn streaming_preview(text_so_far: &str) -> String {
    let text = text_so_far.trim();
    if utf16_len(text) <= PART_UTF16 {
        return text.to_owned();
    }
    let cut = cut_point(text, PART_UTF16, &[is_whitespace]);
    format!("{}…", text[..cut].trim_end())
}

/// A Telegram HTML element: its tag name and at most one attribute (`href` on `a`, `class` on a code
/// block's `code`), unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Element {
    name: &'static str,
    attribute: Option<(&'static str, String)>,
}

impl Element {
    const fn plain(name: &'static str) -> Self {
        Element {
            name,
            attribute: None,
        }
    }
}

/// Rendered markup, flat: elements open and close properly nested, text is unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Open(Element),
    Close,
    Text(String),
}

/// Markup that cannot hold a copy of itself or that must stand alone in Telegram: a code span, and the
/// block-level `pre` and `blockquote`, which are opened only outside any other element.
fn is_block(name: &str) -> bool {
    matches!(name, "pre" | "blockquote")
}

/// Renders Markdown as Telegram markup (see the module documentation for what becomes what).
fn render(markdown: &str) -> Vec<Piece> {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut renderer = Renderer::default();
    for event in Parser::new_ext(markdown, options) {
        renderer.event(event);
    }
    renderer.out
}

/// A list being rendered: the number of its next item, none for a bullet list.
struct List {
    next: Option<u64>,
}

/// The start of a list item, written with the item's first content (a task item shows a box instead of
/// its bullet).
struct ItemMarker {
    indent: String,
    number: Option<u64>,
}

impl ItemMarker {
    fn text(&self, task: Option<bool>) -> String {
        let number = self.number.map(|n| format!("{n}. ")).unwrap_or_default();
        let mark = match task {
            Some(true) => "☑ ",
            Some(false) => "☐ ",
            None if self.number.is_some() => "",
            None => "• ",
        };
        format!("{}{number}{mark}", self.indent)
    }
}

/// A table being read: its columns' alignments and its cells' text, row by row.
struct Table {
    alignments: Vec<Alignment>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// The table as monospace lines: columns padded to their widest cell, a rule under the header.
    fn text(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let width = |column: usize| {
            self.rows
                .iter()
                .filter_map(|row| row.get(column))
                .map(|cell| display_width(cell))
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..columns).map(width).collect();
        let line = |row: &Vec<String>| {
            let cells: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(column, &width)| {
                    let cell = row.get(column).map_or("", String::as_str).trim();
                    let pad = width.saturating_sub(display_width(cell));
                    let (left, right) = match self.alignments.get(column) {
                        Some(Alignment::Right) => (pad, 0),
                        Some(Alignment::Center) => (pad / 2, pad - pad / 2),
                        _ => (0, pad),
                    };
                    format!("{}{cell}{}", " ".repeat(left), " ".repeat(right))
                })
                .collect();
            cells.join(" | ").trim_end().to_owned()
        };
        let rule: Vec<String> = widths.iter().map(|&width| "-".repeat(width)).collect();
        let mut lines: Vec<String> = self.rows.iter().map(line).collect();
        if !lines.is_empty() {
            lines.insert(1, rule.join("-|-"));
        }
        lines.join("\n")
    }
}

/// How many monospace columns `text` takes, near enough for aligning table columns: East Asian wide
/// characters and emoji take two, combining marks, variation selectors and joiners none.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| match u32::from(c) {
            0x0300..=0x036F | 0x200B..=0x200F | 0xFE00..=0xFE0F => 0,
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1FAFF
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

/// A code or HTML block being read: written whole at its end.
struct Verbatim {
    text: String,
    /// The code block's language (`None` for HTML, shown as text).
    language: Option<String>,
    code: bool,
}

/// Turns parser events into pieces of Telegram markup.
#[derive(Default)]
struct Renderer {
    out: Vec<Piece>,
    /// The names of the elements open in `out`, innermost last.
    open: Vec<&'static str>,
    /// For each emphasis, strong, strikethrough, link, image, heading and quote being rendered, whether it
    /// opened an element (a style already open, or a link inside a link, is not opened again).
    opened: Vec<bool>,
    /// What goes before the next content: a blank line between blocks, a line break between list items.
    separator: &'static str,
    lists: Vec<List>,
    item: Option<ItemMarker>,
    table: Option<Table>,
    verbatim: Option<Verbatim>,
    /// Where the image link being rendered starts in `out`, and its URL (its text when it has no alt text).
    image: Option<(usize, String)>,
}

impl Renderer {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) | Event::InlineHtml(text) | Event::Html(text) => self.text(&text),
            Event::Code(code) => {
                if self.may_open("code") {
                    self.push_open(Element::plain("code"));
                    self.text(&code);
                    self.push_close();
                } else {
                    self.text(&code);
                }
            }
            Event::SoftBreak | Event::HardBreak => self.text("\n"),
            Event::Rule => {
                self.text("———");
                self.end_block();
            }
            Event::TaskListMarker(checked) => {
                if let Some(marker) = self.item.take() {
                    self.text(&marker.text(Some(checked)));
                }
            }
            // Not enabled in the parser's options.
            Event::FootnoteReference(_) | Event::InlineMath(_) | Event::DisplayMath(_) => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Emphasis => self.start_container(Element::plain("i")),
            Tag::Strong | Tag::Heading { .. } => self.start_container(Element::plain("b")),
            Tag::Strikethrough => self.start_container(Element::plain("s")),
            Tag::BlockQuote(_) => self.start_container(Element::plain("blockquote")),
            Tag::Link {
                link_type,
                dest_url,
                ..
            } => {
                let url = match link_type {
                    LinkType::Email => format!("mailto:{dest_url}"),
                    _ => dest_url.into_string(),
                };
                self.start_link(url);
            }
            Tag::Image { dest_url, .. } => {
                self.start_link(dest_url.to_string());
                self.image = Some((self.out.len(), dest_url.into_string()));
            }
            Tag::CodeBlock(kind) => {
                let language = match kind {
                    CodeBlockKind::Fenced(info) => info
                        .split_whitespace()
                        .next()
                        .filter(|lang| is_safe_lang(lang))
                        .map(str::to_owned),
                    CodeBlockKind::Indented => None,
                };
                self.verbatim = Some(Verbatim {
                    text: String::new(),
                    language,
                    code: true,
                });
            }
            Tag::HtmlBlock => {
                self.verbatim = Some(Verbatim {
                    text: String::new(),
                    language: None,
                    code: false,
                });
            }
            Tag::List(first) => self.lists.push(List { next: first }),
            Tag::Item => {
                if self.separator.is_empty() {
                    self.separator = "\n";
                }
                let depth = self.lists.len().saturating_sub(1);
                let number = self.lists.last_mut().and_then(|list| {
                    let number = list.next;
                    list.next = number.map(|n| n + 1);
                    number
                });
                self.item = Some(ItemMarker {
                    indent: "  ".repeat(depth),
                    number,
                });
            }
            Tag::Table(alignments) => {
                self.table = Some(Table {
                    alignments,
                    rows: Vec::new(),
                });
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(table) = &mut self.table {
                    table.rows.push(Vec::new());
                }
            }
            Tag::TableCell => {
                if let Some(row) = self.table.as_mut().and_then(|table| table.rows.last_mut()) {
                    row.push(String::new());
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Link => {
                self.end_container();
            }
            TagEnd::Heading(_) | TagEnd::BlockQuote(_) => {
                self.end_container();
                self.end_block();
            }
            TagEnd::Image => {
                let image = self.image.take();
                if let Some((start, url)) = image {
                    let has_text = self.out[start..]
                        .iter()
                        .any(|p| matches!(p, Piece::Text(_)));
                    if !has_text && self.opened.last() == Some(&true) {
                        self.text(&url);
                    }
                }
                self.end_container();
            }
            TagEnd::CodeBlock | TagEnd::HtmlBlock => {
                if let Some(block) = self.verbatim.take() {
                    self.block_text(block);
                }
                self.end_block();
            }
            TagEnd::Paragraph => self.end_block(),
            TagEnd::Item => {
                if let Some(marker) = self.item.take() {
                    self.text(&marker.text(None));
                }
                self.end_block();
            }
            TagEnd::List(_) => {
                self.lists.pop();
                self.end_block();
            }
            TagEnd::Table => {
                if let Some(table) = self.table.take() {
                    self.block_text(Verbatim {
                        text: table.text(),
                        language: None,
                        code: true,
                    });
                }
                self.end_block();
            }
            _ => {}
        }
    }

    /// Appends visible text: to the block or table cell being read, or to the output.
    fn text(&mut self, text: &str) {
        if let Some(block) = &mut self.verbatim {
            block.text.push_str(text);
        } else if let Some(table) = &mut self.table {
            if let Some(cell) = table.rows.last_mut().and_then(|row| row.last_mut()) {
                cell.push_str(&text.replace('\n', " "));
            }
        } else if !text.is_empty() {
            self.start_content();
            match self.out.last_mut() {
                Some(Piece::Text(last)) => last.push_str(text),
                _ => self.out.push(Piece::Text(text.to_owned())),
            }
        }
    }

    /// A code block, table or HTML block: code and tables as `<pre>` where one may stand, text elsewhere.
    fn block_text(&mut self, block: Verbatim) {
        let text = block.text.trim_end_matches(['\n', '\r']);
        if !block.code || !self.may_open("pre") {
            self.text(text);
        } else if !text.trim().is_empty() {
            self.push_open(Element::plain("pre"));
            if let Some(language) = block.language {
                self.push_open(Element {
                    name: "code",
                    attribute: Some(("class", format!("language-{language}"))),
                });
                self.text(text);
                self.push_close();
            } else {
                self.text(text);
            }
            self.push_close();
        }
    }

    /// Writes what is due before content: the separator after the previous block, a list item's marker.
    fn start_content(&mut self) {
        let separator = std::mem::take(&mut self.separator);
        if !self.out.is_empty() && !separator.is_empty() {
            self.out.push(Piece::Text(separator.to_owned()));
        }
        if let Some(marker) = self.item.take() {
            self.out.push(Piece::Text(marker.text(None)));
        }
    }

    /// After a block: a blank line before the next one, or a line break inside a list.
    fn end_block(&mut self) {
        if self.separator != "\n\n" {
            self.separator = if self.lists.is_empty() { "\n\n" } else { "\n" };
        }
    }

    /// Whether an element may open here: never in a table (tables are plain text) or inside code, never
    /// inside itself, `pre` and `blockquote` only outside everything, and no code inside a link.
    fn may_open(&self, name: &str) -> bool {
        self.table.is_none()
            && !self.open.contains(&name)
            && !self.open.iter().any(|open| matches!(*open, "code" | "pre"))
            && (!is_block(name) || self.open.is_empty())
            && (name != "code" || !self.open.contains(&"a"))
    }

    fn push_open(&mut self, element: Element) {
        self.start_content();
        self.open.push(element.name);
        self.out.push(Piece::Open(element));
    }

    fn push_close(&mut self) {
        self.open.pop();
        self.out.push(Piece::Close);
    }

    fn start_container(&mut self, element: Element) {
        let opens = self.may_open(element.name);
        if opens {
            self.push_open(element);
        }
        self.opened.push(opens);
    }

    fn end_container(&mut self) {
        if self.opened.pop() == Some(true) {
            self.push_close();
        }
    }

    /// A link, or an image shown as a link: an `<a>` for a safe URL, the text alone otherwise.
    fn start_link(&mut self, url: String) {
        if is_safe_url(&url) && self.may_open("a") {
            self.start_container(Element {
                name: "a",
                attribute: Some(("href", url)),
            });
        } else {
            self.opened.push(false);
        }
    }
}

fn is_safe_url(url: &str) -> bool {
    LINK_SCHEMES.iter().any(|scheme| {
        url.len() > scheme.len()
            && url
                .get(..scheme.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
    })
}

fn is_safe_lang(lang: &str) -> bool {
    lang.len() <= MAX_LANG_LEN
        && lang
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b))
}

/// The HTML and the text of a part. A start tag waits for its element's first visible text, so an element
/// with none (Telegram refuses empty entities) is left out, and whitespace before that text goes before
/// the tag.
fn serialize(pieces: &[Piece]) -> Part {
    let pieces = trimmed(pieces);
    let (mut html, mut plain) = (String::new(), String::new());
    // The elements open at this point, and whether their start tag is written yet.
    let mut open: Vec<(&Element, bool)> = Vec::new();
    for piece in &pieces {
        match piece {
            Piece::Open(element) => open.push((element, false)),
            Piece::Close => {
                if let Some((element, true)) = open.pop() {
                    html.push_str("</");
                    html.push_str(element.name);
                    html.push('>');
                }
            }
            Piece::Text(text) => {
                if !text.trim().is_empty() {
                    for (element, written) in open.iter_mut().filter(|(_, written)| !*written) {
                        html.push('<');
                        html.push_str(element.name);
                        if let Some((name, value)) = &element.attribute {
                            html.push_str(&format!(" {name}=\"{}\"", escape_html(value)));
                        }
                        html.push('>');
                        *written = true;
                    }
                }
                html.push_str(&escape_html(text));
                plain.push_str(text);
            }
        }
    }
    Part { html, plain }
}

/// `pieces` without the whitespace their text starts and ends with; at the start of a code block only
/// line breaks, as its indentation is code.
fn trimmed(pieces: &[Piece]) -> Vec<Piece> {
    let mut pieces = pieces.to_vec();
    let mut in_pre = false;
    for piece in pieces.iter_mut() {
        match piece {
            Piece::Open(element) => in_pre |= element.name == "pre",
            Piece::Close => {}
            Piece::Text(text) => {
                let kept = if in_pre {
                    text.trim_start_matches(['\n', '\r'])
                } else {
                    text.trim_start()
                };
                *text = kept.to_owned();
                if !text.is_empty() {
                    break;
                }
            }
        }
    }
    for piece in pieces.iter_mut().rev() {
        if let Piece::Text(text) = piece {
            *text = text.trim_end().to_owned();
            if !text.is_empty() {
                break;
            }
        }
    }
    pieces
}

/// Cuts rendered markup into parts whose text fits in `limit` UTF-16 units (see [`cut_point`] for
/// where), each with the elements open at its cuts closed and reopened.
fn split(pieces: &[Piece], limit: usize) -> Vec<Vec<Piece>> {
    // The text the reply shows, and the ranges of it that are inside code blocks.
    let mut visible = String::new();
    let mut in_pre = Vec::new();
    let mut open = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Open(element) => open.push(element.name),
            Piece::Close => drop(open.pop()),
            Piece::Text(text) => {
                let start = visible.len();
                visible.push_str(text);
                if open.contains(&"pre") {
                    in_pre.push(start..visible.len());
                }
            }
        }
    }
    let mut parts = Vec::new();
    let mut start = 0;
    loop {
        // Skip what the part would trim anyway (see `trimmed`), so the budget goes to text it keeps.
        while let Some(c) = visible[start..].chars().next() {
            let code = in_pre.iter().any(|range| range.contains(&start));
            if matches!(c, '\n' | '\r') || (c.is_whitespace() && !code) {
                start += c.len_utf8();
            } else {
                break;
            }
        }
        if start >= visible.len() {
            return parts;
        }
        let cut = cut_point(
            &visible[start..],
            limit,
            &[is_paragraph_break, is_line_break, is_space],
        );
        parts.push(slice(pieces, start..start + cut));
        start += cut;
    }
}

/// The pieces showing the text in `range` of the reply's text: the elements open where it starts opened
/// first, and those open where it ends closed last.
fn slice(pieces: &[Piece], range: std::ops::Range<usize>) -> Vec<Piece> {
    let mut part = Vec::new();
    // The elements open at this point of the reply, and whether `part` opened them.
    let mut open: Vec<(&Element, bool)> = Vec::new();
    let mut at = 0;
    for piece in pieces {
        if at >= range.end {
            break;
        }
        match piece {
            Piece::Open(element) => {
                let started = !part.is_empty();
                if started {
                    part.push(Piece::Open(element.clone()));
                }
                open.push((element, started));
            }
            Piece::Close => {
                if let Some((_, true)) = open.pop() {
                    part.push(Piece::Close);
                }
            }
            Piece::Text(text) => {
                let (from, to) = (range.start.max(at), range.end.min(at + text.len()));
                if from < to {
                    if part.is_empty() {
                        for (element, opened) in &mut open {
                            part.push(Piece::Open((*element).clone()));
                            *opened = true;
                        }
                    }
                    part.push(Piece::Text(text[from - at..to - at].to_owned()));
                }
                at += text.len();
            }
        }
    }
    part.extend(
        open.iter()
            .filter(|(_, opened)| *opened)
            .map(|_| Piece::Close),
    );
    part
}

/// A test for a good place to cut a text: `is_break(bytes, i)` says whether cutting before byte `i`
/// (always an ASCII character) falls on such a place.
type Break = fn(&[u8], usize) -> bool;

/// Where to cut `text` so that what comes before fits in `budget` UTF-16 units: the whole text if it
/// fits, else the last place in the second half of what fits that one of `breaks` accepts (tried in
/// order), else as much as fits. Never cuts inside a character and always takes at least one.
fn cut_point(text: &str, budget: usize, breaks: &[Break]) -> usize {
    let first = text.chars().next().map_or(0, char::len_utf8);
    let max = fitting_prefix(text, budget).max(first);
    if max >= text.len() {
        return text.len();
    }
    let bytes = text.as_bytes();
    let min = (max / 2).max(1);
    breaks
        .iter()
        .find_map(|is_break| (min..=max).rev().find(|&i| is_break(bytes, i)))
        .unwrap_or(max)
}

/// The byte length of the longest prefix of `text` within `budget` UTF-16 units.
fn fitting_prefix(text: &str, budget: usize) -> usize {
    let mut used = 0;
    text.char_indices()
        .find_map(|(i, c)| {
            used += c.len_utf16();
            (used > budget).then_some(i)
        })
        .unwrap_or(text.len())
}

/// A line ending starts at `i` (before the `\r` of a `\r\n`, so the pair is never split).
fn is_line_break(bytes: &[u8], i: usize) -> bool {
    match bytes[i] {
        b'\n' => i == 0 || bytes[i - 1] != b'\r',
        b'\r' => bytes.get(i + 1) == Some(&b'\n'),
        _ => false,
    }
}

/// A line ending starts at `i` and the line after it is blank.
fn is_paragraph_break(bytes: &[u8], i: usize) -> bool {
    if !is_line_break(bytes, i) {
        return false;
    }
    let after = &bytes[i..];
    let Some(end) = after.iter().position(|&b| b == b'\n') else {
        return false;
    };
    let next = &after[end + 1..];
    next.iter()
        .position(|&b| b == b'\n')
        .is_some_and(|len| next[..len].iter().all(u8::is_ascii_whitespace))
}

/// A space or tab is at `i`.
fn is_space(bytes: &[u8], i: usize) -> bool {
    matches!(bytes[i], b' ' | b'\t')
}

/// Any whitespace is at `i`.
fn is_whitespace(bytes: &[u8], i: usize) -> bool {
    bytes[i].is_ascii_whitespace()
}
