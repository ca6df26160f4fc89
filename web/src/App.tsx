// The chat page: the token gate, the message list and the composer. State and protocol live in useChat.

import { useEffect, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent, type ReactNode } from 'react';
import { forgetAccessToken, takeAccessToken } from './accessToken';
import { turnLabel, type ChatMessage, type ConnectionState } from './chatState';
import { formatMeta } from './format';
import { useChat } from './useChat';

export function App() {
  const [token] = useState(takeAccessToken);
  if (token === null) {
    return (
      <Notice testId="no-token" title="No access token">
        Open the URL printed by <code>serverless-openclaw local</code>; it ends with <code>?token=…</code>.
      </Notice>
    );
  }
  return <ChatPage token={token} />;
}

function Notice({ testId, title, children }: { testId: string; title: string; children: ReactNode }) {
  return (
    <div className="notice-page">
      <div className="notice" data-testid={testId} role="alert">
        <h1>{title}</h1>
        <p>{children}</p>
      </div>
    </div>
  );
}

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  connecting: 'connecting…',
  open: 'connected',
  reconnecting: 'reconnecting…',
};

function ChatPage({ token }: { token: string }) {
  const { state, send, cancel } = useChat(token);
  const [draft, setDraft] = useState('');
  const listRef = useRef<HTMLElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  // Follow new text only while the reader is at the bottom, so scrolling up to read is not undone.
  const pinnedToBottom = useRef(true);

  const invalidToken = state.auth === 'invalid';
  useEffect(() => {
    if (invalidToken) forgetAccessToken();
  }, [invalidToken]);

  useLayoutEffect(() => {
    const list = listRef.current;
    if (list !== null && pinnedToBottom.current) list.scrollTop = list.scrollHeight;
  }, [state.messages]);

  useLayoutEffect(() => {
    const input = inputRef.current;
    if (input === null) return;
    input.style.height = 'auto';
    input.style.height = `${input.scrollHeight}px`;
  }, [draft]);

  if (invalidToken) {
    return (
      <Notice testId="auth-error" title="Invalid token">
        The server refused this access token. Open the URL printed by <code>serverless-openclaw local</code> again.
      </Notice>
    );
  }

  const connected = state.connection === 'open';
  const status = turnLabel(state.turn);

  const submit = () => {
    if (send(draft)) {
      setDraft('');
      pinnedToBottom.current = true;
    }
  };
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    submit();
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    // Enter sends, Shift+Enter is a newline; Enter that confirms an IME composition is neither.
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    }
  };

  return (
    <div className="app">
      <header className="topbar">
        <h1>serverless-openclaw</h1>
        <span className="connection" data-testid="connection-state" data-state={state.connection}>
          <span className="connection-dot" aria-hidden="true" />
          {CONNECTION_TEXT[state.connection]}
        </span>
      </header>

      <main
        className="messages"
        data-testid="message-list"
        data-history={state.history}
        ref={listRef}
        onScroll={(event) => {
          const list = event.currentTarget;
          pinnedToBottom.current = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
        }}
        aria-live="polite"
      >
        <div className="messages-inner">
          {state.historyError !== null && (
            <p className="hint hint-error" data-testid="history-error">
              Could not load the conversation: {state.historyError}
            </p>
          )}
          {state.messages.length === 0 && state.history === 'loading' && <p className="hint">Loading…</p>}
          {state.messages.length === 0 && state.history === 'loaded' && (
            <p className="hint" data-testid="empty-conversation">
              No messages yet. Say hello to your agent.
            </p>
          )}
          {state.messages.map((message) => (
            <MessageBubble key={message.key} message={message} />
          ))}
        </div>
      </main>

      <footer className="composer">
        <div className="turn-status" data-testid="turn-status" data-status={state.turn} aria-live="polite">
          {status !== null && (
            <>
              <span className="spinner" aria-hidden="true" />
              {status}
            </>
          )}
        </div>
        <form className="composer-row" onSubmit={onSubmit}>
          <textarea
            ref={inputRef}
            data-testid="message-input"
            rows={1}
            value={draft}
            placeholder={connected ? 'Message your agent (Enter to send, Shift+Enter for a new line)' : 'Waiting for the connection…'}
            disabled={!connected}
            onChange={(event) => setDraft(event.target.value)}
            onKeyDown={onKeyDown}
            aria-label="Message"
          />
          {state.turn !== 'idle' && (
            <button type="button" className="button button-stop" data-testid="stop-button" onClick={cancel} disabled={!connected}>
              Stop
            </button>
          )}
          <button
            type="submit"
            className="button button-send"
            data-testid="send-button"
            disabled={!connected || draft.trim() === ''}
          >
            Send
          </button>
        </form>
      </footer>
    </div>
  );
}

function MessageBubble({ message }: { message: ChatMessage }) {
  if (message.role === 'error') {
    return (
      <article className="message message-error" data-testid="message" data-role="error" role="alert">
        <div className="message-text" data-testid="message-text">
          {message.text}
        </div>
        <div className="message-meta" data-testid="error-code">
          {message.code}
        </div>
      </article>
    );
  }
  const footer =
    message.role === 'assistant'
      ? message.meta !== undefined
        ? formatMeta(message.meta)
        : message.state === 'interrupted'
          ? 'interrupted'
          : null
      : message.state === 'failed'
        ? 'not sent'
        : null;
  return (
    <article
      className={`message message-${message.role} message-${message.state}`}
      data-testid="message"
      data-role={message.role}
      data-state={message.state}
      data-message-id={message.messageId}
    >
      <div className="message-text" data-testid="message-text">
        {message.text}
        {message.role === 'assistant' && message.state === 'streaming' && <span className="caret" aria-hidden="true" />}
      </div>
      {footer !== null && (
        <div className="message-meta" data-testid="message-meta">
          {footer}
        </div>
      )}
    </article>
  );
}
