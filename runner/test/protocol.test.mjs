// Pure unit tests: request parsing, delta streaming, error classification.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequest, BadRequest, DEFAULT_TIMEOUT_MS } from '../lib/protocol.mjs';
import { createDeltaStreamer, classifyThrown, configForWorkspace, configForRun, createAgentDirNamer, createToolTracker, replyMedia, withEmbeddedCompaction, TOOL_SUMMARY_MAX } from '../lib/turns.mjs';

/** @import { OpenClawConfig, ProviderEntry, RunLlm, SessionRequest } from '../types.d.ts' */

const run = {
  type: 'run', id: 't-1', sessionId: 's-1', transcriptPath: '/a/in.jsonl', transcriptOutPath: '/a/out.jsonl',
  workspaceDir: '/a/ws', prompt: 'hello', provider: 'fake', model: 'fake-model', timeoutMs: 5000, disableTools: true,
};

/**
 * `parseRequest` of a line the test expects to parse; the test reads the request's fields as it names them.
 * @param {string} line
 * @returns {Record<string, any>}
 */
function parsed(line) {
  const req = parseRequest(line);
  assert.ok(req, `nothing parsed from ${line}`);
  return req;
}

/**
 * The fields of a run line configForRun reads, for a config test.
 * @param {Partial<SessionRequest>} fields
 */
const sessionOf = (fields) => /** @type {SessionRequest} */ ({ workspaceDir: '/w/1', ...fields });

test('parses a run line', () => {
  const req = parsed(JSON.stringify(run));
  assert.equal(req.type, 'run');
  assert.equal(req.timeoutMs, 5000);
  assert.equal(req.disableTools, true);
  const minimal = parsed(JSON.stringify({ ...run, provider: undefined, model: undefined, timeoutMs: undefined, disableTools: undefined }));
  assert.equal(minimal.timeoutMs, DEFAULT_TIMEOUT_MS);
  assert.equal(minimal.disableTools, false);
  assert.equal(minimal.provider, undefined);
});

test('rejects malformed lines with bad_request, tied to the id when there is one', () => {
  /** @param {string} line */
  const bad = (line) => {
    try {
      parseRequest(line);
    } catch (err) {
      assert.ok(err instanceof BadRequest, String(err));
      return err;
    }
    assert.fail(`accepted ${line}`);
  };
  assert.equal(bad('{oops').id, undefined);
  assert.equal(bad('[1,2]').id, undefined);
  assert.equal(bad('"run"').id, undefined);
  assert.equal(bad(JSON.stringify({ type: 'nope', id: 'x' })).id, 'x');
  assert.equal(bad(JSON.stringify({ ...run, id: '' })).id, undefined);
  assert.equal(bad(JSON.stringify({ ...run, sessionId: undefined })).id, 't-1');
  assert.match(bad(JSON.stringify({ ...run, transcriptPath: 'relative.jsonl' })).message, /absolute/);
  assert.match(bad(JSON.stringify({ ...run, timeoutMs: -1 })).message, /timeoutMs/);
  assert.match(bad(JSON.stringify({ ...run, timeoutMs: 1.5 })).message, /timeoutMs/);
  assert.match(bad(JSON.stringify({ ...run, disableTools: 'yes' })).message, /disableTools/);
  assert.match(bad(JSON.stringify({ ...run, prompt: '  ' })).message, /prompt/);
  assert.equal(bad(JSON.stringify({ type: 'abort' })).id, undefined);
  assert.equal(parseRequest('   '), null);
  assert.deepEqual(parseRequest('{"type":"shutdown"}'), { type: 'shutdown' });
  assert.deepEqual(parseRequest('{"type":"abort","id":"t-9"}'), { type: 'abort', id: 't-9' });
});

function collect() {
  /** @type {Array<{ text: string, replace?: true }>} */
  const out = [];
  const s = createDeltaStreamer((d) => out.push(d));
  const joined = () => out.reduce((acc, d) => (d.replace ? d.text : acc + d.text), '');
  return { s, out, joined };
}

test('deltas are the new text of cumulative partials', () => {
  const { s, out, joined } = collect();
  s.onPartial({ text: 'Hel', delta: 'Hel' });
  s.onPartial({ text: 'Hello wo', delta: 'lo wo' });
  s.onPartial({ text: 'Hello wo', delta: '' });
  s.onPartial({ text: 'Hello world.', delta: 'rld.' });
  s.finish('Hello world.');
  assert.deepEqual(out, [{ text: 'Hel' }, { text: 'lo wo' }, { text: 'rld.' }]);
  assert.equal(joined(), 'Hello world.');
});

test('delta-only partials, replace, and a final text that differs', () => {
  const { s, out, joined } = collect();
  s.onPartial({ delta: 'ab' });
  s.onPartial({ delta: 'cd' });
  s.onPartial({ delta: 'XY', replace: true });
  assert.deepEqual(out.at(-1), { text: 'XY', replace: true });
  s.onPartial({ text: 'XYZ' });
  s.finish('XYZ!');
  assert.equal(joined(), 'XYZ!');
  s.finish('totally different');
  assert.deepEqual(out.at(-1), { text: 'totally different', replace: true });
});

test('a second assistant message in the same turn continues after a separator', () => {
  const { s, joined } = collect();
  s.onPartial({ text: 'Checking.' });
  s.onAssistantMessageStart();
  s.onPartial({ text: 'Done' });
  s.finish('Checking.\n\nDone');
  assert.equal(joined(), 'Checking.\n\nDone');
});

test('classifies thrown errors', () => {
  const failover = Object.assign(new Error('⚠️ API rate limit reached.'), { name: 'FailoverError', reason: 'rate_limit' });
  assert.equal(classifyThrown(failover), 'llm_error');
  assert.equal(classifyThrown(Object.assign(new Error('x'), { status: 500 })), 'llm_error');
  assert.equal(classifyThrown(new Error('wrapped', { cause: Object.assign(new Error('t'), { reason: 'timeout' }) })), 'timeout');
  assert.equal(classifyThrown(new TypeError('cannot read properties of undefined')), 'internal');
});

test('the per-turn config points the main agent at the turn workspace without touching the original', () => {
  /** @type {OpenClawConfig} */
  const cfg = { agents: { defaults: { model: { primary: 'p/m' } }, entries: { main: { name: 'x' } } }, models: {} };
  const out = configForWorkspace(cfg, '/w/1');
  assert.equal(out.agents?.entries?.main?.workspace, '/w/1');
  assert.equal(out.agents?.entries?.main?.name, 'x');
  assert.equal(cfg.agents?.entries?.main?.workspace, undefined);
  assert.equal(out.agents?.defaults, cfg.agents?.defaults);
});

/** @type {RunLlm & { provider: ProviderEntry }} */
const llm = { providerId: 'deepseek', model: 'deepseek-v4-flash', provider: { baseUrl: 'https://api.deepseek.com', api: 'openai-completions', models: [] } };

test('a run line may carry its own provider instead of provider and model', () => {
  const { provider, model, ...rest } = run;
  const req = parsed(JSON.stringify({ ...rest, llm: { ...llm, apiKey: 'sk-user' } }));
  assert.deepEqual(req.llm, { ...llm, apiKey: 'sk-user' });
  assert.deepEqual(parsed(JSON.stringify({ ...rest, llm: { providerId: 'anthropic', model: 'm' } })).llm, { providerId: 'anthropic', model: 'm' });
  assert.equal(parsed(JSON.stringify(run)).llm, undefined);
});

test('a malformed llm is a bad_request whose message never quotes the key', () => {
  const { provider, model, ...rest } = run;
  /** @param {unknown} llmValue */
  const bad = (llmValue, extra = {}) => {
    try {
      parseRequest(JSON.stringify({ ...rest, ...extra, llm: llmValue }));
    } catch (err) {
      assert.ok(err instanceof BadRequest, String(err));
      assert.equal(err.id, 't-1');
      assert.doesNotMatch(err.message, /sk-secret/);
      return err.message;
    }
    assert.fail(`accepted ${JSON.stringify(llmValue)}`);
  };
  assert.match(bad('anthropic'), /"llm" must be an object/);
  assert.match(bad({ ...llm, apiKey: 'sk-secret' }, { provider: 'p', model: 'm' }), /one or the other/);
  assert.match(bad({ model: 'm', apiKey: 'sk-secret' }), /providerId/);
  assert.match(bad({ ...llm, provider: { apiKey: 'sk-secret' } }), /must not carry "apiKey"/);
  assert.match(bad({ ...llm, apiKey: '  ' }), /llm\.apiKey/);
  // V8's JSON.parse messages quote the input; the runner's must not.
  let err;
  try {
    parseRequest('{"type":"run","llm":{"apiKey":sk-secret}}');
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof BadRequest);
  assert.doesNotMatch(err.message, /sk-secret/);
});

test('a run with its own provider gets it in its config copy only, with the key winning over env and profiles', () => {
  /** @type {OpenClawConfig} */
  const cfg = {
    agents: { entries: { main: {} } },
    models: { providers: { custom: { baseUrl: 'http://c/v1' }, anthropic: { baseUrl: 'http://fake' } } },
  };
  const req = sessionOf({});
  /** @type {(id: string, entry: ProviderEntry) => string} */
  const agentDirOf = (id, entry) => `/agents/${id}/${String(entry.auth)}`;
  const own = configForRun(cfg, { ...req, llm: { ...llm, apiKey: 'sk-user' } }, agentDirOf);
  assert.deepEqual(own.models?.providers?.deepseek, { ...llm.provider, apiKey: 'sk-user', auth: 'api-key' });
  assert.equal(own.agents?.entries?.main?.agentDir, '/agents/deepseek/api-key');
  assert.equal(own.models?.providers?.custom, cfg.models?.providers?.custom);
  assert.equal(own.agents?.entries?.main?.workspace, '/w/1');
  assert.equal(cfg.models?.providers?.deepseek, undefined, 'the start-up config is not changed');
  // Without `provider`, the config's entry for the id (here: the built-in anthropic pointed at a fake) is kept.
  const builtIn = configForRun(cfg, { ...req, llm: { providerId: 'anthropic', model: 'm', apiKey: 'sk-deploy' } }, agentDirOf);
  assert.deepEqual(builtIn.models?.providers?.anthropic, { baseUrl: 'http://fake', apiKey: 'sk-deploy', auth: 'api-key' });
  assert.deepEqual(configForRun(cfg, req, agentDirOf), withEmbeddedCompaction(configForWorkspace(cfg, '/w/1')));
});

test('every run compacts inside the embedded agent (mode default), keeping the other compaction settings', () => {
  /** @type {OpenClawConfig} */
  const cfg = { agents: { defaults: { compaction: { mode: 'safeguard', keepRecentTokens: 4000 }, model: { primary: 'a/b' } }, entries: { main: {} } } };
  const runConfig = configForRun(cfg, sessionOf({}), () => '/agents/x');
  assert.deepEqual(runConfig.agents?.defaults, { compaction: { mode: 'default', keepRecentTokens: 4000 }, model: { primary: 'a/b' } });
  assert.equal(cfg.agents?.defaults?.compaction?.mode, 'safeguard', 'the start-up config is not changed');
  assert.equal(withEmbeddedCompaction({ agents: { entries: {} } }).agents.defaults.compaction.mode, 'default');
});

test('parses a compact line: the session fields of a run, no prompt, optional instructions', () => {
  const { prompt, disableTools, ...session } = run;
  const req = parsed(JSON.stringify({ ...session, type: 'compact', id: 'c-1', instructions: 'keep the API names' }));
  assert.deepEqual(req, {
    type: 'compact', id: 'c-1', sessionId: 's-1', transcriptPath: '/a/in.jsonl', transcriptOutPath: '/a/out.jsonl', workspaceDir: '/a/ws',
    provider: 'fake', model: 'fake-model', timeoutMs: 5000, instructions: 'keep the API names',
  });
  assert.equal(parsed(JSON.stringify({ ...session, type: 'compact', id: 'c-2', timeoutMs: undefined })).timeoutMs, DEFAULT_TIMEOUT_MS);
  assert.throws(() => parseRequest(JSON.stringify({ ...session, type: 'compact', id: 'c-3', transcriptPath: 'rel.jsonl' })), /"transcriptPath" must be an absolute path/);
  assert.throws(() => parseRequest(JSON.stringify({ ...session, type: 'compact' , id: undefined })), /"id" must be/);
});

test('a run may name a thinking level, one of those OpenClaw knows', () => {
  assert.equal(parsed(JSON.stringify(run)).thinkLevel, undefined);
  assert.equal(parsed(JSON.stringify({ ...run, thinkLevel: 'high' })).thinkLevel, 'high');
  assert.throws(() => parseRequest(JSON.stringify({ ...run, thinkLevel: 'hard' })), /"thinkLevel" must be one of off, minimal, low, medium, high/);
});

test('a run may name skills to leave out, by valid skill names only', () => {
  assert.equal(parsed(JSON.stringify(run)).disabledSkills, undefined);
  assert.deepEqual(parsed(JSON.stringify({ ...run, disabledSkills: ['zeta', 'a-1'] })).disabledSkills, ['zeta', 'a-1']);
  for (const bad of ['zeta', ['../x'], ['Zeta'], [1]]) {
    assert.throws(() => parseRequest(JSON.stringify({ ...run, disabledSkills: bad })), /"disabledSkills" must be an array of skill names/);
  }
});

test('a run asks for full or restricted tools; restricted runs get no shell and workspace-only files', () => {
  assert.equal(parsed(JSON.stringify(run)).tools, 'full');
  assert.equal(parsed(JSON.stringify({ ...run, tools: 'restricted' })).tools, 'restricted');
  assert.throws(() => parseRequest(JSON.stringify({ ...run, tools: 'all' })), /"tools" must be one of full, restricted/);
  /** @type {OpenClawConfig} */
  const cfg = { agents: { entries: { main: {} } }, tools: { deny: ['cron'], fs: { workspaceOnly: false }, web: { fetch: { enabled: true } } } };
  const agentDirOf = () => '/agents/x';
  const full = configForRun(cfg, sessionOf({ tools: 'full' }), agentDirOf);
  assert.deepEqual(full.tools, cfg.tools);
  const restricted = configForRun(cfg, sessionOf({ tools: 'restricted' }), agentDirOf);
  assert.deepEqual(restricted.tools?.deny, ['cron', 'group:runtime', 'group:automation', 'group:nodes', 'group:sessions', 'group:ui', 'group:plugins']);
  assert.deepEqual(restricted.tools?.fs, { workspaceOnly: true });
  assert.deepEqual(restricted.tools?.web, cfg.tools?.web);
  assert.deepEqual(cfg.tools?.deny, ['cron'], 'the start-up config is not changed');
});

test('runs get one agent dir per provider entry and key, named without the key', () => {
  const name = createAgentDirNamer('/state/run-agents');
  /** @param {string} apiKey */
  const entry = (apiKey) => ({ baseUrl: 'http://h', apiKey, auth: 'api-key' });
  const a = name('anthropic', entry('sk-user-a'));
  assert.equal(name('anthropic', entry('sk-user-a')), a);
  assert.notEqual(name('anthropic', entry('sk-user-b')), a);
  assert.notEqual(name('openai', entry('sk-user-a')), a);
  assert.notEqual(name('anthropic', { ...entry('sk-user-a'), baseUrl: 'http://other' }), a);
  assert.match(a, /^\/state\/run-agents\/[0-9a-f]{32}\/agent$/);
  assert.notEqual(createAgentDirNamer('/state/run-agents')('anthropic', entry('sk-user-a')), a, 'a new process names it anew');
});

test('tool events become start and end lines with a one-line, scrubbed, bounded summary', () => {
  /** @type {Array<{ toolId: string, name: string, summary: string, status: string, durationMs?: number }>} */
  const lines = [];
  let clock = 1000;
  const tracker = createToolTracker((l) => lines.push(l), (t) => t.replaceAll('SECRET', '<redacted>'), () => clock);
  tracker.onAgentEvent({ stream: 'assistant', data: { text: 'hi' } });
  tracker.onAgentEvent({ stream: 'tool', data: { phase: 'start', name: 'exec', toolCallId: 'c1', args: { command: 'curl -H SECRET\n  example.org' } } });
  tracker.onAgentEvent({ stream: 'tool', data: { phase: 'update', name: 'exec', toolCallId: 'c1' } });
  tracker.onAgentEvent({ stream: 'tool', data: { phase: 'start', name: 'web_fetch', toolCallId: 'c2', args: { url: `https://example.org/${'a'.repeat(200)}` } } });
  clock = 1250.4;
  tracker.onAgentEvent({ stream: 'tool', data: { phase: 'result', name: 'exec', toolCallId: 'c1', isError: true } });
  tracker.onAgentEvent({ stream: 'tool', data: { phase: 'result', name: 'web_fetch', toolCallId: 'c2', isError: false } });
  tracker.onAgentEvent({ stream: 'tool', data: { phase: 'start', name: 'read', toolCallId: 'c3', args: { path: 'notes/a.md' } } });
  tracker.onAgentEvent({ stream: 'tool', data: { phase: 'start', name: 'memory_search', toolCallId: 'c4', args: {}, meta: 'recent notes' } });
  assert.deepEqual(lines[0], { toolId: 'c1', name: 'exec', summary: 'curl -H <redacted> example.org', status: 'running' });
  assert.equal(lines[1].summary.length, TOOL_SUMMARY_MAX);
  assert.ok(lines[1].summary.endsWith('…'));
  assert.deepEqual(lines[2], { toolId: 'c1', name: 'exec', summary: 'curl -H <redacted> example.org', status: 'error', durationMs: 250 });
  assert.deepEqual([lines[3].status, lines[3].durationMs], ['ok', 250]);
  assert.deepEqual(lines.slice(4).map((l) => l.summary), ['notes/a.md', 'recent notes']);
  assert.equal(lines.length, 6);
});

test('a run line may name images: absolute paths of accepted types, at most ten', () => {
  /** @param {unknown} images */
  const line = (images) => JSON.stringify({ ...run, images });
  assert.deepEqual(parsed(line([{ path: '/t/0.png', mimeType: 'image/png' }])).images, [{ path: '/t/0.png', mimeType: 'image/png' }]);
  assert.equal(parsed(line(null)).images, undefined);
  /** @param {unknown} images */
  const refused = (images) => assert.throws(() => parseRequest(line(images)), (err) => err instanceof BadRequest && err.id === 't-1');
  refused({ path: '/t/0.png', mimeType: 'image/png' });
  refused([{ path: 'rel.png', mimeType: 'image/png' }]);
  refused([{ path: '/t/0.svg', mimeType: 'image/svg+xml' }]);
  refused([{ mimeType: 'image/png' }]);
  refused(Array.from({ length: 11 }, (_, i) => ({ path: `/t/${i}.png`, mimeType: 'image/png' })));
});

test("a reply's media references are passed on once each, in order", () => {
  assert.deepEqual(replyMedia([{ text: 'a', mediaUrl: './chart.png', mediaUrls: ['./chart.png', '/ws/b.pdf'] }, { text: 'b' }, { mediaUrls: [' ', 7, 'https://example.com/x.png'] }]), [
    './chart.png',
    '/ws/b.pdf',
    'https://example.com/x.png',
  ]);
  assert.deepEqual(replyMedia([{ text: 'plain' }]), []);
});
