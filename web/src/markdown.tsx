// Markdown of assistant replies, rendered as React elements. The text comes from a model that may repeat
// whatever a web page or a user put in front of it, so it is untrusted: nothing here produces raw HTML
// (React escapes every string), HTML in the text is shown as text, entities are not decoded, and links are
// made only for http(s) and mailto URLs. The parser is a small subset of CommonMark (paragraphs, ATX
// headings, fenced code, lists, block quotes, rules; code spans, emphasis, links, autolinks), written to be
// re-run on every streamed delta: an unclosed code fence is a code block so far.

import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';

// ---- syntax tree ----

export type Inline =
  | { kind: 'text'; text: string }
  | { kind: 'code'; text: string }
  | { kind: 'em' | 'strong'; children: Inline[] }
  | { kind: 'link'; href: string; children: Inline[] }
  | { kind: 'break' };

export type Block =
  | { kind: 'paragraph'; text: string }
  | { kind: 'heading'; level: number; text: string }
  /** `open`: the closing fence has not arrived (yet). */
  | { kind: 'code'; language: string | null; text: string; open: boolean }
  | { kind: 'list'; ordered: boolean; start: number; tight: boolean; items: Block[][] }
  | { kind: 'quote'; children: Block[] }
  | { kind: 'rule' };

// ---- blocks ----

const FENCE_OPEN = /^( {0,3})(`{3,}|~{3,})(.*)$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*))?$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const BULLET = /^( {0,3})([-*+])([ \t]+)(\S.*)?$/;
const ORDERED = /^( {0,3})(\d{1,9})([.)])([ \t]+)(\S.*)?$/;
const LANGUAGE = /^[A-Za-z0-9_+#.-]{1,32}$/;

interface ItemStart {
  ordered: boolean;
  /** `-`, `*`, `+`, or `.` / `)` after the number. */
  marker: string;
  start: number;
  /** Where the item's content starts: continuation lines indented this far belong to the item. */
  indent: number;
  text: string;
}

function isBlank(line: string): boolean {
  return line.trim() === '';
}

function itemStart(line: string): ItemStart | null {
  const bullet = BULLET.exec(line);
  if (bullet !== null) {
    const [, lead = '', marker = '', gap = '', text = ''] = bullet;
    // More than four spaces after the marker: the content is indented code in CommonMark; here, text.
    const indent = lead.length + 1 + (gap.length > 4 ? 1 : gap.length);
    return { ordered: false, marker, start: 1, indent, text };
  }
  const ordered = ORDERED.exec(line);
  if (ordered !== null) {
    const [, lead = '', digits = '', marker = '', gap = '', text = ''] = ordered;
    const indent = lead.length + digits.length + 1 + (gap.length > 4 ? 1 : gap.length);
    return { ordered: true, marker, start: Number(digits), indent, text };
  }
  return null;
}

function fenceOpen(line: string): { indent: number; fence: string; language: string | null } | null {
  const m = FENCE_OPEN.exec(line);
  if (m === null) return null;
  const [, indent = '', fence = '', info = ''] = m;
  // A backtick fence's info string cannot hold a backtick (that line is inline code instead).
  if (fence.startsWith('`') && info.includes('`')) return null;
  const word = info.trim().split(/\s+/)[0] ?? '';
  return { indent: indent.length, fence, language: LANGUAGE.test(word) ? word : null };
}

function isFenceClose(line: string, fence: string): boolean {
  const m = /^ {0,3}(`{3,}|~{3,})[ \t]*$/.exec(line);
  return m !== null && m[1]![0] === fence[0] && m[1]!.length >= fence.length;
}

/** Whether a line ends a paragraph by starting another block. */
function interruptsParagraph(line: string): boolean {
  if (fenceOpen(line) !== null || HEADING.test(line) || RULE.test(line) || QUOTE.test(line)) return true;
  const item = itemStart(line);
  // As in CommonMark, only a non-empty item, and of numbered ones only "1.", interrupts a paragraph.
  return item !== null && item.text !== '' && (!item.ordered || item.start === 1);
}

export function parseBlocks(source: string): Block[] {
  return blocksOf(source.replace(/\r\n?/g, '\n').split('\n'));
}

function blocksOf(lines: string[]): Block[] {
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (isBlank(line)) {
      i += 1;
      continue;
    }

    const fence = fenceOpen(line);
    if (fence !== null) {
      const body: string[] = [];
      i += 1;
      let open = true;
      while (i < lines.length) {
        const inner = lines[i]!;
        i += 1;
        if (isFenceClose(inner, fence.fence)) {
          open = false;
          break;
        }
        // Content lines lose as much indentation as the opening fence had.
        const strip = Math.min(fence.indent, inner.length - inner.trimStart().length);
        body.push(inner.slice(strip));
      }
      blocks.push({ kind: 'code', language: fence.language, text: body.join('\n'), open });
      continue;
    }

    const heading = HEADING.exec(line);
    if (heading !== null) {
      const text = (heading[2] ?? '').replace(/(^|[ \t]+)#+[ \t]*$/, '').trim();
      blocks.push({ kind: 'heading', level: heading[1]!.length, text });
      i += 1;
      continue;
    }

    if (RULE.test(line)) {
      blocks.push({ kind: 'rule' });
      i += 1;
      continue;
    }

    if (QUOTE.test(line)) {
      const inner: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i]!)) {
        inner.push(QUOTE.exec(lines[i]!)![1]!);
        i += 1;
      }
      blocks.push({ kind: 'quote', children: blocksOf(inner) });
      continue;
    }

    const item = itemStart(line);
    if (item !== null) {
      const [list, next] = listAt(lines, i, item);
      blocks.push(list);
      i = next;
      continue;
    }

    const paragraph = [line.trim()];
    i += 1;
    while (i < lines.length && !isBlank(lines[i]!) && !interruptsParagraph(lines[i]!)) {
      paragraph.push(lines[i]!.trim());
      i += 1;
    }
    blocks.push({ kind: 'paragraph', text: paragraph.join('\n') });
  }
  return blocks;
}

/** The list that starts at `lines[start]` and the index of the first line after it. */
function listAt(lines: string[], start: number, first: ItemStart): [Block, number] {
  const items: Block[][] = [];
  let tight = true;
  let i = start;
  while (i < lines.length) {
    const item = itemStart(lines[i]!);
    if (item === null || item.ordered !== first.ordered || item.marker !== first.marker) break;
    const body = [item.text];
    i += 1;
    let inFence: string | null = fenceOpen(item.text)?.fence ?? null;
    while (i < lines.length) {
      const line = lines[i]!;
      const indent = line.length - line.trimStart().length;
      if (isBlank(line)) {
        body.push('');
      } else if (indent >= item.indent) {
        body.push(line.slice(item.indent));
      } else if (inFence === null && body[body.length - 1] !== '' && itemStart(line) === null && !interruptsParagraph(line)) {
        // A lazy continuation line of the item's paragraph.
        body.push(line.trim());
      } else {
        break;
      }
      const last = body[body.length - 1]!;
      if (inFence !== null) {
        if (isFenceClose(last, inFence)) inFence = null;
      } else {
        inFence = fenceOpen(last)?.fence ?? null;
      }
      i += 1;
    }
    let blanks = 0;
    while (body.length > 1 && body[body.length - 1] === '') {
      body.pop();
      blanks += 1;
    }
    // Blank lines between items, or between the blocks of one item, make a loose list (paragraphs as <p>).
    const next = i < lines.length ? itemStart(lines[i]!) : null;
    if (blanks > 0 && next !== null && next.ordered === first.ordered && next.marker === first.marker) tight = false;
    const blocks = blocksOf(body);
    if (blocks.length > 1 && body.some((l, n) => l === '' && n > 0 && n < body.length - 1)) tight = false;
    items.push(blocks);
  }
  return [{ kind: 'list', ordered: first.ordered, start: first.start, tight, items }, i];
}

// ---- inlines ----

interface Delimiter {
  kind: 'delim';
  char: '*' | '_';
  count: number;
  /** The run's length before any of it was used, for CommonMark's "multiple of 3" rule. */
  length: number;
  canOpen: boolean;
  canClose: boolean;
}

type Token = Inline | Delimiter;

const ESCAPABLE = /[!-/:-@[-`{-~]/;
const PUNCTUATION = /[\p{P}\p{S}]/u;
const WHITESPACE = /\s/;
const AUTOLINK = /^<((?:https?|mailto):[^\s<>]+)>/i;
const BARE_URL = /^https?:\/\/[^\s<>]+/i;
/** How far back a closing * or _ looks for its opener: bounds the work on pathological input. */
const OPENER_SEARCH_LIMIT = 500;

/** An href for `destination` if it is an http(s) or mailto URL; null for any other scheme or a relative path. */
export function safeHref(destination: string): string | null {
  try {
    const url = new URL(destination.trim());
    return url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'mailto:' ? url.href : null;
  } catch {
    return null;
  }
}

function runLength(text: string, at: number, char: string): number {
  let end = at;
  while (text[end] === char) end += 1;
  return end - at;
}

/** `[text](destination "title")` at `at`: its parts and where it ends, or null when it is not one. */
function linkAt(text: string, at: number): { label: string; destination: string; end: number } | null {
  let depth = 0;
  let close = -1;
  for (let i = at; i < text.length; i += 1) {
    const c = text[i];
    if (c === '\\') {
      i += 1;
    } else if (c === '[') {
      depth += 1;
    } else if (c === ']') {
      depth -= 1;
      if (depth === 0) {
        close = i;
        break;
      }
    }
  }
  if (close < 0 || text[close + 1] !== '(') return null;
  let i = close + 2;
  while (text[i] === ' ') i += 1;
  let destination = '';
  if (text[i] === '<') {
    const end = text.indexOf('>', i);
    if (end < 0) return null;
    destination = text.slice(i + 1, end);
    i = end + 1;
  } else {
    let parens = 0;
    const begin = i;
    for (; i < text.length; i += 1) {
      const c = text[i]!;
      if (WHITESPACE.test(c)) break;
      if (c === '(') parens += 1;
      if (c === ')') {
        if (parens === 0) break;
        parens -= 1;
      }
    }
    destination = text.slice(begin, i);
  }
  while (text[i] === ' ') i += 1;
  const quote = text[i];
  if (quote === '"' || quote === "'") {
    const end = text.indexOf(quote, i + 1);
    if (end < 0) return null;
    i = end + 1;
    while (text[i] === ' ') i += 1;
  }
  if (text[i] !== ')') return null;
  return { label: text.slice(at + 1, close), destination, end: i + 1 };
}

export function parseInline(source: string, links = true): Inline[] {
  const tokens: Token[] = [];
  let text = '';
  const flush = () => {
    if (text !== '') tokens.push({ kind: 'text', text });
    text = '';
  };
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];

    if (c === '\\' && next !== undefined && ESCAPABLE.test(next)) {
      text += next;
      i += 2;
      continue;
    }
    if (c === '\n' || (c === '\\' && next === '\n')) {
      // In a chat a newline is meant as one: every line break is kept.
      text = text.replace(/[ \t]+$/, '');
      flush();
      tokens.push({ kind: 'break' });
      i += c === '\n' ? 1 : 2;
      while (source[i] === ' ' || source[i] === '\t') i += 1;
      continue;
    }
    if (c === '`') {
      const run = runLength(source, i, '`');
      let close = source.indexOf('`'.repeat(run), i + run);
      while (close >= 0 && runLength(source, close, '`') !== run) {
        close = source.indexOf('`'.repeat(run), close + runLength(source, close, '`'));
      }
      if (close < 0) {
        text += '`'.repeat(run);
        i += run;
        continue;
      }
      let code = source.slice(i + run, close).replace(/\n/g, ' ');
      if (code.length > 2 && code.startsWith(' ') && code.endsWith(' ') && code.trim() !== '') code = code.slice(1, -1);
      flush();
      tokens.push({ kind: 'code', text: code });
      i = close + run;
      continue;
    }
    if (c === '*' || c === '_') {
      const run = runLength(source, i, c);
      const before = i > 0 ? source[i - 1]! : ' ';
      const after = source[i + run] ?? ' ';
      const left = !WHITESPACE.test(after) && (!PUNCTUATION.test(after) || WHITESPACE.test(before) || PUNCTUATION.test(before));
      const right = !WHITESPACE.test(before) && (!PUNCTUATION.test(before) || WHITESPACE.test(after) || PUNCTUATION.test(after));
      // `_` inside a word (snake_case) is not emphasis.
      const canOpen = c === '*' ? left : left && (!right || PUNCTUATION.test(before));
      const canClose = c === '*' ? right : right && (!left || PUNCTUATION.test(after));
      flush();
      tokens.push({ kind: 'delim', char: c, count: run, length: run, canOpen, canClose });
      i += run;
      continue;
    }
    if (c === '[' && links) {
      const link = linkAt(source, i);
      if (link !== null) {
        const href = safeHref(link.destination);
        if (href === null) {
          // Another scheme (javascript:, data:, a relative path): the source is shown as it was written.
          text += source.slice(i, link.end);
        } else {
          flush();
          tokens.push({ kind: 'link', href, children: parseInline(link.label, false) });
        }
        i = link.end;
        continue;
      }
    }
    if (c === '<' && links) {
      const auto = AUTOLINK.exec(source.slice(i));
      const href = auto === null ? null : safeHref(auto[1]!);
      if (auto !== null && href !== null) {
        flush();
        tokens.push({ kind: 'link', href, children: [{ kind: 'text', text: auto[1]! }] });
        i += auto[0].length;
        continue;
      }
    }
    if ((c === 'h' || c === 'H') && links && (i === 0 || /[\s(]/.test(source[i - 1]!))) {
      const bare = BARE_URL.exec(source.slice(i));
      if (bare !== null) {
        let url = bare[0];
        // Sentence punctuation after a URL is not part of it; a closing parenthesis only when unbalanced.
        url = url.replace(/[.,:;!?'"*_~]+$/, '');
        while (url.endsWith(')') && (url.match(/\)/g) ?? []).length > (url.match(/\(/g) ?? []).length) url = url.slice(0, -1);
        const href = safeHref(url);
        if (href !== null && url.length > 'https://'.length) {
          flush();
          tokens.push({ kind: 'link', href, children: [{ kind: 'text', text: url }] });
          i += url.length;
          continue;
        }
      }
    }
    text += c;
    i += 1;
  }
  flush();
  return resolveEmphasis(tokens);
}

/** CommonMark's "process emphasis": pairs delimiter runs from the inside out into em and strong. */
function resolveEmphasis(tokens: Token[]): Inline[] {
  let i = 0;
  while (i < tokens.length) {
    const closer = tokens[i]!;
    if (closer.kind !== 'delim' || !closer.canClose || closer.count === 0) {
      i += 1;
      continue;
    }
    let j = i - 1;
    let opener: Delimiter | null = null;
    for (; j >= 0 && i - j <= OPENER_SEARCH_LIMIT; j -= 1) {
      const candidate = tokens[j]!;
      if (candidate.kind !== 'delim' || candidate.char !== closer.char || !candidate.canOpen || candidate.count === 0) continue;
      // A run that can both open and close does not pair with one whose lengths add up to a multiple of 3.
      const bothWays = candidate.canClose || closer.canOpen;
      const lengths = candidate.length + closer.length;
      if (bothWays && lengths % 3 === 0 && !(candidate.length % 3 === 0 && closer.length % 3 === 0)) continue;
      opener = candidate;
      break;
    }
    if (opener === null) {
      i += 1;
      continue;
    }
    const used = opener.count >= 2 && closer.count >= 2 ? 2 : 1;
    opener.count -= used;
    closer.count -= used;
    const children = literal(tokens.slice(j + 1, i));
    tokens.splice(j + 1, i - j - 1, { kind: used === 2 ? 'strong' : 'em', children });
    // The closer now sits right after the new node; what is left of it may close an outer opener.
    i = j + 2;
  }
  return literal(tokens);
}

/** Unused delimiters become text, and neighbouring texts one text. */
function literal(tokens: Token[]): Inline[] {
  const out: Inline[] = [];
  for (const token of tokens) {
    const inline: Inline | null =
      token.kind === 'delim' ? (token.count > 0 ? { kind: 'text', text: token.char.repeat(token.count) } : null) : token;
    if (inline === null) continue;
    const last = out[out.length - 1];
    if (inline.kind === 'text' && last?.kind === 'text') out[out.length - 1] = { kind: 'text', text: last.text + inline.text };
    else out.push(inline);
  }
  return out;
}

// ---- rendering ----

function renderInlines(inlines: Inline[]): ReactNode[] {
  return inlines.map((inline, n) => {
    switch (inline.kind) {
      case 'text':
        return inline.text;
      case 'code':
        return <code key={n}>{inline.text}</code>;
      case 'em':
        return <em key={n}>{renderInlines(inline.children)}</em>;
      case 'strong':
        return <strong key={n}>{renderInlines(inline.children)}</strong>;
      case 'link':
        return (
          <a key={n} href={inline.href} target="_blank" rel="noopener noreferrer">
            {renderInlines(inline.children)}
          </a>
        );
      case 'break':
        return <br key={n} />;
    }
  });
}

function renderBlocks(blocks: Block[], tight = false): ReactNode[] {
  return blocks.map((block, n) => {
    switch (block.kind) {
      case 'paragraph': {
        const inlines = renderInlines(parseInline(block.text));
        return tight ? <span key={n}>{inlines}</span> : <p key={n}>{inlines}</p>;
      }
      case 'heading': {
        // The page's own headings are h1 and h2: a reply's headings start below them.
        const Tag = (['h3', 'h4', 'h5', 'h6', 'h6', 'h6'] as const)[block.level - 1] ?? 'h6';
        return (
          <Tag key={n} className={`md-heading md-heading-${block.level}`}>
            {renderInlines(parseInline(block.text))}
          </Tag>
        );
      }
      case 'code':
        return <CodeBlock key={n} language={block.language} text={block.text} />;
      case 'list': {
        const items = block.items.map((item, k) => <li key={k}>{renderBlocks(item, block.tight)}</li>);
        return block.ordered ? (
          <ol key={n} start={block.start === 1 ? undefined : block.start}>
            {items}
          </ol>
        ) : (
          <ul key={n}>{items}</ul>
        );
      }
      case 'quote':
        return <blockquote key={n}>{renderBlocks(block.children)}</blockquote>;
      case 'rule':
        return <hr key={n} />;
    }
  });
}

type CopyState = 'idle' | 'copied' | 'failed';

/** Copies with the Clipboard API, or (plain http on another machine, where it is missing) a selection. */
async function copyText(text: string, source: HTMLElement | null): Promise<boolean> {
  if (navigator.clipboard !== undefined) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Refused (no permission, page not focused): try the selection below.
    }
  }
  const selection = window.getSelection();
  if (source === null || selection === null) return false;
  const range = document.createRange();
  range.selectNodeContents(source);
  selection.removeAllRanges();
  selection.addRange(range);
  // execCommand is deprecated but is the only way left without the Clipboard API.
  const copied = document.execCommand('copy');
  selection.removeAllRanges();
  return copied;
}

function CodeBlock({ language, text }: { language: string | null; text: string }) {
  const [copy, setCopy] = useState<CopyState>('idle');
  const codeRef = useRef<HTMLElement>(null);
  useEffect(() => {
    if (copy === 'idle') return;
    const timer = setTimeout(() => setCopy('idle'), 2000);
    return () => clearTimeout(timer);
  }, [copy]);
  const label = copy === 'copied' ? 'Copied' : copy === 'failed' ? 'Copy failed' : 'Copy';
  return (
    <div className="code-block">
      <div className="code-block-bar">
        <span className="code-block-language">{language ?? 'code'}</span>
        <button
          type="button"
          className="code-copy"
          data-testid="copy-code"
          data-state={copy}
          onClick={() => void copyText(text, codeRef.current).then((ok) => setCopy(ok ? 'copied' : 'failed'))}
          aria-label={copy === 'idle' ? (language === null ? 'Copy code' : `Copy ${language} code`) : label}
        >
          {label}
        </button>
      </div>
      <pre>
        <code ref={codeRef} className={language === null ? undefined : `language-${language}`}>
          {text}
        </code>
      </pre>
    </div>
  );
}

/** The React elements for markdown `text`. */
export function renderMarkdown(text: string): ReactNode {
  return renderBlocks(parseBlocks(text));
}

/** Markdown, re-parsed only when the text changes (every streamed delta does). */
export function Markdown({ text }: { text: string }) {
  return <div className="markdown">{useMemo(() => renderMarkdown(text), [text])}</div>;
}
