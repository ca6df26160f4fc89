// Runs turns through OpenClaw's embedded agent and maps the outcome onto protocol lines.

import fs from 'node:fs/promises';
import path from 'node:path';
import { createHmac, randomBytes } from 'node:crypto';
import { loadSession, transcriptSize, writeTranscript } from './transcript.mjs';
import { compactSession } from './compaction.mjs';
import { BROWSER_TOOL, OPENCLAW_DOWNLOAD_DIR, moveDownloads, saveScreenshots, stopBrowser, withBrowserAccess } from './browser.mjs';

/**
 * @import { AgentEntry, AgentEvent, AgentMeta, CompactRequest, EmbeddedRunResult, LogErr, OpenClaw, OpenClawConfig, PartialReply, ProtocolLine,
 *   ProviderEntry, ReplyPayload, RunLlm, RunRequest, SessionRequest, ToolAccess } from '../types.d.ts'
 */

/**
 * A `run` or `compact` in flight.
 * @typedef {{ id: string, ac: AbortController, finished: boolean, abortRequested: boolean, deadlineHit: boolean,
 *   scrub: (text: string) => string, deadlineTimer?: NodeJS.Timeout, graceTimer?: NodeJS.Timeout }} Turn
 */

/** The one agent of the rendered config (`agents.entries.main`). */
export const AGENT_ID = 'main';
/** Free-form label OpenClaw records as the admission boundary of a system-owned run. */
const ADMISSION_BOUNDARY = 'serverless-openclaw.runner';
/** After `abort`, how long the runner waits for OpenClaw to unwind before answering anyway. */
const ABORT_GRACE_MS = 2_000;
/**
 * Slack on top of `timeoutMs` for the runner's own deadline. OpenClaw's timeoutMs bounds each model
 * attempt but not its transient retries (HTTP 5xx/429 are retried up to 8-9 times, minutes in
 * total), so the runner enforces timeoutMs for the whole turn.
 */
const DEADLINE_SLACK_MS = 2_000;

/**
 * Turns cumulative partial replies into append-only deltas.
 *
 * OpenClaw's onPartialReply gives `{text, delta, replace?}` where `text` is the cumulative visible
 * text of the current assistant message. A new assistant message in the same turn (after tool
 * calls) starts again from empty text. `replace` (or text that no longer extends what was sent)
 * means earlier text was rewritten: the runner then sends a delta with `replace: true` carrying
 * the full text so far.
 */
/** @param {(delta: { text: string, replace?: true }) => void} emit */
export function createDeltaStreamer(emit) {
  let committed = ''; // text of earlier assistant messages of this turn, with separators
  let current = ''; // cumulative text of the current assistant message
  let sent = ''; // everything the host has been told, i.e. the concatenation of deltas
  /** @param {string} full */
  const push = (full) => {
    if (full === sent) return;
    if (full.startsWith(sent)) {
      emit({ text: full.slice(sent.length) });
    } else {
      emit({ text: full, replace: true });
    }
    sent = full;
  };
  return {
    onAssistantMessageStart() {
      if (current) committed += `${current}\n\n`;
      current = '';
    },
    /** @param {PartialReply} payload */
    onPartial(payload) {
      if (!payload) return;
      let next;
      const text = payload.text;
      if (typeof text === 'string') next = text;
      else if (typeof payload.delta === 'string') next = payload.replace ? payload.delta : current + payload.delta;
      else return;
      current = next;
      push(committed + current);
    },
    /** Makes the deltas add up to the final text, whatever happened while streaming. */
    /** @param {string} finalText */
    finish(finalText) {
      push(finalText);
    },
    get sent() {
      return sent;
    },
  };
}

/** Longest tool summary sent to the host, in characters (one line in a chat bubble). */
export const TOOL_SUMMARY_MAX = 120;

/** The argument that says best what a call of a tool does, by the argument names OpenClaw's tools use. */
const SUMMARY_ARGS = ['command', 'url', 'path', 'file_path', 'filePath', 'query', 'pattern', 'action', 'name'];

/**
 * A one-line human summary of a tool call: for `exec` the command, for `web_fetch` the URL, for
 * the file tools the path (whichever of SUMMARY_ARGS comes first), else OpenClaw's own `meta` for
 * the call, whitespace collapsed and cut to TOOL_SUMMARY_MAX characters.
 */
/**
 * @param {unknown} args
 * @param {unknown} meta
 */
export function toolSummary(args, meta) {
  const record = /** @type {Record<string, unknown>} */ (args && typeof args === 'object' ? args : {});
  const named = SUMMARY_ARGS.map((k) => record[k]).find((v) => typeof v === 'string' && v.trim() !== '');
  const text = (typeof named === 'string' ? named : typeof meta === 'string' ? meta : '').replace(/\s+/g, ' ').trim();
  return text.length > TOOL_SUMMARY_MAX ? `${text.slice(0, TOOL_SUMMARY_MAX - 1)}…` : text;
}

/**
 * Turns OpenClaw's agent events (`onAgentEvent`) into `tool` protocol lines: one when a tool starts
 * (`status: "running"`) and one when it ends (`"ok"` or `"error"`, with `durationMs`), tied together
 * by OpenClaw's tool call id. Other streams (lifecycle, assistant, item, ...) and `update` phases
 * are not forwarded: a start and an end per call is what a chat shows. `emit` gets the line's
 * fields without `type` and `id`; `scrub` cleans the summary like every other text of the turn.
 */
/**
 * @param {(line: { toolId: string, name: string, summary: string, status: 'running' | 'ok' | 'error', durationMs?: number }) => void} emit
 * @param {(text: string) => string} scrub
 */
export function createToolTracker(emit, scrub, now = () => performance.now()) {
  /** @type {Map<string, { name: string, summary: string, startedAt: number }>} tool call id -> call */
  const running = new Map();
  return {
    /** @param {AgentEvent} evt */
    onAgentEvent(evt) {
      if (evt?.stream !== 'tool') return;
      const data = evt.data ?? {};
      const toolId = data.toolCallId;
      if (typeof toolId !== 'string' || toolId === '') return;
      if (data.phase === 'start') {
        const call = { name: String(data.name ?? 'tool'), summary: scrub(toolSummary(data.args, data.meta)), startedAt: now() };
        running.set(toolId, call);
        emit({ toolId, name: call.name, summary: call.summary, status: 'running' });
      } else if (data.phase === 'result') {
        const call = running.get(toolId);
        running.delete(toolId);
        emit({
          toolId,
          name: call?.name ?? String(data.name ?? 'tool'),
          summary: call?.summary ?? scrub(toolSummary(undefined, data.meta)),
          status: data.isError ? 'error' : 'ok',
          durationMs: call ? Math.max(0, Math.round(now() - call.startedAt)) : 0,
        });
      }
    },
  };
}

/** @param {AgentMeta | undefined} agentMeta */
function usageOf(agentMeta) {
  const u = agentMeta?.usage ?? {};
  /** @param {number | undefined} v */
  const n = (v) => (v !== undefined && Number.isFinite(v) ? v : 0);
  const input = n(u.input);
  const output = n(u.output);
  const cacheRead = n(u.cacheRead);
  const cacheWrite = n(u.cacheWrite);
  const total = u.total !== undefined && Number.isFinite(u.total) ? u.total : u.totalTokens !== undefined && Number.isFinite(u.totalTokens) ? u.totalTokens : input + output + cacheRead + cacheWrite;
  return { input, output, cacheRead, cacheWrite, total };
}

/** @param {AgentMeta | undefined} agentMeta */
function costOf(agentMeta) {
  const costUsd = agentMeta?.costUsd;
  if (costUsd !== undefined && Number.isFinite(costUsd)) return costUsd;
  const total = agentMeta?.usage?.cost?.total;
  return total !== undefined && Number.isFinite(total) ? total : null;
}

/** @param {EmbeddedRunResult | undefined} result */
function replyPayloads(result) {
  return (result?.payloads ?? []).filter((p) => p && !p.isReasoning && !p.isCommentary);
}

/**
 * The media the reply's payloads name (OpenClaw's `mediaUrl` / `mediaUrls`: what the model attached with
 * a `MEDIA:` line, as written: a workspace-relative or absolute path, or a URL), each once, in order. The
 * host decides what it may read: the runner passes the references on, never a file.
 */
/** @param {ReplyPayload[]} payloads */
export function replyMedia(payloads) {
  const refs = payloads.flatMap((p) => [...(Array.isArray(p.mediaUrls) ? p.mediaUrls : []), p.mediaUrl]);
  return [...new Set(refs.filter((ref) => typeof ref === 'string').filter((ref) => ref.trim() !== ''))];
}

/** @param {unknown} err */
function errorMessage(err) {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

const TIMEOUT_RE = /\b(timed out|timeout|deadline)\b/i;

/**
 * Classifies an error thrown by runEmbeddedAgent. Provider failures surface as errors carrying an
 * HTTP status, a provider name or a failover reason (OpenClaw's FailoverError); anything else is
 * the runner's or OpenClaw's own fault.
 */
/** @param {unknown} err */
export function classifyThrown(err) {
  const seen = new Set();
  /** @typedef {{ name?: string, reason?: unknown, failoverReason?: unknown, status?: unknown, statusCode?: unknown, message?: string, cause?: unknown }} Thrown */
  for (let e = /** @type {Thrown | undefined} */ (err); e && typeof e === 'object' && !seen.has(e); e = /** @type {Thrown | undefined} */ (e.cause)) {
    seen.add(e);
    const name = e.name ?? '';
    const reason = e.reason ?? e.failoverReason;
    if (reason === 'timeout' || name === 'TimeoutError') return 'timeout';
    if (name === 'FailoverError' || reason !== undefined || Number.isInteger(e.status) || Number.isInteger(e.statusCode)) return 'llm_error';
    if (name === 'AbortError' && TIMEOUT_RE.test(e.message ?? '')) return 'timeout';
  }
  return 'internal';
}

/** Returns a copy of the config whose main agent's workspace is the turn's workspace. */
/**
 * @param {OpenClawConfig} config
 * @param {string} workspaceDir
 * @returns {OpenClawConfig & { agents: { entries: { [id: string]: AgentEntry } } }}
 */
export function configForWorkspace(config, workspaceDir) {
  const agents = config.agents ?? {};
  const entries = agents.entries ?? {};
  return {
    ...config,
    agents: {
      ...agents,
      entries: { ...entries, [AGENT_ID]: { .../** @type {AgentEntry} */ (entries[AGENT_ID] ?? {}), workspace: workspaceDir } },
    },
  };
}

/**
 * The `models.providers` entry of a run's own provider (`req.llm`, docs/runner-protocol.md):
 * `llm.provider`, else the config's entry for that id (if any), so that OpenClaw merges it with
 * its built-in provider of that id (anthropic, openai: catalog and prices stay), plus the key.
 * `auth: "api-key"` is what makes the entry's key win: without it OpenClaw prefers auth profiles
 * and environment variables such as ANTHROPIC_API_KEY over a key in the entry.
 */
/**
 * @param {OpenClawConfig} config
 * @param {RunLlm} llm
 * @returns {ProviderEntry}
 */
function runProviderEntry(config, llm) {
  const entry = { ...(llm.provider ?? config.models?.providers?.[llm.providerId] ?? {}) };
  if (llm.apiKey !== undefined) return { ...entry, apiKey: llm.apiKey, auth: 'api-key' };
  return entry;
}

/**
 * Names the agent dir of runs with their own provider. OpenClaw keeps its prepared model runtime,
 * with the provider auth it resolved from the config, per agent dir (and workspace); concurrent runs
 * sharing them whose configs differ get each other's (measured with 2026.9.6: three concurrent runs
 * of anthropic/claude-sonnet-5 in one workspace with three keys, and a default run, all sent the
 * first run's key). So
 * each provider entry (key included) gets an agent dir of its own; runs with the same one share it.
 * The name is an HMAC under a secret of this process, so nothing on disk can be matched to a key.
 * (OpenClaw created nothing in these dirs in our runs; they are identities for its caches.)
 */
/**
 * @param {string} root
 * @returns {(providerId: string, entry: ProviderEntry) => string}
 */
export function createAgentDirNamer(root, secret = randomBytes(32)) {
  return (providerId, entry) => path.join(root, createHmac('sha256', secret).update(JSON.stringify([providerId, entry])).digest('hex').slice(0, 32), 'agent');
}

/**
 * OpenClaw tool policy (its `tools` config) per tool access of a run (`tools` on the run line).
 * `restricted` is for users the owner did not give an account (guests from the Telegram allowlist):
 * no shell or code execution (`group:runtime`), no automation, node, UI or session tools (they act
 * beyond the turn or reach other sessions), no plugin tools, and the file tools (`read`, `write`,
 * `edit`, `apply_patch`) confined to the run's workspace.
 */
/** @type {Record<ToolAccess, { deny?: string[], fs?: Record<string, unknown> }>} */
export const TOOL_POLICIES = {
  full: {},
  restricted: {
    deny: ['group:runtime', 'group:automation', 'group:nodes', 'group:sessions', 'group:ui', 'group:plugins'],
    fs: { workspaceOnly: true },
  },
};

/**
 * @template {OpenClawConfig} C
 * @param {C} config
 * @param {ToolAccess | undefined} access
 * @returns {C}
 */
function withToolPolicy(config, access) {
  const policy = access === undefined ? undefined : TOOL_POLICIES[access];
  if (!policy || Object.keys(policy).length === 0) return config;
  const tools = config.tools ?? {};
  return {
    ...config,
    tools: { ...tools, ...policy, deny: [...(tools.deny ?? []), ...(policy.deny ?? [])], fs: { ...tools.fs, ...policy.fs } },
  };
}

/**
 * Returns a copy of the config whose compaction runs inside the embedded agent (`mode: "default"`).
 *
 * OpenClaw's config loader sets `agents.defaults.compaction.mode` to `"safeguard"` when the file
 * leaves it out, and in safeguard mode the embedded agent does not compact by context pressure: it
 * leaves that to the gateway's reply path, which checks the usage before each turn (checked in
 * 2026.9.6: `resolveEffectiveCompactionMode` and the `_checkCompaction` switch in
 * `dist/openclaw-runtime-agent-*.mjs`; runs past the threshold only log
 * `[context-pressure-diagnostic] admitted provider attempt ... route=compact_only`). The runner has no
 * such owner, so a detached conversation would grow until the provider refuses it. In `"default"`
 * mode the embedded agent itself compacts once a turn's context passes the model's `contextWindow`
 * minus its reserve (`embedded run auto-compaction start: ... reason=threshold`), into the
 * caller-owned transcript. A configured compaction `provider` forces safeguard mode in OpenClaw
 * anyway; the other compaction settings are kept.
 */
/**
 * @template {OpenClawConfig} C
 * @param {C} config
 */
export function withEmbeddedCompaction(config) {
  const agents = config.agents ?? {};
  const defaults = agents.defaults ?? {};
  return {
    ...config,
    agents: { ...agents, defaults: { ...defaults, compaction: { ...defaults.compaction, mode: 'default' } } },
  };
}

/**
 * Skills the user disabled are left out of the run: OpenClaw drops a skill whose
 * `skills.entries.<name>.enabled` is false from the prompt (and the config change is part of its
 * skills cache key).
 */
/**
 * @template {OpenClawConfig} C
 * @param {C} config
 * @param {string[] | undefined} disabled
 * @returns {C}
 */
function withDisabledSkills(config, disabled) {
  if (!disabled || disabled.length === 0) return config;
  const skills = /** @type {{ entries?: Record<string, object> }} */ (config.skills ?? {});
  const entries = { ...skills.entries };
  for (const name of disabled) entries[name] = { ...entries[name], enabled: false };
  return { ...config, skills: { ...skills, entries } };
}

/**
 * What the agent is told about skills on every run: OpenClaw's skill workshop is off (its files would
 * land outside the user's workspace, shared and lost), so skills it writes go where the user's own
 * skills are and persist with the workspace.
 */
export const SKILLS_PROMPT =
  'To save a reusable skill, write it as skills/<name>/SKILL.md in your workspace (frontmatter with name and description; <name> of a-z, 0-9 and -).';

/**
 * The config of one run: the turn's workspace, its tool policy, the skills the user disabled, embedded compaction
 * (withEmbeddedCompaction) and, with `req.llm`, the run's own
 * provider entry and agent dir (`agentDirOf`, see createAgentDirNamer). It lives in memory only (a
 * user's key must never reach a file); the config object from start-up is not changed.
 */
/**
 * @param {OpenClawConfig} config
 * @param {SessionRequest} req
 * @param {(providerId: string, entry: ProviderEntry) => string} agentDirOf
 * @returns {OpenClawConfig}
 */
export function configForRun(config, req, agentDirOf) {
  const runConfig = withEmbeddedCompaction(
    withDisabledSkills(withToolPolicy(configForWorkspace(config, req.workspaceDir), req.tools), /** @type {Partial<RunRequest>} */ (req).disabledSkills),
  );
  if (!req.llm) return runConfig;
  const entry = runProviderEntry(config, req.llm);
  const models = runConfig.models ?? {};
  const main = runConfig.agents.entries[AGENT_ID];
  return {
    ...runConfig,
    agents: {
      ...runConfig.agents,
      entries: { ...runConfig.agents.entries, [AGENT_ID]: { ...main, agentDir: agentDirOf(req.llm.providerId, entry) } },
    },
    models: { ...models, providers: { ...(models.providers ?? {}), [req.llm.providerId]: entry } },
  };
}

/** Replaces a run's API key in text bound for stdout or stderr (provider errors may quote it). */
/**
 * @param {RunLlm | undefined} llm
 * @returns {(text: string) => string}
 */
function keyScrubber(llm) {
  const key = llm?.apiKey;
  return (text) => (key ? text.replaceAll(key, '<redacted>') : text);
}

/**
 * The run's images as OpenClaw's `ImageContent` blocks (`runEmbeddedAgent`'s `images`): each file the
 * host wrote, base64-encoded. A file that cannot be read fails the run, naming it.
 */
/** @param {RunRequest['images']} images */
export async function loadImages(images = []) {
  return Promise.all(
    images.map(async ({ path: file, mimeType }) => {
      let bytes;
      try {
        bytes = await fs.readFile(file);
      } catch (err) {
        const failure = /** @type {NodeJS.ErrnoException} */ (err);
        throw new Error(`image ${path.basename(file)} cannot be read: ${failure.code ?? failure.message}`, { cause: err });
      }
      return { type: /** @type {const} */ ('image'), data: bytes.toString('base64'), mimeType };
    }),
  );
}

/** CommandQueueEnqueueFn that runs the task at once (see the `enqueue` parameter below). */
/**
 * @template T
 * @param {() => Promise<T>} task
 * @param {{ abortSignal?: AbortSignal }} [opts]
 * @returns {Promise<T>}
 */
function runDirectly(task, opts) {
  if (opts?.abortSignal?.aborted) return Promise.reject(opts.abortSignal.reason ?? new Error('aborted'));
  return task();
}

/**
 * `stateDir` is OpenClaw's state dir (the browser's profiles live there). `preparedRuntimes`
 * (lib/prepared-runtimes.mjs) keeps each run's prepared model runtime for the next run of its owner;
 * without it every run prepares its own (the warm-up, whose files are gone after its one run).
 * @param {{ oc: OpenClaw, config: OpenClawConfig, writeLine: (line: ProtocolLine) => void, logErr: LogErr, agentDirRoot: string,
 *   stateDir: string, preparedRuntimes?: ReturnType<typeof import('./prepared-runtimes.mjs').createPreparedRuntimes> }} options
 */
export function createTurnRunner({ oc, config, writeLine, logErr: logAny, agentDirRoot, stateDir, preparedRuntimes }) {
  const agentDirOf = createAgentDirNamer(agentDirRoot);
  /**
   * Runs in flight that used the browser. One Chromium serves the runner's runs, so it is stopped
   * (and its profile deleted) when the last of them ends, not under another one still browsing.
   * @type {Set<string>}
   */
  const browsing = new Set();
  /** @type {Map<string, Turn>} host id -> turn */
  const inflight = new Map();
  /** @type {Set<string>} run ids OpenClaw may still be working on */
  const openClawRunIds = new Set();
  let runSeq = 0;

  /**
   * @param {Turn} turn
   * @param {ProtocolLine} line
   */
  const finish = (turn, line) => {
    if (turn.finished) return false;
    turn.finished = true;
    clearTimeout(turn.deadlineTimer);
    clearTimeout(turn.graceTimer);
    inflight.delete(turn.id);
    writeLine(line);
    return true;
  };
  /**
   * @param {Turn} turn
   * @param {string} code
   * @param {string} message
   */
  const fail = (turn, code, message) => finish(turn, { type: 'error', id: turn.id, code, message: turn.scrub(message) });

  /** @param {string} id */
  function uniqueRunId(id) {
    let runId = id;
    while (openClawRunIds.has(runId)) runId = `${id}#${++runSeq}`;
    openClawRunIds.add(runId);
    return runId;
  }

  /**
   * Registers a `run` or `compact` request as in flight, with its deadline, and returns its turn
   * state and scrubbed logger; null (after answering `bad_request`) when its id is already in flight.
   */
  /** @param {RunRequest | CompactRequest} req */
  function begin(req) {
    if (inflight.has(req.id)) {
      // No `id` on this line: the turn that owns the id is still running and must not look ended.
      writeLine({ type: 'error', code: 'bad_request', message: `a ${req.type} with id ${JSON.stringify(req.id)} is already in flight` });
      return null;
    }
    const scrub = keyScrubber(req.llm);
    /** @type {Turn} */
    const turn = { id: req.id, ac: new AbortController(), finished: false, abortRequested: false, deadlineHit: false, scrub };
    // This run's diagnostics go through its scrubber (shadowing the runner-wide logger on purpose).
    /** @type {LogErr} */
    const logErr = (...parts) => logAny(...parts.map((p) => scrub(typeof p === 'string' ? p : p instanceof Error ? (p.stack ?? p.message) : JSON.stringify(p))));
    inflight.set(req.id, turn);
    // OpenClaw enforces timeoutMs per model attempt, not across its transient retries: bound the turn.
    turn.deadlineTimer = setTimeout(() => {
      turn.deadlineHit = true;
      turn.ac.abort(new Error('runner deadline exceeded'));
      turn.graceTimer = setTimeout(() => fail(turn, 'timeout', `turn exceeded timeoutMs ${req.timeoutMs} ms`), ABORT_GRACE_MS);
    }, req.timeoutMs + DEADLINE_SLACK_MS);
    return { turn, logErr };
  }

  /** Answers a failure thrown while `turn` ran, by what caused it. */
  /**
   * @param {Turn} turn
   * @param {RunRequest | CompactRequest} req
   * @param {LogErr} logErr
   * @param {unknown} err
   */
  function failThrown(turn, req, logErr, err) {
    if (turn.finished) {
      logErr(`turn ${req.id} failed after it was answered:`, err);
      return;
    }
    if (turn.abortRequested) return void fail(turn, 'aborted', 'aborted by host');
    if (turn.deadlineHit) return void fail(turn, 'timeout', `turn exceeded timeoutMs ${req.timeoutMs} ms`);
    const code = classifyThrown(err);
    logErr(`turn ${req.id} failed (${code}):`, err);
    fail(turn, code, errorMessage(err));
  }

  /** @param {RunRequest} req */
  async function run(req) {
    const started = performance.now();
    const begun = begin(req);
    if (!begun) return;
    const { turn, logErr } = begun;
    const { scrub } = turn;

    let admission;
    let runId;
    /** Ends the browser when this run used it and no other run in flight still does. */
    const endBrowsing = async () => {
      if (!browsing.delete(req.id) || browsing.size > 0) return;
      await stopBrowser(oc, stateDir, logErr);
    };
    try {
      const sm = await loadSession(oc, req);
      const entriesBefore = sm.getEntries().length;
      await fs.mkdir(req.workspaceDir, { recursive: true });
      const images = await loadImages(req.images);
      if (turn.abortRequested) return void fail(turn, 'aborted', 'aborted before start');
      const runConfig = withBrowserAccess(configForRun(config, req, agentDirOf), req.browser);
      // Skills added or removed since the last run of this workspace show from this run on.
      oc.bumpSkillsSnapshotVersion({ workspaceDir: req.workspaceDir, reason: 'manual' });
      const provider = req.llm?.providerId ?? req.provider;
      const model = req.llm?.model ?? req.model;
      await preparedRuntimes?.hold(runConfig, { agentId: AGENT_ID, workspaceDir: req.workspaceDir, provider, model });
      runId = uniqueRunId(req.id);
      admission = oc.prepareSystemAgentRunAdmission(runConfig, runId, AGENT_ID, ADMISSION_BOUNDARY);
      const streamer = createDeltaStreamer((d) => {
        if (!turn.finished) writeLine({ type: 'delta', id: req.id, ...d });
      });
      const tools = createToolTracker((t) => {
        if (!turn.finished) writeLine({ type: 'tool', id: req.id, ...t });
      }, scrub);
      let result;
      try {
        result = await oc.runEmbeddedAgent({
          preparedRunAdmission: admission,
          runId,
          agentId: AGENT_ID,
          sessionId: req.sessionId,
          sessionManager: sm,
          sessionPersistence: 'detached',
          workspaceDir: req.workspaceDir,
          config: runConfig,
          prompt: req.prompt,
          ...(images.length > 0 ? { images } : {}),
          extraSystemPrompt: [SKILLS_PROMPT, req.extraSystemPrompt].filter(Boolean).join('\n\n'),
          ...(provider ? { provider } : {}),
          ...(model ? { model } : {}),
          ...(req.thinkLevel ? { thinkLevel: req.thinkLevel } : {}),
          timeoutMs: req.timeoutMs,
          disableTools: req.disableTools,
          trigger: 'user',
          // OpenClaw otherwise records an auth or billing failure of a key from the config as a
          // cooldown of the whole provider, in state shared by all runs: one user's rejected key
          // would refuse every other run's key for that provider for a minute or more.
          authProfileFailurePolicy: 'local',
          // OpenClaw queues every embedded run on one global command lane ("main") whose
          // concurrency is 1 unless the gateway raises it. Admit turns directly instead, so turns of
          // different sessions run concurrently; OpenClaw still serialises turns per session.
          enqueue: runDirectly,
          abortSignal: turn.ac.signal,
          onAssistantMessageStart: () => streamer.onAssistantMessageStart(),
          onPartialReply: (payload) => {
            if (!turn.finished) streamer.onPartial(payload);
          },
          onAgentEvent: (evt) => {
            if (evt?.stream === 'tool' && evt.data?.name === BROWSER_TOOL) browsing.add(req.id);
            tools.onAgentEvent(evt);
          },
        });
      } finally {
        try {
          admission.close();
        } catch (err) {
          logErr(`turn ${req.id}: closing run admission failed:`, err);
        }
        openClawRunIds.delete(runId);
      }
      if (turn.finished) return;
      if (turn.abortRequested) return void fail(turn, 'aborted', 'aborted by host');
      if (turn.deadlineHit) return void fail(turn, 'timeout', `turn exceeded timeoutMs ${req.timeoutMs} ms`);

      const meta = result?.meta ?? {};
      const agentMeta = meta.agentMeta ?? {};
      const payloads = replyPayloads(result);
      const errorPayload = payloads.find((p) => p.isError);
      if (meta.error || meta.aborted || errorPayload) {
        logErr(`turn ${req.id} outcome:`, {
          error: meta.error, aborted: meta.aborted, timeoutPhase: meta.timeoutPhase, livenessState: meta.livenessState,
          stopReason: meta.stopReason, providerStarted: meta.providerStarted, completion: meta.completion,
          payloads: (result?.payloads ?? []).map((p) => ({ isError: p.isError, text: p.text?.slice(0, 200) })),
        });
      }
      // OpenClaw reports most failures in the result rather than by throwing: its own deadline as
      // meta.timeoutPhase (+ meta.error incomplete_turn), provider trouble as meta.error and/or
      // an isError payload whose text is the user-facing error message.
      if (meta.timeoutPhase) {
        const why = meta.error?.message ?? errorPayload?.text ?? 'timed out';
        return void fail(turn, 'timeout', `OpenClaw timed out after ${req.timeoutMs} ms (phase ${meta.timeoutPhase}): ${why}`);
      }
      if (meta.error) {
        const code = meta.error.kind === 'hook_block' ? 'internal' : 'llm_error';
        return void fail(turn, code, `${meta.error.kind}: ${meta.error.message ?? errorPayload?.text ?? ''}`.trim());
      }
      if (errorPayload) return void fail(turn, 'llm_error', errorPayload.text || 'provider error');
      if (meta.aborted) return void fail(turn, 'internal', 'OpenClaw aborted the run without a request from the host');

      const text = payloads
        .filter((p) => typeof p.text === 'string' && p.text.length > 0)
        .map((p) => p.text)
        .join('\n\n');
      await writeTranscript(sm, req.transcriptOutPath);
      if (turn.finished) return;
      /** @type {string[]} */
      let screenshots = [];
      if (browsing.has(req.id)) {
        screenshots = await saveScreenshots(req.workspaceDir, sm.getEntries().slice(entriesBefore));
        const downloads = await moveDownloads(OPENCLAW_DOWNLOAD_DIR, req.workspaceDir);
        if (downloads.length > 0) logErr(`turn ${req.id}: moved ${downloads.length} download(s) into the workspace`);
        await endBrowsing();
      }
      if (turn.finished) return;
      streamer.finish(text);
      const media = [...new Set([...replyMedia(payloads), ...screenshots])];
      finish(turn, {
        type: 'result',
        id: req.id,
        text,
        ...(media.length > 0 ? { media: media.map(scrub) } : {}),
        usage: usageOf(agentMeta),
        costUsd: costOf(agentMeta),
        durationMs: Math.round(performance.now() - started),
        provider: agentMeta.provider ?? provider ?? null,
        model: agentMeta.model ?? model ?? null,
        stopReason: meta.stopReason ?? null,
      });
    } catch (err) {
      failThrown(turn, req, logErr, err);
    } finally {
      await endBrowsing();
    }
  }

  /**
   * A `compact` request: compacts the transcript (lib/compaction.mjs) and writes it to
   * `transcriptOutPath`, answering `compacted`; on failure the output is not written.
   */
  /** @param {CompactRequest} req */
  async function compact(req) {
    const started = performance.now();
    const begun = begin(req);
    if (!begun) return;
    const { turn, logErr } = begun;
    try {
      const before = await transcriptSize(req.transcriptPath);
      const sm = await loadSession(oc, req);
      await fs.mkdir(req.workspaceDir, { recursive: true });
      const outcome = await compactSession(oc, sm, {
        runConfig: configForRun(config, req, agentDirOf),
        agentId: AGENT_ID,
        workspaceDir: req.workspaceDir,
        provider: req.llm?.providerId ?? req.provider,
        model: req.llm?.model ?? req.model,
        instructions: req.instructions,
        timeoutMs: req.timeoutMs,
        signal: turn.ac.signal,
      });
      if (turn.finished) return;
      if (outcome.compacted) await writeTranscript(sm, req.transcriptOutPath);
      if (turn.finished) return;
      const after = outcome.compacted ? await transcriptSize(req.transcriptOutPath) : before;
      finish(turn, {
        type: 'compacted',
        id: req.id,
        compacted: outcome.compacted,
        ...(outcome.reason ? { reason: outcome.reason } : {}),
        tokensBefore: outcome.tokensBefore,
        tokensAfter: outcome.tokensAfter,
        bytesBefore: before,
        bytesAfter: after,
        durationMs: Math.round(performance.now() - started),
      });
    } catch (err) {
      failThrown(turn, req, logErr, err);
    }
  }

  /** @param {string} id */
  function abort(id, reason = 'aborted by host') {
    const turn = inflight.get(id);
    if (!turn || turn.finished || turn.abortRequested) return;
    turn.abortRequested = true;
    turn.ac.abort(new Error(reason));
    // Normally OpenClaw unwinds within milliseconds; never leave the host waiting on it.
    turn.graceTimer = setTimeout(() => fail(turn, 'aborted', reason), ABORT_GRACE_MS);
  }

  /** Aborts every turn and answers each with `aborted` at once. */
  /** @param {string} reason */
  function abortAll(reason) {
    for (const turn of [...inflight.values()]) {
      turn.abortRequested = true;
      try {
        turn.ac.abort(new Error(reason));
      } catch {
        /* ignore */
      }
      fail(turn, 'aborted', reason);
    }
  }

  return { run, compact, abort, abortAll, get inflightCount() { return inflight.size; } };
}
