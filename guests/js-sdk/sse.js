// An incremental Server-Sent Events parser (the WHATWG event-stream format): feed it text as it
// arrives, get complete events. Lines may end in CRLF, LF or CR, also split across reads;
// comments are ignored; an event without its final blank line is not dispatched.

/** One dispatched event. */
export class SseEvent {
  constructor(data, event, id, retry) {
    this.data = data;
    this.event = event;
    this.id = id;
    this.retry = retry;
  }

  /** OpenAI's end-of-stream marker `data: [DONE]`. */
  isDone() {
    return this.data.trim() === "[DONE]";
  }
}

/** Accumulates text and hands out the events it completes. */
export class SseParser {
  #buffer = "";
  #data = [];
  #event = "";
  #id = undefined;
  #retry = undefined;
  #pendingCr = false;
  #started = false;

  /** Adds decoded text and returns the events it completes, in order. */
  feed(text) {
    if (!this.#started && text.length > 0) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#pendingCr && text.startsWith("\n")) text = text.slice(1);
    this.#pendingCr = false;
    this.#buffer += text;
    const events = [];
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const ch = this.#buffer[i];
      if (ch !== "\n" && ch !== "\r") continue;
      this.#line(this.#buffer.slice(start, i), events);
      if (ch === "\r") {
        if (i + 1 < this.#buffer.length) {
          if (this.#buffer[i + 1] === "\n") i++;
        } else {
          this.#pendingCr = true;
        }
      }
      start = i + 1;
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  #line(line, events) {
    if (line === "") {
      if (this.#data.length > 0) {
        events.push(new SseEvent(this.#data.join("\n"), this.#event || "message", this.#id, this.#retry));
      }
      this.#data = [];
      this.#event = "";
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "data") this.#data.push(value);
    else if (name === "event") this.#event = value;
    else if (name === "id" && !value.includes("\0")) this.#id = value;
    else if (name === "retry" && /^\d+$/.test(value)) this.#retry = Number(value);
  }
}
