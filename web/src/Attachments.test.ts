import { describe, expect, it } from 'vitest';
import { createApi } from './api';
import { chatReducer, checkOutgoing, initialChatState } from './chatState';
import { formatBytes } from './format';
import { MAX_FILE_BYTES, MAX_IMAGE_BYTES, parseAttachment, parseMessagesResponse, type Attachment } from './protocol';
import type { RuntimeConfig } from './runtimeConfig';
import { refusedBeforeUpload, uploadingLabel } from './useComposerAttachments';

const config: RuntimeConfig = { version: 1, apiUrl: '/', websocketUrl: '/ws', auth: { kind: 'token' } };
const cat: Attachment = {
  id: 'a1',
  name: 'cat.png',
  mediaType: 'image/png',
  size: 48213,
  kind: 'image',
  createdAt: '2026-12-07T13:35:22.123Z',
};

function api(status: number, body: BodyInit | null, seen: { url: string; init: RequestInit }[]) {
  return createApi(
    config,
    () => ({ freshToken: () => Promise.resolve('tok'), refused: () => undefined }),
    () => 'http://127.0.0.1:8787/',
    (url, init) => {
      seen.push({ url, init });
      return Promise.resolve(new Response(body, { status }));
    },
  );
}

describe('attachments', () => {
  /** An API whose fetch answers `answers` in turn and whose transfer answers `stored` (null: unreachable). */
  function uploader(
    answers: [number, unknown][],
    stored: { status: number; body: string } | null,
    seen: { url: string; init: RequestInit }[],
    sentTo: { url: string; method: string; headers: Record<string, string>; body: Blob }[],
  ) {
    return createApi(
      config,
      () => ({ freshToken: () => Promise.resolve('tok'), refused: () => undefined }),
      () => 'http://127.0.0.1:8787/chat',
      (url, init) => {
        seen.push({ url, init });
        const [status, body] = answers.shift() ?? [500, null];
        return Promise.resolve(new Response(JSON.stringify(body), { status }));
      },
      (target, body, onProgress) => {
        sentTo.push({ ...target, body });
        onProgress(body.size / 2, body.size);
        return Promise.resolve(stored);
      },
    );
  }
  const begun = { uploadId: 'u1', target: { method: 'PUT', url: '/uploads/tok.sig', headers: {} } };

  it('uploads in three steps: declares the file, sends the bytes to the target with progress, completes', async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const sentTo: { url: string; method: string; headers: Record<string, string>; body: Blob }[] = [];
    const file = new Blob(['png bytes'], { type: 'image/png' });
    const progress: number[] = [];
    const result = await uploader(
      [
        [201, begun],
        [201, cat],
      ],
      { status: 204, body: '' },
      seen,
      sentTo,
    ).uploadAttachment('c 1', file, 'my cat.png', (sent, total) => progress.push(sent / total));
    expect(result).toEqual({ ok: true, value: cat });
    expect(seen.map((s) => s.url)).toEqual([
      'http://127.0.0.1:8787/api/conversations/c%201/attachments/uploads',
      'http://127.0.0.1:8787/api/conversations/c%201/attachments/uploads/u1/complete',
    ]);
    expect(seen[0]?.init.method).toBe('POST');
    expect(JSON.parse(seen[0]?.init.body as string)).toEqual({ name: 'my cat.png', contentType: 'image/png', size: 9 });
    expect(JSON.parse(seen[1]?.init.body as string)).toEqual({ name: 'my cat.png', contentType: 'image/png' });
    expect(seen[0]?.init.headers).toEqual({ Authorization: 'Bearer tok', 'Content-Type': 'application/json' });
    expect(sentTo).toEqual([{ method: 'PUT', url: 'http://127.0.0.1:8787/uploads/tok.sig', headers: {}, body: file }]);
    expect(progress).toEqual([0.5]);
  });

  it('sends to an absolute target (S3) as it is, with the headers it names', async () => {
    const sentTo: { url: string; method: string; headers: Record<string, string>; body: Blob }[] = [];
    const s3 = {
      uploadId: 'u1',
      target: { method: 'PUT', url: 'https://bucket.s3.amazonaws.com/uploads/x?X-Amz-Signature=1', headers: { 'x-amz-meta-a': 'b' } },
    };
    await uploader(
      [
        [201, s3],
        [201, cat],
      ],
      { status: 200, body: '' },
      [],
      sentTo,
    ).uploadAttachment('c1', new Blob(['x']), 'x.txt');
    expect(sentTo[0]?.url).toBe(s3.target.url);
    expect(sentTo[0]?.headers).toEqual({ 'x-amz-meta-a': 'b' });
  });

  it('shows the refusal of whichever step refused, and stops there', async () => {
    const tooBig = { code: 'too_large', message: 'the image is larger than 10 MiB, the limit for images' };
    const seen: { url: string; init: RequestInit }[] = [];
    const sentTo: { url: string; method: string; headers: Record<string, string>; body: Blob }[] = [];
    expect(
      await uploader([[413, tooBig]], null, seen, sentTo).uploadAttachment('c1', new Blob(['x'], { type: 'image/png' }), 'x.png'),
    ).toEqual({
      ok: false,
      status: 413,
      message: tooBig.message,
    });
    expect(sentTo).toEqual([]);
    const unreachable = await uploader([[201, begun]], null, seen, sentTo).uploadAttachment('c1', new Blob(['x']), 'x.png');
    expect(unreachable).toMatchObject({ ok: false, status: 0 });
    const expired = await uploader(
      [[201, begun]],
      { status: 403, body: '<Error><Code>AccessDenied</Code></Error>' },
      [],
      sentTo,
    ).uploadAttachment('c1', new Blob(['x']), 'x.png');
    expect(expired).toEqual({ ok: false, status: 403, message: 'The upload was refused (HTTP 403); try again.' });
    const corrupt = { code: 'corrupt_file', message: 'the file says it is image/png, but its bytes are not' };
    const refused = await uploader(
      [
        [201, begun],
        [422, corrupt],
      ],
      { status: 204, body: '' },
      [],
      sentTo,
    ).uploadAttachment('c1', new Blob(['words'], { type: 'image/png' }), 'x.png');
    expect(refused).toEqual({ ok: false, status: 422, message: corrupt.message });
    expect(uploadingLabel(undefined)).toBe('uploading…');
    expect(uploadingLabel(0.426)).toBe('uploading… 42 %');
  });

  it('asks for a download link, absolute whether the server names S3 or itself', async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const expiresAt = '2026-12-07T13:45:22.123Z';
    const local = await api(200, JSON.stringify({ url: '/downloads/alice.c1.a1.99.sig', expiresAt }), seen).attachmentLink('c1', 'a1');
    expect(local).toEqual({ ok: true, value: { url: 'http://127.0.0.1:8787/downloads/alice.c1.a1.99.sig', expiresAt } });
    expect(seen[0]?.url).toBe('http://127.0.0.1:8787/api/conversations/c1/attachments/a1/link');
    const s3 = 'https://data.s3.eu-west-1.amazonaws.com/attachments/alice/c1/a1?X-Amz-Signature=ab';
    const presigned = await api(200, JSON.stringify({ url: s3, expiresAt }), []).attachmentLink('c1', 'a1');
    expect(presigned.ok && presigned.value.url).toBe(s3);
    const gone = await api(404, JSON.stringify({ code: 'not_found', message: 'no such attachment' }), []).attachmentLink('c1', 'a1');
    expect(gone).toEqual({ ok: false, status: 404, message: 'no such attachment' });
    const garbled = await api(200, JSON.stringify({ url: 7 }), []).attachmentLink('c1', 'a1');
    expect(garbled.ok).toBe(false);
  });

  it('parses attachment views, and a history message keeps the ones it can read', () => {
    expect(parseAttachment(cat)).toEqual(cat);
    expect(parseAttachment({ ...cat, kind: 'video' })).toBeNull();
    expect(parseAttachment({ ...cat, size: -1 })).toBeNull();
    const history = parseMessagesResponse({
      messages: [{ id: 'm1', role: 'user', content: '', createdAt: 't', channel: 'web', attachments: [cat, { id: 'broken' }] }],
    });
    expect(history?.[0]?.attachments).toEqual([cat]);
  });

  it('a blank message may be sent with attachments, and they stay on it through the history', () => {
    expect(checkOutgoing('  ')?.code).toBe('bad_request');
    expect(checkOutgoing('  ', 1)).toBeNull();
    let state = initialChatState('c1', { isNew: true, connection: 'open' });
    state = chatReducer(state, { kind: 'send', clientMessageId: 'k1', text: '', attachments: [cat] });
    expect(state.messages[0]).toMatchObject({ role: 'user', attachments: [cat] });
    state = chatReducer(state, { kind: 'frame', frame: { type: 'ack', clientMessageId: 'k1', conversationId: 'c1', messageId: 'm1' } });
    state = chatReducer(state, {
      kind: 'historyLoaded',
      messages: [{ id: 'm1', role: 'user', content: '', createdAt: 't', channel: 'web', attachments: [cat] }],
      full: false,
    });
    expect(state.messages).toHaveLength(1);
    expect(state.messages[0]).toMatchObject({ role: 'user', messageId: 'm1', attachments: [cat] });
  });

  it('a reply keeps the files the agent attached, from its final frame and from the history', () => {
    const chart: Attachment = { ...cat, id: 'a9', name: 'chart.png' };
    let state = initialChatState('c1', { isNew: true, connection: 'open' });
    state = chatReducer(state, {
      kind: 'frame',
      frame: {
        type: 'message',
        conversationId: 'c1',
        messageId: 'r1',
        role: 'assistant',
        content: 'Here is your chart.',
        usage: { inputTokens: 1, outputTokens: 2 },
        costUsd: null,
        durationMs: 5,
        attachments: [chart],
      },
    });
    expect(state.messages[0]).toMatchObject({ role: 'assistant', attachments: [chart] });
    state = chatReducer(state, {
      kind: 'historyLoaded',
      messages: [{ id: 'r1', role: 'assistant', content: 'Here is your chart.', createdAt: 't', channel: 'web', attachments: [chart] }],
      full: false,
    });
    expect(state.messages[0]).toMatchObject({ role: 'assistant', attachments: [chart] });
  });

  it('refuses before uploading only what is over its kind’s limit or empty', () => {
    expect(refusedBeforeUpload({ name: 'a.png', type: 'image/png', size: MAX_IMAGE_BYTES })).toBeNull();
    expect(refusedBeforeUpload({ name: 'a.png', type: 'image/png', size: MAX_IMAGE_BYTES + 1 })).toMatch(
      /a.png is 10.5 MB; an image may be at most 10 MiB/,
    );
    expect(refusedBeforeUpload({ name: 'a.pdf', type: 'application/pdf', size: MAX_IMAGE_BYTES + 1 })).toBeNull();
    expect(refusedBeforeUpload({ name: 'a.pdf', type: 'application/pdf', size: MAX_FILE_BYTES + 1 })).toMatch(
      /a file may be at most 20 MiB/,
    );
    expect(refusedBeforeUpload({ name: 'e.txt', type: 'text/plain', size: 0 })).toBe('e.txt is empty.');
    expect(formatBytes(999)).toBe('999 bytes');
    expect(formatBytes(48213)).toBe('48 KB');
  });
});
