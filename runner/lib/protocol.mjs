// Parsing and validation of host → runner lines (docs/runner-protocol.md). No OpenClaw here.

import path from 'node:path';

/** @import { CompactRequest, ImageRef, Request, RunLlm, RunRequest, SessionRequest, ToolAccess } from '../types.d.ts' */

export const DEFAULT_TIMEOUT_MS = 120_000;
const MAX_ID_LENGTH = 256;
/** The tool access a run may ask for (see TOOL_POLICIES in turns.mjs). */
export const TOOL_ACCESS = ['full', 'restricted'];
/** The thinking levels a `run` line may ask for: OpenClaw's `thinkLevel` values every provider takes. */
export const THINK_LEVELS = ['off', 'minimal', 'low', 'medium', 'high'];
/** The image types a `run` line may send the model: what the providers take as images. */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
/** The most images one `run` line may carry (the host's limit per message). */
export const MAX_IMAGES = 10;
/** A skill name, as the host validates it (`core::skills::validate_skill_name`). */
const SKILL_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

export class BadRequest extends Error {
  /**
   * @param {string} message
   * @param {string} [id] the turn the line belongs to, when it could be told
   */
  constructor(message, id) {
    super(message);
    this.name = 'BadRequest';
    this.id = id;
  }
}

/** @param {Record<string, unknown>} obj a parsed line */
function idOf(obj) {
  return typeof obj?.id === 'string' && obj.id.length > 0 && obj.id.length <= MAX_ID_LENGTH ? obj.id : undefined;
}

/**
 * @overload
 * @param {Record<string, unknown>} obj
 * @param {string} key
 * @param {string | undefined} id
 * @param {{ optional?: false, nonEmpty?: boolean }} [options]
 * @returns {string}
 */
/**
 * @overload
 * @param {Record<string, unknown>} obj
 * @param {string} key
 * @param {string | undefined} id
 * @param {{ optional: true, nonEmpty?: boolean }} options
 * @returns {string | undefined}
 */
/**
 * @param {Record<string, unknown>} obj
 * @param {string} key
 * @param {string | undefined} id
 * @param {{ optional?: boolean, nonEmpty?: boolean }} [options]
 * @returns {string | undefined}
 */
function str(obj, key, id, { optional = false, nonEmpty = true } = {}) {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw new BadRequest(`"${key}" is required`, id);
  }
  if (typeof v !== 'string') throw new BadRequest(`"${key}" must be a string`, id);
  if (nonEmpty && v.trim() === '') throw new BadRequest(`"${key}" must not be empty`, id);
  return v;
}

/**
 * @param {Record<string, unknown>} obj
 * @param {string} key
 * @param {string | undefined} id
 */
function absPath(obj, key, id) {
  const v = str(obj, key, id);
  if (!path.isAbsolute(v)) throw new BadRequest(`"${key}" must be an absolute path`, id);
  if (v.includes('\0')) throw new BadRequest(`"${key}" contains a NUL byte`, id);
  return v;
}

/**
 * @param {unknown} v
 * @returns {v is Record<string, unknown>}
 */
function plainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The run's own provider (`llm`, see docs/runner-protocol.md). Error messages name fields only,
 * never values: `apiKey` is a secret.
 */
/**
 * @param {Record<string, unknown>} obj
 * @param {string} id
 * @returns {RunLlm}
 */
function llmOf(obj, id) {
  const llm = obj.llm;
  if (!plainObject(llm)) throw new BadRequest('"llm" must be an object', id);
  if (obj.provider != null || obj.model != null) throw new BadRequest('"llm" replaces "provider" and "model": send one or the other', id);
  /** @type {RunLlm} */
  const out = { providerId: str(llm, 'providerId', id), model: str(llm, 'model', id) };
  if (llm.provider != null) {
    if (!plainObject(llm.provider)) throw new BadRequest('"llm.provider" must be an object', id);
    if ('apiKey' in llm.provider) throw new BadRequest('"llm.provider" must not carry "apiKey": use "llm.apiKey"', id);
    out.provider = llm.provider;
  }
  if (llm.apiKey != null) {
    if (typeof llm.apiKey !== 'string' || llm.apiKey.trim() === '') throw new BadRequest('"llm.apiKey" must be a non-empty string', id);
    out.apiKey = llm.apiKey;
  }
  return out;
}

/** A run's `images`: files the host wrote, each `{ path, mimeType }`. */
/**
 * @param {Record<string, unknown>} obj
 * @param {string} id
 * @returns {ImageRef[]}
 */
function imagesOf(obj, id) {
  const images = obj.images;
  if (!Array.isArray(images)) throw new BadRequest('"images" must be an array', id);
  if (images.length > MAX_IMAGES) throw new BadRequest(`"images" holds at most ${MAX_IMAGES} images`, id);
  return images.map((image, i) => {
    if (!plainObject(image)) throw new BadRequest(`"images[${i}]" must be an object`, id);
    if (typeof image.mimeType !== 'string' || !IMAGE_TYPES.includes(image.mimeType)) throw new BadRequest(`"images[${i}].mimeType" must be one of ${IMAGE_TYPES.join(', ')}`, id);
    return { path: absPath(image, 'path', id), mimeType: image.mimeType };
  });
}

/**
 * The fields `run` and `compact` share: the session's transcript files, workspace, model and
 * deadline. `type` is the line's.
 */
/**
 * @template {'run' | 'compact'} T
 * @param {Record<string, unknown> & { type: T }} obj
 * @param {string | undefined} id
 * @returns {SessionRequest & { type: T }}
 */
function sessionFields(obj, id) {
  if (!id) throw new BadRequest(`"id" must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
  /** @type {SessionRequest & { type: T }} */
  const req = {
    type: obj.type,
    id,
    sessionId: str(obj, 'sessionId', id),
    transcriptPath: absPath(obj, 'transcriptPath', id),
    transcriptOutPath: absPath(obj, 'transcriptOutPath', id),
    workspaceDir: absPath(obj, 'workspaceDir', id),
    provider: str(obj, 'provider', id, { optional: true }),
    model: str(obj, 'model', id, { optional: true }),
    timeoutMs: DEFAULT_TIMEOUT_MS,
  };
  if (obj.llm != null) req.llm = llmOf(obj, id);
  if (obj.timeoutMs !== undefined && obj.timeoutMs !== null) {
    if (typeof obj.timeoutMs !== 'number' || !Number.isInteger(obj.timeoutMs) || obj.timeoutMs <= 0) {
      throw new BadRequest('"timeoutMs" must be a positive integer', id);
    }
    req.timeoutMs = obj.timeoutMs;
  }
  return req;
}

/**
 * Parses one line. Returns a request object, null for a blank line, or throws BadRequest
 * (whose `id` is set when the line could be tied to a turn).
 */
/**
 * @param {string} line
 * @returns {Request | null}
 */
export function parseRequest(line) {
  if (line.trim() === '') return null;
  /** @type {unknown} */
  let obj;
  try {
    obj = JSON.parse(line);
  } catch {
    // Not JSON.parse's message: V8 quotes the start of the input there, and a run line may carry
    // an API key.
    throw new BadRequest(`line is not valid JSON (${line.length} characters)`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new BadRequest('line is not a JSON object');
  const id = idOf(/** @type {Record<string, unknown>} */ (obj));
  const fields = /** @type {Record<string, unknown> & { type: unknown }} */ (obj);
  switch (fields.type) {
    case 'run': {
      const run = /** @type {Record<string, unknown> & { type: 'run' }} */ (fields);
      /** @type {RunRequest} */
      const req = { ...sessionFields(run, id), prompt: str(run, 'prompt', id), disableTools: false, tools: 'full', browser: true };
      req.extraSystemPrompt = str(run, 'extraSystemPrompt', id, { optional: true, nonEmpty: false });
      if (run.disableTools !== undefined && run.disableTools !== null) {
        if (typeof run.disableTools !== 'boolean') throw new BadRequest('"disableTools" must be a boolean', id);
        req.disableTools = run.disableTools;
      }
      if (run.tools !== undefined && run.tools !== null) {
        if (typeof run.tools !== 'string' || !TOOL_ACCESS.includes(run.tools)) throw new BadRequest(`"tools" must be one of ${TOOL_ACCESS.join(', ')}`, id);
        req.tools = /** @type {ToolAccess} */ (run.tools);
      }
      if (run.browser !== undefined && run.browser !== null) {
        if (typeof run.browser !== 'boolean') throw new BadRequest('"browser" must be a boolean', id);
        req.browser = run.browser;
      }
      if (run.thinkLevel !== undefined && run.thinkLevel !== null) {
        if (typeof run.thinkLevel !== 'string' || !THINK_LEVELS.includes(run.thinkLevel)) throw new BadRequest(`"thinkLevel" must be one of ${THINK_LEVELS.join(', ')}`, id);
        req.thinkLevel = run.thinkLevel;
      }
      if (run.images !== undefined && run.images !== null) req.images = imagesOf(run, /** @type {string} */ (id));
      if (run.disabledSkills !== undefined && run.disabledSkills !== null) {
        const names = run.disabledSkills;
        if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && SKILL_NAME.test(n))) {
          throw new BadRequest('"disabledSkills" must be an array of skill names', id);
        }
        req.disabledSkills = names;
      }
      // transcriptOutPath may equal transcriptPath: the output is written to a temporary name and
      // renamed over the input.
      return req;
    }
    case 'compact': {
      const compact = /** @type {Record<string, unknown> & { type: 'compact' }} */ (fields);
      /** @type {CompactRequest} */
      const req = { ...sessionFields(compact, id), instructions: str(compact, 'instructions', id, { optional: true }) };
      return req;
    }
    case 'abort':
      if (!id) throw new BadRequest('"id" must be a non-empty string');
      return { type: 'abort', id };
    case 'shutdown':
      return { type: 'shutdown' };
    default:
      throw new BadRequest(`unknown "type": ${JSON.stringify(fields.type)}`, id);
  }
}
