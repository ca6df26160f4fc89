// The search behind the sidebar's search box (./Search shows it): `GET /api/search` a moment after the query
// last changed, the previous answer kept while the next one is under way.

import { useEffect, useState } from 'react';
import type { Api } from './api';
import type { SearchHit } from './protocol';

/** How long typing must pause before a search is sent: one request per pause, not one per key. */
const SEARCH_DELAY_MS = 250;

type Answer = { kind: 'found'; hits: SearchHit[] } | { kind: 'failed'; message: string };

export interface SearchState {
  /** A search for the current query is under way (or waiting for typing to pause). */
  searching: boolean;
  /** The last answer, kept while the next one is under way so the list does not flicker; null before the first. */
  answer: Answer | null;
}

/** Searches for `query` a moment after it last changed; the answer to a query changed meanwhile is dropped. */
export function useMessageSearch(api: Pick<Api, 'search'>, query: string): SearchState {
  // The last answer and the query it answers: the search is under way while that is not the current query.
  const [answered, setAnswered] = useState<{ query: string; answer: Answer } | null>(null);
  useEffect(() => {
    let wanted = true;
    const timer = setTimeout(() => {
      void api.search(query).then((result) => {
        if (!wanted) return;
        setAnswered({
          query,
          answer: result.ok ? { kind: 'found', hits: result.value } : { kind: 'failed', message: result.message },
        });
      });
    }, SEARCH_DELAY_MS);
    return () => {
      wanted = false;
      clearTimeout(timer);
    };
  }, [api, query]);
  return { searching: answered?.query !== query, answer: answered?.answer ?? null };
}
