// OpenAI's chat-completions and embeddings wire format, for adapters of OpenAI-compatible APIs
// (OpenAI, vLLM, Ollama, llama.cpp, Groq, Together, DeepSeek, Mistral, OpenRouter, ...).
import { badRequest, fromHttp, upstream } from "./errors.js";

const ROLES = new Set(["system", "developer", "user", "assistant", "tool"]);
const U32_MAX = 0xffffffff;

function parse(what, text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`${what} is not valid JSON: ${e.message}`);
  }
}

/** Merges the request's `extra` JSON object into `body`, its keys winning. */
export function mergeExtra(body, extra) {
  if (extra === undefined || extra === null) return;
  const value = parse("extra", extra);
  if (value === null) return;
  if (typeof value !== "object" || Array.isArray(value)) throw badRequest("`extra` must be a JSON object");
  Object.assign(body, value);
}

function setIfDefined(body, key, value) {
  if (value !== undefined && value !== null) body[key] = typeof value === "bigint" ? Number(value) : value;
}

/** The JSON body of a `/chat/completions` request. */
export function chatRequestBody(req, stream) {
  const body = { model: req.model, messages: req.messages.map(messageJson) };
  if (req.tools.length > 0) body.tools = req.tools.map(toolJson);
  if (req.toolChoice !== undefined) body.tool_choice = toolChoiceJson(req.toolChoice);
  if (req.responseFormat !== undefined) body.response_format = responseFormatJson(req.responseFormat);
  setIfDefined(body, "parallel_tool_calls", req.parallelToolCalls);
  setIfDefined(body, "temperature", req.temperature);
  setIfDefined(body, "top_p", req.topP);
  setIfDefined(body, "max_tokens", req.maxTokens);
  setIfDefined(body, "max_completion_tokens", req.maxCompletionTokens);
  if (req.stop.length > 0) body.stop = req.stop;
  setIfDefined(body, "seed", req.seed);
  setIfDefined(body, "presence_penalty", req.presencePenalty);
  setIfDefined(body, "frequency_penalty", req.frequencyPenalty);
  setIfDefined(body, "n", req.n);
  setIfDefined(body, "user", req.user);
  setIfDefined(body, "logprobs", req.logprobs);
  setIfDefined(body, "top_logprobs", req.topLogprobs);
  setIfDefined(body, "reasoning_effort", req.reasoningEffort);
  if (stream) {
    body.stream = true;
    if (req.includeUsage) body.stream_options = { include_usage: true };
  }
  mergeExtra(body, req.extra);
  return body;
}

function messageJson(m) {
  const out = { role: m.role };
  const c = m.content;
  if (c === undefined) out.content = null;
  else if (c.tag === "text") out.content = c.val;
  else out.content = c.val.map(contentPartJson);
  if (m.name !== undefined) out.name = m.name;
  if (m.toolCalls.length > 0) {
    out.tool_calls = m.toolCalls.map((t) => ({
      id: t.id,
      type: "function",
      function: { name: t.function.name, arguments: t.function.arguments },
    }));
  }
  if (m.toolCallId !== undefined) out.tool_call_id = m.toolCallId;
  return out;
}

function contentPartJson(p) {
  if (p.tag === "text") return { type: "text", text: p.val };
  if (p.tag === "image") {
    const url = { url: p.val.url };
    if (p.val.detail !== undefined) url.detail = p.val.detail;
    return { type: "image_url", image_url: url };
  }
  return parse("a content part", p.val);
}

function toolJson(f) {
  const fn = { name: f.name };
  if (f.description !== undefined) fn.description = f.description;
  if (f.parameters !== undefined) fn.parameters = parse("tool parameters", f.parameters);
  if (f.strict !== undefined) fn.strict = f.strict;
  return { type: "function", function: fn };
}

function toolChoiceJson(c) {
  return c.tag === "function" ? { type: "function", function: { name: c.val } } : c.tag;
}

function responseFormatJson(f) {
  if (f.tag === "json-schema") {
    const s = f.val;
    const schema = { name: s.name };
    if (s.description !== undefined) schema.description = s.description;
    if (s.schema !== undefined) schema.schema = parse("the response JSON schema", s.schema);
    if (s.strict !== undefined) schema.strict = s.strict;
    return { type: "json_schema", json_schema: schema };
  }
  return { type: f.tag === "json-object" ? "json_object" : "text" };
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const str = (v, key) => (isObject(v) && typeof v[key] === "string" ? v[key] : undefined);
const obj = (v, key) => (isObject(v) && isObject(v[key]) ? v[key] : {});
const list = (v, key) => (isObject(v) && Array.isArray(v[key]) ? v[key] : []);
const u32 = (v, key) => (isObject(v) && Number.isInteger(v[key]) && v[key] >= 0 ? Math.min(v[key], U32_MAX) : undefined);
const u64 = (v, key) => (isObject(v) && Number.isInteger(v[key]) && v[key] >= 0 ? BigInt(v[key]) : 0n);
const json = (v, key) => (isObject(v) && v[key] !== undefined && v[key] !== null ? JSON.stringify(v[key]) : undefined);
const reasoning = (v) => str(v, "reasoning_content") ?? str(v, "reasoning");

/** An OpenAI finish reason as the WIT variant. */
export function parseFinishReason(v) {
  if (typeof v !== "string") return undefined;
  const known = { stop: "stop", length: "length", tool_calls: "tool-calls", content_filter: "content-filter" };
  return v in known ? { tag: known[v] } : { tag: "other", val: v };
}

/** An OpenAI `usage` object. */
export function parseUsage(v) {
  if (!isObject(v)) return undefined;
  const prompt = u32(v, "prompt_tokens") ?? 0;
  const completion = u32(v, "completion_tokens") ?? 0;
  return {
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: u32(v, "total_tokens") ?? Math.min(prompt + completion, U32_MAX),
    cachedTokens: u32(obj(v, "prompt_tokens_details"), "cached_tokens"),
    reasoningTokens: u32(obj(v, "completion_tokens_details"), "reasoning_tokens"),
  };
}

const KNOWN_TOP_LEVEL = new Set(["id", "object", "created", "model", "choices", "usage", "system_fingerprint"]);

/** A `/chat/completions` response body. */
export function parseChatResponse(v) {
  if (!isObject(v) || !Array.isArray(v.choices)) throw upstream("the provider's response has no `choices`");
  const choices = v.choices.map((c, i) => {
    const m = obj(c, "message");
    return {
      index: u32(c, "index") ?? i,
      message: {
        content: str(m, "content"),
        reasoningContent: reasoning(m),
        toolCalls: list(m, "tool_calls").map((t) => ({
          id: str(t, "id") ?? "",
          function: { name: str(obj(t, "function"), "name") ?? "", arguments: str(obj(t, "function"), "arguments") ?? "" },
        })),
        refusal: str(m, "refusal"),
      },
      finishReason: parseFinishReason(isObject(c) ? c.finish_reason : undefined),
      logprobs: json(c, "logprobs"),
    };
  });
  const extra = Object.fromEntries(Object.entries(v).filter(([k, x]) => !KNOWN_TOP_LEVEL.has(k) && x !== null));
  return {
    id: str(v, "id") ?? "",
    model: str(v, "model") ?? "",
    created: u64(v, "created"),
    choices,
    usage: parseUsage(v.usage),
    systemFingerprint: str(v, "system_fingerprint"),
    extra: Object.keys(extra).length > 0 ? JSON.stringify(extra) : undefined,
  };
}

/** One `chat.completion.chunk`. */
export function parseChatChunk(v) {
  if (!isObject(v)) throw upstream("a chunk of the provider's stream is not a JSON object");
  const choices = list(v, "choices").map((c, i) => {
    const d = obj(c, "delta");
    const role = str(d, "role");
    return {
      index: u32(c, "index") ?? i,
      role: role === "function" ? "tool" : ROLES.has(role) ? role : undefined,
      content: str(d, "content"),
      reasoningContent: reasoning(d),
      toolCalls: list(d, "tool_calls").map((t, j) => ({
        index: u32(t, "index") ?? j,
        id: str(t, "id"),
        name: str(obj(t, "function"), "name"),
        arguments: str(obj(t, "function"), "arguments"),
      })),
      refusal: str(d, "refusal"),
      finishReason: parseFinishReason(isObject(c) ? c.finish_reason : undefined),
      logprobs: json(c, "logprobs"),
    };
  });
  return {
    id: str(v, "id") ?? "",
    model: str(v, "model") ?? "",
    created: u64(v, "created"),
    choices,
    usage: parseUsage(v.usage),
    systemFingerprint: str(v, "system_fingerprint"),
  };
}

/** The provider error carried by an `{"error": ...}` event in a stream, if it is one. */
export function streamError(v) {
  if (!isObject(v) || !("error" in v)) return undefined;
  const code = isObject(v.error) ? v.error.code : undefined;
  const status = Number.isInteger(code) && code >= 400 && code < 600 ? code : 500;
  return fromHttp(status, new Headers(), JSON.stringify({ error: v.error }));
}

/** The JSON body of an `/embeddings` request. Floats are always requested; the host encodes
 * base64 for clients that ask for it. */
export function embeddingRequestBody(req) {
  const body = { model: req.model, input: req.input, encoding_format: "float" };
  setIfDefined(body, "dimensions", req.dimensions);
  setIfDefined(body, "user", req.user);
  mergeExtra(body, req.extra);
  return body;
}

/** An `/embeddings` response body. */
export function parseEmbeddingResponse(v) {
  if (!isObject(v) || !Array.isArray(v.data)) throw upstream("the provider's response has no `data`");
  const data = v.data.map((item, i) => {
    const vector = isObject(item) ? item.embedding : undefined;
    if (!Array.isArray(vector) || !vector.every((x) => typeof x === "number")) {
      throw upstream("an embedding in the provider's response is not a list of numbers");
    }
    return { index: u32(item, "index") ?? i, vector: Float32Array.from(vector) };
  });
  return { model: str(v, "model") ?? "", data, usage: parseUsage(v.usage) };
}
