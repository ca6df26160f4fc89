// Markdown of assistant replies, rendered as React elements by react-markdown (remark: CommonMark + GFM
// tables, task lists, strikethrough and autolinks; every newline kept as a line break, as a chat means
// it). The text comes from a model that may repeat whatever a web page or a user put in front of it, so
// it is untrusted:
// - raw HTML never becomes DOM: there is no rehype-raw, and react-markdown turns HTML in the text into
//   text; rehype-sanitize (GitHub's schema) then drops anything outside the elements Markdown makes;
// - links are made only for http(s) and mailto URLs (`safeHref`), open in a new tab without opener or
//   referrer; any other link (javascript:, data:, relative) shows its text only;
// - images are never loaded (no tracking pixels, no remote content in the page): an image becomes a link
//   to its URL, labelled with its alt text (or, inside a link, just its alt text).
// Fenced code gets a Copy button and, for a few languages, colours (./highlight, loaded on the first code
// block with a language so the page's first load stays small). An unclosed code fence is a code block so
// far (CommonMark), so a streamed reply renders well between deltas.

import type { Element, ElementContent, Root, RootContent } from 'hast';
import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import ReactMarkdown, { type Components } from 'react-markdown';
import rehypeSanitize from 'rehype-sanitize';
import remarkBreaks from 'remark-breaks';
import remarkGfm from 'remark-gfm';
import { loadedHighlighter, loadHighlighter } from './loadHighlighter';
import { safeHref } from './safeHref';

/** A language name safe to show and to put in a class name. */
const LANGUAGE = /^[A-Za-z0-9_+#.-]{1,32}$/;

function textOf(node: ElementContent): string {
  if (node.type === 'text') return node.value;
  return node.type === 'element' ? node.children.map(textOf).join('') : '';
}

/**
 * A rehype plugin for what Markdown lets through that a reply must not turn into DOM: raw HTML becomes
 * text (shown as written), and every image a link to its source labelled with its alt text, or, inside a
 * link (where a link would nest), its alt text alone. It runs before rehype-sanitize, which would drop the
 * HTML instead, and the links' URLs then go through `safeHref` like any other.
 */
function rehypeUntrustedAsText() {
  const rewrite = (parent: Root | Element, inLink: boolean) => {
    parent.children = parent.children.map((child): RootContent => {
      if (child.type === 'raw') return { type: 'text', value: child.value };
      if (child.type !== 'element') return child;
      if (child.tagName === 'img') {
        const src = typeof child.properties.src === 'string' ? child.properties.src : '';
        const alt = typeof child.properties.alt === 'string' ? child.properties.alt : '';
        if (inLink) return { type: 'text', value: alt };
        return { type: 'element', tagName: 'a', properties: { href: src }, children: [{ type: 'text', value: alt === '' ? src : alt }] };
      }
      rewrite(child, inLink || child.tagName === 'a');
      return child;
    });
  };
  return (tree: Root) => rewrite(tree, false);
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
  const [colours, setColours] = useState(loadedHighlighter);
  const highlighted = useMemo(() => (colours === null ? text : colours.highlight(language, text)), [colours, language, text]);
  useEffect(() => {
    if (colours !== null || language === null) return;
    let mounted = true;
    void loadHighlighter().then((module) => mounted && setColours(module));
    return () => {
      mounted = false;
    };
  }, [colours, language]);
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
          {highlighted}
        </code>
      </pre>
    </div>
  );
}

/** The fenced code block a `<pre>` holds: its language (when it is a plain name) and its text. */
function codeOf(pre: Element | undefined): { language: string | null; text: string } {
  const code = pre?.children.find((child): child is Element => child.type === 'element' && child.tagName === 'code');
  const classes = code?.properties.className;
  const declared = Array.isArray(classes) ? classes.map(String).find((name) => name.startsWith('language-')) : undefined;
  const language = declared?.slice('language-'.length) ?? '';
  // remark-rehype ends a code block's text with a newline that is not part of the code.
  const text = (code === undefined ? '' : textOf(code)).replace(/\n$/, '');
  return { language: LANGUAGE.test(language) ? language : null, text };
}

/** The page's own headings are h1 and h2: a reply's headings start below them. */
const HEADING_TAGS = ['h3', 'h4', 'h5', 'h6', 'h6', 'h6'] as const;
const headings = Object.fromEntries(
  HEADING_TAGS.map((Tag, n) => [
    `h${n + 1}`,
    ({ children }: { children?: ReactNode }) => <Tag className={`md-heading md-heading-${n + 1}`}>{children}</Tag>,
  ]),
) as Components;

const components: Components = {
  ...headings,
  a: ({ href, children }) =>
    href === undefined ? (
      <>{children}</>
    ) : (
      <a href={href} target="_blank" rel="noopener noreferrer">
        {children}
      </a>
    ),
  pre: ({ node }) => <CodeBlock {...codeOf(node)} />,
  // Wide tables scroll on their own instead of widening the reply.
  table: ({ children }) => (
    <div className="md-table-scroll">
      <table>{children}</table>
    </div>
  ),
  // Task list items: a checkbox showing the state, never an input the reader could change.
  input: ({ checked }) => <input type="checkbox" checked={checked === true} disabled readOnly />,
};

// A URL that is not safe is dropped (null removes the attribute): the link shows its text only.
const urlTransform = (url: string) => safeHref(url);

const remarkPlugins = [remarkGfm, remarkBreaks];
const rehypePlugins = [rehypeUntrustedAsText, rehypeSanitize];

/** The React elements for markdown `text`. */
function renderMarkdown(text: string): ReactNode {
  return (
    <ReactMarkdown remarkPlugins={remarkPlugins} rehypePlugins={rehypePlugins} components={components} urlTransform={urlTransform}>
      {text}
    </ReactMarkdown>
  );
}

/** Markdown, re-rendered only when the text changes (every streamed delta does). */
export function Markdown({ text }: { text: string }) {
  return <div className="markdown">{useMemo(() => renderMarkdown(text), [text])}</div>;
}
