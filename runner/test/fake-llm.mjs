// A fake LLM for the runner's end-to-end tests: Anthropic Messages (POST /v1/messages) and OpenAI chat
// completions (POST /v1/chat/completions), streamed, answering "Hello from fake.". Every request is
// recorded with its headers, messages and the names of the tools offered; a key containing "reject" gets HTTP 401, as a provider
// answers a bad key. `toolCalls` is a queue of rounds of tool calls: while it is not empty, the next
// request is answered with its first round (`[{ name, input }]`, streamed as the API streams tool
// calls, stopping for tool use) instead of the reply. Each request also records its size in bytes and
// the names of the tools it offered. Image blocks in a request's messages are recorded
// apart (`images`). `texts` is a queue of replies: while it is not empty (and no tool calls are queued),
// the next Anthropic request is answered with its first text instead of FAKE_REPLY. Anthropic replies report as input tokens the size
// of the request (characters / 4, OpenClaw's own estimate), so a conversation grows towards its model's
// context window as it would with a real provider. OpenClaw's compaction requests (its summarization
// system prompt) are answered with SUMMARY, or with HTTP `summaryStatus` when that is set (`setSummaryStatus`).
import http from 'node:http';

export const FAKE_REPLY = 'Hello from fake.';
/** How OpenClaw's summarization system prompt starts (packages/agent-core, SUMMARIZATION_SYSTEM_PROMPT). */
const SUMMARY_PROMPT = 'You are a context summarization assistant';
/** What the fake answers a compaction request with: a marker a later request can be checked for. */
export const SUMMARY = 'FAKE-SUMMARY-MARKER: the user sent numbered turns.';

/** @typedef {{ name: string, input: unknown }} ToolCall one tool call the fake answers with */

/**
 * @param {http.ServerResponse} res
 * @param {Array<[string | null, unknown]>} events each an event name (null: none) and its data (a string is sent as is)
 */
function sse(res, events) {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const [name, data] of events) {
    res.write(`${name ? `event: ${name}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
  }
  res.end();
}

/**
 * @param {http.ServerResponse} res
 * @param {string} model
 * @param {number} inputTokens
 */
function anthropicStream(res, model, inputTokens, text = FAKE_REPLY) {
  sse(res, [
    ['message_start', { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model, content: [], stop_reason: null, usage: { input_tokens: inputTokens, output_tokens: 1 } } }],
    ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }],
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 500 } }],
    ['message_stop', { type: 'message_stop' }],
  ]);
}

/** Numbers the tool call ids this fake makes, unique per process. */
let callSeq = 0;

/**
 * @param {http.ServerResponse} res
 * @param {string} model
 * @param {ToolCall[]} calls
 */
function anthropicToolStream(res, model, calls) {
  /** @type {Array<[string, unknown]>} */
  const blocks = calls.flatMap((call, index) => /** @type {Array<[string, unknown]>} */ ([
    ['content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: `toolu_fake_${++callSeq}`, name: call.name, input: {} } }],
    ['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(call.input) } }],
    ['content_block_stop', { type: 'content_block_stop', index }],
  ]));
  sse(res, [
    ['message_start', { type: 'message_start', message: { id: 'msg_t', type: 'message', role: 'assistant', model, content: [], stop_reason: null, usage: { input_tokens: 1000, output_tokens: 1 } } }],
    ...blocks,
    ['message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 50 } }],
    ['message_stop', { type: 'message_stop' }],
  ]);
}

/**
 * @param {http.ServerResponse} res
 * @param {string} model
 * @param {ToolCall[]} calls
 */
function completionsToolStream(res, model, calls) {
  /**
   * @param {unknown[]} choices
   * @param {unknown} [usage]
   */
  const chunk = (choices, usage) => ({ id: 'c1', object: 'chat.completion.chunk', created: 1, model, choices, ...(usage ? { usage } : {}) });
  const toolCalls = calls.map((call, index) => ({ index, id: `call_fake_${++callSeq}`, type: 'function', function: { name: call.name, arguments: JSON.stringify(call.input) } }));
  sse(res, [
    [null, chunk([{ index: 0, delta: { role: 'assistant', content: null, tool_calls: toolCalls }, finish_reason: null }])],
    [null, chunk([{ index: 0, delta: {}, finish_reason: 'tool_calls' }])],
    [null, chunk([], { prompt_tokens: 1000, completion_tokens: 50, total_tokens: 1050 })],
    [null, '[DONE]'],
  ]);
}

/**
 * @param {http.ServerResponse} res
 * @param {string} model
 */
function completionsStream(res, model) {
  /**
   * @param {unknown[]} choices
   * @param {unknown} [usage]
   */
  const chunk = (choices, usage) => ({ id: 'c1', object: 'chat.completion.chunk', created: 1, model, choices, ...(usage ? { usage } : {}) });
  sse(res, [
    [null, chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }])],
    [null, chunk([{ index: 0, delta: { content: FAKE_REPLY }, finish_reason: null }])],
    [null, chunk([{ index: 0, delta: {}, finish_reason: 'stop' }])],
    [null, chunk([], { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 })],
    [null, '[DONE]'],
  ]);
}

/**
 * The image blocks of a request's messages, in order, as `{ mediaType, data }` (base64): Anthropic's
 * `{type: "image", source: {type: "base64", media_type, data}}` and OpenAI's
 * `{type: "image_url", image_url: {url: "data:<type>;base64,<data>"}}`.
 */
/**
 * @param {any} messages a request's messages, as parsed from its JSON
 * @returns {Array<{ mediaType: string, data: string }>}
 */
export function imagesIn(messages) {
  /** @type {Array<{ mediaType: string, data: string }>} */
  const images = [];
  for (const message of messages ?? []) {
    for (const block of Array.isArray(message?.content) ? message.content : []) {
      if (block?.type === 'image' && block.source?.type === 'base64') images.push({ mediaType: block.source.media_type, data: block.source.data });
      const url = block?.type === 'image_url' ? block.image_url?.url : undefined;
      const match = typeof url === 'string' ? /^data:([^;]+);base64,(.*)$/s.exec(url) : null;
      if (match) images.push({ mediaType: /** @type {string} */ (match[1]), data: /** @type {string} */ (match[2]) });
    }
  }
  return images;
}

/** The system prompt of an Anthropic request as one string (a string or text blocks). */
/** @param {unknown} system */
function systemText(system) {
  if (typeof system === 'string') return system;
  return Array.isArray(system) ? system.map((/** @type {{ text?: string } | null} */ b) => b?.text ?? '').join('\n') : '';
}

/**
 * Starts the server on a free loopback port: { url, requests, toolCalls, texts, setSummaryStatus(status),
 * close() }. Each recorded request has `summary: true` when it is a compaction request.
 */
/** @typedef {Awaited<ReturnType<typeof startFakeLlm>>} FakeLlm */

export async function startFakeLlm() {
  /** @type {Array<Record<string, any>>} what each request carried (see below) */
  const requests = [];
  /** @type {ToolCall[][]} the tool calls of the next replies, one list per reply */
  const toolCalls = [];
  /** @type {string[]} the texts of the next replies */
  const texts = [];
  /** @type {number | null} */
  let summaryStatus = null;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      /** @type {any} the request as sent (null when it is not JSON) */
      let json = null;
      try {
        json = JSON.parse(body);
      } catch {
        /* recorded as null */
      }
      const apiKey = req.headers['x-api-key'] ?? req.headers.authorization?.replace(/^Bearer /, '');
      const summary = systemText(json?.system).startsWith(SUMMARY_PROMPT);
      requests.push({
        path: req.url, model: json?.model, apiKey, xApiKey: req.headers['x-api-key'], authorization: req.headers.authorization,
        messages: JSON.stringify(json?.messages ?? []),
        bytes: Buffer.byteLength(body),
        tools: (json?.tools ?? []).map((/** @type {{ name?: string, function?: { name?: string } }} */ t) => t.name ?? t.function?.name),
        images: imagesIn(json?.messages),
        thinking: json?.thinking,
        system: systemText(json?.system),
        summary,
      });
      if (apiKey?.includes('reject')) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }));
      } else if (summary && summaryStatus) {
        res.writeHead(summaryStatus, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'summary refused by the fake' } }));
      } else if (req.url === '/v1/messages') {
        const inputTokens = Math.ceil(body.length / 4);
        if (summary) anthropicStream(res, json?.model, inputTokens, SUMMARY);
        else if (toolCalls.length > 0) anthropicToolStream(res, json?.model, toolCalls.shift() ?? []);
        else anthropicStream(res, json?.model, inputTokens, texts.shift());
      } else if (req.url === '/v1/chat/completions') {
        if (toolCalls.length > 0) completionsToolStream(res, json?.model, toolCalls.shift() ?? []);
        else completionsStream(res, json?.model);
      }
      else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"not found"}}');
      }
    });
  });
  await /** @type {Promise<void>} */ (new Promise((resolve) => server.listen(0, '127.0.0.1', resolve)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    toolCalls,
    texts,
    /** @param {number | null} status */
    setSummaryStatus: (status) => {
      summaryStatus = status;
    },
    close: () => /** @type {Promise<void>} */ (new Promise((resolve) => server.close(() => resolve()))),
  };
}
