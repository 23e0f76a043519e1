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

/** Merges a record's `extra` JSON object into `body`: its keys win, except that two objects
 * under one key are merged key by key. */
export function mergeExtra(body, extra) {
  if (extra === undefined || extra === null) return;
  const value = parse("extra", extra);
  if (value === null) return;
  if (typeof value !== "object" || Array.isArray(value)) throw badRequest("`extra` must be a JSON object");
  merge(body, value);
}

function merge(into, more) {
  for (const [k, v] of Object.entries(more)) {
    if (isObject(into[k]) && isObject(v)) merge(into[k], v);
    else into[k] = v;
  }
}

/** The keys of `o` not in `known` as the JSON text of an `extra` field; unknown keys of the
 * nested objects named in `nested` are kept under their name. */
export function extraOf(o, known, nested = {}) {
  if (!isObject(o)) return undefined;
  const rest = Object.fromEntries(Object.entries(o).filter(([k]) => !known.has(k)));
  for (const [name, innerKnown] of Object.entries(nested)) {
    if (isObject(o[name])) {
      const unknown = Object.fromEntries(Object.entries(o[name]).filter(([k]) => !innerKnown.has(k)));
      if (Object.keys(unknown).length > 0) rest[name] = unknown;
    }
  }
  return Object.keys(rest).length > 0 ? JSON.stringify(rest) : undefined;
}

const TOOL_CALL_KEYS = new Set(["index", "id", "type", "function"]);
const FUNCTION_CALL_KEYS = new Set(["name", "arguments"]);
const MESSAGE_KEYS = new Set(["role", "content", "tool_calls", "refusal", "reasoning_content", "reasoning", "thinking_blocks"]);
const CHOICE_KEYS = new Set(["index", "message", "finish_reason", "logprobs"]);
const CHUNK_CHOICE_KEYS = new Set(["index", "delta", "finish_reason", "logprobs"]);
const USAGE_KEYS = new Set(["prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
  "completion_tokens_details", "cache_creation_input_tokens", "cache_read_input_tokens"]);

/** A tool call's signature (Google's `extra_content.google.thought_signature`) and its other
 * unknown keys; the call is copied only when it has a signature to take out. */
function signatureAndExtra(call) {
  if (!isObject(call)) return [undefined, undefined];
  const content = call.extra_content;
  const google = isObject(content) ? content.google : undefined;
  const signature = isObject(google) ? google.thought_signature : undefined;
  if (typeof signature !== "string") return [undefined, extraOf(call, TOOL_CALL_KEYS, { function: FUNCTION_CALL_KEYS })];
  const { thought_signature: _, ...restGoogle } = google;
  const { google: __, ...restContent } = content;
  if (Object.keys(restGoogle).length > 0) restContent.google = restGoogle;
  const { extra_content: ___, ...stripped } = call;
  if (Object.keys(restContent).length > 0) stripped.extra_content = restContent;
  return [signature, extraOf(stripped, TOOL_CALL_KEYS, { function: FUNCTION_CALL_KEYS })];
}

function toolCallJson(t) {
  const out = { id: t.id, type: "function", function: { name: t.function.name, arguments: t.function.arguments } };
  if (t.signature !== undefined) out.extra_content = { google: { thought_signature: t.signature } };
  mergeExtra(out, t.extra);
  return out;
}

function putReasoning(out, blocks) {
  if (blocks.length === 0) return;
  const text = blocks.filter((b) => b.tag === "thinking").map((b) => b.val.text).join("");
  if (text) out.reasoning_content = text;
  const opaque = blocks.some((b) => b.tag === "redacted" || b.val.signature !== undefined);
  if (opaque || blocks.length > 1) {
    out.thinking_blocks = blocks.map((b) =>
      b.tag === "redacted"
        ? { type: "redacted_thinking", data: b.val }
        : { type: "thinking", thinking: b.val.text, ...(b.val.signature !== undefined ? { signature: b.val.signature } : {}) },
    );
  }
}

function parseReasoning(m) {
  if (Array.isArray(m.thinking_blocks)) {
    return m.thinking_blocks.filter(isObject).map((b) =>
      b.type === "redacted_thinking"
        ? { tag: "redacted", val: str(b, "data") ?? "" }
        : { tag: "thinking", val: { text: str(b, "thinking") ?? "", signature: str(b, "signature") } },
    );
  }
  const text = str(m, "reasoning_content") ?? str(m, "reasoning");
  return text === undefined ? [] : [{ tag: "thinking", val: { text, signature: undefined } }];
}

function parseReasoningDeltas(d) {
  if (Array.isArray(d.thinking_blocks)) {
    return d.thinking_blocks.filter(isObject).map((b, i) => ({
      index: u32(b, "index") ?? i,
      text: b.type === "redacted_thinking" ? undefined : str(b, "thinking") || undefined,
      signature: str(b, "signature"),
      redacted: b.type === "redacted_thinking" ? str(b, "data") : undefined,
    }));
  }
  const text = str(d, "reasoning_content") ?? str(d, "reasoning");
  return text === undefined ? [] : [{ index: 0, text, signature: undefined, redacted: undefined }];
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
  setIfDefined(body, "top_k", req.topK);
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
  if (m.toolCalls.length > 0) out.tool_calls = m.toolCalls.map(toolCallJson);
  if (m.toolCallId !== undefined) out.tool_call_id = m.toolCallId;
  putReasoning(out, m.reasoning);
  mergeExtra(out, m.extra);
  return out;
}

function contentPartJson(p) {
  const b = p.body;
  let out;
  if (b.tag === "text") out = { type: "text", text: b.val };
  else if (b.tag === "image") {
    const url = { url: b.val.url };
    if (b.val.detail !== undefined) url.detail = b.val.detail;
    out = { type: "image_url", image_url: url };
  } else out = parse("a content part", b.val);
  if (isObject(out)) mergeExtra(out, p.extra);
  return out;
}

function toolJson(f) {
  const fn = { name: f.name };
  if (f.description !== undefined) fn.description = f.description;
  if (f.parameters !== undefined) fn.parameters = parse("tool parameters", f.parameters);
  if (f.strict !== undefined) fn.strict = f.strict;
  const out = { type: "function", function: fn };
  mergeExtra(out, f.extra);
  return out;
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
    cacheWriteTokens: u32(v, "cache_creation_input_tokens"),
    reasoningTokens: u32(obj(v, "completion_tokens_details"), "reasoning_tokens"),
    extra: extraOf(v, USAGE_KEYS, {
      prompt_tokens_details: new Set(["cached_tokens"]),
      completion_tokens_details: new Set(["reasoning_tokens"]),
    }),
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
        reasoning: parseReasoning(m),
        toolCalls: list(m, "tool_calls").map((t) => {
          const [signature, extra] = signatureAndExtra(t);
          return {
            id: str(t, "id") ?? "",
            function: { name: str(obj(t, "function"), "name") ?? "", arguments: str(obj(t, "function"), "arguments") ?? "" },
            signature,
            extra,
          };
        }),
        refusal: str(m, "refusal"),
        extra: extraOf(m, MESSAGE_KEYS),
      },
      finishReason: parseFinishReason(isObject(c) ? c.finish_reason : undefined),
      logprobs: json(c, "logprobs"),
      extra: extraOf(c, CHOICE_KEYS),
    };
  });
  return {
    id: str(v, "id") ?? "",
    model: str(v, "model") ?? "",
    created: u64(v, "created"),
    choices,
    usage: parseUsage(v.usage),
    systemFingerprint: str(v, "system_fingerprint"),
    extra: extraOf(v, KNOWN_TOP_LEVEL),
    headers: [],
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
      reasoning: parseReasoningDeltas(d),
      toolCalls: list(d, "tool_calls").map((t, j) => {
        const [signature, extra] = signatureAndExtra(t);
        return {
          index: u32(t, "index") ?? j,
          id: str(t, "id"),
          name: str(obj(t, "function"), "name"),
          arguments: str(obj(t, "function"), "arguments"),
          signature,
          extra,
        };
      }),
      refusal: str(d, "refusal"),
      finishReason: parseFinishReason(isObject(c) ? c.finish_reason : undefined),
      logprobs: json(c, "logprobs"),
      extra: extraOf(c, CHUNK_CHOICE_KEYS, { delta: MESSAGE_KEYS }),
    };
  });
  return {
    id: str(v, "id") ?? "",
    model: str(v, "model") ?? "",
    created: u64(v, "created"),
    choices,
    usage: parseUsage(v.usage),
    systemFingerprint: str(v, "system_fingerprint"),
    extra: extraOf(v, KNOWN_TOP_LEVEL),
  };
}

/** The provider error carried by an `{"error": ...}` event in a stream, if it is one. */
export function streamError(v) {
  if (!isObject(v) || !("error" in v)) return undefined;
  const code = isObject(v.error) ? v.error.code : undefined;
  const status = Number.isInteger(code) && code >= 400 && code < 600 ? code : 500;
  return fromHttp(status, new Headers(), JSON.stringify({ error: v.error }));
}

const QUANTIZED = { int8: [-128, 127], uint8: [0, 255], binary: [-128, 127], ubinary: [0, 255] };

/** The JSON body of an `/embeddings` request. Floats are requested for float and base64 (the
 * host encodes base64 for clients that ask for it); quantized encodings are passed on. */
export function embeddingRequestBody(req) {
  const input = req.input.map((i) => {
    if (i.tag === "text") return i.val;
    if (i.tag === "tokens") return Array.from(i.val);
    throw badRequest("this provider's embeddings endpoint takes text or tokens, not images");
  });
  const encoding = req.encodingFormat in QUANTIZED ? req.encodingFormat : "float";
  const body = { model: req.model, input, encoding_format: encoding };
  setIfDefined(body, "dimensions", req.dimensions);
  setIfDefined(body, "user", req.user);
  mergeExtra(body, req.extra);
  return body;
}

/** An `/embeddings` response body, its vectors in `encoding` (floats by default). */
export function parseEmbeddingResponse(v, encoding) {
  if (!isObject(v) || !Array.isArray(v.data)) throw upstream("the provider's response has no `data`");
  const data = v.data.map((item, i) => {
    const vector = isObject(item) ? item.embedding : undefined;
    if (!Array.isArray(vector) || !vector.every((x) => typeof x === "number")) {
      throw upstream("an embedding in the provider's response is not a list of numbers");
    }
    const range = QUANTIZED[encoding];
    if (range !== undefined) {
      if (!vector.every((x) => Number.isInteger(x) && x >= range[0] && x <= range[1])) {
        throw upstream("an embedding holds a number out of its encoding's range");
      }
      const array = range[0] < 0 ? Int8Array.from(vector) : Uint8Array.from(vector);
      return { index: u32(item, "index") ?? i, vector: { tag: encoding, val: array } };
    }
    return { index: u32(item, "index") ?? i, vector: { tag: "float", val: Float32Array.from(vector) } };
  });
  return {
    model: str(v, "model") ?? "",
    data,
    usage: parseUsage(v.usage),
    extra: extraOf(v, new Set(["object", "data", "model", "usage"])),
    headers: [],
  };
}
