// Attachments on the page: the composer's pending uploads (picked, pasted or dropped; each uploaded at once,
// previewed, removable, with the server's refusal shown on it) and a sent message's attachments (images shown,
// files offered for download). Bytes are fetched with the session's token (never a bare URL in an <img>), and
// shown through object URLs that are revoked when no longer on screen.

import { useCallback, useEffect, useRef, useState } from 'react';
import type { Api } from './api';
import { MAX_ATTACHMENTS, MAX_FILE_BYTES, MAX_IMAGE_BYTES, type Attachment } from './protocol';

/** A document outline (no emoji: not every system has a font for them). */
function FileIcon() {
  return (
    <svg className="attachment-icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">
      <path d="M3.5 1.5h6l3 3v10h-9z M9.5 1.5v3h3" fill="none" stroke="currentColor" strokeWidth="1.2" strokeLinejoin="round" />
    </svg>
  );
}

/** A paper clip, for the attach button. */
export function PaperclipIcon() {
  return (
    <svg viewBox="0 0 16 16" width="18" height="18" aria-hidden="true">
      <path
        d="M10.5 4.5 5.2 9.8a1.4 1.4 0 0 0 2 2l5.6-5.6a2.8 2.8 0 0 0-4-4L3.2 7.8a4.2 4.2 0 0 0 6 6l4.3-4.3"
        fill="none"
        stroke="currentColor"
        strokeWidth="1.2"
        strokeLinecap="round"
      />
    </svg>
  );
}

/** One file in the composer. */
export interface PendingAttachment {
  key: string;
  name: string;
  size: number;
  /** An object URL of the picked image, for its preview. */
  preview?: string;
  status: 'uploading' | 'ready' | 'failed';
  /** Once uploaded. */
  attachment?: Attachment;
  /** Why it was refused (by this page or the server). */
  error?: string;
}

export interface ComposerAttachments {
  pending: PendingAttachment[];
  /** Adds files (picked, pasted or dropped) and uploads each. */
  add: (files: File[]) => void;
  /** Removes one: its upload is deleted on the server. */
  remove: (key: string) => void;
  /** The uploaded attachments, to send; empties the composer. */
  take: () => Attachment[];
  /** Some upload is still running. */
  uploading: boolean;
}

/** A size as people read it. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} bytes`;
  if (bytes < 1_000_000) return `${Math.round(bytes / 1000)} KB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

/** What this page refuses before uploading: a file over its kind's limit (the server checks everything again). */
export function refusedBeforeUpload(file: { name: string; size: number; type: string }): string | null {
  const image = file.type.startsWith('image/');
  const limit = image ? MAX_IMAGE_BYTES : MAX_FILE_BYTES;
  if (file.size > limit) {
    return `${file.name} is ${formatBytes(file.size)}; ${image ? 'an image' : 'a file'} may be at most ${limit / (1024 * 1024)} MiB.`;
  }
  if (file.size === 0) return `${file.name} is empty.`;
  return null;
}

let pendingSeq = 0;

export function useComposerAttachments(api: Api, conversationId: string): ComposerAttachments {
  const [pending, setPending] = useState<PendingAttachment[]>([]);
  // The latest list, for the callbacks and for revoking previews when the view goes.
  const current = useRef(pending);
  current.current = pending;
  useEffect(
    () => () => {
      for (const p of current.current) if (p.preview !== undefined) URL.revokeObjectURL(p.preview);
    },
    [],
  );

  const update = useCallback((key: string, change: Partial<PendingAttachment>) => {
    setPending((list) => list.map((p) => (p.key === key ? { ...p, ...change } : p)));
  }, []);

  const add = useCallback(
    (files: File[]) => {
      const room = MAX_ATTACHMENTS - current.current.length;
      const added: PendingAttachment[] = files.map((file, index) => {
        const key = `p${++pendingSeq}`;
        const base: PendingAttachment = { key, name: file.name || 'pasted image', size: file.size, status: 'uploading' };
        if (file.type.startsWith('image/')) base.preview = URL.createObjectURL(file);
        const refused =
          index >= room
            ? `A message may carry at most ${MAX_ATTACHMENTS} attachments.`
            : refusedBeforeUpload({ name: base.name, type: file.type, size: file.size });
        if (refused !== null) return { ...base, status: 'failed', error: refused };
        void api
          .uploadAttachment(conversationId, file, base.name)
          .then((result) =>
            update(key, result.ok ? { status: 'ready', attachment: result.value } : { status: 'failed', error: result.message }),
          );
        return base;
      });
      setPending((list) => [...list, ...added]);
    },
    [api, conversationId, update],
  );

  const remove = useCallback(
    (key: string) => {
      const gone = current.current.find((p) => p.key === key);
      if (gone === undefined) return;
      if (gone.preview !== undefined) URL.revokeObjectURL(gone.preview);
      // Nothing to wait for: an upload the server kept but this page dropped only costs its quota until the
      // conversation goes.
      if (gone.attachment !== undefined) void api.deleteAttachment(conversationId, gone.attachment.id);
      setPending((list) => list.filter((p) => p.key !== key));
    },
    [api, conversationId],
  );

  const take = useCallback(() => {
    const ready = current.current.flatMap((p) => (p.attachment !== undefined ? [p.attachment] : []));
    for (const p of current.current) if (p.preview !== undefined) URL.revokeObjectURL(p.preview);
    setPending([]);
    return ready;
  }, []);

  return { pending, add, remove, take, uploading: pending.some((p) => p.status === 'uploading') };
}

/** The composer's attachments, each with its preview, state and a remove button. */
export function PendingAttachments({ attachments }: { attachments: ComposerAttachments }) {
  if (attachments.pending.length === 0) return null;
  return (
    <ul className="pending-attachments" data-testid="pending-attachments" aria-label="Attachments to send">
      {attachments.pending.map((p) => (
        <li key={p.key} className={`attachment-chip attachment-${p.status}`} data-testid="pending-attachment" data-status={p.status}>
          {p.preview !== undefined ? <img className="attachment-thumb" src={p.preview} alt="" /> : <FileIcon />}
          <span className="attachment-name">{p.name}</span>
          <span className="attachment-size">{p.status === 'uploading' ? 'uploading…' : formatBytes(p.size)}</span>
          {p.error !== undefined && (
            <span className="attachment-error" data-testid="attachment-error" role="alert">
              {p.error}
            </span>
          )}
          <button
            type="button"
            className="attachment-remove"
            data-testid="remove-attachment"
            aria-label={`Remove ${p.name}`}
            onClick={() => attachments.remove(p.key)}
          >
            ✕
          </button>
        </li>
      ))}
    </ul>
  );
}

/** An attachment's bytes as an object URL, fetched with the session's token; revoked when it goes. */
function useAttachmentUrl(api: Api, conversationId: string, attachmentId: string, wanted: boolean) {
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!wanted) return undefined;
    let objectUrl: string | null = null;
    let live = true;
    void api.attachmentContent(conversationId, attachmentId).then((result) => {
      if (!live) return;
      if (result.ok) {
        objectUrl = URL.createObjectURL(result.value);
        setUrl(objectUrl);
      } else {
        setError(result.message);
      }
    });
    return () => {
      live = false;
      if (objectUrl !== null) URL.revokeObjectURL(objectUrl);
    };
  }, [api, conversationId, attachmentId, wanted]);
  return { url, error };
}

function SentImage({ api, conversationId, attachment }: { api: Api; conversationId: string; attachment: Attachment }) {
  const { url, error } = useAttachmentUrl(api, conversationId, attachment.id, true);
  if (error !== null) {
    return (
      <span className="attachment-chip attachment-failed" data-testid="attachment-image-error">
        {attachment.name}: {error}
      </span>
    );
  }
  return url === null ? (
    <span className="attachment-image attachment-loading" aria-label={`Loading ${attachment.name}`} />
  ) : (
    <a href={url} target="_blank" rel="noopener noreferrer" className="attachment-image-link">
      <img className="attachment-image" data-testid="attachment-image" src={url} alt={attachment.name} />
    </a>
  );
}

function SentFile({ api, conversationId, attachment }: { api: Api; conversationId: string; attachment: Attachment }) {
  const [error, setError] = useState<string | null>(null);
  const download = () => {
    void api.attachmentContent(conversationId, attachment.id).then((result) => {
      if (!result.ok) {
        setError(result.message);
        return;
      }
      const url = URL.createObjectURL(result.value);
      const link = document.createElement('a');
      link.href = url;
      link.download = attachment.name;
      link.click();
      // The download has its own copy once started.
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    });
  };
  return (
    <span className="attachment-chip" data-testid="attachment-file">
      <FileIcon />
      <button type="button" className="link-button attachment-name" onClick={download} title={`Download ${attachment.name}`}>
        {attachment.name}
      </button>
      <span className="attachment-size">{formatBytes(attachment.size)}</span>
      {error !== null && (
        <span className="attachment-error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

/** A message's attachments (sent by the user or attached by the agent): images shown, files as download chips. */
export function SentAttachments({ api, conversationId, attachments }: { api: Api; conversationId: string; attachments: Attachment[] }) {
  return (
    <div className="message-attachments" data-testid="message-attachments">
      {attachments.map((a) =>
        a.kind === 'image' ? (
          <SentImage key={a.id} api={api} conversationId={conversationId} attachment={a} />
        ) : (
          <SentFile key={a.id} api={api} conversationId={conversationId} attachment={a} />
        ),
      )}
    </div>
  );
}
