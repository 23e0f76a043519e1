"""The runtime API straight from Python: load, chat, stream, embed, errors, sealed keys."""

import asyncio
import json
import pickle
import threading

import pytest

import wasmgate

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture(params=["openai_adapter", "python_adapter"])
def adapter(request):
    """Each test runs against the built-in Rust adapter and the Python example adapter."""
    return request.getfixturevalue(request.param)


def test_info_describes_the_adapter(openai_adapter, python_adapter):
    info = openai_adapter.info
    assert info["name"] == "openai" and info["source"] == "builtin"
    assert {"chat", "streaming", "embeddings", "tools"} <= set(info["capabilities"])
    assert python_adapter.info["name"] == "python-example"
    assert python_adapter.info["limits"]["cpu_ms"] == 2000
    assert len(python_adapter.info["sha256"]) == 64


def test_chat(adapter, upstream):
    answer = adapter.chat(model="gpt-4o-mini", messages=HELLO, api_base=upstream, credential="sk-test")
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == "Hello from upstream"
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"]["total_tokens"] == 12


def test_request_as_a_dict_and_tools(adapter, upstream):
    request = {
        "model": "tool-call",
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    }
    answer = adapter.chat(request, api_base=upstream)
    call = answer["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert answer["choices"][0]["finish_reason"] == "tool_calls"


def test_stream(adapter, upstream):
    with adapter.stream(model="gpt-4o-mini", messages=HELLO, api_base=upstream,
                        stream_options={"include_usage": True}) as chunks:
        received = list(chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in received if c["choices"])
    assert text == "Hello from upstream"
    assert all(c["object"] == "chat.completion.chunk" for c in received)
    assert received[-1]["usage"]["total_tokens"] == 12


def test_stream_without_usage_has_no_usage_chunk(openai_adapter, upstream):
    received = list(openai_adapter.stream(model="gpt-4o-mini", messages=HELLO, api_base=upstream))
    assert received and all(c.get("usage") is None for c in received)


def test_embed(adapter, upstream):
    answer = adapter.embed(model="text-embedding-3-small", input=["a", "bcd"], api_base=upstream)
    assert answer["object"] == "list"
    assert [len(d["embedding"]) for d in answer["data"]] == [3, 3]
    assert answer["data"][1]["embedding"][1] == 3.0


def test_async_chat_stream_and_embed(adapter, upstream):
    async def main():
        answers = await asyncio.gather(
            *[adapter.achat(model="gpt-4o-mini", messages=HELLO, api_base=upstream) for _ in range(4)]
        )
        stream = await adapter.astream(model="gpt-4o-mini", messages=HELLO, api_base=upstream)
        text = ""
        async with stream:
            async for chunk in stream:
                text += "".join(c["delta"].get("content") or "" for c in chunk["choices"])
        vectors = await adapter.aembed(model="e", input="hi", api_base=upstream)
        return answers, text, vectors

    answers, text, vectors = asyncio.run(main())
    assert [a["choices"][0]["message"]["content"] for a in answers] == ["Hello from upstream"] * 4
    assert text == "Hello from upstream"
    assert len(vectors["data"]) == 1


@pytest.mark.parametrize(
    "model, error, status",
    [
        ("error-401", wasmgate.AuthenticationError, 401),
        ("error-403", wasmgate.PermissionDeniedError, 403),
        ("error-404", wasmgate.NotFoundError, 404),
        ("error-400", wasmgate.ContextWindowExceededError, 400),
        ("error-503", wasmgate.UnavailableError, 503),
    ],
)
def test_provider_errors_are_typed(adapter, upstream, model, error, status):
    with pytest.raises(error) as caught:
        adapter.chat(model=model, messages=HELLO, api_base=upstream)
    assert caught.value.status_code == status
    assert caught.value.reason == "provider"
    assert isinstance(caught.value, wasmgate.WasmgateError)


def test_rate_limit_carries_retry_after(openai_adapter, upstream):
    with pytest.raises(wasmgate.RateLimitError) as caught:
        openai_adapter.chat(model="error-429", messages=HELLO, api_base=upstream)
    assert caught.value.retry_after == 7.0


def test_mid_stream_error_is_raised_from_iteration(openai_adapter, upstream):
    stream = openai_adapter.stream(model="stream-error", messages=HELLO, api_base=upstream)
    with pytest.raises(wasmgate.WasmgateError) as caught:
        list(stream)
    assert "mid-stream" in caught.value.message


def test_timeout(openai_adapter, upstream):
    with pytest.raises(wasmgate.TimeoutError) as caught:
        openai_adapter.chat(model="drip", messages=HELLO, api_base=upstream, timeout=0.5)
    assert isinstance(caught.value, TimeoutError)


def test_invalid_requests_never_reach_the_adapter(openai_adapter, upstream):
    with pytest.raises(wasmgate.BadRequestError, match="messages"):
        openai_adapter.chat(model="gpt-4o-mini", api_base=upstream)
    with pytest.raises(wasmgate.BadRequestError, match="temperature"):
        openai_adapter.chat(model="m", messages=HELLO, temperature="hot", api_base=upstream)
    with pytest.raises(ValueError, match="timeout"):
        openai_adapter.chat(model="m", messages=HELLO, api_base=upstream, timeout=-1)


def test_credential_is_sealed(openai_adapter, upstream, hostile_path):
    key = wasmgate.Credential("sk-live-secret-123")
    assert "secret" not in repr(key) and "secret" not in str(key)
    assert [name for name in dir(key) if not name.startswith("__")] == ["from_env"]
    with pytest.raises(TypeError):
        pickle.dumps(key)
    # The upstream echoes the key it received in its error; the runtime scrubs it.
    with pytest.raises(wasmgate.AuthenticationError) as caught:
        openai_adapter.chat(model="error-401-echo", messages=HELLO, api_base=upstream, credential=key)
    assert "sk-live-secret-123" not in str(caught.value)
    # The adapter itself only ever holds a placeholder.
    hostile = wasmgate.Adapter.load(hostile_path)
    answer = hostile.chat(model="m", messages=HELLO, api_base=upstream, credential=key,
                          settings={"attack": "echo-credential"})
    seen = answer["choices"][0]["message"]["content"]
    assert seen and "sk-live-secret-123" not in seen


def test_credential_from_env(monkeypatch):
    monkeypatch.setenv("WASMGATE_TEST_KEY", "sk-from-env")
    assert repr(wasmgate.Credential.from_env("WASMGATE_TEST_KEY")) == "Credential(<sealed>)"
    with pytest.raises(ValueError, match="NOT_SET_ANYWHERE"):
        wasmgate.Credential.from_env("NOT_SET_ANYWHERE")


def test_cpu_limit_stops_the_adapter_and_the_process_goes_on(hostile_path, openai_adapter, upstream):
    hostile = wasmgate.Adapter.load(hostile_path, cpu_ms=200)
    with pytest.raises(wasmgate.ResourceLimitError) as caught:
        hostile.chat(model="m", messages=HELLO, settings={"attack": "spin"})
    assert caught.value.reason == "cpu_limit" and caught.value.status_code == 500
    assert "CPU time limit" in caught.value.message
    # The same adapter and every other one keep working.
    assert hostile.chat(model="m", messages=HELLO)["choices"][0]["message"]["content"] == "harmless"
    assert openai_adapter.chat(model="m", messages=HELLO, api_base=upstream)["choices"]


def test_egress_outside_the_policy_is_refused(hostile_path):
    hostile = wasmgate.Adapter.load(hostile_path, allowed_hosts=["https://api.example.com"])
    with pytest.raises(wasmgate.EgressRefusedError):
        hostile.chat(model="m", messages=HELLO, settings={"attack": "egress", "url": "http://169.254.169.254/latest"})


def test_the_gil_is_released_while_the_adapter_runs(hostile_path):
    """A call that burns a second of CPU in the sandbox leaves the event loop running."""
    hostile = wasmgate.Adapter.load(hostile_path, cpu_ms=1000)

    async def main():
        call = asyncio.ensure_future(hostile.achat(model="m", messages=HELLO, settings={"attack": "spin"}))
        ticks = 0
        while not call.done():
            ticks += 1
            await asyncio.sleep(0.02)
        with pytest.raises(wasmgate.ResourceLimitError):
            call.result()
        return ticks

    assert asyncio.run(main()) >= 10


def test_threads_share_one_adapter(openai_adapter, upstream):
    results = []

    def work():
        results.append(openai_adapter.chat(model="m", messages=HELLO, api_base=upstream)["choices"][0]["message"]["content"])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == ["Hello from upstream"] * 8


def test_load_errors(tmp_path, hostile_path):
    with pytest.raises(wasmgate.LoadError, match="cannot read"):
        wasmgate.Adapter.load(tmp_path / "missing.wasm")
    junk = tmp_path / "junk.wasm"
    junk.write_bytes(b"not wasm")
    with pytest.raises(wasmgate.LoadError, match="not a valid component"):
        wasmgate.Adapter.load(junk)
    with pytest.raises(wasmgate.LoadError, match="sha256 mismatch"):
        wasmgate.Adapter.load(hostile_path, sha256="0" * 64)
    with pytest.raises(wasmgate.LoadError, match="allowed"):
        wasmgate.Adapter.load(hostile_path, allowed_hosts=["not a host"])
    with pytest.raises(TypeError):
        wasmgate.Adapter.load(hostile_path, no_such_setting=1)
    with pytest.raises(wasmgate.LoadError, match="no built-in adapter"):
        wasmgate.Adapter.builtin("acme")
