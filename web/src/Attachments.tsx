// Attachments on the page: the composer's pending uploads (picked, pasted or dropped; each uploaded at once,
// previewed, removable, with the server's refusal shown on it) and a sent message's attachments (images shown,
// files offered for download). Bytes are read through download links (docs/protocol.md, "Attachments"): a URL
// the server hands out to the session's token, valid for minutes, which the <img>, the <audio> or the download
// reads by itself (a presigned S3 URL on AWS, so a file of any size is read straight from storage).

import { useCallback, useEffect, useState } from 'react';
import type { Api } from './api';
import { uploadingLabel, type ComposerAttachments } from './useComposerAttachments';
import { formatBytes } from './format';
import type { Attachment } from './protocol';

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

/** A microphone, for the record button. */
export function MicrophoneIcon() {
  return (
    <svg viewBox="0 0 16 16" width="18" height="18" aria-hidden="true">
      <path
        d="M8 1.5a2 2 0 0 0-2 2v4a2 2 0 0 0 4 0v-4a2 2 0 0 0-2-2z M4 7.5a4 4 0 0 0 8 0 M8 11.5v3 M5.5 14.5h5"
        fill="none"
        stroke="currentColor"
        strokeWidth="1.2"
        strokeLinecap="round"
      />
    </svg>
  );
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
          <span className="attachment-size">{p.status === 'uploading' ? uploadingLabel(p.progress) : formatBytes(p.size)}</span>
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

/** A link fetched less than this long ago that fails to load is a real failure, not an expired link. */
const FRESH_LINK_MS = 10_000;

/**
 * An attachment's download link for an element to load, fetched when shown. When the element fails to load it
 * (`failed`, its error event), a link that is not fresh (it may have expired: the page stayed open longer than
 * its lifetime) is fetched again; a fresh one that fails shows the error.
 */
function useAttachmentLink(api: Api, conversationId: string, attachmentId: string) {
  const [link, setLink] = useState<{ url: string; fetchedAt: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    void api.attachmentLink(conversationId, attachmentId).then((result) => {
      if (!live) return;
      if (result.ok) setLink({ url: result.value.url, fetchedAt: Date.now() });
      else setError(result.message);
    });
    return () => {
      live = false;
    };
  }, [api, conversationId, attachmentId, round]);
  const failed = useCallback(() => {
    if (link !== null && Date.now() - link.fetchedAt > FRESH_LINK_MS) setRound((r) => r + 1);
    else setError('Could not load it; reload the page to try again.');
  }, [link]);
  return { url: link?.url ?? null, error, failed };
}

function SentImage({ api, conversationId, attachment }: { api: Api; conversationId: string; attachment: Attachment }) {
  const { url, error, failed } = useAttachmentLink(api, conversationId, attachment.id);
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
      <img className="attachment-image" data-testid="attachment-image" src={url} alt={attachment.name} onError={failed} />
    </a>
  );
}

function SentFile({ api, conversationId, attachment }: { api: Api; conversationId: string; attachment: Attachment }) {
  const [error, setError] = useState<string | null>(null);
  const download = () => {
    // A fresh link on each click: one fetched when the chip was shown may have expired since.
    void api.attachmentLink(conversationId, attachment.id).then((result) => {
      if (!result.ok) {
        setError(result.message);
        return;
      }
      setError(null);
      // The link answers with `Content-Disposition: attachment` and the name, so the page stays where it is.
      const link = document.createElement('a');
      link.href = result.value.url;
      link.download = attachment.name;
      link.click();
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

/** A voice note or audio file: a player, and under it what was said once the turn transcribed it. */
function SentAudio({ api, conversationId, attachment }: { api: Api; conversationId: string; attachment: Attachment }) {
  const { url, error, failed } = useAttachmentLink(api, conversationId, attachment.id);
  return (
    <figure className="attachment-audio" data-testid="attachment-audio">
      {error !== null ? (
        <span className="attachment-chip attachment-failed">
          {attachment.name}: {error}
        </span>
      ) : (
        <audio
          controls
          preload="metadata"
          src={url ?? undefined}
          aria-label={attachment.name}
          data-testid="audio-player"
          onError={failed}
        />
      )}
      {attachment.transcript !== undefined && (
        <figcaption className="attachment-transcript" data-testid="attachment-transcript">
          {attachment.transcript}
        </figcaption>
      )}
    </figure>
  );
}

/** A message's attachments (sent by the user or attached by the agent): images shown, audio played with its
 * transcript, files as download chips. */
export function SentAttachments({ api, conversationId, attachments }: { api: Api; conversationId: string; attachments: Attachment[] }) {
  return (
    <div className="message-attachments" data-testid="message-attachments">
      {attachments.map((a) =>
        a.kind === 'image' ? (
          <SentImage key={a.id} api={api} conversationId={conversationId} attachment={a} />
        ) : a.kind === 'audio' ? (
          <SentAudio key={a.id} api={api} conversationId={conversationId} attachment={a} />
        ) : (
          <SentFile key={a.id} api={api} conversationId={conversationId} attachment={a} />
        ),
      )}
    </div>
  );
}
