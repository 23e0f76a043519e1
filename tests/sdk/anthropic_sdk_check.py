"""Drives the gateway's /v1/messages with the official `anthropic` Python SDK over an
OpenAI-shaped upstream; run by tests/anthropic_api.rs. Prints OK at the end."""
import os

import anthropic

client = anthropic.Anthropic(base_url=os.environ["GATEWAY_URL"], api_key="sk-master-anthropic", max_retries=0)

msg = client.messages.create(model="claude", max_tokens=64, messages=[{"role": "user", "content": "Hi"}])
assert msg.content[0].type == "text" and msg.content[0].text == "Hello from upstream", msg
assert msg.stop_reason == "end_turn", msg.stop_reason
assert msg.usage.output_tokens == 3, msg.usage

with client.messages.stream(model="claude", max_tokens=64, messages=[{"role": "user", "content": "Hi"}]) as stream:
    text = "".join(stream.text_stream)
    final = stream.get_final_message()
assert text == "Hello from upstream", text
assert final.stop_reason == "end_turn" and final.usage.output_tokens == 3, final

tools = [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
asked = [{"role": "user", "content": "Weather in Paris?"}]
with client.messages.stream(model="tools", max_tokens=64, messages=asked, tools=tools) as stream:
    final = stream.get_final_message()
use = final.content[0]
assert use.type == "tool_use" and use.name == "get_weather" and use.input == {"city": "Paris"}, final
assert final.stop_reason == "tool_use", final.stop_reason

# The tool-use round trip: the answer carries the result back.
reply = client.messages.create(
    model="claude", max_tokens=64, tools=tools,
    messages=asked + [
        {"role": "assistant", "content": [{"type": "tool_use", "id": use.id, "name": use.name, "input": use.input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "Sunny, 21 C"}]},
    ],
)
assert reply.content[0].text == "Hello from upstream", reply

# An OpenAI-shaped upstream cannot count tokens: a clear error in Anthropic's shape.
try:
    client.messages.count_tokens(model="claude", messages=asked)
    raise SystemExit("count_tokens over an adapter that cannot count was answered")
except anthropic.BadRequestError as e:
    assert "counting tokens is not available" in e.message, e.message

try:
    anthropic.Anthropic(base_url=os.environ["GATEWAY_URL"], api_key="wrong", max_retries=0).messages.create(
        model="claude", max_tokens=8, messages=[{"role": "user", "content": "Hi"}])
    raise SystemExit("a wrong key was accepted")
except anthropic.AuthenticationError:
    pass
try:
    client.messages.create(model="nope", max_tokens=8, messages=[{"role": "user", "content": "Hi"}])
    raise SystemExit("an unknown model was accepted")
except anthropic.NotFoundError:
    pass
try:
    client.messages.create(model="limited", max_tokens=8, messages=[{"role": "user", "content": "Hi"}])
    raise SystemExit("a 429 was not raised")
except anthropic.RateLimitError as e:
    assert e.response.headers.get("retry-after") == "7", e.response.headers
print("OK")
