// Host tests of the SSE parser: `node --test guests/js-sdk/tests/`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SseParser } from "../sse.js";

const STREAM = '\ufeff: comment\r\ndata: {"a":1}\r\n\r\nevent: ping\ndata: x\ndata: y\nid: 7\nretry: 30\n\ndata: [DONE]\r\rdata: partial';

function events(pieces) {
  const parser = new SseParser();
  return pieces.flatMap((p) => parser.feed(p)).map((e) => [e.event, e.data, e.id, e.retry]);
}

test("whole, split and character-by-character input agree", () => {
  const whole = events([STREAM]);
  assert.deepEqual(whole, [
    ["message", '{"a":1}', undefined, undefined],
    ["ping", "x\ny", "7", 30],
    ["message", "[DONE]", "7", 30],
  ]);
  for (let cut = 0; cut <= STREAM.length; cut++) {
    assert.deepEqual(events([STREAM.slice(0, cut), STREAM.slice(cut)]), whole, `cut at ${cut}`);
  }
  assert.deepEqual(events([...STREAM]), whole);
});

test("the done marker", () => {
  const [event] = new SseParser().feed("data: [DONE]\n\n");
  assert.ok(event.isDone());
});
