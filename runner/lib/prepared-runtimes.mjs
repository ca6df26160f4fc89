// Prepared model runtimes held across runs. OpenClaw prepares a plugin registry and model runtime for
// every run that passes a `config` (the largest part of a warm turn's overhead, ~70 ms of its stages
// on our machines) and retires it when the run ends. A lease from acquireAgentRunPreparedModelRuntime
// (an internal, found by name at start-up) keeps it published, so the next run of the same owner
// (agent, agent dir, workspace, provider and model: OpenClaw's key) binds to it instead.
//
// The owner keeps the config it was first prepared with, and a run bound to it runs with that
// config, not its own. So a held runtime is reused only by a run whose whole config is the same (a
// fingerprint: HMAC under a secret of this process, so no key can be matched to it); another config
// for the same owner (a changed tool policy, key or setting) releases it and prepares a new one.
// Runs of one owner that start at the same time with different configs still share one, as without
// leases (OpenClaw publishes one owner per key).
import { createHmac, randomBytes } from 'node:crypto';
import path from 'node:path';

/** Owners kept prepared at most; the least recently used is released first. */
export const MAX_HELD = 8;

/** @import { LogErr, OpenClaw, OpenClawConfig, PreparedRuntimeLease } from '../types.d.ts' */

/**
 * @param {OpenClaw['acquireAgentRunPreparedModelRuntime']} acquire
 * @param {LogErr} logErr
 */
export function createPreparedRuntimes(acquire, logErr, max = MAX_HELD) {
  const secret = randomBytes(32);
  /** @type {Map<string, { lease: PreparedRuntimeLease, fingerprint: string }>} by owner key, least recently used first */
  const held = new Map();

  /** @param {PreparedRuntimeLease} lease */
  async function release(lease) {
    try {
      await lease[Symbol.asyncDispose]();
    } catch (err) {
      logErr('releasing a prepared model runtime failed:', err);
    }
  }

  /**
   * Makes sure the runtime of this run's owner is prepared with this run's config and stays so after
   * the run. Never fails the run: without a lease the run prepares its own, as OpenClaw does.
   * @param {OpenClawConfig} runConfig
   * @param {{ agentId: string, workspaceDir: string, provider: string | undefined, model: string | undefined }} run
   */
  async function hold(runConfig, { agentId, workspaceDir, provider, model }) {
    const agentDir = runConfig.agents?.entries?.[agentId]?.agentDir;
    if (typeof agentDir !== 'string' || !provider || !model) return;
    const workspace = path.resolve(workspaceDir);
    const key = JSON.stringify([agentId, agentDir, workspace, provider, model]);
    const fingerprint = createHmac('sha256', secret).update(JSON.stringify(runConfig)).digest('hex');
    const current = held.get(key);
    held.delete(key);
    if (current && current.fingerprint === fingerprint && current.lease.snapshot?.isCurrent?.() !== false) {
      held.set(key, current);
      return;
    }
    if (current) await release(current.lease);
    try {
      const lease = await acquire(
        {
          config: runConfig,
          agentId,
          agentDir,
          workspaceDir: workspace,
          preserveWorkspaceDirOnRefresh: true,
          runtimePluginSelections: [{ provider, modelId: model, agentId }],
        },
        { catalogMode: 'static' },
      );
      held.set(key, { lease, fingerprint });
    } catch (err) {
      logErr('preparing a model runtime to keep failed; the run prepares its own:', err);
      return;
    }
    while (held.size > max) {
      const [oldest, entry] = /** @type {[string, { lease: PreparedRuntimeLease }]} */ (held.entries().next().value);
      held.delete(oldest);
      await release(entry.lease);
    }
  }

  return { hold, get size() { return held.size; } };
}
