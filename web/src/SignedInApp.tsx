// The signed-in app, whichever gate let the user in (local token or Cognito): the header, the conversation
// sidebar, and the chat, the settings page (`#settings`) or the skills page (`#skills`). It owns the one WebSocket and the REST client,
// and gets everything about the sign-in from the AuthSession.

import { useEffect, useMemo, useRef, useState } from 'react';
import { createApi } from './api';
import type { AuthSession } from './auth/session';
import { ChatView } from './ChatView';
import type { ConnectionState } from './connection';
import { restUrl, type RuntimeConfig } from './runtimeConfig';
import { SettingsPage } from './SettingsPage';
import { SkillsPage } from './SkillsPage';
import { NEW_CONVERSATION_TITLE, Sidebar } from './Sidebar';
import { useConnection } from './useConnection';
import { useConversations } from './useConversations';

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  connecting: 'connecting…',
  open: 'connected',
  reconnecting: 'reconnecting…',
  resting: 'paused while hidden',
};

type View = 'chat' | 'settings' | 'skills';

/** The hash of each view but the chat's (which has none). */
const HASHES = { settings: '#settings', skills: '#skills' } as const;

function viewOf(hash: string): View {
  return hash === HASHES.settings ? 'settings' : hash === HASHES.skills ? 'skills' : 'chat';
}

/** The view named by the URL's hash, so each page has its own history entry and the Back button works. */
function useHashView(): [View, (view: View) => void] {
  const [view, setView] = useState(() => viewOf(window.location.hash));
  useEffect(() => {
    const onHashChange = () => setView(viewOf(window.location.hash));
    window.addEventListener('hashchange', onHashChange);
    return () => window.removeEventListener('hashchange', onHashChange);
  }, []);
  const navigate = (next: View) => {
    if (next === viewOf(window.location.hash)) return;
    window.location.hash = next === 'chat' ? '' : HASHES[next];
  };
  return [view, navigate];
}

export function SignedInApp({ config, session }: { config: RuntimeConfig; session: AuthSession }) {
  // REST calls read the latest session (a renewed one) at each call.
  const sessionRef = useRef(session);
  useEffect(() => {
    sessionRef.current = session;
  }, [session]);
  const api = useMemo(
    () =>
      createApi(
        config,
        // eslint-disable-next-line react-hooks/refs -- a getter createApi calls at each request, never during render
        () => sessionRef.current,
        () => window.location.href,
      ),
    [config],
  );
  const connection = useConnection(config, session);
  const conversations = useConversations(api, connection, restUrl(config, '/', window.location.href));
  const [view, navigate] = useHashView();
  const [menuOpen, setMenuOpen] = useState(false);

  useEffect(() => {
    if (!menuOpen) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') setMenuOpen(false);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [menuOpen]);

  const { current, list, turns } = conversations;
  const title = current === null ? '' : (list?.find((c) => c.id === current.id)?.title ?? NEW_CONVERSATION_TITLE);

  return (
    <div className="app" data-menu-open={menuOpen}>
      <header className="topbar">
        <button
          type="button"
          className="menu-button"
          data-testid="menu-button"
          aria-expanded={menuOpen}
          aria-controls="sidebar"
          onClick={() => setMenuOpen((open) => !open)}
        >
          <span aria-hidden="true">☰</span>
          <span className="visually-hidden">Conversations</span>
        </button>
        <h1>serverless-openclaw</h1>
        <span className="connection" data-testid="connection-state" data-state={connection.state} role="status">
          <span className="connection-dot" aria-hidden="true" />
          <span className="connection-text">{CONNECTION_TEXT[connection.state]}</span>
        </span>
        <div className="topbar-actions">
          {view === 'chat' ? (
            <>
              <a className="link-button" href={HASHES.skills} data-testid="skills-link">
                Skills
              </a>
              <a className="link-button" href={HASHES.settings} data-testid="settings-link">
                Settings
              </a>
            </>
          ) : (
            <a
              className="link-button"
              href="#"
              data-testid="chat-link"
              onClick={(event) => {
                event.preventDefault();
                navigate('chat');
              }}
            >
              Back to chat
            </a>
          )}
          {session.userName !== null && (
            <span className="user-name" title={session.userName}>
              {session.userName}
            </span>
          )}
          {session.signOut !== null && (
            <button type="button" className="link-button" onClick={session.signOut} data-testid="sign-out">
              Sign out
            </button>
          )}
        </div>
      </header>

      <div className="layout">
        <Sidebar
          api={api}
          conversations={conversations}
          open={menuOpen}
          onChosen={() => {
            setMenuOpen(false);
            navigate('chat');
          }}
        />
        {menuOpen && <div className="backdrop" aria-hidden="true" onClick={() => setMenuOpen(false)} />}
        <main className="view">
          {view === 'settings' ? (
            <SettingsPage api={api} session={session} />
          ) : view === 'skills' ? (
            <SkillsPage api={api} />
          ) : current === null ? (
            <p className="hint">Loading…</p>
          ) : (
            <ChatView
              key={current.id}
              conversationId={current.id}
              title={title}
              isNew={current.isNew}
              turn={turns[current.id] ?? 'idle'}
              connection={connection}
              api={api}
              onNewConversation={conversations.openNew}
            />
          )}
        </main>
      </div>
    </div>
  );
}
