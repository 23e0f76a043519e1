// wasmgate's guest SDK for JavaScript adapters built with componentize-js: errors, SSE, NDJSON,
// URL building, OpenAI's wire format, HTTP helpers over fetch, host logging.
export * as errors from "./errors.js";
export * as http from "./http.js";
export * as log from "./log.js";
export * as openai from "./openai.js";
export { SseParser, SseEvent } from "./sse.js";
export { NdjsonParser } from "./ndjson.js";
export { UrlBuilder, encode as encodeUrlComponent } from "./url.js";
export { ProviderError } from "./errors.js";
