"""Drives the gateway with the official `openai` Python SDK; run by tests/openai_sdk.rs.

Exits non-zero with a message on the first broken expectation and prints OK at the end.
"""
import os
import ssl
import sys

import openai

try:  # the SDK's HTTP client library, by the name its version uses
    import httpx2 as httpx
except ImportError:
    import httpx

# Over HTTPS, trust the test's own CA (GATEWAY_CA).
http_client = None
if os.environ.get("GATEWAY_CA"):
    http_client = httpx.Client(verify=ssl.create_default_context(cafile=os.environ["GATEWAY_CA"]))
client = openai.OpenAI(
    base_url=os.environ["GATEWAY_URL"], api_key="sk-master-sdk", max_retries=0, http_client=http_client
)

chat = client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "Hi"}])
assert chat.choices[0].message.content == "Hello from upstream", chat
assert chat.model == "gpt", chat.model
assert chat.usage.total_tokens == 12, chat.usage

pieces = []
usage = None
stream = client.chat.completions.create(
    model="gpt", messages=[{"role": "user", "content": "Hi"}], stream=True,
    stream_options={"include_usage": True},
)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        pieces.append(chunk.choices[0].delta.content)
    if chunk.usage:
        usage = chunk.usage
assert "".join(pieces) == "Hello from upstream", pieces
assert usage is not None and usage.total_tokens == 12, usage

tools = client.chat.completions.create(
    model="tools", messages=[{"role": "user", "content": "weather?"}],
    tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
)
call = tools.choices[0].message.tool_calls[0]
assert call.function.name == "get_weather" and call.function.arguments == '{"city":"Paris"}', call

emb = client.embeddings.create(model="embed", input=["a", "bb"])
assert len(emb.data) == 2 and emb.data[1].embedding == [1.0, 2.0, 0.5], emb
# The SDK asks for base64 by default when numpy is present and decodes it; ask explicitly too.
emb64 = client.embeddings.create(model="embed", input="a", encoding_format="base64")
assert emb64.data[0].embedding, emb64

models = [m.id for m in client.models.list()]
assert models == ["embed", "gpt", "limited", "tools"], models

def expect(error_class, **kwargs):
    try:
        client.chat.completions.create(messages=[{"role": "user", "content": "Hi"}], **kwargs)
    except error_class as e:
        return e
    sys.exit(f"expected {error_class.__name__} for {kwargs}")

err = expect(openai.RateLimitError, model="limited")
assert err.status_code == 429, err
expect(openai.NotFoundError, model="no-such-model")
expect(openai.BadRequestError, model="gpt", temperature="hot")
bad_key = openai.OpenAI(
    base_url=os.environ["GATEWAY_URL"], api_key="wrong", max_retries=0, http_client=http_client
)
try:
    bad_key.models.list()
    sys.exit("expected AuthenticationError")
except openai.AuthenticationError:
    pass

model = client.models.retrieve("gpt")
assert model.id == "gpt", model
try:
    client.models.retrieve("no-such-model")
    raise SystemExit("a missing model was found")
except openai.NotFoundError:
    pass

completion = client.completions.create(model="gpt", prompt="Say hi", max_tokens=16)
assert completion.object == "text_completion", completion
assert completion.choices[0].text == "Hello from upstream", completion
assert completion.usage.total_tokens == 12, completion.usage
streamed = "".join(c.choices[0].text for c in client.completions.create(model="gpt", prompt="Say hi", stream=True) if c.choices)
assert streamed == "Hello from upstream", streamed

# The Responses API: plain, streamed (raw events and the SDK's accumulating helper), a function
# tool round trip, and a conversation continued by previous_response_id.
response = client.responses.create(model="gpt", input="Hi", instructions="Be brief.")
assert response.status == "completed" and response.output_text == "Hello from upstream", response
assert response.usage.total_tokens == 12 and response.instructions == "Be brief.", response

kinds = []
text = []
for event in client.responses.create(model="gpt", input="Hi", stream=True):
    kinds.append(event.type)
    if event.type == "response.output_text.delta":
        text.append(event.delta)
    if event.type == "response.completed":
        completed = event.response
assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed", kinds
assert "".join(text) == "Hello from upstream" and completed.output_text == "Hello from upstream", completed
assert completed.usage.total_tokens == 12, completed.usage

with client.responses.stream(model="gpt", input="Hi") as stream:
    for _ in stream:
        pass
    final = stream.get_final_response()
assert final.output_text == "Hello from upstream" and final.status == "completed", final

tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
asked = client.responses.create(model="tools", input="Weather in Paris?", tools=[tool])
calls = [item for item in asked.output if item.type == "function_call"]
assert len(calls) == 1 and calls[0].name == "get_weather" and calls[0].arguments == '{"city":"Paris"}', asked.output
with client.responses.stream(model="tools", input="Weather in Paris?", tools=[tool]) as stream:
    for _ in stream:
        pass
    streamed_call = [i for i in stream.get_final_response().output if i.type == "function_call"][0]
assert streamed_call.arguments == '{"city":"Paris"}', streamed_call
answered = client.responses.create(
    model="gpt", tools=[tool],
    input=[{"role": "user", "content": "Weather in Paris?"}, *asked.output,
           {"type": "function_call_output", "call_id": calls[0].call_id, "output": "18C"}],
)
assert answered.output_text == "Hello from upstream", answered

follow_up = client.responses.create(model="gpt", input="And tomorrow?", previous_response_id=response.id)
assert follow_up.previous_response_id == response.id and follow_up.output_text == "Hello from upstream", follow_up
assert client.responses.retrieve(response.id).id == response.id
client.responses.delete(response.id)
try:
    client.responses.retrieve(response.id)
    sys.exit("a deleted response was found")
except openai.NotFoundError:
    pass
try:
    client.responses.create(model="gpt", input="Hi", previous_response_id=response.id)
    sys.exit("a deleted previous response was used")
except openai.NotFoundError:
    pass

print("OK")
