// The conversation list: new, search (the hits replace the list while there is a query), choose, and for the
// current conversation rename (inline) and delete (after an inline confirmation). On phone-sized screens it is a
// drawer opened from the header's menu button.

import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { Api } from './api';
import { formatUpdated } from './format';
import { SearchBox, SearchResults } from './Search';
import type { Conversations } from './useConversations';

export const NEW_CONVERSATION_TITLE = 'New conversation';

type Editing = { kind: 'none' } | { kind: 'rename'; id: string; title: string } | { kind: 'delete'; id: string };

export function Sidebar({
  api,
  conversations,
  open,
  onChosen,
}: {
  api: Pick<Api, 'search'>;
  conversations: Conversations;
  /** Phone-sized screens: whether the drawer is shown. */
  open: boolean;
  /** A conversation was chosen or started: the drawer closes and the chat shows. */
  onChosen: () => void;
}) {
  const { list, listError, current, turns } = conversations;
  const [editing, setEditing] = useState<Editing>({ kind: 'none' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [query, setQuery] = useState('');
  const searching = query.trim() !== '';
  const renameRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (editing.kind === 'rename') renameRef.current?.select();
  }, [editing.kind]);

  const draftShown = current !== null && current.isNew && !(list ?? []).some((c) => c.id === current.id);
  const now = new Date();

  const rename = async (event: FormEvent) => {
    event.preventDefault();
    if (editing.kind !== 'rename') return;
    setBusy(true);
    const result = await conversations.rename(editing.id, editing.title);
    setBusy(false);
    if (result.ok) {
      setEditing({ kind: 'none' });
      setError(null);
    } else {
      setError(result.message);
    }
  };

  const remove = async (id: string) => {
    setBusy(true);
    const result = await conversations.remove(id);
    setBusy(false);
    setEditing({ kind: 'none' });
    setError(result.ok ? null : result.message);
  };

  return (
    <nav className="sidebar" id="sidebar" data-open={open} aria-label="Conversations" data-testid="sidebar">
      <button
        type="button"
        className="button button-new"
        data-testid="new-conversation"
        onClick={() => {
          conversations.startNew();
          setEditing({ kind: 'none' });
          onChosen();
        }}
      >
        New conversation
      </button>
      <SearchBox query={query} onChange={setQuery} />
      {searching && (
        <SearchResults
          api={api}
          query={query.trim()}
          onOpen={(id) => {
            conversations.select(id);
            setQuery('');
            setEditing({ kind: 'none' });
            onChosen();
          }}
        />
      )}
      {listError !== null && (
        <p className="hint hint-error" role="alert">
          Could not load the conversations: {listError}{' '}
          <button type="button" className="link-button" onClick={conversations.reload}>
            Try again
          </button>
        </p>
      )}
      {error !== null && (
        <p className="hint hint-error" role="alert" data-testid="conversation-error">
          {error}
        </p>
      )}
      <ul className="conversation-list" data-testid="conversation-list" aria-busy={list === null} hidden={searching}>
        {draftShown && (
          <li className="conversation" data-testid="conversation-item" data-id={current.id} data-current="true" data-new="true">
            <button type="button" className="conversation-choose" aria-current="page" onClick={onChosen}>
              <span className="conversation-title">{NEW_CONVERSATION_TITLE}</span>
              <span className="conversation-when">not started</span>
            </button>
          </li>
        )}
        {(list ?? []).map((c) => {
          const isCurrent = current?.id === c.id;
          const turn = turns[c.id];
          return (
            <li key={c.id} className="conversation" data-testid="conversation-item" data-id={c.id} data-current={isCurrent}>
              {editing.kind === 'rename' && editing.id === c.id ? (
                <form className="conversation-rename" onSubmit={(event) => void rename(event)}>
                  <label htmlFor={`rename-${c.id}`} className="visually-hidden">
                    New title for {c.title}
                  </label>
                  <input
                    id={`rename-${c.id}`}
                    ref={renameRef}
                    data-testid="rename-input"
                    value={editing.title}
                    maxLength={200}
                    required
                    onChange={(event) => setEditing({ ...editing, title: event.target.value })}
                    onKeyDown={(event) => {
                      if (event.key === 'Escape') setEditing({ kind: 'none' });
                    }}
                  />
                  <div className="conversation-actions">
                    <button type="submit" className="link-button" data-testid="rename-save" disabled={busy}>
                      Save
                    </button>
                    <button type="button" className="link-button" onClick={() => setEditing({ kind: 'none' })}>
                      Cancel
                    </button>
                  </div>
                </form>
              ) : (
                <button
                  type="button"
                  className="conversation-choose"
                  aria-current={isCurrent ? 'page' : undefined}
                  onClick={() => {
                    conversations.select(c.id);
                    setEditing({ kind: 'none' });
                    onChosen();
                  }}
                >
                  <span className="conversation-title" data-testid="conversation-title">
                    {c.title}
                  </span>
                  <span className="conversation-when">
                    {turn !== undefined ? <span className="conversation-busy">working…</span> : formatUpdated(c.updatedAt, now)}
                  </span>
                </button>
              )}
              {isCurrent && editing.kind === 'none' && (
                <div className="conversation-actions">
                  <button
                    type="button"
                    className="link-button"
                    data-testid="rename-conversation"
                    onClick={() => setEditing({ kind: 'rename', id: c.id, title: c.title })}
                    aria-label={`Rename ${c.title}`}
                  >
                    Rename
                  </button>
                  <button
                    type="button"
                    className="link-button link-danger"
                    data-testid="delete-conversation"
                    onClick={() => setEditing({ kind: 'delete', id: c.id })}
                    aria-label={`Delete ${c.title}`}
                  >
                    Delete
                  </button>
                </div>
              )}
              {editing.kind === 'delete' && editing.id === c.id && (
                <div className="conversation-confirm" role="alertdialog" aria-label={`Delete ${c.title}?`}>
                  <p>Delete “{c.title}” and its messages? This cannot be undone.</p>
                  <div className="conversation-actions">
                    <button
                      type="button"
                      className="link-button link-danger"
                      data-testid="confirm-delete"
                      disabled={busy}
                      onClick={() => void remove(c.id)}
                      autoFocus
                    >
                      Delete
                    </button>
                    <button type="button" className="link-button" onClick={() => setEditing({ kind: 'none' })}>
                      Cancel
                    </button>
                  </div>
                </div>
              )}
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
