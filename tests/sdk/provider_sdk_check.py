"""Drives one provider adapter through the gateway with the official `openai` Python SDK; run by
tests/providers.rs against a loopback fixture of the provider's own wire format.

The gateway's config names the same models for every provider: `chat`, `tools`, `image`,
`bad-key`, `limited`, `too-long`, `malformed`. The fixture's answers come in through the
environment: EXPECT_TEXT (the chat answer), EXPECT_TOOL_TEXT (the answer once a tool result is
sent), EXPECT_IMAGE (a word the image answer contains, when the provider takes images),
EXPECT_EMBEDDINGS (when the provider has embeddings: the `embed` model's second vector starts
with these JSON numbers), EXPECT_MALFORMED
(what the adapter says of the fixture's malformed answer). Exits non-zero on the first broken
expectation; prints OK at the end.
"""
import base64
import json
import os
import sys

import openai

client = openai.OpenAI(base_url=os.environ["GATEWAY_URL"], api_key="sk-master-providers", max_retries=0)
text = os.environ["EXPECT_TEXT"]
tool_text = os.environ["EXPECT_TOOL_TEXT"]
hello = [{"role": "user", "content": "Hi"}]

chat = client.chat.completions.create(model="chat", messages=hello)
assert chat.choices[0].message.content == text, chat
assert chat.choices[0].finish_reason == "stop", chat
assert chat.usage.total_tokens > 0 and chat.model == "chat", chat

pieces, usage = [], None
for chunk in client.chat.completions.create(model="chat", messages=hello, stream=True,
                                            stream_options={"include_usage": True}):
    if chunk.choices and chunk.choices[0].delta.content:
        pieces.append(chunk.choices[0].delta.content)
    if chunk.usage:
        usage = chunk.usage
assert "".join(pieces) == text, pieces
assert usage is not None and usage.total_tokens > 0, usage

tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
asked = [{"role": "user", "content": "Weather in Paris?"}]


def round_trip(assistant):
    """The conversation with the assistant's tool call (as the client got it, with any
    provider signature) answered."""
    call_id = assistant["tool_calls"][0]["id"]
    return asked + [assistant, {"role": "tool", "tool_call_id": call_id, "content": "18C and sunny"}]


called = client.chat.completions.create(model="tools", messages=asked, tools=tools)
call = called.choices[0].message.tool_calls[0]
assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}, called
assert called.choices[0].finish_reason == "tool_calls", called
answered = client.chat.completions.create(
    model="tools", tools=tools, messages=round_trip(called.choices[0].message.model_dump(exclude_none=True)))
assert answered.choices[0].message.content == tool_text, answered

calls, finish = {}, None
for chunk in client.chat.completions.create(model="tools", messages=asked, tools=tools, stream=True):
    for choice in chunk.choices:
        finish = choice.finish_reason or finish
        for d in choice.delta.tool_calls or []:
            entry = calls.setdefault(d.index, {"id": None, "name": "", "arguments": "", "extra": {}})
            entry["id"] = d.id or entry["id"]
            entry["name"] += (d.function.name or "") if d.function else ""
            entry["arguments"] += (d.function.arguments or "") if d.function else ""
            entry["extra"].update(d.model_extra or {})  # a provider's signature on the call
assert len(calls) == 1 and calls[0]["name"] == "get_weather", calls
assert json.loads(calls[0]["arguments"]) == {"city": "Paris"} and finish == "tool_calls", (calls, finish)
streamed = "".join(
    c.choices[0].delta.content or ""
    for c in client.chat.completions.create(
        model="tools", tools=tools, stream=True,
        messages=round_trip({"role": "assistant", "tool_calls": [
            {"id": calls[0]["id"], "type": "function", **calls[0]["extra"],
             "function": {"name": calls[0]["name"], "arguments": calls[0]["arguments"]}}]}))
    if c.choices)
assert streamed == tool_text, streamed

if os.environ.get("EXPECT_IMAGE"):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
    seen = client.chat.completions.create(model="image", messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}]}])
    assert os.environ["EXPECT_IMAGE"] in seen.choices[0].message.content, seen


if os.environ.get("EXPECT_EMBEDDINGS"):
    emb = client.embeddings.create(model="embed", input=["a", "bb"], encoding_format="float")
    expected = json.loads(os.environ["EXPECT_EMBEDDINGS"])
    assert len(emb.data) == 2 and emb.data[1].embedding[:len(expected)] == expected, emb


def expect(error_class, model, status):
    try:
        client.chat.completions.create(model=model, messages=hello)
    except error_class as e:
        assert e.status_code == status, (model, e.status_code, e)
        return e
    sys.exit(f"expected {error_class.__name__} from {model}")


expect(openai.AuthenticationError, "bad-key", 401)
limited = expect(openai.RateLimitError, "limited", 429)
assert limited.response.headers.get("retry-after") == "7", limited.response.headers
too_long = expect(openai.BadRequestError, "too-long", 400)
assert too_long.code == "context_length_exceeded", too_long.body
malformed = expect(openai.InternalServerError, "malformed", 502)
assert os.environ["EXPECT_MALFORMED"] in malformed.message, malformed.message
print("OK")
