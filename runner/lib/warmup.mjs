// The runner's warm-up: one turn through OpenClaw against a stub LLM inside this process, so that the
// first real turn finds OpenClaw's lazily loaded modules, plugin registry, tool catalog and provider
// transport ready and pays only the cost of a warm turn (docs/runner-protocol.md, "Warm-up").
//
// Nothing of it can reach a user or a bill: the stub listens on loopback only and answers one fixed
// reply; the turn runs in a temporary workspace with its own agent dir, keeps its transcript in memory,
// and the temporary folder is removed afterwards. Its provider exists only in the warm-up's own copy
// of the config, so no later run can select it.

import fs from 'node:fs/promises';
import { rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { createTurnRunner } from './turns.mjs';
import { DEFAULT_TIMEOUT_MS } from './protocol.mjs';
import { messageOf } from './errors.mjs';

/** @import { LogErr, OpenClaw, OpenClawConfig, ProtocolLine } from '../types.d.ts' */

/** The warm-up's provider id: not one a run line can name (those come from the host's settings). */
export const WARMUP_PROVIDER_ID = 'serverless-openclaw-warmup';
const WARMUP_MODEL_ID = 'warmup';
const WARMUP_REPLY = 'ready';

/**
 * @param {http.ServerResponse} res
 * @param {Array<{ type: string }>} events
 */
function sse(res, events) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const data of events) res.write(`event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`);
  res.end();
}

/** The shortest Anthropic Messages stream with one text block, as the real API sends it. */
/** @param {string} model */
function anthropicReply(model) {
  return [
    { type: 'message_start', message: { id: 'msg_warmup', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } } },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: WARMUP_REPLY } },
    { type: 'content_block_stop', index: 0 },
    { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 1 } },
    { type: 'message_stop' },
  ];
}

/** Starts the stub on a free loopback port: `{ baseUrl, close() }`. */
export async function startStubLlm() {
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/messages') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"type":"error","error":{"type":"not_found_error","message":"not found"}}');
        return;
      }
      let model = WARMUP_MODEL_ID;
      try {
        model = JSON.parse(body).model ?? model;
      } catch {
        /* the reply does not depend on it */
      }
      sse(res, anthropicReply(model));
    });
  });
  await /** @type {Promise<void>} */ (
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    })
  );
  // OpenClaw's HTTP client keeps connections alive; closing must not wait for them.
  const close = () => /** @type {Promise<void>} */ (new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  }));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return { baseUrl: `http://127.0.0.1:${port}`, close };
}

/** The warm-up's config: the runner's config plus the stub provider, in the warm-up's own agent dir. */
/**
 * @param {OpenClawConfig} config
 * @param {string} baseUrl
 * @param {string} agentDir
 * @returns {OpenClawConfig}
 */
export function warmupConfig(config, baseUrl, agentDir) {
  const models = config.models ?? {};
  const agents = config.agents ?? {};
  const entries = agents.entries ?? {};
  return {
    ...config,
    agents: { ...agents, entries: { ...entries, main: { ...(entries.main ?? {}), agentDir } } },
    models: {
      ...models,
      providers: {
        ...(models.providers ?? {}),
        [WARMUP_PROVIDER_ID]: {
          baseUrl,
          api: 'anthropic-messages',
          // Only ever sent to the stub on loopback.
          apiKey: 'warmup',
          models: [{
            id: WARMUP_MODEL_ID, name: WARMUP_MODEL_ID, input: ['text'], contextWindow: 200000, maxTokens: 1024,
            cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
          }],
        },
      },
    },
  };
}

/**
 * Runs the warm-up turn. Returns `{ done, abort(), removeFilesNow() }`: `done` resolves with
 * `{ ok, ms, message? }` once the turn ended and its files are gone (it never rejects); `abort()`
 * ends the turn early (a real run arrived and needs the CPU more); `removeFilesNow()` removes its
 * folder at once, for a runner about to exit.
 */
/**
 * @param {{ oc: OpenClaw, config: OpenClawConfig, logErr: LogErr }} options
 * @returns {{ done: Promise<{ ok: boolean, ms: number, message?: unknown }>, abort(): void, removeFilesNow(): void }}
 */
export function startWarmup({ oc, config, logErr }) {
  const started = performance.now();
  const id = `warmup-${randomUUID()}`;
  /** @type {ReturnType<typeof createTurnRunner> | undefined} */
  let turns;
  let aborted = false;
  /** @type {string | undefined} */
  let root;
  const done = (async () => {
    /** @type {Awaited<ReturnType<typeof startStubLlm>> | undefined} */
    let stub;
    try {
      root = await fs.mkdtemp(path.join(os.tmpdir(), 'openclaw-warmup-'));
      stub = await startStubLlm();
      /** @type {(line: ProtocolLine) => void} */
      let outcome = () => {};
      /** @type {Promise<ProtocolLine>} */
      const ended = new Promise((resolve) => {
        outcome = resolve;
      });
      turns = createTurnRunner({
        oc,
        config: warmupConfig(config, stub.baseUrl, path.join(root, 'agent')),
        // The warm-up's lines never reach the host: only its end matters.
        writeLine: (line) => {
          if (line.type === 'result' || line.type === 'error') outcome(line);
        },
        logErr,
        agentDirRoot: path.join(root, 'run-agents'),
        // The warm-up never calls the browser: nothing of it is stopped or moved.
        stateDir: path.join(root, 'state'),
      });
      if (aborted) return { ok: false, ms: Math.round(performance.now() - started), message: 'aborted before start' };
      turns.run({
        type: 'run',
        id,
        sessionId: id,
        transcriptPath: path.join(root, 'in.jsonl'),
        transcriptOutPath: path.join(root, 'out.jsonl'),
        workspaceDir: path.join(root, 'workspace'),
        prompt: 'Reply with one word.',
        provider: WARMUP_PROVIDER_ID,
        model: WARMUP_MODEL_ID,
        timeoutMs: DEFAULT_TIMEOUT_MS,
        // Tools on: their catalog is part of what a real turn would otherwise prepare.
        disableTools: false,
        tools: 'full',
        browser: true,
      }).catch((err) => outcome({ type: 'error', message: messageOf(err) }));
      const line = await ended;
      return { ok: line.type === 'result', ms: Math.round(performance.now() - started), ...(line.type === 'error' ? { message: line.message } : {}) };
    } catch (err) {
      return { ok: false, ms: Math.round(performance.now() - started), message: messageOf(err) };
    } finally {
      await stub?.close();
      if (root) await fs.rm(root, { recursive: true, force: true }).catch((err) => logErr('warm-up: removing its files failed:', err));
    }
  })();
  return {
    done,
    abort() {
      aborted = true;
      turns?.abort(id, 'warm-up aborted: a real run arrived');
    },
    removeFilesNow() {
      if (root) rmSync(root, { recursive: true, force: true });
    },
  };
}
