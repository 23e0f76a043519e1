// An incremental newline-delimited JSON parser (Ollama's streams): feed it text as it arrives,
// get the values of the lines it completes. LF or CRLF line ends, also split across reads;
// blank lines skipped; a last line without a newline counts once `finish` is called.

/** The longest line buffered before the stream is refused. */
export const MAX_LINE = 16 << 20;

/** Accumulates text and hands out the values of complete lines. */
export class NdjsonParser {
  #partial = "";

  /** Adds decoded text and returns the values of the lines it completes, in order. */
  feed(text) {
    const lines = (this.#partial + text).split("\n");
    this.#partial = lines.pop();
    if (this.#partial.length > MAX_LINE) {
      throw new Error(`an NDJSON line is longer than ${MAX_LINE} characters`);
    }
    return lines.map(value).filter((v) => v !== SKIP);
  }

  /** Ends the body: the value of a last line without a newline, if any. */
  finish() {
    const last = value(this.#partial);
    this.#partial = "";
    return last === SKIP ? [] : [last];
  }
}

const SKIP = Symbol("blank line");

function value(line) {
  const text = line.endsWith("\r") ? line.slice(0, -1) : line;
  if (text.trim() === "") return SKIP;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`the upstream sent a line that is not JSON: ${e.message}`);
  }
}
