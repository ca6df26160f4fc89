// The chat page: loads config.json, then the sign-in that config names (the local access token, or
// the deployment's Cognito user pool), then the message list and the composer. State and protocol live
// in useChat.

import { useEffect, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent, type ReactNode } from 'react';
import { forgetAccessToken, takeAccessToken } from './accessToken';
import { CognitoGate } from './auth/CognitoGate';
import { turnLabel, type ChatMessage, type ConnectionState } from './chatState';
import { formatMeta } from './format';
import { parseRuntimeConfig, type RuntimeConfig } from './runtimeConfig';
import { requestLinkCode, type LinkCodeResult } from './telegramLink';
import { useChat } from './useChat';

type Loaded = { kind: 'loading' } | { kind: 'failed'; message: string } | { kind: 'ready'; config: RuntimeConfig };

function useRuntimeConfig(): Loaded {
  const [loaded, setLoaded] = useState<Loaded>({ kind: 'loading' });
  useEffect(() => {
    // Absolute: the page is served at the root, and a deep link must not ask for /some/path/config.json.
    fetch('/config.json', { cache: 'no-store' })
      .then(async (response) => {
        if (!response.ok) throw new Error(`/config.json answered HTTP ${response.status}`);
        const config = parseRuntimeConfig(await response.json());
        setLoaded(typeof config === 'string' ? { kind: 'failed', message: config } : { kind: 'ready', config });
      })
      .catch((error: unknown) => setLoaded({ kind: 'failed', message: error instanceof Error ? error.message : String(error) }));
  }, []);
  return loaded;
}

export function App() {
  const loaded = useRuntimeConfig();
  if (loaded.kind === 'loading') return null;
  if (loaded.kind === 'failed') {
    return (
      <Notice testId="config-error" title="This page is not set up">
        Its configuration could not be read: {loaded.message}
      </Notice>
    );
  }
  const { config } = loaded;
  return config.auth.kind === 'cognito' ? (
    <CognitoGate config={config} auth={config.auth}>
      {(session) => <ChatPage config={config} token={session.token} onRefused={session.refused} />}
    </CognitoGate>
  ) : (
    <TokenGate config={config} />
  );
}

/** Local mode: the token from the URL printed by `serverless-openclaw local`. */
function TokenGate({ config }: { config: RuntimeConfig }) {
  const [token] = useState(takeAccessToken);
  const [refused, setRefused] = useState(false);
  if (token === null) {
    return (
      <Notice testId="no-token" title="No access token">
        Open the URL printed by <code>serverless-openclaw local</code>; it ends with <code>?token=…</code>.
      </Notice>
    );
  }
  if (refused) {
    return (
      <Notice testId="auth-error" title="Invalid token">
        The server refused this access token. Open the URL printed by <code>serverless-openclaw local</code> again.
      </Notice>
    );
  }
  return (
    <ChatPage
      config={config}
      token={token}
      onRefused={() => {
        forgetAccessToken();
        setRefused(true);
      }}
    />
  );
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

/** Issues a one-time code that links a Telegram account to this owner (sent to the bot as `/link CODE`). */
function TelegramLink({ config, token }: { config: RuntimeConfig; token: string }) {
  const [result, setResult] = useState<LinkCodeResult | null>(null);
  const [busy, setBusy] = useState(false);
  const getCode = async () => {
    setBusy(true);
    setResult(await requestLinkCode(config, token, window.location.href));
    setBusy(false);
  };
  return (
    <div className="telegram-link">
      <button type="button" className="link-button" onClick={getCode} disabled={busy} data-testid="telegram-link-button">
        Link Telegram
      </button>
      {result !== null && (
        <p className="telegram-link-result" role="status" data-testid="telegram-link-result">
          {result.kind === 'code' ? (
            <>
              Send <code data-testid="telegram-link-code">/link {result.code.code}</code> to your bot before{' '}
              {result.code.expiresAt.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}.
            </>
          ) : (
            result.message
          )}
        </p>
      )}
    </div>
  );
}

function ChatPage({ config, token, onRefused }: { config: RuntimeConfig; token: string; onRefused: () => void }) {
  const { state, send, cancel } = useChat(config, token);
  const [draft, setDraft] = useState('');
  const listRef = useRef<HTMLElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  // Follow new text only while the reader is at the bottom, so scrolling up to read is not undone.
  const pinnedToBottom = useRef(true);

  const invalidToken = state.auth === 'invalid';
  useEffect(() => {
    if (invalidToken) onRefused();
  }, [invalidToken, onRefused]);

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
        <TelegramLink config={config} token={token} />
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
