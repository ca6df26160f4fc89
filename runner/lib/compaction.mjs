// Compaction on request (the `compact` line, docs/runner-protocol.md): summarises the older part of a
// caller-owned transcript the way OpenClaw's manual `/compact` does, and reports sizes before and after.
//
// OpenClaw's own `/compact` goes through its gateway and its SQLite session store
// (compactEmbeddedAgentSessionDirect), which a detached transcript does not have. Its session class
// compacts by hand in three steps, all public in `openclaw/plugin-sdk/agent-core` or on the
// SessionManager (checked in 2026.9.6: AgentSessionCompaction.compact and
// preflightManualSessionCompaction in dist/resource-loader-*.mjs): prepareCompaction (where to cut,
// what to summarise; retried keeping no recent tokens when nothing would be cut), compact (OpenClaw's
// summarisation prompts, one model call, or two for a split turn) and appendCompaction. The runner
// does the same on the SessionManager it loaded, with the model call made by OpenClaw's isolated
// completion (its summary-model runtime), which resolves the provider, model and key from the run's
// config like a turn does.

/**
 * @import { CompactionSettings, CompleteSimple, MaybeResult, OpenClaw, OpenClawConfig, SessionManager } from '../types.d.ts'
 */

/**
 * What a compaction needs besides the session: the run's config, agent and workspace, provider and model,
 * the summary's instructions and deadline, and the turn's abort signal.
 * @typedef {{ runConfig: OpenClawConfig, agentId: string, workspaceDir: string, provider: string | undefined,
 *   model: string | undefined, instructions?: string | undefined, timeoutMs: number, signal?: AbortSignal }} CompactionRun
 */

/** The compaction settings of a config: OpenClaw's defaults, with the config's reserve and kept tail. */
/**
 * @param {OpenClaw} oc
 * @param {OpenClawConfig} config
 * @returns {CompactionSettings}
 */
export function compactionSettings(oc, config) {
  const configured = config.agents?.defaults?.compaction ?? {};
  const settings = { ...oc.agentCore.DEFAULT_COMPACTION_SETTINGS };
  for (const key of /** @type {const} */ (['reserveTokens', 'keepRecentTokens'])) {
    const value = configured[key];
    if (value !== undefined && Number.isInteger(value) && value > 0) settings[key] = value;
  }
  return settings;
}

/** OpenClaw's estimate of the tokens the model would be sent of the session's history. */
/**
 * @param {OpenClaw} oc
 * @param {SessionManager} sm
 */
export function contextTokens(oc, sm) {
  return sm.buildSessionContext().messages.reduce((sum, message) => sum + oc.agentCore.estimateTokens(message), 0);
}

/**
 * @template T
 * @param {MaybeResult<T>} result
 * @returns {T}
 */
function unwrap(result) {
  const outcome = /** @type {{ ok?: unknown, value?: T, error?: unknown } | undefined} */ (result);
  if (outcome?.ok === false) throw outcome.error;
  return outcome?.ok === true ? /** @type {T} */ (outcome.value) : /** @type {T} */ (result);
}

/**
 * Where OpenClaw's manual compaction would cut the session's current branch: its preparation, or
 * undefined when there is nothing to summarise.
 */
/**
 * @param {OpenClaw} oc
 * @param {SessionManager} sm
 * @param {CompactionSettings} settings
 */
function prepareManual(oc, sm, settings) {
  const branch = sm.getBranch();
  return unwrap(oc.agentCore.prepareCompaction(branch, settings)) ?? unwrap(oc.agentCore.prepareCompaction(branch, { ...settings, keepRecentTokens: 0 }));
}

/**
 * The completion function agent-core's `compact` calls for a summary, made with OpenClaw's isolated
 * completion under the run's config (provider entry, key and agent dir as for a turn).
 */
/**
 * @param {OpenClaw} oc
 * @param {Omit<CompactionRun, 'instructions' | 'signal'>} run
 * @returns {CompleteSimple}
 */
function isolatedCompletion(oc, { runConfig, agentId, workspaceDir, provider, model, timeoutMs }) {
  return async (_model, context, options) => {
    const prompt = context.messages.map((m) => (Array.isArray(m.content) ? m.content.map((b) => b.text ?? '').join('') : String(m.content))).join('\n\n');
    const result = await oc.runIsolatedCompletion({
      config: runConfig,
      agentId,
      workspaceDir,
      ...(provider ? { provider } : {}),
      ...(model ? { model } : {}),
      ...(context.systemPrompt !== undefined ? { systemPrompt: context.systemPrompt } : {}),
      prompt,
      timeoutMs,
      abortSignal: options?.signal,
    });
    return { role: 'assistant', content: [{ type: 'text', text: result?.text ?? '' }], stopReason: 'stop', usage: result?.usage, timestamp: Date.now() };
  };
}

/**
 * Compacts the session in `sm` (in place). Returns `{ compacted: false, reason }` when there is
 * nothing to summarise, else `{ compacted: true, tokensBefore, tokensAfter }` (OpenClaw's estimates of
 * the history the model is sent). Throws when the summary cannot be made; `sm` is then unchanged.
 */
/**
 * @param {OpenClaw} oc
 * @param {SessionManager} sm
 * @param {CompactionRun} run
 */
export async function compactSession(oc, sm, { runConfig, agentId, workspaceDir, provider, model, instructions, timeoutMs, signal }) {
  const tokensBefore = contextTokens(oc, sm);
  const preparation = prepareManual(oc, sm, compactionSettings(oc, runConfig));
  if (!preparation) {
    const last = sm.getBranch().at(-1);
    return { compacted: false, tokensBefore, tokensAfter: tokensBefore, reason: last?.type === 'compaction' ? 'already compacted' : 'nothing to compact yet' };
  }
  const runtime = { completeSimple: isolatedCompletion(oc, { runConfig, agentId, workspaceDir, provider, model, timeoutMs }) };
  // Only maxTokens of the model is read here (the summary's output budget); the isolated completion
  // resolves the real model from the config.
  const summaryModel = { provider, id: model, maxTokens: 0 };
  const result = unwrap(await oc.agentCore.compact(preparation, summaryModel, undefined, undefined, instructions, signal, undefined, undefined, runtime));
  signal?.throwIfAborted();
  sm.appendCompaction(result.summary, result.firstKeptEntryId, result.tokensBefore, result.details, false);
  return { compacted: true, tokensBefore, tokensAfter: contextTokens(oc, sm) };
}
