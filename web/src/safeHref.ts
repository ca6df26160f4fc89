// Which link destinations in a reply become links (./markdown): a reply's text is untrusted, so only
// http(s) and mailto URLs do; javascript:, data:, relative and any other destination stay text.

/** An href for `destination` if it is an http(s) or mailto URL; null for any other scheme or a relative path. */
export function safeHref(destination: string): string | null {
  try {
    const url = new URL(destination.trim());
    return url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'mailto:' ? url.href : null;
  } catch {
    return null;
  }
}
