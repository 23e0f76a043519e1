// Request URLs from an API base: encoded path segments, literal suffixes, encoded queries.

/** Percent-encodes everything but RFC 3986's unreserved characters (UTF-8 bytes). */
export function encode(text) {
  return Array.from(new TextEncoder().encode(text), (b) => {
    const c = String.fromCharCode(b);
    return /[A-Za-z0-9\-._~]/.test(c) ? c : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }).join("");
}

/** `new UrlBuilder(base).segment("model").segment(id).raw(":x").query("k", "v").build()`. */
export class UrlBuilder {
  #url;
  #query;

  /** Starts from `base`; a trailing `/` is dropped, a query in it kept. */
  constructor(base) {
    const at = base.indexOf("?");
    const path = at < 0 ? base : base.slice(0, at);
    const query = at < 0 ? "" : base.slice(at + 1);
    this.#url = path.replace(/\/+$/, "");
    this.#query = query.split("&").filter((p) => p).map((p) => {
      const eq = p.indexOf("=");
      return eq < 0 ? [p, ""] : [p.slice(0, eq), p.slice(eq + 1)];
    });
  }

  /** Appends `/` and `segment`, encoded (a model id with `:` or `/` stays one segment). */
  segment(segment) {
    this.#url += "/" + encode(segment);
    return this;
  }

  /** Appends `text` as written (e.g. Gemini's `:streamGenerateContent`). */
  raw(text) {
    this.#url += text;
    return this;
  }

  /** Adds `name=value`, both encoded. */
  query(name, value) {
    this.#query.push([encode(name), encode(value)]);
    return this;
  }

  /** The URL. */
  build() {
    if (this.#query.length === 0) return this.#url;
    return this.#url + "?" + this.#query.map(([k, v]) => `${k}=${v}`).join("&");
  }
}
