// End to end against the installed OpenClaw and an in-process fake LLM that calls tools: the runner
// writes a `tool` line when each tool starts and ends, with a summary cleaned of the run's key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnRunner, runnerHome, toolModelConfig, toolModelLlm } from './helpers.mjs';
import { startFakeLlm, FAKE_REPLY } from './fake-llm.mjs';

const KEY = 'sk-user-tools-secret-1';

test('tool calls of a turn come out as start and end lines tied by id, before the result', { timeout: 300_000 }, async () => {
  const fake = await startFakeLlm();
  const { root, env } = runnerHome(toolModelConfig);
  const r = spawnRunner(env);
  try {
    await r.waitFor((l) => l.type === 'ready', 120_000);
    // Round one: two shell commands, one quoting the run's key; round two: a tool OpenClaw lacks.
    fake.toolCalls.push(
      [{ name: 'exec', input: { command: 'echo first-tool' } }, { name: 'exec', input: { command: `echo ${KEY} && sleep 0.2` } }],
      [{ name: 'no_such_tool', input: { path: '/nowhere' } }],
    );
    r.send({
      type: 'run', id: 't-1', sessionId: 's-1', transcriptPath: path.join(root, 'in.jsonl'), transcriptOutPath: path.join(root, 'out.jsonl'),
      workspaceDir: path.join(root, 'ws'), prompt: 'run the tools', timeoutMs: 90_000, disableTools: false,
      llm: toolModelLlm(fake.url, KEY),
    });
    const result = await r.waitFor((l) => l.id === 't-1' && (l.type === 'result' || l.type === 'error'), 150_000);
    assert.equal(result.type, 'result', JSON.stringify(result));
    assert.equal(result.text, FAKE_REPLY);
    const lines = r.lines.map((l) => JSON.parse(l)).filter((l) => l.id === 't-1');
    const tools = lines.filter((l) => l.type === 'tool');
    const starts = tools.filter((l) => l.status === 'running');
    const ends = tools.filter((l) => l.status !== 'running');
    assert.deepEqual(starts.map((l) => [l.name, l.summary.startsWith('echo ')]), [['exec', true], ['exec', true], ['no_such_tool', false]]);
    assert.equal(starts[0].summary, 'echo first-tool');
    assert.equal(starts[2].summary, '/nowhere');
    assert.equal(new Set(starts.map((l) => l.toolId)).size, 3, 'every call has an id of its own');
    for (const start of starts) {
      const end = ends.find((l) => l.toolId === start.toolId);
      assert.ok(end, `an end line for ${start.toolId}: ${JSON.stringify(tools)}`);
      assert.ok(tools.indexOf(end) > tools.indexOf(start), 'the end follows the start');
      assert.deepEqual([end.name, end.summary], [start.name, start.summary]);
      assert.ok(Number.isInteger(end.durationMs) && end.durationMs >= 0, JSON.stringify(end));
    }
    assert.deepEqual(ends.map((l) => [l.name, l.status]).sort(), [['exec', 'ok'], ['exec', 'ok'], ['no_such_tool', 'error']]);
    assert.ok(ends.find((l) => l.summary.includes('sleep 0.2')).durationMs >= 200, 'the duration covers the command');
    assert.ok(lines.indexOf(ends.at(-1)) < lines.findIndex((l) => l.type === 'result'), 'every tool line comes before the result');
    assert.ok(!r.lines.some((l) => l.includes(KEY)), 'the key is in no protocol line');
  } finally {
    r.kill();
    await fake.close();
  }
});
