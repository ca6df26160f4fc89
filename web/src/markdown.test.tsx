import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Markdown, parseBlocks, safeHref } from './markdown';

/** The markup of a reply, without the wrapper div. */
function html(text: string): string {
  const markup = renderToStaticMarkup(<Markdown text={text} />);
  expect(markup.startsWith('<div class="markdown">')).toBe(true);
  return markup.slice('<div class="markdown">'.length, -'</div>'.length);
}

const copyBar = (language: string) =>
  `<div class="code-block-bar"><span class="code-block-language">${language}</span>` +
  `<button type="button" class="code-copy" data-testid="copy-code" data-state="idle" aria-label="Copy ${language} code">Copy</button></div>`;

describe('escaping', () => {
  it('shows a script element as text', () => {
    const out = html('<script>window.__pwned = 1</script>');
    expect(out).toBe('<p>&lt;script&gt;window.__pwned = 1&lt;/script&gt;</p>');
    expect(out).not.toContain('<script');
  });

  it('shows an image with an event handler as text, also inside emphasis and lists', () => {
    const out = html('**<img src=x onerror="alert(1)">**\n\n- <b onclick="x()">hi</b>');
    expect(out).toBe(
      '<p><strong>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</strong></p>' +
        '<ul><li><span>&lt;b onclick=&quot;x()&quot;&gt;hi&lt;/b&gt;</span></li></ul>',
    );
    expect(out).not.toMatch(/<img|<b /);
  });

  it('renders javascript:, data: and relative links as the text that was written', () => {
    expect(html('[click](javascript:alert(1))')).toBe('<p>[click](javascript:alert(1))</p>');
    expect(html('[x](JaVaScRiPt:alert(1)) [y]( javascript:alert(1))')).toBe('<p>[x](JaVaScRiPt:alert(1)) [y]( javascript:alert(1))</p>');
    expect(html('[img](data:text/html,<script>alert(1)</script>)')).toBe(
      '<p>[img](data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;)</p>',
    );
    expect(html('[home](/etc/passwd)')).toBe('<p>[home](/etc/passwd)</p>');
    expect(html('<javascript:alert(1)>')).toBe('<p>&lt;javascript:alert(1)&gt;</p>');
    expect(html('javascript:alert(1)')).toBe('<p>javascript:alert(1)</p>');
  });

  it('opens http(s) and mailto links in a new tab without a referrer or opener', () => {
    expect(html('[docs](https://example.com/a?b=1&c=2 "Title") and <mailto:me@example.com>')).toBe(
      '<p><a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">docs</a> and ' +
        '<a href="mailto:me@example.com" target="_blank" rel="noopener noreferrer">mailto:me@example.com</a></p>',
    );
    expect(html('See https://example.com/x_(y). Done')).toBe(
      '<p>See <a href="https://example.com/x_(y)" target="_blank" rel="noopener noreferrer">https://example.com/x_(y)</a>. Done</p>',
    );
    expect(html('(at http://example.com)')).toBe(
      '<p>(at <a href="http://example.com/" target="_blank" rel="noopener noreferrer">http://example.com</a>)</p>',
    );
  });

  it('does not decode HTML entities', () => {
    expect(html('&lt;script&gt; &amp; &#x3C;b&#x3E; &quot;')).toBe('<p>&amp;lt;script&amp;gt; &amp;amp; &amp;#x3C;b&amp;#x3E; &amp;quot;</p>');
  });

  it('keeps HTML in code spans and code blocks as text', () => {
    expect(html('`<b>`')).toBe('<p><code>&lt;b&gt;</code></p>');
    expect(html('```html\n<script>alert(1)</script>\n```')).toBe(
      `<div class="code-block">${copyBar('html')}<pre><code class="language-html">&lt;script&gt;alert(1)&lt;/script&gt;</code></pre></div>`,
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

describe('emphasis', () => {
  it('renders bold, italic and their nesting', () => {
    expect(html('**bold** and *italic* and __b__ _i_')).toBe(
      '<p><strong>bold</strong> and <em>italic</em> and <strong>b</strong> <em>i</em></p>',
    );
    expect(html('**bold *italic* bold**')).toBe('<p><strong>bold <em>italic</em> bold</strong></p>');
    expect(html('*italic **bold** italic*')).toBe('<p><em>italic <strong>bold</strong> italic</em></p>');
    expect(html('***both***')).toBe('<p><em><strong>both</strong></em></p>');
  });

  it('leaves unmatched and intra-word underscores alone', () => {
    expect(html('snake_case_name and 2 * 3 * 4')).toBe('<p>snake_case_name and 2 * 3 * 4</p>');
    expect(html('**not closed')).toBe('<p>**not closed</p>');
    expect(html('\\*escaped\\*')).toBe('<p>*escaped*</p>');
  });

  it('does not look for emphasis inside code', () => {
    expect(html('`**a**` **b**')).toBe('<p><code>**a**</code> <strong>b</strong></p>');
  });
});

describe('blocks', () => {
  it('renders headings below the page’s own, paragraphs with line breaks, rules and quotes', () => {
    expect(html('# Title\n## Sub ##\nline one\nline two\n\n---\n> quoted\n> *text*')).toBe(
      '<h3 class="md-heading md-heading-1">Title</h3>' +
        '<h4 class="md-heading md-heading-2">Sub</h4>' +
        '<p>line one<br/>line two</p>' +
        '<hr/>' +
        '<blockquote><p>quoted<br/><em>text</em></p></blockquote>',
    );
    expect(html('#hashtag')).toBe('<p>#hashtag</p>');
  });

  it('renders ordered and unordered lists, nested, tight and loose', () => {
    expect(html('1. one\n2. two\n   - a\n   - b\n3. three')).toBe(
      '<ol><li><span>one</span></li><li><span>two</span><ul><li><span>a</span></li><li><span>b</span></li></ul></li>' +
        '<li><span>three</span></li></ol>',
    );
    expect(html('3) c\n4) d')).toBe('<ol start="3"><li><span>c</span></li><li><span>d</span></li></ol>');
    expect(html('- a\n\n- b')).toBe('<ul><li><p>a</p></li><li><p>b</p></li></ul>');
    expect(html('Steps:\n- one\n- two')).toBe('<p>Steps:</p><ul><li><span>one</span></li><li><span>two</span></li></ul>');
  });

  it('renders fenced code with its language and a Copy button, keeping indentation', () => {
    expect(html('Run:\n\n```rust\nfn main() {\n    println!("hi");\n}\n```\nDone.')).toBe(
      '<p>Run:</p>' +
        `<div class="code-block">${copyBar('rust')}<pre><code class="language-rust">fn main() {\n    println!(&quot;hi&quot;);\n}</code></pre></div>` +
        '<p>Done.</p>',
    );
    expect(html('~~~\n```\n~~~')).toContain('<pre><code>```</code></pre>');
  });

  it('renders code inside a list item', () => {
    expect(html('- item\n\n  ```sh\n  ls\n  ```')).toContain('<li><p>item</p><div class="code-block">');
  });
});

describe('streaming', () => {
  it('renders an unclosed fence as a code block so far, and continues it as text arrives', () => {
    const partial = 'Here:\n```rust\nfn main() {\n    let x = "<b>';
    expect(html(partial)).toBe(
      '<p>Here:</p>' +
        `<div class="code-block">${copyBar('rust')}<pre><code class="language-rust">fn main() {\n    let x = &quot;&lt;b&gt;</code></pre></div>`,
    );
    const blocks = parseBlocks(partial);
    expect(blocks[1]).toMatchObject({ kind: 'code', open: true });
    const closed = parseBlocks(`${partial}";\n}\n\`\`\`\nAfter.`);
    expect(closed.map((b) => b.kind)).toEqual(['paragraph', 'code', 'paragraph']);
    expect(closed[1]).toMatchObject({ open: false, text: 'fn main() {\n    let x = "<b>";\n}' });
  });

  it('shows half-written markup as the characters so far', () => {
    expect(html('Some **bo')).toBe('<p>Some **bo</p>');
    expect(html('see [the docs](https://exa')).toBe('<p>see [the docs](<a href="https://exa/" target="_blank" rel="noopener noreferrer">https://exa</a></p>');
    expect(html('```')).toContain('<pre><code></code></pre>');
  });

  it('stays fast on pathological input', () => {
    const started = performance.now();
    html('*a '.repeat(5000) + '_b '.repeat(5000));
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
