// A wasmgate adapter in JavaScript for any OpenAI-compatible API (OpenAI, vLLM, Ollama, Groq,
// ...): chat, streaming and embeddings. Build it with `build.sh`; point a deployment's
// `api_base` at a server.
//
// Settings: `organization` and `project` become OpenAI's headers.
import { errors, http, openai, SseParser } from "./wasmgate-guest/index.js";

const DEFAULT_API_BASE = "https://api.openai.com/v1";
const MAX_RESPONSE = 32 * 1024 * 1024;

function post(ctx, path, body, extraHeaders = {}) {
  const base = (ctx.apiBase ?? DEFAULT_API_BASE).replace(/\/+$/, "");
  const settings = Object.fromEntries(ctx.settings);
  const headers = { ...http.bearer(ctx.credential), ...extraHeaders };
  if (settings.organization) headers["openai-organization"] = settings.organization;
  if (settings.project) headers["openai-project"] = settings.project;
  return http.postJson(base + path, body, headers);
}

/** A streamed answer: SSE events from the upstream body, until `[DONE]` or its end. */
class ChunkStream {
  #reader;
  #decoder = new TextDecoder();
  #parser = new SseParser();
  #ready = [];

  constructor(response) {
    this.#reader = response.body.getReader();
  }

  async next() {
    try {
      return await this.#next();
    } catch (e) {
      this.#finish();
      throw e instanceof errors.ProviderError ? e : errors.internal(`${e?.name}: ${e?.message ?? e}`);
    }
  }

  async #next() {
    while (this.#reader !== undefined) {
      while (this.#ready.length > 0) {
        const event = this.#ready.shift();
        if (event.isDone()) return this.#finish();
        if (event.data.trim() === "") continue;
        let value;
        try {
          value = JSON.parse(event.data);
        } catch (e) {
          throw errors.upstream(`invalid JSON in the provider's stream: ${e.message}`);
        }
        const failure = openai.streamError(value);
        if (failure !== undefined) throw failure;
        return openai.parseChatChunk(value);
      }
      const { done, value } = await this.#reader.read().catch((e) => {
        throw errors.upstream(`reading the provider's stream: ${e.message ?? e}`);
      });
      if (done) return this.#finish();
      this.#ready.push(...this.#parser.feed(this.#decoder.decode(value, { stream: true })));
    }
    return undefined;
  }

  #finish() {
    this.#reader?.cancel().catch(() => {});
    this.#reader = undefined;
    return undefined;
  }
}

/** The `wasmgate:provider/adapter` exports. */
export const adapter = {
  info() {
    return {
      name: "js-example",
      version: "0.1.0",
      capabilities: { chat: true, streaming: true, embeddings: true, tools: true, vision: true },
      defaultApiBase: DEFAULT_API_BASE,
      requiredHosts: ["https://api.openai.com"],
      description: "OpenAI-compatible chat and embeddings, written in JavaScript",
    };
  },

  chat: errors.reported(async (ctx, request) => {
    const response = await post(ctx, "/chat/completions", openai.chatRequestBody(request, false));
    return openai.parseChatResponse(await http.readJson(response, MAX_RESPONSE));
  }),

  chatStream: errors.reported(async (ctx, request) => {
    const body = openai.chatRequestBody(request, true);
    const response = await post(ctx, "/chat/completions", body, { accept: "text/event-stream" });
    return new ChunkStream(response);
  }),

  embed: errors.reported(async (ctx, request) => {
    const response = await post(ctx, "/embeddings", openai.embeddingRequestBody(request));
    return openai.parseEmbeddingResponse(await http.readJson(response, MAX_RESPONSE));
  }),

  ChunkStream,
};
