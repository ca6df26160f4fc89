//! The Telegram renderer against the shared corpus of sample replies (`testdata/markdown`, also rendered
//! by the web tests), specific outputs for the interesting cases, random Markdown, and long replies: every
//! part must be HTML that Telegram's parse mode accepts, and fit its 4096-unit limit.

use std::path::PathBuf;

use serverless_openclaw_telegram::format::{
    MAX_MESSAGE_UTF16, PART_UTF16, Part, render_reply, streaming_preview, utf16_len,
};
use serverless_openclaw_testkit::telegram_html::{MARKDOWN_PIECES, check_parts};

/// The parts of a reply, each checked by the strict reader of Telegram's HTML (accepted, showing its
/// `plain`, fitting in a part).
fn checked_parts(markdown: &str) -> Vec<Part> {
    let parts = render_reply(markdown);
    check_parts(
        markdown,
        parts.iter().map(|p| (p.html.as_str(), p.plain.as_str())),
        PART_UTF16,
    );
    parts
}

/// The HTML of a reply that fits in one message.
fn html(markdown: &str) -> String {
    let parts = checked_parts(markdown);
    assert_eq!(parts.len(), 1, "{markdown:?}");
    parts[0].html.clone()
}

fn corpus() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/markdown");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn sample(name: &str) -> String {
    corpus()
        .into_iter()
        .find(|(file, _)| file == name)
        .unwrap_or_else(|| panic!("no {name} in the corpus"))
        .1
}

#[test]
fn every_corpus_sample_renders_to_html_telegram_accepts() {
    let corpus = corpus();
    assert_eq!(corpus.len(), 11);
    for (name, markdown) in corpus {
        let parts = checked_parts(&markdown);
        assert!(!parts.is_empty(), "{name}");
        let all: String = parts.iter().map(|part| part.html.as_str()).collect();
        // Escaped text may say anything; what must not be there is markup (the checker allows only
        // Telegram's tags and safe hrefs): a hostile tag or link.
        for hostile in [
            "<script",
            "<img",
            "<iframe",
            "href=\"javascript:",
            "href=\"data:",
        ] {
            assert!(!all.contains(hostile), "{name}: {hostile}\n{all}");
        }
    }
}

#[test]
fn escaped_markers_stay_literal_characters() {
    assert_eq!(html(r"\*x\*"), "*x*");
    assert_eq!(
        html(&sample("escapes.md")),
        "*not italic* and _not italic_ and `not code`\n\n1. not a list\n\n# not a heading\n\n\
         A literal backslash: C:\\Users\\me and a &lt;tag&gt;.\n\nEntities: &amp; &lt;b&gt; © #"
    );
}

#[test]
fn a_table_becomes_a_monospace_block_with_aligned_columns() {
    assert_eq!(
        html(&sample("table.md")),
        "Here are the results:\n\n<pre>\
         Crate    | Version | Build time | Notes\n\
         ---------|---------|------------|----------------------------\n\
         core     |  0.1.0  |       12 s | no AWS, no &lt;tokio&gt;\n\
         telegram |  0.1.0  |        4 s | bold cell &amp; a pipe | inside\n\
         lambdas  |  0.1.0  |      210 s |</pre>\n\nThat's all."
    );
    assert!(
        html(&sample("unicode.md"))
            .contains("<pre>Name  | Emoji\n------|------\nparty | 🎉\n你好  | 👩‍💻</pre>")
    );
}

#[test]
fn lists_get_bullets_numbers_and_indentation_and_task_items_boxes() {
    assert_eq!(
        html(&sample("nested-lists.md")),
        "Steps:\n\n• Install the tools\n  • Node 24\n  • Rust\n    1. rustup\n    2. cargo\n\
         • Build the web page\n• Run the tests\n\n3. third\n4. fourth\n\n• loose item one\n• loose item two"
    );
    assert_eq!(
        html(&sample("task-list.md")),
        "Plan for today:\n\n☑ read the issue\n☐ write the renderer\n  ☑ tables\n  ☐ task lists\n☐ measure the bundle"
    );
    assert_eq!(html("1. [x] done\n2. [ ] not"), "1. ☑ done\n2. ☐ not");
}

#[test]
fn code_blocks_keep_their_language_and_code_is_never_interpreted() {
    assert_eq!(
        html(&sample("code.md")),
        "Run this:\n\n<pre><code class=\"language-rust\">fn main() {\n    let tag = &quot;&lt;b&gt;&amp;amp;&lt;/b&gt;&quot;;\n    \
         println!(&quot;{tag}&quot;);\n}</code></pre>\n\nOr in a shell:\n\n<pre>ls -la | grep &quot;&lt;none&gt;&quot;</pre>\n\n\
         <pre><code class=\"language-python\">print(&quot;tilde fence&quot;)</code></pre>\n\n\
         Inline: <code>a &lt; b &amp;&amp; c &gt; d</code>, <code>code with ` backtick</code>, and <code>`x`</code>."
    );
    assert_eq!(html("```js\" onload=\"x\ncode\n```"), "<pre>code</pre>");
    assert_eq!(html("```\n\n```\nafter"), "after");
}

#[test]
fn links_keep_only_safe_schemes_and_images_become_links() {
    assert_eq!(
        html(&sample("links.md")),
        "Good: <a href=\"https://example.com/docs?a=1&amp;b=2\">the docs</a>, <a href=\"mailto:me@example.com\">mail me</a>, \
         <a href=\"https://example.org/auto\">https://example.org/auto</a>, and https://example.net/bare.\n\n\
         Bot link: <a href=\"tg://resolve?domain=example\">open chat</a>\n\n\
         Bad: click me, data, home, rel, javascript:alert(2)\n\n\
         Image: <a href=\"https://example.com/diagram.png\">a diagram</a> and a linked one <a href=\"https://example.com/\">logo</a>\n\n\
         Bad image: pixel"
    );
    assert_eq!(
        html("![](https://e.x/p.png)"),
        "<a href=\"https://e.x/p.png\">https://e.x/p.png</a>"
    );
    assert_eq!(
        html("<me@example.com>"),
        "<a href=\"mailto:me@example.com\">me@example.com</a>"
    );
}

#[test]
fn raw_html_is_shown_as_text() {
    assert_eq!(
        html(&sample("hostile-html.md")),
        "&lt;script&gt;window.__pwned = 1&lt;/script&gt;\n\n\
         Inline &lt;img src=x onerror=&quot;window.__pwned = 2&quot;&gt; image and &lt;a href=&quot;javascript:alert(1)&quot;&gt;a link&lt;/a&gt;.\n\n\
         <b>&lt;b onclick=&quot;alert(3)&quot;&gt;bold html&lt;/b&gt;</b> and &lt;iframe src=&quot;https://evil.example&quot;&gt;&lt;/iframe&gt;\n\n\
         &lt;style&gt;body { display: none }&lt;/style&gt;\n\n\
         • &lt;svg onload=&quot;alert(4)&quot;&gt;&lt;/svg&gt; in a list\n• x and y and z\n\n\
         <pre>code with a hostile info string</pre>"
    );
}

#[test]
fn emphasis_headings_and_quotes_become_telegram_markup() {
    assert_eq!(
        html(&sample("emphasis.md")),
        "<b>bold</b> and <i>italic</i> and <b>bold</b> and <i>italic</i> and <i><b>both</b></i>\n\n\
         <s>struck</s> and <b>bold <i>italic</i> bold</b> and <i>italic <b>bold</b> italic</i>\n\n\
         snake_case_name and 2 * 3 * 4 and 2<i>3</i>4\n\n**not closed and *also not\n\n\
         <a href=\"https://example.com\"><b>bold link</b></a> and <code>**not bold in code**</code>"
    );
    assert_eq!(
        html(&sample("headings-quotes.md")),
        "<b>Title</b>\n\n<b>Subtitle</b>\n\nSome text.\n\n———\n\n\
         <blockquote>A quote with <i>emphasis</i>\n\n• and a list\n• inside it\n\nnested quote</blockquote>\n\n\
         #hashtag is not a heading"
    );
    assert_eq!(html("# **Deep** C#"), "<b>Deep C#</b>");
    assert_eq!(html("**a __b__ c**"), "<b>a b c</b>");
    assert_eq!(html("[`t`](https://e.x)"), "<a href=\"https://e.x\">t</a>");
}

#[test]
fn a_long_reply_splits_into_parts_that_fit_and_reopen_the_code_block() {
    let markdown = sample("long.md");
    let parts = checked_parts(&markdown);
    assert!(parts.len() >= 3, "{}", parts.len());
    let code_parts: Vec<&Part> = parts
        .iter()
        .filter(|part| part.html.contains("value_"))
        .collect();
    assert!(code_parts.len() >= 2);
    for part in &code_parts[1..] {
        assert!(
            part.html
                .starts_with("<pre><code class=\"language-python\">    value_"),
            "reopened with its language and indentation: {:.60}",
            part.html
        );
    }
    let essence = |s: &str| -> String { s.chars().filter(|c| !c.is_whitespace()).collect() };
    let shown: String = parts.iter().map(|part| part.plain.as_str()).collect();
    assert!(essence(&shown).contains(&essence(&format!("Done: {}", "😀".repeat(50)))));
    assert_eq!(essence(&shown).matches("value_").count(), 120);
}

#[test]
fn a_huge_table_is_cut_between_rows_into_monospace_blocks() {
    let rows: String = (0..400)
        .map(|n| format!("| {n} | {} |\n", "x".repeat(20)))
        .collect();
    let parts = checked_parts(&format!("| n | text |\n|---|---|\n{rows}"));
    assert!(parts.len() >= 3);
    for part in &parts {
        assert!(part.html.starts_with("<pre>") && part.html.ends_with("</pre>"));
        assert!(
            part.plain.lines().all(|line| line.contains('|')),
            "{:.80}",
            part.plain
        );
    }
}

#[test]
fn empty_replies_have_no_parts() {
    assert_eq!(render_reply(""), []);
    assert_eq!(render_reply(" \n\r\n\t "), []);
}

#[test]
fn tricky_inputs_render_to_html_telegram_accepts() {
    for markdown in [
        "**a _b** c_",
        "_a **b_ c**",
        "*a _b* c_",
        "~~a **b~~ c**",
        "****",
        "** **",
        "__",
        "_",
        "*",
        "`",
        "``",
        "` `",
        "`a",
        "``a`b``",
        "`**`**",
        "**`**`",
        "*a `*` b*",
        "***a***",
        "_a_b_",
        "__init__",
        "a*b*",
        "*a*b",
        "😀**😀**😀",
        "\u{200d}**x**\u{200d}",
        "\r\n**a**\r\n",
        "a\rb",
        "[a](https://x",
        "[a]( https://x)",
        "[a](https://x/)y)",
        "[[a](https://x)](https://y)",
        "[a [b](https://x)",
        "[`a](https://x)`",
        "[a](https://x`)`",
        "]](",
        "<a href=\"x\">",
        "&amp; &lt; & &#38; &nbsp;",
        "a > b >> c",
        "#",
        "# ",
        "# **a**",
        "###### **",
        "> ",
        "> **a\n> b**",
        "> `a\n> b`",
        "> # a",
        "~~~",
        "```\n",
        "```rust\n<b>\n",
        "~~a~~~",
        "~~~a~~",
        "[t](HTTPS://X)",
        "**[a](https://x)** _[b](https://y)_",
        "[**a](https://x)**",
    ] {
        checked_parts(markdown);
    }
}

#[test]
fn streaming_previews_fit_one_message() {
    assert_eq!(streaming_preview("  Thinking… "), "Thinking…");
    assert_eq!(streaming_preview(" \n "), "");
    let long = "lorem ipsum\ndolor sit amet ".repeat(400);
    let preview = streaming_preview(&long);
    let cut = preview.strip_suffix('…').expect("ends with an ellipsis");
    assert!((3900..=PART_UTF16).contains(&utf16_len(cut)));
    assert!(long.starts_with(cut));
    let unbroken = "😀".repeat(3000);
    assert_eq!(utf16_len(&streaming_preview(&unbroken)), PART_UTF16 + 1);
}

/// Deterministic pseudo-random Markdown (xorshift), so a failure reproduces.
fn random_markdown(seed: &mut u64, max_pieces: usize) -> String {
    let mut next = |n: usize| {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed % n as u64) as usize
    };
    let count = next(max_pieces + 1);
    (0..count)
        .map(|_| MARKDOWN_PIECES[next(MARKDOWN_PIECES.len())])
        .collect()
}

#[test]
fn random_markdown_renders_to_html_telegram_accepts() {
    let mut seed = 0x5eed_cafe_f00d_u64;
    for _ in 0..3000 {
        checked_parts(&random_markdown(&mut seed, 40));
    }
}

#[test]
fn random_long_markdown_splits_into_parts_below_the_limit() {
    let mut seed = 0x0dd_ba11_u64;
    for _ in 0..100 {
        let markdown = random_markdown(&mut seed, 3000);
        for part in checked_parts(&markdown) {
            assert!(utf16_len(&part.plain) < MAX_MESSAGE_UTF16);
        }
    }
}
