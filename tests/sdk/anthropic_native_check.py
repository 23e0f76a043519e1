"""Drives the gateway's /v1/messages with the official `anthropic` Python SDK over the
`anthropic` adapter and an Anthropic-shaped upstream (test-support's fixture, which checks what
the adapter sends); run by tests/anthropic_api.rs. Prints OK at the end."""
import os

import anthropic

url = os.environ["GATEWAY_URL"]
client = anthropic.Anthropic(base_url=url, api_key="sk-master-anthropic", max_retries=0)
hi = [{"role": "user", "content": "Hi"}]

msg = client.messages.create(model="claude", max_tokens=64, messages=hi, system="Be brief.")
assert msg.content[0].type == "text" and msg.content[0].text == "Hello from Claude", msg
assert msg.stop_reason == "end_turn" and msg.usage.output_tokens == 5, msg

with client.messages.stream(model="claude", max_tokens=64, messages=hi) as stream:
    text = "".join(stream.text_stream)
assert text == "Hello from Claude", text

tools = [{"name": "get_weather", "description": "Weather",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
asked = [{"role": "user", "content": "Weather in Paris?"}]
with client.messages.stream(model="tools", max_tokens=64, messages=asked, tools=tools) as stream:
    final = stream.get_final_message()
kinds = [b.type for b in final.content]
assert kinds == ["text", "tool_use"] and final.stop_reason == "tool_use", final
use = final.content[1]
assert use.name == "get_weather" and use.input == {"city": "Paris"}, use
# The fixture checks that the tool_result answers the tool_use of the turn before.
reply = client.messages.create(
    model="tools", max_tokens=64, tools=tools,
    messages=asked + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "18C"}]},
    ],
)
assert reply.content[0].text == "It is 18C in Paris.", reply

# Thinking over two turns: the fixture refuses a thinking block whose signature is not the one
# it made, so the second turn passes only if the signature came back unchanged.
thinking = {"type": "enabled", "budget_tokens": 2048}
first = client.messages.create(model="thinker", max_tokens=4096, thinking=thinking, messages=asked)
assert [b.type for b in first.content] == ["thinking", "text"], first
assert first.content[0].signature == "EqQBCkYIBxgCKkDsig-from-the-fixture", first.content[0]
with client.messages.stream(model="thinker", max_tokens=4096, thinking=thinking, messages=asked + [
    {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
    {"role": "user", "content": "And now?"},
]) as stream:
    second = stream.get_final_message()
assert second.content[0].type == "thinking" and second.content[0].signature == first.content[0].signature, second
assert second.content[1].text == "Still 18C.", second

# Counted by the provider: the fixture counts the words of every string in messages and system,
# and refuses fields count_tokens does not take (max_tokens, stream, sampling).
count = client.messages.count_tokens(model="claude", system="Be brief.", messages=asked, tools=tools)
assert count.input_tokens == 6, count  # "user", "Weather in Paris?", "Be brief."

try:
    anthropic.Anthropic(base_url=url, api_key="wrong", max_retries=0).messages.create(
        model="claude", max_tokens=8, messages=hi)
    raise SystemExit("a wrong key was accepted")
except anthropic.AuthenticationError:
    pass
try:
    client.messages.create(model="nope", max_tokens=8, messages=hi)
    raise SystemExit("an unknown model was accepted")
except anthropic.NotFoundError:
    pass
try:
    client.messages.create(model="limited", max_tokens=8, messages=hi)
    raise SystemExit("a 429 was not raised")
except anthropic.RateLimitError as e:
    assert e.response.headers.get("retry-after") == "7", e.response.headers
try:
    client.messages.create(model="overloaded", max_tokens=8, messages=hi)
    raise SystemExit("a 529 was not raised")
except anthropic.OverloadedError as e:
    assert e.status_code == 529, e
print("OK")
