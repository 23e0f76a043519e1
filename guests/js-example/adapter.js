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
  for (const [name, value] of ctx.headers) headers[name] = value;
  return http.postJson(base + path, body, headers);
}

/** A streamed answer: SSE events from the upstream body, until `[DONE]` or its end. */
class ChunkStream {
  #reader;
  #decoder = new TextDecoder();
  #parser = new SseParser();
  #held;

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

  // Every chunk of the events one read completed; an empty list at the end. An error that
  // follows chunks of the same read is reported on the next call.
  async #next() {
    if (this.#held !== undefined) {
      const held = this.#held;
      this.#held = undefined;
      throw held;
    }
    const out = [];
    while (this.#reader !== undefined && out.length === 0) {
      const { done, value } = await this.#reader.read().catch((e) => {
        throw errors.upstream(`reading the provider's stream: ${e.message ?? e}`);
      });
      if (done) {
        this.#finish();
        break;
      }
      for (const event of this.#parser.feed(this.#decoder.decode(value, { stream: true }))) {
        if (event.isDone()) {
          this.#finish();
          break;
        }
        if (event.data.trim() === "") continue;
        let failure;
        let parsed;
        try {
          parsed = JSON.parse(event.data);
          failure = openai.streamError(parsed);
        } catch (e) {
          failure = errors.upstream(`invalid JSON in the provider's stream: ${e.message}`);
        }
        if (failure !== undefined) {
          this.#finish();
          if (out.length === 0) throw failure;
          this.#held = failure;
          break;
        }
        out.push(openai.parseChatChunk(parsed));
      }
    }
    return out;
  }

  #finish() {
    this.#reader?.cancel().catch(() => {});
    this.#reader = undefined;
  }
}

/** The `wasmgate:provider/adapter` exports. */
export const adapter = {
  info() {
    return {
      name: "js-example",
      version: "0.1.0",
      capabilities: { chat: true, streaming: true, embeddings: true, tools: true, vision: true, reasoning: false },
      defaultApiBase: DEFAULT_API_BASE,
      requiredHosts: ["https://api.openai.com"],
      credentialUses: [
        { method: "POST", path: "/chat/completions" },
        { method: "POST", path: "/embeddings" },
      ],
      description: "OpenAI-compatible chat and embeddings, written in JavaScript",
    };
  },

  chat: errors.reported(async (ctx, request) => {
    const response = await post(ctx, "/chat/completions", openai.chatRequestBody(request, false));
    const answer = openai.parseChatResponse(await http.readJson(response, MAX_RESPONSE));
    answer.headers = errors.passedOn(response.headers);
    return answer;
  }),

  chatStream: errors.reported(async (ctx, request) => {
    const body = openai.chatRequestBody(request, true);
    const response = await post(ctx, "/chat/completions", body, { accept: "text/event-stream" });
    return { chunks: new ChunkStream(response), headers: errors.passedOn(response.headers) };
  }),

  embed: errors.reported(async (ctx, request) => {
    const response = await post(ctx, "/embeddings", openai.embeddingRequestBody(request));
    const answer = openai.parseEmbeddingResponse(await http.readJson(response, MAX_RESPONSE), request.encodingFormat);
    answer.headers = errors.passedOn(response.headers);
    return answer;
  }),

  ChunkStream,
};
