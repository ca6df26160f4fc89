// Parsing and validation of host → runner lines (docs/runner-protocol.md). No OpenClaw here.

import path from 'node:path';

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

export class BadRequest extends Error {
  constructor(message, id) {
    super(message);
    this.name = 'BadRequest';
    this.id = id;
  }
}

function idOf(obj) {
  return typeof obj?.id === 'string' && obj.id.length > 0 && obj.id.length <= MAX_ID_LENGTH ? obj.id : undefined;
}

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

function absPath(obj, key, id) {
  const v = str(obj, key, id);
  if (!path.isAbsolute(v)) throw new BadRequest(`"${key}" must be an absolute path`, id);
  if (v.includes('\0')) throw new BadRequest(`"${key}" contains a NUL byte`, id);
  return v;
}

function plainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The run's own provider (`llm`, see docs/runner-protocol.md). Error messages name fields only,
 * never values: `apiKey` is a secret.
 */
function llmOf(obj, id) {
  const llm = obj.llm;
  if (!plainObject(llm)) throw new BadRequest('"llm" must be an object', id);
  if (obj.provider != null || obj.model != null) throw new BadRequest('"llm" replaces "provider" and "model": send one or the other', id);
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
function imagesOf(obj, id) {
  const images = obj.images;
  if (!Array.isArray(images)) throw new BadRequest('"images" must be an array', id);
  if (images.length > MAX_IMAGES) throw new BadRequest(`"images" holds at most ${MAX_IMAGES} images`, id);
  return images.map((image, i) => {
    if (!plainObject(image)) throw new BadRequest(`"images[${i}]" must be an object`, id);
    if (!IMAGE_TYPES.includes(image.mimeType)) throw new BadRequest(`"images[${i}].mimeType" must be one of ${IMAGE_TYPES.join(', ')}`, id);
    return { path: absPath(image, 'path', id), mimeType: image.mimeType };
  });
}

/**
 * The fields `run` and `compact` share: the session's transcript files, workspace, model and
 * deadline. `type` is the line's.
 */
function sessionFields(obj, id) {
  if (!id) throw new BadRequest(`"id" must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
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
    if (!Number.isInteger(obj.timeoutMs) || obj.timeoutMs <= 0) throw new BadRequest('"timeoutMs" must be a positive integer', id);
    req.timeoutMs = obj.timeoutMs;
  }
  return req;
}

/**
 * Parses one line. Returns a request object, null for a blank line, or throws BadRequest
 * (whose `id` is set when the line could be tied to a turn).
 */
export function parseRequest(line) {
  if (line.trim() === '') return null;
  let obj;
  try {
    obj = JSON.parse(line);
  } catch {
    // Not JSON.parse's message: V8 quotes the start of the input there, and a run line may carry
    // an API key.
    throw new BadRequest(`line is not valid JSON (${line.length} characters)`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new BadRequest('line is not a JSON object');
  const id = idOf(obj);
  switch (obj.type) {
    case 'run': {
      const req = { ...sessionFields(obj, id), prompt: str(obj, 'prompt', id), disableTools: false, tools: 'full' };
      req.extraSystemPrompt = str(obj, 'extraSystemPrompt', id, { optional: true, nonEmpty: false });
      if (obj.disableTools !== undefined && obj.disableTools !== null) {
        if (typeof obj.disableTools !== 'boolean') throw new BadRequest('"disableTools" must be a boolean', id);
        req.disableTools = obj.disableTools;
      }
      if (obj.tools !== undefined && obj.tools !== null) {
        if (!TOOL_ACCESS.includes(obj.tools)) throw new BadRequest(`"tools" must be one of ${TOOL_ACCESS.join(', ')}`, id);
        req.tools = obj.tools;
      }
      if (obj.thinkLevel !== undefined && obj.thinkLevel !== null) {
        if (!THINK_LEVELS.includes(obj.thinkLevel)) throw new BadRequest(`"thinkLevel" must be one of ${THINK_LEVELS.join(', ')}`, id);
        req.thinkLevel = obj.thinkLevel;
      }
      if (obj.images !== undefined && obj.images !== null) req.images = imagesOf(obj, id);
      // transcriptOutPath may equal transcriptPath: the output is written to a temporary name and
      // renamed over the input.
      return req;
    }
    case 'compact':
      return { ...sessionFields(obj, id), instructions: str(obj, 'instructions', id, { optional: true }) };
    case 'abort':
      if (!id) throw new BadRequest('"id" must be a non-empty string');
      return { type: 'abort', id };
    case 'shutdown':
      return { type: 'shutdown' };
    default:
      throw new BadRequest(`unknown "type": ${JSON.stringify(obj.type)}`, id);
  }
}
