"""LiteLLM serving sandboxed adapters through `custom_provider_map`: completion, acompletion,
streaming (sync and async) and embedding, errors as LiteLLM's own exception types."""

import asyncio

import litellm
import pytest

import wasmgate
from wasmgate.litellm import WasmProvider

from conftest import component

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module", autouse=True)
def providers(hostile_path):
    """`rustadapter/...` is the built-in openai adapter, `pyadapter/...` the Python example
    adapter from its file, `hostile/...` the adapter that spins past its CPU limit."""
    saved = litellm.custom_provider_map
    litellm.custom_provider_map = [
        {"provider": "rustadapter", "custom_handler": WasmProvider("openai")},
        {"provider": "pyadapter", "custom_handler": WasmProvider(component("python-example"), cpu_ms=2000)},
        {"provider": "hostile", "custom_handler": WasmProvider(hostile_path, cpu_ms=200, settings={"attack": "spin"})},
    ]
    yield
    litellm.custom_provider_map = saved


@pytest.fixture(params=["rustadapter", "pyadapter"])
def provider(request):
    return request.param


def test_completion(provider, upstream):
    response = litellm.completion(model=f"{provider}/gpt-4o-mini", messages=HELLO, api_base=upstream,
                                  api_key="sk-test", temperature=0.2)
    assert isinstance(response, litellm.ModelResponse)
    assert response.choices[0].message.content == "Hello from upstream"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.total_tokens == 12


def test_completion_with_tools(provider, upstream):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    response = litellm.completion(model=f"{provider}/tool-call", messages=HELLO, tools=tools, api_base=upstream)
    call = response.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert response.choices[0].finish_reason == "tool_calls"


def test_acompletion(provider, upstream):
    async def main():
        return await asyncio.gather(
            *[litellm.acompletion(model=f"{provider}/gpt-4o-mini", messages=HELLO, api_base=upstream)
              for _ in range(3)]
        )

    for response in asyncio.run(main()):
        assert response.choices[0].message.content == "Hello from upstream"


def test_streaming(provider, upstream):
    chunks = list(litellm.completion(model=f"{provider}/gpt-4o-mini", messages=HELLO, api_base=upstream,
                                     stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from upstream"
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)
    usage = [c.usage for c in chunks if getattr(c, "usage", None)]
    assert usage and usage[-1].total_tokens == 12


def test_streamed_tool_call(provider, upstream):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    chunks = list(litellm.completion(model=f"{provider}/tool-call", messages=HELLO, tools=tools,
                                     api_base=upstream, stream=True))
    rebuilt = litellm.stream_chunk_builder(chunks, messages=HELLO)
    call = rebuilt.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert call.function.arguments == '{"city":"Paris"}'


def test_async_streaming(provider, upstream):
    async def main():
        response = await litellm.acompletion(model=f"{provider}/gpt-4o-mini", messages=HELLO,
                                             api_base=upstream, stream=True)
        return [chunk async for chunk in response]

    chunks = asyncio.run(main())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from upstream"


def test_embedding(provider, upstream):
    response = litellm.embedding(model=f"{provider}/text-embedding-3-small", input=["a", "bcd"], api_base=upstream)
    assert isinstance(response, litellm.EmbeddingResponse)
    assert [len(d["embedding"]) for d in response.data] == [3, 3]
    assert response.usage.prompt_tokens > 0


def test_async_embedding(upstream):
    response = asyncio.run(litellm.aembedding(model="rustadapter/e", input="hi", api_base=upstream))
    assert len(response.data) == 1


@pytest.mark.parametrize(
    "model, error",
    [
        ("error-401", litellm.AuthenticationError),
        ("error-403", litellm.PermissionDeniedError),
        ("error-404", litellm.NotFoundError),
        ("error-400", litellm.ContextWindowExceededError),
        ("error-429", litellm.RateLimitError),
        ("error-503", litellm.ServiceUnavailableError),
    ],
)
def test_errors_are_litellm_exceptions(provider, upstream, model, error):
    with pytest.raises(error):
        litellm.completion(model=f"{provider}/{model}", messages=HELLO, api_base=upstream, num_retries=0)


def test_errors_inside_a_stream(upstream):
    # LiteLLM wraps an error after the first chunk as its mid-stream fallback error.
    with pytest.raises(litellm.exceptions.MidStreamFallbackError) as caught:
        list(litellm.completion(model="rustadapter/stream-error", messages=HELLO, api_base=upstream, stream=True))
    assert "upstream failed mid-stream" in str(caught.value)


def test_key_never_reaches_error_text(upstream):
    with pytest.raises(litellm.AuthenticationError) as caught:
        litellm.completion(model="rustadapter/error-401-echo", messages=HELLO, api_base=upstream,
                           api_key="sk-live-litellm-999")
    assert "sk-live-litellm-999" not in str(caught.value)


def test_cpu_limit_stop_is_a_litellm_exception_and_the_process_survives(upstream):
    for call in (
        lambda: litellm.completion(model="hostile/m", messages=HELLO),
        lambda: asyncio.run(litellm.acompletion(model="hostile/m", messages=HELLO)),
        lambda: list(litellm.completion(model="hostile/m", messages=HELLO, stream=True)),
    ):
        with pytest.raises(litellm.InternalServerError) as caught:
            call()
        assert "CPU time limit" in str(caught.value)

    async def async_stream():
        response = await litellm.acompletion(model="hostile/m", messages=HELLO, stream=True)
        return [chunk async for chunk in response]

    # LiteLLM runs an async custom stream only when it is iterated, and reports what fails
    # there as its mid-stream error (before the first chunk), wrapping ours.
    with pytest.raises(litellm.exceptions.MidStreamFallbackError) as caught:
        asyncio.run(async_stream())
    assert caught.value.is_pre_first_chunk
    assert isinstance(caught.value.original_exception, litellm.InternalServerError)
    assert "CPU time limit" in str(caught.value)
    response = litellm.completion(model="rustadapter/gpt-4o-mini", messages=HELLO, api_base=upstream)
    assert response.choices[0].message.content == "Hello from upstream"


def test_router_falls_back_from_a_stopped_adapter(upstream):
    router = litellm.Router(
        model_list=[
            {"model_name": "spinner", "litellm_params": {"model": "hostile/m"}},
            {"model_name": "steady", "litellm_params": {"model": "rustadapter/gpt-4o-mini", "api_base": upstream}},
        ],
        fallbacks=[{"spinner": ["steady"]}],
        num_retries=0,
    )
    response = router.completion(model="spinner", messages=HELLO)
    assert response.choices[0].message.content == "Hello from upstream"


def test_provider_from_a_loaded_adapter(upstream):
    handler = WasmProvider(wasmgate.Adapter.builtin("openai"), api_base=upstream,
                           credential=wasmgate.Credential("sk-default"))
    litellm.custom_provider_map = litellm.custom_provider_map + [{"provider": "defaults", "custom_handler": handler}]
    response = litellm.completion(model="defaults/gpt-4o-mini", messages=HELLO)
    assert response.choices[0].message.content == "Hello from upstream"
