// The shapes the runner's JavaScript is type-checked against (tsconfig.json, `npm run typecheck`): the
// protocol lines it reads and writes (docs/runner-protocol.md) and the parts of OpenClaw it uses. OpenClaw
// ships no type declarations for the entry points the runner loads (dist/run-embedded.runtime.js,
// dist/summary-model.runtime.js, plugin-sdk/agent-sessions, plugin-sdk/agent-core), so they are declared
// here, only as far as the runner relies on them; lib/openclaw-loader.mjs checks at start-up that each
// function exists.

// --- Protocol (host → runner) ----------------------------------------------------------------------

/** A run's own provider (`llm` on a `run` or `compact` line). */
export interface RunLlm {
  providerId: string;
  model: string;
  /** A `models.providers` entry of OpenClaw's config, without `apiKey`. */
  provider?: ProviderEntry;
  apiKey?: string;
}

/** An image file the host wrote for a run. */
export interface ImageRef {
  path: string;
  mimeType: string;
}

/** What `run` and `compact` lines share. */
export interface SessionRequest {
  type: 'run' | 'compact';
  id: string;
  sessionId: string;
  transcriptPath: string;
  transcriptOutPath: string;
  workspaceDir: string;
  provider?: string | undefined;
  model?: string | undefined;
  timeoutMs: number;
  llm?: RunLlm;
  /** Only on `run` lines; absent means `full`. */
  tools?: ToolAccess;
}

export type ToolAccess = 'full' | 'restricted';

export interface RunRequest extends SessionRequest {
  type: 'run';
  prompt: string;
  disableTools: boolean;
  tools: ToolAccess;
  /** Whether the run may use the browser tool (absent: it may, when the runner has one). */
  browser: boolean;
  extraSystemPrompt?: string | undefined;
  thinkLevel?: string;
  images?: ImageRef[];
  /** Skills of the user's workspace to leave out of the run (`skills.entries.<name>.enabled=false`). */
  disabledSkills?: string[];
}

export interface CompactRequest extends SessionRequest {
  type: 'compact';
  instructions?: string | undefined;
}

export type Request = RunRequest | CompactRequest | { type: 'abort'; id: string } | { type: 'shutdown' };

/** A line the runner writes (runner → host); `type` says which. */
export type ProtocolLine = { type: string; [field: string]: unknown };

/** Writes to stderr; errors are written with their stack. */
export type LogErr = (...parts: unknown[]) => void;

// --- OpenClaw --------------------------------------------------------------------------------------

/** A `models.providers` entry of OpenClaw's config. */
export type ProviderEntry = { [key: string]: unknown };

/** An agent of OpenClaw's config (`agents.entries.<id>`). */
export type AgentEntry = { workspace?: string; agentDir?: string; [key: string]: unknown };

/** OpenClaw's config, as far as the runner reads or changes it; everything else is passed through. */
export interface OpenClawConfig {
  agents?: {
    defaults?: { compaction?: { mode?: string; reserveTokens?: number; keepRecentTokens?: number; [key: string]: unknown }; [key: string]: unknown };
    entries?: { [id: string]: AgentEntry };
    [key: string]: unknown;
  };
  models?: { providers?: { [id: string]: ProviderEntry }; [key: string]: unknown };
  tools?: { deny?: string[]; fs?: { [key: string]: unknown }; [key: string]: unknown };
  [key: string]: unknown;
}

/** One record of a session transcript (JSONL): the header or an entry. */
export type SessionEntry = {
  type: string;
  id?: string;
  parentId?: string | null;
  customType?: string;
  firstKeptEntryId?: string;
  [key: string]: unknown;
};

/** A message of the context OpenClaw builds for the model. */
export type ContextMessage = { role: string; content: string | Array<{ type: string; text?: string; [key: string]: unknown }>; [key: string]: unknown };

/** OpenClaw's SessionManager (plugin-sdk/agent-sessions): one session's entries in memory. */
export interface SessionManager {
  getHeader(): SessionEntry | null;
  getEntries(): SessionEntry[];
  getBranch(): SessionEntry[];
  buildSessionContext(): { messages: ContextMessage[] };
  appendCompaction(summary: string, firstKeptEntryId: string, tokensBefore: number, details: unknown, fromHook: boolean): string;
  /** What OpenClaw appends during a turn (the transcript benchmark writes transcripts with them). */
  appendMessage(message: object): string;
  appendModelChange(provider: string, modelId: string): string;
}

export interface SessionManagerClass {
  inMemory(cwd: string): SessionManager;
  fromEntries(entries: SessionEntry[], cwd: string): SessionManager;
}

export interface CompactionSettings {
  enabled?: boolean;
  reserveTokens: number;
  keepRecentTokens: number;
  [key: string]: unknown;
}

/** agent-core's functions return either the value or `{ ok, value | error }`. */
export type MaybeResult<T> = T | { ok: true; value: T } | { ok: false; error: unknown };

export interface CompactionResult {
  summary: string;
  firstKeptEntryId: string;
  tokensBefore: number;
  details?: unknown;
}

/** What an isolated completion or a provider reports as usage; any field may be missing. */
export type Usage = {
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheWrite?: number;
  total?: number;
  totalTokens?: number;
  cost?: { total?: number };
  [key: string]: unknown;
};

/** One reply payload of an embedded run. */
export interface ReplyPayload {
  text?: string;
  isError?: boolean;
  isReasoning?: boolean;
  isCommentary?: boolean;
  /** What the model named, as OpenClaw passes it on (the runner keeps the non-empty strings). */
  mediaUrl?: unknown;
  mediaUrls?: unknown;
}

export interface AgentMeta {
  usage?: Usage;
  costUsd?: number;
  provider?: string;
  model?: string;
}

/** What runEmbeddedAgent resolves with. */
export interface EmbeddedRunResult {
  payloads?: ReplyPayload[];
  meta?: {
    agentMeta?: AgentMeta;
    error?: { kind?: string; message?: string };
    aborted?: boolean;
    timeoutPhase?: string;
    livenessState?: unknown;
    stopReason?: string;
    providerStarted?: unknown;
    completion?: unknown;
  };
}

/** A partial reply (`onPartialReply`): cumulative `text`, or a `delta` (that `replace`s the text so far). */
export type PartialReply = { text?: string; delta?: string; replace?: boolean } | null | undefined;

/** An agent event (`onAgentEvent`); tool events carry the call in `data`. */
export type AgentEvent = {
  stream?: string;
  data?: { toolCallId?: unknown; phase?: string; name?: unknown; args?: unknown; meta?: unknown; isError?: boolean; [key: string]: unknown };
} | null | undefined;

/** The run admission prepareSystemAgentRunAdmission hands out; closed once the run ends. */
export interface RunAdmission {
  close(): void;
}

/** What acquireAgentRunPreparedModelRuntime prepares: the owner a run of this agent, dir, workspace and model binds to. */
export interface PreparedRuntimeParams {
  config: OpenClawConfig;
  agentId: string;
  agentDir: string;
  workspaceDir: string;
  preserveWorkspaceDirOnRefresh: boolean;
  runtimePluginSelections: Array<{ provider: string; modelId: string; agentId: string }>;
}

/** A held reference to a prepared model runtime; the runtime is retired once no lease or run holds it. */
export interface PreparedRuntimeLease {
  snapshot?: { isCurrent?: () => boolean };
  [Symbol.asyncDispose](): Promise<void>;
}

/** The parameters of runEmbeddedAgent the runner passes. */
export interface EmbeddedRunParams {
  preparedRunAdmission: RunAdmission;
  runId: string;
  agentId: string;
  sessionId: string;
  sessionManager: SessionManager;
  sessionPersistence: 'detached';
  workspaceDir: string;
  config: OpenClawConfig;
  prompt: string;
  images?: Array<{ type: 'image'; data: string; mimeType: string }>;
  extraSystemPrompt?: string;
  provider?: string;
  model?: string;
  thinkLevel?: string;
  timeoutMs: number;
  disableTools?: boolean;
  trigger: string;
  authProfileFailurePolicy?: string;
  enqueue?: <T>(task: () => Promise<T>, opts?: { abortSignal?: AbortSignal }) => Promise<T>;
  abortSignal?: AbortSignal;
  onAssistantMessageStart?: () => void;
  onPartialReply?: (payload: PartialReply) => void;
  onAgentEvent?: (event: AgentEvent) => void;
}

/** The parameters of runIsolatedCompletion the runner passes. */
export interface IsolatedCompletionParams {
  config: OpenClawConfig;
  agentId: string;
  workspaceDir: string;
  provider?: string;
  model?: string;
  systemPrompt?: string;
  prompt: string;
  timeoutMs?: number;
  abortSignal?: AbortSignal | undefined;
}

/** The summary model agent-core's compact is given; only `maxTokens` is read. */
export interface SummaryModel {
  provider: string | undefined;
  id: string | undefined;
  maxTokens: number;
}

/** The completion function agent-core's compact calls for a summary. */
export type CompleteSimple = (
  model: unknown,
  context: { messages: ContextMessage[]; systemPrompt?: string },
  options?: { signal?: AbortSignal },
) => Promise<{ role: 'assistant'; content: Array<{ type: 'text'; text: string }>; stopReason: string; usage: unknown; timestamp: number }>;

export interface AgentCore {
  prepareCompaction(branch: SessionEntry[], settings: CompactionSettings): MaybeResult<unknown>;
  compact(
    preparation: unknown,
    model: SummaryModel,
    apiKey: undefined,
    headers: undefined,
    customInstructions: string | undefined,
    signal: AbortSignal | undefined,
    thinkingLevel: undefined,
    streamOptions: undefined,
    runtime: { completeSimple: CompleteSimple },
  ): Promise<MaybeResult<CompactionResult>>;
  estimateTokens(message: ContextMessage): number;
  buildSessionContext: (...args: unknown[]) => unknown;
  DEFAULT_COMPACTION_SETTINGS: CompactionSettings;
}

/** Everything lib/openclaw-loader.mjs loads and checks. */
export interface OpenClaw {
  root: string;
  version: string | undefined;
  runEmbeddedAgent(params: EmbeddedRunParams): Promise<EmbeddedRunResult | undefined>;
  prepareSystemAgentRunAdmission(config: OpenClawConfig, runId: string, agentId: string, boundary: string): RunAdmission;
  acquireAgentRunPreparedModelRuntime(params: PreparedRuntimeParams, options: { catalogMode: 'static' }): Promise<PreparedRuntimeLease>;
  bumpSkillsSnapshotVersion(params: { workspaceDir: string; reason: 'manual' }): unknown;
  SessionManager: SessionManagerClass;
  parseSessionEntries(content: string): SessionEntry[];
  agentCore: AgentCore;
  runIsolatedCompletion(params: IsolatedCompletionParams): Promise<{ text?: string; usage?: unknown } | undefined>;
  loadConfig(): OpenClawConfig;
  /** OpenClaw's stopBrowserControlService, imported on its first call (lib/browser.mjs). */
  stopBrowserControlService(): Promise<void>;
  timings: { [phase: string]: number };
}
