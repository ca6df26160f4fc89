// The gateway's transcript sync (docs/architecture.md, "One conversation on both runtimes"): a
// long-lived helper beside a running OpenClaw gateway that moves a conversation's transcript between
// our store and the gateway's session database, through OpenClaw's public plugin SDK only
// (`openclaw/plugin-sdk/session-transcript-runtime`).
//
// JSON lines. It writes `{"type":"ready"}` once loaded; then for each request line
//   {"id", "op":"export", "sessionKey", "sessionId"}
//     → {"id", "ok":true, "transcript":"<JSONL>"}: the session as the runner's JSONL (header, entries)
//   {"id", "op":"import", "sessionKey", "sessionId", "transcript":"<JSONL>"}
//     → {"id", "ok":true, "appended":n}: the transcript's messages appended, their entry ids kept
// and `{"id", "ok":false, "error"}` when one fails. Only `message` entries can be imported: the API
// appends messages (compactions, model changes and custom entries are left out).
//
// It runs with the gateway's config and state folder but neither the gateway's token nor the LLM key.

import readline from 'node:readline';

const sdk = await import('openclaw/plugin-sdk/session-transcript-runtime');
const AGENT_ID = 'main';

/** @param {unknown} line */
function write(line) {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** @param {string} jsonl */
function messagesOf(jsonl) {
  return jsonl
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line))
    .filter((entry) => entry?.type === 'message' && entry.message)
    .map((entry) => ({ message: entry.message, eventId: entry.id }));
}

/** @param {Record<string, any>} req */
async function handle(req) {
  const { sessionKey, sessionId } = req;
  if (typeof sessionKey !== 'string' || typeof sessionId !== 'string') throw new Error('sessionKey and sessionId are required');
  if (req.op === 'export') {
    const events = await sdk.readSessionTranscriptEvents({ agentId: AGENT_ID, sessionKey, sessionId });
    return { transcript: events.map((e) => `${JSON.stringify(e)}\n`).join('') };
  }
  if (req.op === 'import') {
    const messages = messagesOf(String(req.transcript ?? ''));
    if (messages.length > 0) {
      await sdk.appendSessionTranscriptMessagesByIdentity({ agentId: AGENT_ID, sessionKey, sessionId, messages });
    }
    return { appended: messages.length };
  }
  throw new Error(`unknown op ${JSON.stringify(req.op)}`);
}

write({ type: 'ready' });
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue;
  /** @type {Record<string, any>} */
  let req = {};
  try {
    req = JSON.parse(line);
    write({ id: req.id, ok: true, ...(await handle(req)) });
  } catch (e) {
    write({ id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) });
  }
}
