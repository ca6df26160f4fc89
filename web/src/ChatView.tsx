// One conversation on screen: the header's model and thinking picker, earlier pages on request, the messages (assistant replies as safe markdown,
// with the agent's tool calls above and tokens and cost under each), the agent's status, and the composer
// with Send and Stop; Edit and Regenerate on the last exchange, and its versions (Versions.tsx). Remounted (by
// key) when another conversation is chosen, so its state starts clean.

import { Fragment, useCallback, useEffect, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { ActivityPanel } from './Activity';
import { MicrophoneIcon, PaperclipIcon, PendingAttachments, SentAttachments } from './Attachments';
import type { Api } from './api';
import { displayedMessages, lastExchange, turnLabel, type ChatMessage } from './chatState';
import { formatMeta } from './format';
import { Markdown } from './markdown';
import { ModelPicker } from './ModelPicker';
import { ACCEPTED_FILES, type TurnStatus } from './protocol';
import { useChat } from './useChat';
import { useComposerAttachments } from './useComposerAttachments';
import type { Connection } from './useConnection';
import { formatElapsed, useVoiceRecorder } from './useVoiceRecorder';
import { EditBox, ExchangeControls } from './Versions';

/** What a person can do about an error, beyond retrying. */
const ERROR_HINTS: Partial<Record<string, string>> = {
  no_provider: 'Choose a model provider and key in Settings.',
  llm_error: 'Check the model and API key in Settings, or try again later.',
  timeout: 'The agent took too long.',
  quota_exceeded: 'Delete conversations with attachments you no longer need.',
  transcription_failed: 'Check the speech-to-text provider and key in Settings, or record again.',
  agent_crashed: 'The agent stopped unexpectedly; it restarts for the next message.',
};

export interface ChatViewProps {
  conversationId: string;
  title: string;
  isNew: boolean;
  turn: TurnStatus;
  connection: Connection;
  api: Api;
  /** Opens the conversation the `/new` command started. */
  onNewConversation: (id: string) => void;
}

export function ChatView({ conversationId, title, isNew, turn, connection, api, onNewConversation }: ChatViewProps) {
  const { state, send, cancel, loadEarlier, regenerate, edit, browseVersion } = useChat(
    conversationId,
    { isNew, turn },
    connection,
    api,
    onNewConversation,
  );
  const [draft, setDraft] = useState('');
  // The id of the last user message while it is being edited.
  const [editing, setEditing] = useState<string | null>(null);
  const attachments = useComposerAttachments(api, conversationId);
  const fileInputRef = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const listRef = useRef<HTMLDivElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  // Follow new text only while the reader is at the bottom, so scrolling up to read is not undone.
  const pinnedToBottom = useRef(true);
  // Where the reader was before an earlier page was put above: kept, so the page does not jump.
  const heightBeforeEarlier = useRef<number | null>(null);

  useLayoutEffect(() => {
    const list = listRef.current;
    if (list === null) return;
    if (heightBeforeEarlier.current !== null) {
      list.scrollTop += list.scrollHeight - heightBeforeEarlier.current;
      heightBeforeEarlier.current = null;
    } else if (pinnedToBottom.current) {
      list.scrollTop = list.scrollHeight;
    }
  }, [state.messages]);

  useLayoutEffect(() => {
    const input = inputRef.current;
    if (input === null) return;
    input.style.height = 'auto';
    input.style.height = `${input.scrollHeight}px`;
  }, [draft]);

  const connected = state.connection === 'open';
  // A new conversation, or one just chosen: ready to type.
  useEffect(() => {
    if (connected) inputRef.current?.focus({ preventScroll: true });
  }, [connected]);

  const status = turnLabel(state.turn);
  const { messages: shown, pager } = displayedMessages(state);
  const exchange = connected ? lastExchange(state) : null;
  // `/model` and `/think` answer with a notice: the picker then reads the settings again.
  const notices = state.messages.filter((m) => m.role === 'notice').length;

  const ready = attachments.pending.filter((p) => p.status === 'ready').length;
  const canSend = connected && !attachments.uploading && (draft.trim() !== '' || ready > 0);
  const submit = () => {
    if (!canSend) return;
    const sent = attachments.pending.flatMap((p) => (p.attachment !== undefined ? [p.attachment] : []));
    if (send(draft, sent)) {
      setDraft('');
      // Refused uploads go with the sent ones: their errors were shown.
      attachments.take();
      pinnedToBottom.current = true;
    }
  };
  // A voice note is sent as soon as its upload is done, with whatever was typed; a refused upload stays in the
  // composer with its error instead.
  const sendVoice = useRef(false);
  const addAttachments = attachments.add;
  const recorder = useVoiceRecorder(
    useCallback(
      (file: File) => {
        sendVoice.current = true;
        addAttachments([file]);
      },
      [addAttachments],
    ),
  );
  const allReady = attachments.pending.length > 0 && attachments.pending.every((p) => p.status === 'ready');
  const sendNow = useRef(submit);
  useEffect(() => {
    sendNow.current = submit;
  });
  useEffect(() => {
    if (!sendVoice.current || attachments.uploading) return;
    sendVoice.current = false;
    if (allReady) sendNow.current();
  }, [attachments.uploading, allReady]);
  const recording = recorder.state.kind === 'recording';
  const addFiles = (files: FileList | null) => {
    if (files !== null && files.length > 0) attachments.add(Array.from(files));
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
  const retry = (text: string) => {
    if (send(text)) pinnedToBottom.current = true;
  };
  const earlier = () => {
    heightBeforeEarlier.current = listRef.current?.scrollHeight ?? null;
    loadEarlier();
  };

  return (
    <section
      className={`chat${dragging ? ' chat-dragging' : ''}`}
      aria-label={title}
      onDragOver={(event) => {
        if (!event.dataTransfer.types.includes('Files')) return;
        event.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(event) => {
        if (event.currentTarget === event.target) setDragging(false);
      }}
      onDrop={(event) => {
        if (event.dataTransfer.files.length === 0) return;
        event.preventDefault();
        setDragging(false);
        addFiles(event.dataTransfer.files);
      }}
    >
      <div className="chat-header">
        <ModelPicker api={api} conversationId={conversationId} refresh={notices} />
      </div>
      <div
        className="messages"
        data-testid="message-list"
        data-history={state.history}
        data-conversation-id={conversationId}
        ref={listRef}
        onScroll={(event) => {
          const list = event.currentTarget;
          pinnedToBottom.current = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
        }}
        aria-live="polite"
        aria-relevant="additions text"
        tabIndex={0}
        role="log"
        aria-label={`Messages of ${title}`}
      >
        <div className="messages-inner">
          {state.hasEarlier && (
            <div className="earlier">
              <button
                type="button"
                className="link-button"
                data-testid="load-earlier"
                onClick={earlier}
                disabled={state.earlier === 'loading'}
              >
                {state.earlier === 'loading' ? 'Loading…' : 'Load earlier messages'}
              </button>
              {state.earlierError !== null && (
                <p className="hint hint-error" role="alert">
                  Could not load earlier messages: {state.earlierError}
                </p>
              )}
            </div>
          )}
          {state.historyError !== null && (
            <p className="hint hint-error" data-testid="history-error" role="alert">
              Could not load the conversation: {state.historyError}
            </p>
          )}
          {state.messages.length === 0 && state.history === 'loading' && <p className="hint">Loading…</p>}
          {state.messages.length === 0 && state.history === 'loaded' && (
            <p className="hint" data-testid="empty-conversation">
              No messages yet. Say hello to your agent.
            </p>
          )}
          {shown.map((message) => {
            const id = message.role === 'user' || message.role === 'assistant' ? message.messageId : undefined;
            const isLastUser = exchange !== null && message.role === 'user' && id === exchange.userId;
            const editable = isLastUser && exchange.replyId !== null;
            // Regenerate goes with the reply, or with the question whose rerun failed.
            const regenerateId = exchange?.replyId ?? exchange?.userId;
            const regenerable = exchange !== null && id === regenerateId && (message.role === 'assistant' || exchange.replyId === null);
            return (
              <Fragment key={message.key}>
                {editable && editing === id ? (
                  <EditBox
                    text={message.text}
                    onCancel={() => setEditing(null)}
                    onSave={(text) => {
                      const sent = edit(exchange.userId, text);
                      if (sent) setEditing(null);
                      return sent;
                    }}
                  />
                ) : (
                  <MessageBubble message={message} onRetry={connected ? retry : null} api={api} conversationId={conversationId} />
                )}
                <ExchangeControls
                  onEdit={editable && editing !== id ? () => setEditing(exchange.userId) : null}
                  onRegenerate={regenerable && regenerateId !== undefined ? () => regenerate(regenerateId) : null}
                  pager={pager !== null && pager.anchorKey === message.key ? pager : null}
                  onBrowse={browseVersion}
                />
              </Fragment>
            );
          })}
        </div>
      </div>

      <div className="composer">
        <div className="composer-top">
          <div className="turn-status" data-testid="turn-status" data-status={state.turn} role="status" aria-live="polite">
            {status !== null && (
              <>
                <span className="spinner" aria-hidden="true" />
                {status}
              </>
            )}
          </div>
          {/* For screen readers the same words describe the input (message-keys). */}
          <span className="composer-hint" aria-hidden="true">
            Enter sends · Shift+Enter: new line
          </span>
        </div>
        <PendingAttachments attachments={attachments} />
        {recorder.state.kind === 'failed' && (
          <p className="attachment-error" data-testid="recorder-error" role="alert">
            {recorder.state.message}
          </p>
        )}
        <form className="composer-row" onSubmit={onSubmit}>
          <input
            ref={fileInputRef}
            type="file"
            multiple
            accept={ACCEPTED_FILES}
            className="visually-hidden"
            data-testid="file-input"
            tabIndex={-1}
            aria-hidden="true"
            onChange={(event) => {
              addFiles(event.target.files);
              event.target.value = '';
            }}
          />
          <button
            type="button"
            className="button button-attach"
            data-testid="attach-button"
            aria-label="Attach images or files"
            title="Attach images or files (or paste or drop them)"
            disabled={!connected}
            onClick={() => fileInputRef.current?.click()}
          >
            <PaperclipIcon />
          </button>
          {recorder.supported && (
            <button
              type="button"
              className={`button button-mic${recording ? ' button-mic-recording' : ''}`}
              data-testid="mic-button"
              data-state={recorder.state.kind}
              aria-label={recording ? 'Stop recording and send' : 'Record a voice note'}
              aria-pressed={recording}
              title={recording ? 'Stop recording and send' : 'Record a voice note'}
              disabled={!connected || recorder.state.kind === 'starting'}
              onClick={recording ? recorder.stop : recorder.start}
            >
              <MicrophoneIcon />
              {recording && (
                <span className="recording-time" data-testid="recording-time" role="timer">
                  {formatElapsed(recorder.elapsedMs)}
                </span>
              )}
            </button>
          )}
          <label className="visually-hidden" htmlFor="message-input">
            Message
          </label>
          <span className="visually-hidden" id="message-keys">
            Enter sends, Shift+Enter starts a new line.
          </span>
          <textarea
            id="message-input"
            ref={inputRef}
            data-testid="message-input"
            rows={1}
            value={draft}
            placeholder={connected ? 'Message your agent' : 'Waiting for the connection…'}
            aria-describedby="message-keys"
            disabled={!connected}
            onChange={(event) => setDraft(event.target.value)}
            onKeyDown={onKeyDown}
            onPaste={(event) => {
              // Pasted images (a screenshot) become attachments; pasted text stays text.
              if (event.clipboardData.files.length === 0) return;
              event.preventDefault();
              addFiles(event.clipboardData.files);
            }}
          />
          {state.turn !== 'idle' && (
            <button type="button" className="button button-stop" data-testid="stop-button" onClick={cancel} disabled={!connected}>
              Stop
            </button>
          )}
          <button type="submit" className="button button-send" data-testid="send-button" disabled={!canSend}>
            Send
          </button>
        </form>
      </div>
    </section>
  );
}

/** Server messages are written lower case ("the turn was cancelled"); shown alone, they read as sentences. */
function asSentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

interface MessageBubbleProps {
  message: ChatMessage;
  onRetry: ((text: string) => void) | null;
  /** Where a message's attachments are fetched from. */
  api: Api;
  conversationId: string;
}

function MessageBubble({ message, onRetry, api, conversationId }: MessageBubbleProps) {
  if (message.role === 'notice') {
    return (
      <article className="message message-notice" data-testid="message" data-role="notice" role="status">
        <div className="message-text" data-testid="message-text">
          <Markdown text={message.text} />
        </div>
      </article>
    );
  }
  if (message.role === 'error') {
    const hint = ERROR_HINTS[message.code];
    const retryText = message.retryText;
    return (
      <article className="message message-error" data-testid="message" data-role="error" role="alert">
        <div className="message-text" data-testid="message-text">
          {asSentence(message.text)}
          {hint !== undefined && <span className="error-hint"> {hint}</span>}
        </div>
        <div className="message-meta message-error-actions">
          <span data-testid="error-code">{message.code}</span>
          {retryText !== undefined && onRetry !== null && (
            <button type="button" className="link-button" data-testid="retry-button" onClick={() => onRetry(retryText)}>
              Retry
            </button>
          )}
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
        : message.state === 'sending'
          ? 'sending…'
          : null;
  return (
    <article
      className={`message message-${message.role} message-${message.state}`}
      data-testid="message"
      data-role={message.role}
      data-state={message.state}
      data-message-id={message.messageId}
      aria-busy={message.role === 'assistant' && message.state === 'streaming'}
    >
      {message.role === 'assistant' && message.activity !== undefined && (
        // Keyed by liveness: the folded panel starts closed even if the reader left the live one open.
        <ActivityPanel
          key={message.state === 'streaming' ? 'live' : 'done'}
          activity={message.activity}
          live={message.state === 'streaming'}
        />
      )}
      {message.role === 'user' && message.attachments !== undefined && (
        <SentAttachments api={api} conversationId={conversationId} attachments={message.attachments} />
      )}
      <div className="message-text" data-testid="message-text">
        {message.role === 'assistant' ? <Markdown text={message.text} /> : <div className="plain-text">{message.text}</div>}
        {message.role === 'assistant' && message.state === 'streaming' && <span className="caret" aria-hidden="true" />}
      </div>
      {message.role === 'assistant' && message.attachments !== undefined && (
        <SentAttachments api={api} conversationId={conversationId} attachments={message.attachments} />
      )}
      {footer !== null && (
        <div className="message-meta" data-testid="message-meta">
          {footer}
        </div>
      )}
    </article>
  );
}
