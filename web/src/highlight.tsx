// Syntax highlighting of fenced code in replies. lowlight runs highlight.js grammars and returns a syntax
// tree, never an HTML string, so the result is built as React elements (spans with highlight.js class
// names) and nothing from the reply can become markup. Only the languages below are bundled: all of
// highlight.js would add several hundred kB to the page's first load; a code block in another language is
// shown without colours. ./markdown imports this module lazily, on the first code block with a language.

import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import shell from 'highlight.js/lib/languages/shell';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import type { ElementContent } from 'hast';
import { createLowlight } from 'lowlight';
import type { ReactNode } from 'react';

// Each grammar also registers its own aliases (rs, sh, js, ts, py, html, yml, ...).
const lowlight = createLowlight({ bash, c, cpp, css, diff, go, java, javascript, json, python, rust, shell, sql, typescript, xml, yaml });

/** Whether code in `language` (a name or an alias) gets colours. */
function isHighlighted(language: string | null): language is string {
  return language !== null && lowlight.registered(language);
}

function toReact(nodes: ElementContent[]): ReactNode[] {
  return nodes.map((node, n) => {
    if (node.type === 'text') return node.value;
    if (node.type !== 'element') return null;
    const className = node.properties.className;
    return (
      <span key={n} className={Array.isArray(className) ? className.join(' ') : undefined}>
        {toReact(node.children)}
      </span>
    );
  });
}

/** `text` as highlighted React elements, or as it is when `language` is not one of the bundled ones. */
export function highlight(language: string | null, text: string): ReactNode {
  if (!isHighlighted(language)) return text;
  return toReact(lowlight.highlight(language, text).children as ElementContent[]);
}
