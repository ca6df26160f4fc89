// End to end against the installed OpenClaw and the fake LLM: the skills of a workspace's `skills/`
// folder reach the system prompt, a skill added or removed between two turns of a warm runner shows or
// vanishes in the next one (OpenClaw caches them until the runner bumps its snapshot), a skill on the
// run line's `disabledSkills` is left out, and the skill workshop is off with the agent told where to
// save skills instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnRunner, runnerHome } from './helpers.mjs';
import { startFakeLlm } from './fake-llm.mjs';
import { SKILLS_PROMPT } from '../lib/turns.mjs';

/**
 * @param {string} workspace
 * @param {string} name
 * @param {string} description
 */
function writeSkill(workspace, name, description) {
  const dir = path.join(workspace, 'skills', name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'SKILL.md'), `---\nname: ${name}\ndescription: ${description}\n---\n# ${name}\n`);
}

test('skills follow the workspace from turn to turn of a warm runner, and disabled ones are left out', { timeout: 300_000 }, async () => {
  const fake = await startFakeLlm();
  // As crates/agent/src/config.rs renders it: the workshop off and its tool denied.
  const { root, env } = runnerHome(() => ({
    agents: { entries: { main: {} } },
    models: { catalogRefresh: { enabled: false } },
    skills: { workshop: { autonomous: { mode: 'off' } } },
    tools: { deny: ['skill_workshop'] },
    update: { checkOnStart: false, auto: { enabled: false } },
    telemetry: { enabled: false },
  }));
  const workspace = path.join(root, 'ws');
  const r = spawnRunner(env);
  /** @param {string} id @param {string[]} [disabledSkills] */
  async function turn(id, disabledSkills) {
    r.send({
      type: 'run', id, sessionId: `s-${id}`, transcriptPath: path.join(root, `${id}-in.jsonl`), transcriptOutPath: path.join(root, `${id}-out.jsonl`),
      workspaceDir: workspace, prompt: 'hello', timeoutMs: 90_000, ...(disabledSkills ? { disabledSkills } : {}),
      llm: {
        providerId: 'custom', model: 'skill-model', apiKey: 'sk-skills',
        provider: { baseUrl: fake.url, api: 'anthropic-messages', models: [{ id: 'skill-model', name: 'skill-model', input: ['text'], contextWindow: 200000, maxTokens: 8192 }] },
      },
    });
    const result = await r.waitFor((l) => l.id === id && (l.type === 'result' || l.type === 'error'), 150_000);
    assert.equal(result.type, 'result', JSON.stringify(result));
    return /** @type {string} */ (fake.requests.at(-1)?.system);
  }
  try {
    await r.waitFor((l) => l.type === 'ready', 120_000);
    writeSkill(workspace, 'zeta-skill', 'ZETA-DESC-123 does zeta things');
    const first = await turn('t-1');
    assert.match(first, /<name>zeta-skill<\/name>\s*<description>ZETA-DESC-123 does zeta things<\/description>/);
    assert.ok(first.includes(SKILLS_PROMPT), 'the agent is told where to save skills');
    assert.ok(!first.includes('## Skill Workshop'), 'the workshop is off');

    fs.rmSync(path.join(workspace, 'skills', 'zeta-skill'), { recursive: true });
    writeSkill(workspace, 'beta-skill', 'BETA-DESC-456 does beta things');
    const second = await turn('t-2');
    assert.ok(!second.includes('<name>zeta-skill</name>'), 'a removed skill vanishes on the next turn');
    assert.ok(second.includes('<name>beta-skill</name>'), 'an added skill shows on the next turn');

    writeSkill(workspace, 'gamma-skill', 'GAMMA-DESC-789');
    const third = await turn('t-3', ['beta-skill']);
    assert.ok(!third.includes('<name>beta-skill</name>'), 'a disabled skill is left out');
    assert.ok(third.includes('<name>gamma-skill</name>'));
    const fourth = await turn('t-4');
    assert.ok(fourth.includes('<name>beta-skill</name>'), 'enabled again, it is back');
  } finally {
    r.kill();
    await fake.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
