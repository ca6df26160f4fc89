// The composer's pending attachments, without the view (./Attachments shows them): each file is checked,
// uploaded at once (with its progress) and kept with its state until the message is sent or the file removed; previews are object
// URLs, revoked when the file leaves the composer or the view goes.

import { useCallback, useEffect, useRef, useState } from 'react';
import type { Api } from './api';
import { formatBytes } from './format';
import { MAX_ATTACHMENTS, MAX_FILE_BYTES, MAX_IMAGE_BYTES, type Attachment } from './protocol';

/** One file in the composer. */
export interface PendingAttachment {
  key: string;
  name: string;
  size: number;
  /** An object URL of the picked image, for its preview. */
  preview?: string;
  status: 'uploading' | 'ready' | 'failed';
  /** While uploading: the share of its bytes sent, 0 to 1. */
  progress?: number;
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

/** What an uploading file shows: how far its bytes are, once they are on their way. */
export function uploadingLabel(progress: number | undefined): string {
  return progress === undefined ? 'uploading…' : `uploading… ${Math.floor(progress * 100)} %`;
}

let pendingSeq = 0;

export function useComposerAttachments(api: Api, conversationId: string): ComposerAttachments {
  const [pending, setPending] = useState<PendingAttachment[]>([]);
  // The latest list, for the callbacks and for revoking previews when the view goes.
  const current = useRef(pending);
  useEffect(() => {
    current.current = pending;
  }, [pending]);
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
          .uploadAttachment(conversationId, file, base.name, (sent, total) => update(key, { progress: total > 0 ? sent / total : 0 }))
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
