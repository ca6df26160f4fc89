import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { SearchHit } from './protocol';
import { SearchBox, SearchHits } from './Search';

const now = new Date('2026-11-21T15:00:00.000Z');
const hit = (over: Partial<SearchHit>): SearchHit => ({
  conversationId: 'c1',
  title: 'Wildlife',
  messageId: 'm1',
  role: 'user',
  snippet: [],
  createdAt: '2026-11-02T10:00:00.000Z',
  ...over,
});

describe('SearchHits', () => {
  it('marks the found words of each snippet and says who wrote it, in which conversation', () => {
    const html = renderToStaticMarkup(
      <SearchHits
        hits={[
          hit({
            snippet: [
              { text: 'Where do ', match: false },
              { text: 'QUOKKAS', match: true },
              { text: ' live?', match: false },
            ],
          }),
          hit({ messageId: 'm2', conversationId: 'c2', title: 'Trip', role: 'assistant', snippet: [{ text: 'quokka', match: true }] }),
        ]}
        searching={false}
        now={now}
        onOpen={() => {}}
      />,
    );
    expect(html).toContain('<span>Where do </span><mark>QUOKKAS</mark><span> live?</span>');
    expect(html).toMatch(/data-conversation="c1".*Wildlife.*You · /);
    expect(html).toMatch(/data-conversation="c2".*Trip.*Agent · /);
  });

  it('shows a snippet as text, never as markup', () => {
    const html = renderToStaticMarkup(
      <SearchHits
        hits={[hit({ snippet: [{ text: '<img src=x onerror=alert(1)>', match: true }] })]}
        searching={false}
        now={now}
        onOpen={() => {}}
      />,
    );
    expect(html).toContain('<mark>&lt;img src=x onerror=alert(1)&gt;</mark>');
    expect(html).not.toContain('<img');
  });

  it('says when nothing was found', () => {
    expect(renderToStaticMarkup(<SearchHits hits={[]} searching={false} now={now} onOpen={() => {}} />)).toContain('No messages found.');
  });
});

describe('SearchBox', () => {
  it('is a labelled search field within the server’s length', () => {
    const html = renderToStaticMarkup(<SearchBox query="quo" onChange={() => {}} />);
    expect(html).toContain('<label for="message-search" class="visually-hidden">Search messages</label>');
    expect(html).toMatch(/<input id="message-search" type="search"[^>]*maxLength="200"[^>]*value="quo"/);
  });
});
