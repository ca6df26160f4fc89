// The deployment's settings, read once from CDK context (`cdk.json`, `-c key=value`, or `make deploy`'s
// variables) and validated before any construct is built, so a typo fails the synth with its name.

import type { Node } from 'constructs';

/** Where turns run. Only `lambda` exists today; `fargate` and `both` arrive with the Fargate runtime. */
export type AgentRuntime = 'lambda' | 'fargate' | 'both';

/** Which SSM parameter (and so which runner variable) holds the LLM API key. */
export type LlmProvider = 'anthropic' | 'openai' | 'compatible';

/** The tools of guests from the Telegram allowlist (`SERVERLESS_OPENCLAW_GUEST_TOOLS`, docs/security.md). */
export type GuestTools = 'restricted' | 'full';

/** The API an OpenAI- or Anthropic-compatible endpoint speaks (`SERVERLESS_OPENCLAW_LLM_API`). */
export type LlmApi = 'anthropic-messages' | 'openai-completions';

export interface Settings {
  readonly stackName: string;
  readonly agentRuntime: AgentRuntime;
  readonly llmProvider: LlmProvider;
  /** `provider/model` for OpenClaw, e.g. `anthropic/claude-sonnet-5`; unset = the agent's default. */
  readonly model: string | undefined;
  /** Base URL of the endpoint and the API it speaks (`compatible` only). */
  readonly llmBaseUrl: string | undefined;
  readonly llmApi: LlmApi | undefined;
  /** The endpoint's model's context window in tokens (`compatible` only; unset = the agent's 200,000): OpenClaw compacts a conversation before it outgrows it. */
  readonly llmContextWindow: number | undefined;
  /** Lets anyone create an account in the user pool; off by default (the owner is created by the stack). */
  readonly selfSignUp: boolean;
  /** At most this many turns run at once (the agent's SQS event source), which also caps the bill. */
  readonly agentMaxConcurrency: number;
  /** The agent function's memory, which also sets its CPU share: 1769 MB is one full vCPU, all the
   * single-threaded runner can use (docs/benchmarks.md); more only gives tools' processes room. */
  readonly agentMemoryMb: number;
  /** Days after which a conversation's transcript is deleted (31 or more: they move to Infrequent Access
   * after 30); unset keeps transcripts. */
  readonly transcriptRetentionDays: number | undefined;
  /** Telegram user ids the bot accepts (`SERVERLESS_OPENCLAW_TELEGRAM_ALLOWLIST`); empty by default. */
  readonly telegramAllowlist: readonly string[];
  /** What those users' turns may do with OpenClaw's tools; `restricted` (no shell) by default. */
  readonly guestTools: GuestTools;
  /** Lambda SnapStart for the agent: restored from a snapshot with a warm runner instead of a cold
   * start, for a monthly snapshot charge (docs/cost.md). Off by default. */
  readonly snapStart: boolean;
}

const AGENT_RUNTIMES: readonly AgentRuntime[] = ['lambda', 'fargate', 'both'];
const LLM_PROVIDERS: readonly LlmProvider[] = ['anthropic', 'openai', 'compatible'];
const LLM_APIS: readonly LlmApi[] = ['anthropic-messages', 'openai-completions'];
const GUEST_TOOLS: readonly GuestTools[] = ['restricted', 'full'];

export class SettingsError extends Error {}

function text(node: Node, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new SettingsError(`context "${key}" must be a string, not ${JSON.stringify(value)}`);
  }
  return String(value);
}

function oneOf<T extends string>(node: Node, key: string, allowed: readonly T[], fallback: T): T {
  const value = text(node, key) ?? fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new SettingsError(`context "${key}" is "${value}"; use one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function integer(node: Node, key: string, min: number, max: number): number | undefined {
  const value = text(node, key);
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new SettingsError(`context "${key}" is "${value}"; use a whole number from ${min} to ${max}`);
  }
  return parsed;
}

function flag(node: Node, key: string): boolean {
  const value = text(node, key) ?? 'false';
  if (value !== 'true' && value !== 'false') {
    throw new SettingsError(`context "${key}" is "${value}"; use true or false`);
  }
  return value === 'true';
}

/** A comma-separated list of Telegram user ids (`12345,67890`; spaces around commas are ignored). */
function telegramIds(node: Node, key: string): string[] {
  const value = text(node, key);
  if (value === undefined) return [];
  const ids = value.split(',').map((id) => id.trim());
  const bad = ids.find((id) => !/^[1-9][0-9]{0,19}$/.test(id));
  if (bad !== undefined) {
    throw new SettingsError(
      `context "${key}" is "${value}": "${bad}" is not a Telegram user id; use numeric ids separated by commas, e.g. 12345,67890`,
    );
  }
  return ids;
}

/** Reads and checks every setting; throws a SettingsError naming the first bad one. */
export function settingsFromContext(node: Node): Settings {
  const stackName = text(node, 'stackName') ?? 'ServerlessOpenClaw';
  if (!/^[A-Za-z][A-Za-z0-9-]{0,63}$/.test(stackName)) {
    throw new SettingsError(`context "stackName" is "${stackName}"; use letters, digits and dashes (at most 64)`);
  }
  const agentRuntime = oneOf(node, 'agentRuntime', AGENT_RUNTIMES, 'lambda');
  if (agentRuntime !== 'lambda') {
    throw new SettingsError(
      `context "agentRuntime" is "${agentRuntime}": only "lambda" is available; the Fargate runtime is not built yet`,
    );
  }
  const llmProvider = oneOf(node, 'llmProvider', LLM_PROVIDERS, 'anthropic');
  const model = text(node, 'model');
  let llmBaseUrl: string | undefined;
  let llmApi: LlmApi | undefined;
  let llmContextWindow: number | undefined;
  if (llmProvider === 'compatible') {
    llmBaseUrl = text(node, 'llmBaseUrl');
    if (llmBaseUrl === undefined || !/^https:\/\/[^\s/]+/.test(llmBaseUrl)) {
      throw new SettingsError('context "llmProvider" is "compatible": set "llmBaseUrl" to the endpoint\'s https:// base URL');
    }
    if (model === undefined) {
      throw new SettingsError('context "llmProvider" is "compatible": set "model" to the endpoint\'s model id');
    }
    llmApi = oneOf(node, 'llmApi', LLM_APIS, 'openai-completions');
    llmContextWindow = integer(node, 'llmContextWindow', 1024, 100_000_000);
  } else if (text(node, 'llmContextWindow') !== undefined) {
    throw new SettingsError(
      'context "llmContextWindow" is only for "llmProvider": "compatible" (the built-in providers know their models\' windows)',
    );
  }
  return {
    stackName,
    agentRuntime,
    llmProvider,
    model,
    llmBaseUrl,
    llmApi,
    llmContextWindow,
    selfSignUp: flag(node, 'selfSignUp'),
    agentMaxConcurrency: integer(node, 'agentMaxConcurrency', 2, 1000) ?? 5,
    agentMemoryMb: integer(node, 'agentMemoryMb', 1024, 10240) ?? 1769,
    transcriptRetentionDays: integer(node, 'transcriptRetentionDays', 31, 36500),
    telegramAllowlist: telegramIds(node, 'telegramAllowlist'),
    guestTools: oneOf(node, 'guestTools', GUEST_TOOLS, 'restricted'),
    snapStart: flag(node, 'snapStart'),
  };
}
