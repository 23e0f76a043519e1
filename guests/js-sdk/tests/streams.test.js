// Host tests of the NDJSON parser and the URL builder: `node --test guests/js-sdk/tests/`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { NdjsonParser } from "../ndjson.js";
import { UrlBuilder, encode } from "../url.js";

test("NDJSON lines split anywhere give the same values", () => {
  const stream = '{"a":1}\r\n\n  \n{"b":2}\n{"c":3}';
  for (let cut = 0; cut <= stream.length; cut++) {
    const p = new NdjsonParser();
    const got = [...p.feed(stream.slice(0, cut)), ...p.feed(stream.slice(cut)), ...p.finish()];
    assert.deepEqual(got, [{ a: 1 }, { b: 2 }, { c: 3 }], `cut at ${cut}`);
  }
  assert.throws(() => new NdjsonParser().feed("nope\n"), /not JSON/);
});

test("URLs keep model ids as one segment and encode queries", () => {
  assert.equal(
    new UrlBuilder("https://h/").segment("model").segment("anthropic.claude-v2:1").segment("converse").build(),
    "https://h/model/anthropic.claude-v2%3A1/converse",
  );
  assert.equal(
    new UrlBuilder("https://x/v1beta?key=k").segment("models").raw("/g:streamGenerateContent").query("alt", "sse").query("q", "a b&c=d/é").build(),
    "https://x/v1beta/models/g:streamGenerateContent?key=k&alt=sse&q=a%20b%26c%3Dd%2F%C3%A9",
  );
  assert.equal(encode("a/b"), "a%2Fb");
});
