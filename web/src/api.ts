// The REST half of docs/protocol.md: one function per request, each with a fresh bearer token from the
// session. Nothing here throws: every call resolves to the parsed answer or to a message for people. A 401
// (or a session that cannot renew its token) tells the session, which ends it and shows the sign-in.

import type { AuthSession } from './auth/session';
import {
  parseApiError,
  parseAttachment,
  parseConversationSettings,
  parseConversationsResponse,
  parseLinkCode,
  parseMessagePage,
  parseSearchResponse,
  parseSettingsResponse,
  parseSkill,
  parseSkillList,
  parseDownloadLink,
  parseUpload,
  type Attachment,
  type ConversationSettings,
  type ConversationSettingsChange,
  type ConversationSummary,
  type DownloadLink,
  type LinkCode,
  type SearchHit,
  type Settings,
  type Skill,
  type SettingsUpdate,
  type MessagePage,
  type UploadTarget,
} from './protocol';
import { restUrl, type RuntimeConfig } from './runtimeConfig';

export type ApiResult<T> = { ok: true; value: T } | { ok: false; status: number; message: string };

type Fetch = (url: string, init: RequestInit) => Promise<Response>;

/** How far an upload's bytes are: `sent` of `total`. */
export type UploadProgress = (sent: number, total: number) => void;

/** The answer of the storage an upload target names; null when it could not be reached. */
export type Transfer = (target: UploadTarget, body: Blob, onProgress: UploadProgress) => Promise<{ status: number; body: string } | null>;

/** Sends an upload's bytes with XMLHttpRequest, the one browser API that reports upload progress. */
export const xhrTransfer: Transfer = (target, body, onProgress) =>
  new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open(target.method, target.url);
    for (const [name, value] of Object.entries(target.headers)) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : body.size);
    request.onload = () => resolve({ status: request.status, body: request.responseText });
    request.onerror = () => resolve(null);
    request.onabort = () => resolve(null);
    request.send(body);
  });

export interface Api {
  listConversations(): Promise<ApiResult<ConversationSummary[]>>;
  renameConversation(id: string, title: string): Promise<ApiResult<null>>;
  deleteConversation(id: string): Promise<ApiResult<null>>;
  /** Up to `limit` messages before `before` (the newest when absent), oldest first; 404 when there is no such conversation. */
  messages(id: string, limit: number, before?: string): Promise<ApiResult<MessagePage>>;
  /** A conversation's own model and thinking level and the choices (the defaults for a new chat). */
  conversationSettings(id: string): Promise<ApiResult<ConversationSettings>>;
  changeConversationSettings(id: string, change: ConversationSettingsChange): Promise<ApiResult<ConversationSettings>>;
  settings(): Promise<ApiResult<Settings>>;
  saveSettings(update: SettingsUpdate): Promise<ApiResult<Settings>>;
  linkCode(): Promise<ApiResult<LinkCode>>;
  unlinkTelegram(telegramUserId: number): Promise<ApiResult<null>>;
  /** The user's messages the words of `query` find, newest first (a 400 says why a query is refused). */
  search(query: string): Promise<ApiResult<SearchHit[]>>;
  /**
   * Uploads a file to a conversation (which need not exist yet); its type is the file's own. Three requests
   * (docs/protocol.md, "Attachments"): the server checks the declared file and names a target, the bytes go to
   * the target (S3 on AWS) with `onProgress` told how far they are, and the server checks what arrived.
   */
  uploadAttachment(conversationId: string, file: Blob, name: string, onProgress?: UploadProgress): Promise<ApiResult<Attachment>>;
  /**
   * A link that reads an attachment's bytes without the token (an image's or audio's `src`, a file's download),
   * absolute, valid until its `expiresAt`: a presigned S3 URL on AWS, so a file of any size is read in full.
   */
  attachmentLink(conversationId: string, attachmentId: string): Promise<ApiResult<DownloadLink>>;
  deleteAttachment(conversationId: string, attachmentId: string): Promise<ApiResult<null>>;
  /** The user's skills, by name. */
  skills(): Promise<ApiResult<Skill[]>>;
  /** Adds or replaces skill `name`: a SKILL.md (`text/markdown`) or a zip of its folder (`application/zip`). */
  putSkill(name: string, body: Blob, contentType: 'text/markdown' | 'application/zip'): Promise<ApiResult<Skill>>;
  setSkillEnabled(name: string, enabled: boolean): Promise<ApiResult<Skill>>;
  deleteSkill(name: string): Promise<ApiResult<null>>;
}

/** A request body: JSON, or bytes of a type. */
type RequestBody = { json: unknown } | { bytes: Blob; contentType: string };

const UNREADABLE = 'The server sent an answer this page does not understand.';

/** `session` is read at every call, so a session that renewed itself meanwhile is used. */
export function createApi(
  config: RuntimeConfig,
  session: () => Pick<AuthSession, 'freshToken' | 'refused'>,
  pageHref: () => string,
  fetchImpl: Fetch = (url, init) => fetch(url, init),
  transfer: Transfer = xhrTransfer,
): Api {
  /** Sends an authorized request; the response when the server answered and accepted the sign-in. */
  async function send(method: string, path: string, body?: RequestBody): Promise<ApiResult<Response>> {
    const current = session();
    let token: string;
    try {
      token = await current.freshToken();
    } catch {
      current.refused();
      return { ok: false, status: 401, message: 'Your session has ended. Sign in again.' };
    }
    const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
    let response: Response;
    try {
      const init: RequestInit = { method, headers, cache: 'no-store' };
      if (body !== undefined && 'bytes' in body) {
        headers['Content-Type'] = body.contentType;
        init.body = body.bytes;
      } else if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body.json);
      }
      response = await fetchImpl(restUrl(config, path, pageHref()), init);
    } catch {
      return { ok: false, status: 0, message: 'Could not reach the server.' };
    }
    if (response.status === 401) {
      current.refused();
      return { ok: false, status: 401, message: 'The server refused the sign-in.' };
    }
    return { ok: true, value: response };
  }

  /** The error of an answer that is not 2xx: the server's message, else its status. */
  function refusal(response: Response, json: unknown): ApiResult<never> {
    const error = parseApiError(json);
    return { ok: false, status: response.status, message: error?.message ?? `The server answered HTTP ${response.status}.` };
  }

  async function call<T>(
    method: string,
    path: string,
    body: RequestBody | undefined,
    parse: ((body: unknown) => T | null) | null,
  ): Promise<ApiResult<T | null>> {
    const sent = await send(method, path, body);
    if (!sent.ok) return sent;
    const response = sent.value;
    const text = await response.text().catch(() => '');
    let json: unknown;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch {
      json = null;
    }
    if (!response.ok) return refusal(response, json);
    if (parse === null) return { ok: true, value: null };
    const value = parse(json);
    return value === null ? { ok: false, status: response.status, message: UNREADABLE } : { ok: true, value };
  }

  // A parser that returned a value makes the result non-null; requests answered with 204 have no parser.
  const parsed = <T>(method: string, path: string, body: unknown, parse: (body: unknown) => T | null) =>
    call(method, path, body === undefined ? undefined : { json: body }, parse) as Promise<ApiResult<T>>;
  const empty = (method: string, path: string, body?: unknown) =>
    call<null>(method, path, body === undefined ? undefined : { json: body }, null);
  const conversation = (id: string) => `/api/conversations/${encodeURIComponent(id)}`;
  const skill = (name: string) => `/api/skills/${encodeURIComponent(name)}`;

  return {
    listConversations: () => parsed('GET', '/api/conversations', undefined, parseConversationsResponse),
    renameConversation: (id, title) => empty('PATCH', conversation(id), { title }),
    deleteConversation: (id) => empty('DELETE', conversation(id)),
    messages: (id, limit, before) => {
      const query = new URLSearchParams({ limit: String(limit) });
      if (before !== undefined) query.set('before', before);
      return parsed('GET', `${conversation(id)}/messages?${query.toString()}`, undefined, parseMessagePage);
    },
    conversationSettings: (id) => parsed('GET', `${conversation(id)}/settings`, undefined, parseConversationSettings),
    changeConversationSettings: (id, change) => parsed('PUT', `${conversation(id)}/settings`, change, parseConversationSettings),
    settings: () => parsed('GET', '/api/settings', undefined, parseSettingsResponse),
    saveSettings: (update) => parsed('PUT', '/api/settings', update, parseSettingsResponse),
    linkCode: () => parsed('POST', '/api/telegram/link-code', undefined, parseLinkCode),
    unlinkTelegram: (telegramUserId) => empty('DELETE', `/api/telegram/links/${encodeURIComponent(String(telegramUserId))}`),
    search: (query) => parsed('GET', `/api/search?${new URLSearchParams({ q: query }).toString()}`, undefined, parseSearchResponse),
    uploadAttachment: async (id, file, name, onProgress = () => undefined) => {
      const declared = { name, contentType: file.type };
      const begun = await parsed('POST', `${conversation(id)}/attachments/uploads`, { ...declared, size: file.size }, parseUpload);
      if (!begun.ok) return begun;
      const { uploadId, target } = begun.value;
      const url = new URL(target.url, restUrl(config, '/', pageHref())).href;
      const sent = await transfer({ ...target, url }, file, onProgress);
      if (sent === null) return { ok: false, status: 0, message: 'Could not reach the storage to upload the file.' };
      if (sent.status < 200 || sent.status > 299) {
        let json: unknown = null;
        try {
          json = JSON.parse(sent.body);
        } catch {
          // S3 answers in XML: its status is what there is to show.
        }
        return {
          ok: false,
          status: sent.status,
          message: parseApiError(json)?.message ?? `The upload was refused (HTTP ${sent.status}); try again.`,
        };
      }
      return parsed('POST', `${conversation(id)}/attachments/uploads/${encodeURIComponent(uploadId)}/complete`, declared, parseAttachment);
    },
    attachmentLink: async (id, attachmentId) => {
      const link = await parsed(
        'GET',
        `${conversation(id)}/attachments/${encodeURIComponent(attachmentId)}/link`,
        undefined,
        parseDownloadLink,
      );
      if (!link.ok) return link;
      return { ok: true, value: { ...link.value, url: new URL(link.value.url, restUrl(config, '/', pageHref())).href } };
    },
    deleteAttachment: (id, attachmentId) => empty('DELETE', `${conversation(id)}/attachments/${encodeURIComponent(attachmentId)}`),
    skills: () => parsed('GET', '/api/skills', undefined, parseSkillList),
    putSkill: (name, bytes, contentType) => call('PUT', skill(name), { bytes, contentType }, parseSkill) as Promise<ApiResult<Skill>>,
    setSkillEnabled: (name, enabled) => parsed('PATCH', skill(name), { enabled }, parseSkill),
    deleteSkill: (name) => empty('DELETE', skill(name)),
  };
}
