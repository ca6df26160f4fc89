import { readdirSync, readFileSync } from 'node:fs';
import { renderToStaticMarkup } from 'react-dom/server';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadHighlighter } from './loadHighlighter';
import { Markdown } from './markdown';
import { safeHref } from './safeHref';

/** The markup of a reply, without the wrapper div and the newlines around tags outside code blocks. */
function html(text: string): string {
  const markup = renderToStaticMarkup(<Markdown text={text} />);
  expect(markup.startsWith('<div class="markdown">')).toBe(true);
  return markup
    .slice('<div class="markdown">'.length, -'</div>'.length)
    .split(/(<pre>[\s\S]*?<\/pre>)/)
    .map((piece) => (piece.startsWith('<pre>') ? piece : piece.replace(/>\n/g, '>').replace(/\n</g, '<')))
    .join('');
}

const copyBar = (language: string) =>
  `<div class="code-block-bar"><span class="code-block-language">${language}</span>` +
  `<button type="button" class="code-copy" data-testid="copy-code" data-state="idle" aria-label="Copy ${language} code">Copy</button></div>`;

/** The shared corpus of sample replies (testdata/markdown), also rendered by the Telegram tests. */
const corpusDir = new URL('../../testdata/markdown/', import.meta.url);
const corpus = new Map(readdirSync(corpusDir).map((name) => [name, readFileSync(new URL(name, corpusDir), 'utf8')]));
const rendered = (name: string) => {
  const text = corpus.get(name);
  if (text === undefined) throw new Error(`no ${name} in the corpus`);
  return html(text);
};
// The page loads the highlighter on the first code block; here it is loaded before rendering.
beforeAll(async () => {
  await loadHighlighter();
});

const count = (haystack: string, needle: string | RegExp) => haystack.split(needle).length - 1;

/** What no reply may ever produce: elements that run or load things, handlers, unsafe or unguarded links. */
function assertSafe(out: string) {
  expect(out).not.toMatch(/<(script|img|iframe|style|svg|object|embed|form|textarea|select)\b/i);
  for (const [tag] of out.matchAll(/<[a-z][^>]*>/gi)) expect(tag).not.toMatch(/\son[a-z]+=/i);
  expect(out).not.toMatch(/(href|src)="\s*(javascript|data|vbscript):/i);
  for (const [, attributes] of out.matchAll(/<a\b([^>]*)>/g)) {
    expect(attributes).toMatch(/^ href="(https?:\/\/|mailto:)[^"]*" target="_blank" rel="noopener noreferrer"$/);
  }
  for (const [input] of out.matchAll(/<input\b[^>]*>/g)) {
    expect(input).toMatch(/^<input type="checkbox" disabled="" readOnly=""( checked="")?\/>$/);
  }
}

describe('the shared corpus', () => {
  it('has the samples both renderers are tested on', () => {
    expect([...corpus.keys()].sort()).toEqual([
      'code.md',
      'emphasis.md',
      'escapes.md',
      'headings-quotes.md',
      'hostile-html.md',
      'links.md',
      'long.md',
      'nested-lists.md',
      'table.md',
      'task-list.md',
      'unicode.md',
    ]);
  });

  it.each([...corpus.keys()])('renders %s without anything that could run or load', (name) => {
    assertSafe(rendered(name));
  });

  it('renders a table in a horizontally scrolling wrapper, with its alignment', () => {
    const out = rendered('table.md');
    expect(out).toContain(
      '<div class="md-table-scroll"><table><thead><tr><th style="text-align:left">Crate</th><th style="text-align:center">Version</th>' +
        '<th style="text-align:right">Build time</th><th>Notes</th></tr></thead><tbody>',
    );
    expect(count(out, '<tr>')).toBe(4);
    expect(out).toContain('<td>no AWS, no <code>&lt;tokio&gt;</code></td>');
    expect(out).toContain('<td><strong>bold</strong> cell &amp; a pipe | inside</td>');
  });

  it('renders nested lists of both kinds, tight and loose', () => {
    const out = rendered('nested-lists.md');
    expect(out).toContain('<ul><li>Install the tools<ul><li>Node 24</li><li>Rust<ol><li>rustup</li><li>cargo</li></ol></li></ul></li>');
    expect(out).toContain('<ol start="3"><li>third</li><li>fourth</li></ol>');
    expect(out).toContain('<ul><li><p>loose item one</p></li><li><p>loose item two</p></li></ul>');
  });

  it('renders task list items as disabled checkboxes', () => {
    const out = rendered('task-list.md');
    expect(count(out, '<input type="checkbox" disabled=""')).toBe(5);
    expect(count(out, 'checked=""')).toBe(2);
    expect(out).toContain('<li class="task-list-item"><input type="checkbox" disabled="" readOnly="" checked=""/> read the issue</li>');
  });

  it('renders fenced code with Copy buttons and colours, and inline code as text', () => {
    const out = rendered('code.md');
    expect(count(out, 'data-testid="copy-code"')).toBe(3);
    expect(out).toContain(
      `<div class="code-block">${copyBar('rust')}<pre><code class="language-rust"><span class="hljs-keyword">fn</span> <span class="hljs-title function_">main</span>`,
    );
    expect(out).toContain('<span class="hljs-string">&quot;&lt;b&gt;&amp;amp;&lt;/b&gt;&quot;</span>');
    expect(out).toContain('<pre><code>ls -la | grep &quot;&lt;none&gt;&quot;</code></pre>');
    expect(out).toContain('<code class="language-python"><span class="hljs-built_in">print</span>');
    expect(out).toContain('<code>a &lt; b &amp;&amp; c &gt; d</code>, <code>code with ` backtick</code>, and <code>`x`</code>');
  });

  it('shows escaped markup characters as themselves', () => {
    expect(rendered('escapes.md')).toBe(
      '<p>*not italic* and _not italic_ and `not code`</p><p>1. not a list</p><p># not a heading</p>' +
        '<p>A literal backslash: C:\\Users\\me and a &lt;tag&gt;.</p><p>Entities: &amp; &lt;b&gt; © #</p>',
    );
  });

  it('links only http(s) and mailto URLs, shows other links as their text, and images as links', () => {
    const out = rendered('links.md');
    const hrefs = [...out.matchAll(/<a href="([^"]*)"/g)].map((m) => m[1]);
    expect(hrefs).toEqual([
      'https://example.com/docs?a=1&amp;b=2',
      'mailto:me@example.com',
      'https://example.org/auto',
      'https://example.net/bare',
      'https://example.com/diagram.png',
      'https://example.com/',
    ]);
    expect(out).toContain('<p>Bot link: open chat</p>');
    expect(out).toContain('<p>Bad: click me, data, home, rel, javascript:alert(2)</p>');
    expect(out).toContain(
      'rel="noopener noreferrer">a diagram</a> and a linked one <a href="https://example.com/" target="_blank" rel="noopener noreferrer">logo</a>',
    );
    expect(out).toContain('<p>Bad image: pixel</p>');
  });

  it('shows hostile HTML as text', () => {
    const out = rendered('hostile-html.md');
    expect(out.startsWith('&lt;script&gt;window.__pwned = 1&lt;/script&gt;')).toBe(true);
    expect(out).toContain('Inline &lt;img src=x onerror=&quot;window.__pwned = 2&quot;&gt; image');
    expect(out).toContain('<strong>&lt;b onclick=&quot;alert(3)&quot;&gt;bold html&lt;/b&gt;</strong>');
    expect(out).toContain('<li>x and y and z</li>');
    expect(out).toContain('<pre><code>code with a hostile info string</code></pre>');
  });

  it('renders emphasis, strikethrough and their edge cases the CommonMark way', () => {
    expect(rendered('emphasis.md')).toBe(
      '<p><strong>bold</strong> and <em>italic</em> and <strong>bold</strong> and <em>italic</em> and <em><strong>both</strong></em></p>' +
        '<p><del>struck</del> and <strong>bold <em>italic</em> bold</strong> and <em>italic <strong>bold</strong> italic</em></p>' +
        '<p>snake_case_name and 2 * 3 * 4 and 2<em>3</em>4</p>' +
        '<p>**not closed and *also not</p>' +
        '<p><a href="https://example.com/" target="_blank" rel="noopener noreferrer"><strong>bold link</strong></a> and <code>**not bold in code**</code></p>',
    );
  });

  it('keeps emoji and other scripts, in text and tables', () => {
    const out = rendered('unicode.md');
    expect(out).toContain('<h3 class="md-heading md-heading-1">Grüße 👋</h3>');
    expect(out).toContain('<td>你好</td><td>👩‍💻</td>');
    expect(out).toContain('<blockquote><p><strong>Zitat:</strong> «Ça va?» ¿Qué tal?</p></blockquote>');
  });

  it('renders headings below the page’s own, rules and nested quotes', () => {
    expect(rendered('headings-quotes.md')).toBe(
      '<h3 class="md-heading md-heading-1">Title</h3><h4 class="md-heading md-heading-2">Subtitle</h4><p>Some text.</p><hr/>' +
        '<blockquote><p>A quote with <em>emphasis</em></p><ul><li><p>and a list</p></li><li><p>inside it</p></li></ul>' +
        '<blockquote><p>nested quote</p></blockquote></blockquote><p>#hashtag is not a heading</p>',
    );
  });

  it('renders a long reply whole', () => {
    const out = rendered('long.md');
    expect(count(out, '<p>Paragraph ')).toBe(30);
    expect(count(out, '<div class="code-block">')).toBe(1);
    expect(count(out, '<tr>')).toBe(61);
    expect(out).toContain(`<p>Done: ${'😀'.repeat(50)}</p>`);
  });
});

describe('escaping', () => {
  it('shows a script element as text', () => {
    const out = html('<script>window.__pwned = 1</script>');
    expect(out).toBe('&lt;script&gt;window.__pwned = 1&lt;/script&gt;');
  });

  it('shows entities decoded, as text', () => {
    expect(html('&lt;script&gt; &amp; &#x3C;b&#x3E; &quot;')).toBe('<p>&lt;script&gt; &amp; &lt;b&gt; &quot;</p>');
  });

  it('keeps HTML in code spans and code blocks as text', () => {
    expect(html('`<b>`')).toBe('<p><code>&lt;b&gt;</code></p>');
    expect(html('```html\n<script>alert(1)</script>\n```')).toBe(
      `<div class="code-block">${copyBar('html')}<pre><code class="language-html"><span class="hljs-tag">&lt;<span class="hljs-name">script</span>&gt;</span>` +
        'alert(1)' +
        '<span class="hljs-tag">&lt;/<span class="hljs-name">script</span>&gt;</span></code></pre></div>',
    );
  });

  it('keeps a hostile info string out of the class attribute', () => {
    const out = html('```" onmouseover="alert(1)\ncode\n```');
    expect(out).toContain('<pre><code>code</code></pre>');
    expect(out).not.toContain('onmouseover=');
  });
});

describe('safeHref', () => {
  it('allows http, https and mailto only', () => {
    expect(safeHref('https://example.com')).toBe('https://example.com/');
    expect(safeHref('mailto:a@example.com')).toBe('mailto:a@example.com');
    expect(safeHref('java\tscript:alert(1)')).toBeNull();
    expect(safeHref('vbscript:x')).toBeNull();
    expect(safeHref('file:///etc/passwd')).toBeNull();
    expect(safeHref('//evil.example')).toBeNull();
  });
});

describe('blocks', () => {
  it('keeps every line break of a paragraph', () => {
    expect(html('line one\nline two')).toBe('<p>line one<br/>line two</p>');
  });

  it('renders code without a known language uncoloured, keeping indentation', () => {
    expect(html('```zig\nconst x = 1;\n    y\n```')).toBe(
      `<div class="code-block">${copyBar('zig')}<pre><code class="language-zig">const x = 1;\n    y</code></pre></div>`,
    );
  });

  it('renders code inside a list item', () => {
    expect(html('- item\n\n  ```sh\n  ls\n  ```')).toContain('<li><p>item</p><div class="code-block">');
  });
});

describe('streaming', () => {
  it('renders an unclosed fence as a code block so far', () => {
    expect(html('Here:\n```rust\nfn main() {\n    let x = "<b>')).toBe(
      '<p>Here:</p>' +
        `<div class="code-block">${copyBar('rust')}<pre><code class="language-rust"><span class="hljs-keyword">fn</span> <span class="hljs-title function_">main</span>() {\n` +
        '    <span class="hljs-keyword">let</span> <span class="hljs-variable">x</span> = <span class="hljs-string">&quot;&lt;b&gt;</span></code></pre></div>',
    );
  });

  it('shows half-written markup as the characters so far', () => {
    expect(html('Some **bo')).toBe('<p>Some **bo</p>');
    expect(html('| a | b |\n|---')).toBe('<p>| a | b |<br/>|---</p>');
    expect(html('```')).toContain('<pre><code></code></pre>');
  });

  it('stays fast on pathological input', () => {
    const started = performance.now();
    html('*a '.repeat(5000) + '_b '.repeat(5000));
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
