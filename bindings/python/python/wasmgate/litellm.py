"""Sandboxed Wasm adapters as LiteLLM custom providers.

::

    import litellm
    from wasmgate.litellm import WasmProvider

    litellm.custom_provider_map = [
        {"provider": "acme", "custom_handler": WasmProvider("acme.wasm", allowed_hosts=["https://api.acme.ai"])}
    ]
    litellm.completion(model="acme/acme-1", messages=[{"role": "user", "content": "Hi"}],
                       api_base="https://api.acme.ai/v1", api_key=os.environ["ACME_API_KEY"])

``completion``, ``acompletion``, streaming (sync and async) and ``embedding`` run in the
adapter's sandbox: it reaches only the call's ``api_base`` and the allowed hosts, sees the key
only as a placeholder, and a call that overruns its CPU, memory or time limit is stopped and
raised as a LiteLLM exception, so LiteLLM's retries and fallbacks apply as for any provider.
"""

from __future__ import annotations

import os
import time
from typing import Any, AsyncIterator, Dict, Iterator, List, Mapping, Optional, Sequence, Union

import httpx
import litellm
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import GenericStreamingChunk

from . import errors
from ._native import BUILTIN_ADAPTERS, Credential, Runtime
from .adapter import Adapter, ChatStream
from .policy import Policy

# LiteLLM's own settings that travel in `optional_params` but are not request fields.
_NOT_REQUEST_FIELDS = {"stream", "max_retries", "api_version", "extra_headers", "extra_body"}


def _seconds(timeout: Any) -> Optional[float]:
    if isinstance(timeout, httpx.Timeout):
        return timeout.read or timeout.connect
    if isinstance(timeout, (int, float)) and timeout > 0:
        return float(timeout)
    return None


def _response(status: int, retry_after: Optional[float]) -> httpx.Response:
    headers = {"retry-after": str(max(1, round(retry_after)))} if retry_after else {}
    return httpx.Response(status, headers=headers, request=httpx.Request("POST", "http://wasmgate.invalid"))


def to_litellm(error: errors.WasmgateError, model: str, provider: str) -> Exception:
    """The LiteLLM exception for a wasmgate error, so LiteLLM's router retries, cools down and
    falls back exactly as it does for its own providers."""
    message = f"{provider}: {error.message}"
    response = _response(error.status_code or 500, error.retry_after)
    named = dict(message=message, model=model, llm_provider=provider)
    if isinstance(error, errors.ContextWindowExceededError):
        return litellm.ContextWindowExceededError(**named, response=response)
    if isinstance(error, errors.ContentPolicyError):
        return litellm.ContentPolicyViolationError(**named, response=response)
    if isinstance(error, errors.BadRequestError):
        return litellm.BadRequestError(**named, response=response)
    if isinstance(error, errors.AuthenticationError):
        return litellm.AuthenticationError(**named, response=_response(401, None))
    if isinstance(error, errors.PermissionDeniedError):
        return litellm.PermissionDeniedError(**named, response=_response(403, None))
    if isinstance(error, errors.NotFoundError):
        return litellm.NotFoundError(**named, response=_response(404, None))
    if isinstance(error, errors.RateLimitError):
        return litellm.RateLimitError(**named, response=_response(429, error.retry_after))
    if isinstance(error, errors.TimeoutError):
        return litellm.Timeout(**named)
    if isinstance(error, errors.UnavailableError):
        return litellm.ServiceUnavailableError(**named, response=_response(503, error.retry_after))
    if isinstance(error, errors.UpstreamError):
        return litellm.BadGatewayError(**named, response=_response(502, None))
    return litellm.InternalServerError(**named, response=_response(500, None))


def _generic_chunks(chunk: Dict[str, Any], finish: List[str]) -> Iterator[GenericStreamingChunk]:
    """LiteLLM's generic chunks for one OpenAI chunk: one per tool-call delta, else one.
    `finish` carries the last finish reason across chunks (a usage chunk repeats it)."""
    usage = chunk.get("usage")
    choices = chunk.get("choices") or []
    if not choices:
        if usage:
            yield GenericStreamingChunk(
                text="", tool_use=None, is_finished=True, finish_reason=finish[0] or "stop", usage=usage, index=0
            )
        return
    for choice in choices:
        delta = choice.get("delta") or {}
        reason = choice.get("finish_reason") or ""
        if reason:
            finish[0] = reason
        tool_calls = delta.get("tool_calls") or [None]
        for i, call in enumerate(tool_calls):
            last = i == len(tool_calls) - 1
            tool_use = None
            if call is not None:
                function = call.get("function") or {}
                tool_use = {
                    "id": call.get("id"),
                    "type": "function",
                    "function": {"name": function.get("name"), "arguments": function.get("arguments") or ""},
                    "index": call.get("index", 0),
                }
            yield GenericStreamingChunk(
                text=(delta.get("content") or "") if i == 0 else "",
                tool_use=tool_use,
                is_finished=bool(reason) and last,
                finish_reason=reason if last else "",
                usage=usage if last else None,
                index=choice.get("index", 0),
            )


class WasmProvider(CustomLLM):
    """A LiteLLM custom provider served by a sandboxed Wasm adapter.

    ``adapter`` is a component file, a loaded :class:`wasmgate.Adapter`, or the name of a
    built-in adapter (``"openai"``, ``"anthropic"``, ...). The file is loaded under ``policy``
    (or the :class:`wasmgate.Policy` fields given as keywords, such as ``allowed_hosts``),
    pinned to ``sha256`` when given. ``api_base``, ``credential`` (a sealed
    :class:`wasmgate.Credential`), ``timeout`` and adapter ``settings`` are defaults that each
    LiteLLM call's own ``api_base``, ``api_key`` and ``timeout`` override.
    """

    def __init__(
        self,
        adapter: Union[str, "os.PathLike[str]", Adapter],
        *,
        policy: Optional[Policy] = None,
        sha256: Optional[str] = None,
        api_base: Optional[str] = None,
        credential: Optional[Credential] = None,
        timeout: Optional[float] = None,
        settings: Optional[Mapping[str, Any]] = None,
        runtime: Optional[Runtime] = None,
        **policy_fields: Any,
    ):
        super().__init__()
        if isinstance(adapter, Adapter):
            self.adapter = adapter
        elif isinstance(adapter, str) and adapter in BUILTIN_ADAPTERS and not os.path.exists(adapter):
            self.adapter = Adapter.builtin(adapter, runtime=runtime)
        else:
            self.adapter = Adapter.load(adapter, policy, sha256=sha256, runtime=runtime, **policy_fields)
        self.provider = self.adapter.info.get("name", "wasmgate")
        self.api_base = api_base
        self.credential = credential
        self.timeout = timeout
        self.settings = dict(settings or {})

    def __repr__(self) -> str:
        return f"WasmProvider({self.adapter!r})"

    # --- what every call shares ---

    def _options(self, api_base: Optional[str], api_key: Optional[str], timeout: Any, headers: Any) -> Dict[str, Any]:
        credential = Credential(api_key) if api_key else self.credential
        return {
            "api_base": api_base or self.api_base,
            "credential": credential,
            "timeout": _seconds(timeout) or self.timeout,
            "settings": self.settings or None,
            "headers": dict(headers) if headers else None,
        }

    @staticmethod
    def _chat_request(model: str, messages: list, optional_params: Optional[dict], stream: bool) -> Dict[str, Any]:
        request = {k: v for k, v in (optional_params or {}).items() if k not in _NOT_REQUEST_FIELDS}
        request.update(model=model, messages=messages)
        if stream:
            request["stream"] = True
            request["stream_options"] = {"include_usage": True}
        return request

    def _raise(self, error: errors.WasmgateError, model: str) -> Exception:
        return to_litellm(error, model, self.provider)

    @staticmethod
    def _model_response(answer: Dict[str, Any]) -> litellm.ModelResponse:
        answer.setdefault("created", int(time.time()))
        return litellm.ModelResponse(**answer)

    # --- chat ---

    def completion(self, model: str, messages: list, api_base: Optional[str] = None, api_key: Optional[str] = None,
                   optional_params: Optional[dict] = None, model_response: Any = None, timeout: Any = None,
                   headers: Any = None, **_: Any) -> litellm.ModelResponse:
        """``litellm.completion``."""
        try:
            answer = self.adapter.chat(self._chat_request(model, messages, optional_params, False),
                                       **self._options(api_base, api_key, timeout, headers))
        except errors.WasmgateError as e:
            raise self._raise(e, model) from None
        return self._model_response(answer)

    async def acompletion(self, model: str, messages: list, api_base: Optional[str] = None,
                          api_key: Optional[str] = None, optional_params: Optional[dict] = None,
                          model_response: Any = None, timeout: Any = None, headers: Any = None,
                          **_: Any) -> litellm.ModelResponse:
        """``litellm.acompletion``."""
        try:
            answer = await self.adapter.achat(self._chat_request(model, messages, optional_params, False),
                                              **self._options(api_base, api_key, timeout, headers))
        except errors.WasmgateError as e:
            raise self._raise(e, model) from None
        return self._model_response(answer)

    def streaming(self, model: str, messages: list, api_base: Optional[str] = None, api_key: Optional[str] = None,
                  optional_params: Optional[dict] = None, timeout: Any = None, headers: Any = None,
                  **_: Any) -> Iterator[GenericStreamingChunk]:
        """``litellm.completion(stream=True)``."""
        try:
            stream = self.adapter.stream(self._chat_request(model, messages, optional_params, True),
                                         **self._options(api_base, api_key, timeout, headers))
            # A failure before the first chunk is a failed call, which LiteLLM retries and
            # falls back from; after it, LiteLLM treats it as a mid-stream failure.
            stream.peek()
        except errors.WasmgateError as e:
            raise self._raise(e, model) from None
        return self._sync_chunks(stream, model)

    def _sync_chunks(self, stream: ChatStream, model: str) -> Iterator[GenericStreamingChunk]:
        finish = [""]
        with stream:
            try:
                for chunk in stream:
                    yield from _generic_chunks(chunk, finish)
            except errors.WasmgateError as e:
                raise self._raise(e, model) from None

    async def astreaming(self, model: str, messages: list, api_base: Optional[str] = None,
                         api_key: Optional[str] = None, optional_params: Optional[dict] = None,
                         timeout: Any = None, headers: Any = None,
                         **_: Any) -> AsyncIterator[GenericStreamingChunk]:
        """``litellm.acompletion(stream=True)``."""
        try:
            stream = await self.adapter.astream(self._chat_request(model, messages, optional_params, True),
                                                **self._options(api_base, api_key, timeout, headers))
            await stream.peek()
        except errors.WasmgateError as e:
            raise self._raise(e, model) from None
        finish = [""]
        async with stream:
            try:
                async for chunk in stream:
                    for generic in _generic_chunks(chunk, finish):
                        yield generic
            except errors.WasmgateError as e:
                raise self._raise(e, model) from None

    # --- embeddings ---

    @staticmethod
    def _embedding_request(model: str, input: Union[str, Sequence[str]], optional_params: Optional[dict]) -> Dict[str, Any]:
        request = {k: v for k, v in (optional_params or {}).items() if k not in _NOT_REQUEST_FIELDS}
        request.update(model=model, input=input)
        return request

    @staticmethod
    def _embedding_response(answer: Dict[str, Any], model_response: Any, model: str) -> litellm.EmbeddingResponse:
        response = model_response if model_response is not None else litellm.EmbeddingResponse()
        response.model = answer.get("model", model)
        response.data = answer["data"]
        usage = answer.get("usage") or {}
        response.usage = litellm.Usage(prompt_tokens=usage.get("prompt_tokens", 0), completion_tokens=0,
                                       total_tokens=usage.get("total_tokens", 0))
        return response

    def embedding(self, model: str, input: list, model_response: Any = None, optional_params: Optional[dict] = None,
                  api_key: Optional[str] = None, api_base: Optional[str] = None, timeout: Any = None,
                  **_: Any) -> litellm.EmbeddingResponse:
        """``litellm.embedding``."""
        try:
            answer = self.adapter.embed(self._embedding_request(model, input, optional_params),
                                        **self._options(api_base, api_key, timeout, None))
        except errors.WasmgateError as e:
            raise self._raise(e, model) from None
        return self._embedding_response(answer, model_response, model)

    async def aembedding(self, model: str, input: list, model_response: Any = None,
                         optional_params: Optional[dict] = None, api_key: Optional[str] = None,
                         api_base: Optional[str] = None, timeout: Any = None,
                         **_: Any) -> litellm.EmbeddingResponse:
        """``litellm.aembedding``."""
        try:
            answer = await self.adapter.aembed(self._embedding_request(model, input, optional_params),
                                               **self._options(api_base, api_key, timeout, None))
        except errors.WasmgateError as e:
            raise self._raise(e, model) from None
        return self._embedding_response(answer, model_response, model)
