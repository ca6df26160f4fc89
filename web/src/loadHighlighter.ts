// Loads the syntax highlighter (./highlight) on the first code block with a language, once, so the page's
// first load stays small; code blocks render uncoloured until it is there (./markdown).

type Highlighter = typeof import('./highlight');
let highlighter: Highlighter | null = null;
let loadingHighlighter: Promise<Highlighter> | null = null;

/** Loads the highlighter (once). */
export function loadHighlighter(): Promise<Highlighter> {
  loadingHighlighter ??= import('./highlight').then((module) => (highlighter = module));
  return loadingHighlighter;
}

/** The highlighter if it is loaded already, else null. */
export function loadedHighlighter(): Highlighter | null {
  return highlighter;
}
