// Provider errors: constructors, and the mapping from an upstream HTTP answer (OpenAI,
// Anthropic and most other JSON error shapes) to a WIT error kind.
//
// An adapter method reports a failure by throwing a `provider-error` record; componentize-js
// turns the thrown value into the `err` case of the export's result. `ProviderError` is that
// record with a stack trace.

/** A `provider-error` record that can be thrown. */
export class ProviderError extends Error {
  /**
   * @param {string} kind one of the WIT `error-kind` cases, e.g. "bad-request"
   * @param {string} message
   * @param {{status?: number, retryAfterMs?: number, providerCode?: string, headers?: [string, string][]}} [details]
   */
  constructor(kind, message, details = {}) {
    super(message);
    this.kind = kind;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs === undefined ? undefined : BigInt(details.retryAfterMs);
    this.providerCode = details.providerCode;
    this.headers = details.headers ?? [];
  }
}

// Headers about the connection or the body, which mean nothing past this hop.
const HOP_HEADERS = new Set([
  "connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding",
  "content-type", "set-cookie", "date", "server", "vary", "alt-svc", "via",
]);

/** The response headers an adapter passes on to the host (the host decides which reach the
 * client), as `[name, value]` pairs. */
export function passedOn(headers) {
  const out = [];
  headers.forEach((value, name) => {
    if (!HOP_HEADERS.has(name.toLowerCase())) out.push([name.toLowerCase(), value]);
  });
  return out;
}

/** The request cannot be served by this provider (400). */
export const badRequest = (message) => new ProviderError("bad-request", message);
/** The provider answered with something unusable (502). */
export const upstream = (message) => new ProviderError("upstream-error", message);
/** The adapter itself failed (500). */
export const internal = (message) => new ProviderError("internal", message);

/**
 * Wraps an adapter method so that any exception other than a `ProviderError` becomes an
 * `internal` provider error carrying its message (instead of a trapped instance).
 */
export function reported(method) {
  return async function (...args) {
    try {
      return await method.apply(this, args);
    } catch (e) {
      if (e instanceof ProviderError) throw e;
      throw internal(`${e?.name ?? "Error"}: ${e?.message ?? e}`);
    }
  };
}

/** A printable, bounded excerpt of a body for error messages. */
export function snippet(text, limit = 512) {
  const t = text.trim();
  return t.length <= limit ? t : `${t.slice(0, limit)}...`;
}

const CONTEXT_WINDOW = ["context length", "context window", "maximum context", "prompt is too long", "too many tokens"];

function errorFields(value) {
  const err = value && typeof value === "object" && "error" in value ? value.error : value;
  if (typeof err === "string") return [err, undefined];
  if (!err || typeof err !== "object") return [undefined, undefined];
  const text = (key) => (typeof err[key] === "string" || typeof err[key] === "number" ? String(err[key]) : undefined);
  return [text("message") ?? text("detail"), text("code") ?? text("type")];
}

function kindFor(status, message, code) {
  const lower = message.toLowerCase();
  const c = (code ?? "").toLowerCase();
  const contextWindow = c.includes("context_length") || CONTEXT_WINDOW.some((p) => lower.includes(p));
  const contentPolicy =
    c.includes("content_policy") || c.includes("content_filter") || lower.includes("content management policy") || lower.includes("content policy");
  if ([400, 413, 422].includes(status) && contextWindow) return "context-window-exceeded";
  if ([400, 422].includes(status) && contentPolicy) return "content-policy";
  const fixed = { 401: "authentication", 403: "permission-denied", 404: "not-found", 408: "timeout", 504: "timeout", 429: "rate-limited", 503: "unavailable", 529: "unavailable" };
  if (status in fixed) return fixed[status];
  if (status >= 500 && status <= 599) return "upstream-error";
  return "bad-request";
}

function retryAfterMs(headers) {
  const ms = Number.parseFloat(headers.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return Math.floor(ms);
  const value = headers.get("retry-after");
  if (value === null) return undefined;
  const seconds = Number(value.trim());
  if (value.trim() !== "" && Number.isFinite(seconds) && seconds >= 0) return Math.floor(seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.floor((at - Date.now()) / 1000)) * 1000;
}

/**
 * The error for a non-2xx upstream answer.
 * @param {number} status
 * @param {Headers} headers
 * @param {string} body
 */
export function fromHttp(status, headers, body) {
  let parsed;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  let [message, code] = parsed === undefined ? [undefined, undefined] : errorFields(parsed);
  message ??= snippet(body) || `the provider answered HTTP ${status}`;
  return new ProviderError(kindFor(status, message, code), message, {
    status,
    retryAfterMs: retryAfterMs(headers),
    providerCode: code,
    headers: passedOn(headers),
  });
}

/** The error for a `fetch` that did not produce a response. */
export function fromFetchFailure(error) {
  if (error?.name === "TimeoutError" || error?.name === "AbortError") {
    return new ProviderError("timeout", "the provider did not answer in time");
  }
  // fetch reports every transport failure as a TypeError; the gateway's log names the cause
  // (a destination outside the adapter's allow-list, a refused connection, a DNS failure...).
  return new ProviderError(
    "unavailable",
    `the request did not complete: the host refused it or the provider could not be reached (${error?.message ?? error})`,
  );
}
