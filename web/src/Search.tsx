// Search in the sidebar: a box that searches the user's messages as they type (`GET /api/search`, a moment
// after the last key), and the hits in place of the conversation list, each with its conversation's title,
// who wrote it and when, and a snippet with the found words marked. Choosing a hit opens its conversation.
// Snippets are untrusted text and are rendered as text, never as HTML.

import type { Api } from './api';
import { formatUpdated } from './format';
import { MAX_SEARCH_CHARS, type SearchHit, type SnippetPart } from './protocol';
import { useMessageSearch } from './useMessageSearch';

export function SearchBox({ query, onChange }: { query: string; onChange: (query: string) => void }) {
  return (
    <div className="search" role="search">
      <label htmlFor="message-search" className="visually-hidden">
        Search messages
      </label>
      <input
        id="message-search"
        type="search"
        data-testid="search-input"
        placeholder="Search messages"
        autoComplete="off"
        value={query}
        maxLength={MAX_SEARCH_CHARS}
        onChange={(event) => onChange(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === 'Escape') onChange('');
        }}
      />
    </div>
  );
}

export function SearchResults({
  api,
  query,
  onOpen,
}: {
  api: Pick<Api, 'search'>;
  query: string;
  onOpen: (conversationId: string) => void;
}) {
  const { searching, answer } = useMessageSearch(api, query);
  if (answer === null) {
    return (
      <p className="hint search-status" role="status" data-testid="search-status">
        Searching…
      </p>
    );
  }
  if (answer.kind === 'failed') {
    return (
      <p className="hint hint-error" role="alert" data-testid="search-error">
        {answer.message}
      </p>
    );
  }
  return <SearchHits hits={answer.hits} searching={searching} now={new Date()} onOpen={onOpen} />;
}

export function SearchHits({
  hits,
  searching,
  now,
  onOpen,
}: {
  hits: SearchHit[];
  searching: boolean;
  now: Date;
  onOpen: (conversationId: string) => void;
}) {
  if (hits.length === 0) {
    return (
      <p className="hint search-status" role="status" data-testid="search-status" aria-busy={searching}>
        No messages found.
      </p>
    );
  }
  return (
    <ul className="search-results" aria-label="Search results" aria-busy={searching} data-testid="search-results">
      {hits.map((hit) => (
        <li key={hit.messageId}>
          <button
            type="button"
            className="search-hit"
            data-testid="search-hit"
            data-conversation={hit.conversationId}
            onClick={() => onOpen(hit.conversationId)}
          >
            <span className="conversation-title">{hit.title}</span>
            <span className="search-hit-snippet" data-testid="search-snippet">
              <Snippet parts={hit.snippet} />
            </span>
            <span className="conversation-when">
              {hit.role === 'user' ? 'You' : 'Agent'} · {formatUpdated(hit.createdAt, now)}
            </span>
          </button>
        </li>
      ))}
    </ul>
  );
}

function Snippet({ parts }: { parts: SnippetPart[] }) {
  // The parts never change order or number for a hit, so their position is a stable key.
  return parts.map((part, i) => (part.match ? <mark key={i}>{part.text}</mark> : <span key={i}>{part.text}</span>));
}
