"""A loaded adapter: chat, streamed chat and embeddings, blocking or async."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, AsyncIterator, Dict, Iterator, List, Mapping, Optional, Union

from . import _native
from .errors import LoadError, from_native
from .policy import Policy

CredentialLike = Union["_native.Credential", str, None]

_default_runtime: Optional[_native.Runtime] = None


def default_runtime() -> _native.Runtime:
    """The process's shared runtime, started on first use."""
    global _default_runtime
    if _default_runtime is None:
        _default_runtime = _native.Runtime()
    return _default_runtime


def _seal(credential: CredentialLike) -> Optional[_native.Credential]:
    if credential is None or isinstance(credential, _native.Credential):
        return credential
    if isinstance(credential, str):
        return _native.Credential(credential)
    raise TypeError("credential must be a wasmgate.Credential or a str")


def _pairs(mapping: Optional[Mapping[str, Any]], what: str) -> Optional[List[tuple]]:
    if mapping is None:
        return None
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{what} must be a mapping of names to values")
    return [(str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in mapping.items()]


class Adapter:
    """A provider adapter (a Wasm component) under a sandbox :class:`Policy`.

    Requests and answers are OpenAI-shaped dicts: ``chat`` takes a chat request
    (``{"model": ..., "messages": [...]}``) and returns a ``chat.completion``; ``stream``
    yields ``chat.completion.chunk`` dicts; ``embed`` returns an embeddings ``list``. Each call
    takes the provider's ``api_base``, a ``credential`` (a sealed :class:`Credential`; a str is
    sealed on the spot), a ``timeout`` in seconds, adapter ``settings`` and extra ``headers``.
    """

    def __init__(self, native: _native.Adapter):
        self._native = native

    @classmethod
    def load(
        cls,
        path: Union[str, "os.PathLike[str]"],
        policy: Optional[Policy] = None,
        *,
        sha256: Optional[str] = None,
        runtime: Optional[_native.Runtime] = None,
        **policy_fields: Any,
    ) -> "Adapter":
        """Loads the component file ``path`` under ``policy`` (or the :class:`Policy` fields
        given as keywords), refusing it unless its SHA-256 is ``sha256`` when given."""
        if policy is not None and policy_fields:
            raise TypeError("give a Policy or its fields as keywords, not both")
        policy = policy or Policy(**policy_fields)
        try:
            native = _native.Adapter.load(
                runtime or default_runtime(), os.fspath(path), policy.to_json(), sha256
            )
        except (_native.LoadFailed, ValueError) as e:
            raise LoadError(str(e)) from None
        return cls(native)

    @classmethod
    def builtin(cls, name: str, *, runtime: Optional[_native.Runtime] = None) -> "Adapter":
        """One of the adapters built into wasmgate (see ``BUILTIN_ADAPTERS``)."""
        try:
            return cls(_native.Adapter.builtin(runtime or default_runtime(), name))
        except _native.LoadFailed as e:
            raise LoadError(str(e)) from None

    @property
    def info(self) -> Dict[str, Any]:
        """What the adapter is (name, version, capabilities) and the policy it runs under."""
        return json.loads(self._native.info())

    def __repr__(self) -> str:
        return repr(self._native)

    def _invoke(
        self,
        method: Any,
        request: Optional[Mapping[str, Any]],
        fields: Dict[str, Any],
        api_base: Optional[str],
        credential: CredentialLike,
        timeout: Optional[float],
        settings: Optional[Mapping[str, Any]],
        headers: Optional[Mapping[str, str]],
    ) -> Any:
        """Runs one native call method with the request and its options, raising typed errors."""
        body = dict(request or {})
        body.update(fields)
        spec = _native.CallSpec(
            api_base=api_base,
            credential=_seal(credential),
            timeout=timeout,
            settings=_pairs(settings, "settings"),
            headers=_pairs(headers, "headers"),
        )
        try:
            return method(json.dumps(body), spec)
        except _native.CallFailed as e:
            raise from_native(e) from None

    def chat(
        self,
        request: Optional[Mapping[str, Any]] = None,
        *,
        api_base: Optional[str] = None,
        credential: CredentialLike = None,
        timeout: Optional[float] = None,
        settings: Optional[Mapping[str, Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
        **fields: Any,
    ) -> Dict[str, Any]:
        """A chat completion. The GIL is released while the adapter works."""
        answer = self._invoke(self._native.chat, request, fields, api_base, credential, timeout, settings, headers)
        return json.loads(answer)

    async def achat(self, request: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> Dict[str, Any]:
        """:meth:`chat` without blocking the event loop."""
        return await asyncio.to_thread(self.chat, request, **kwargs)

    def stream(
        self,
        request: Optional[Mapping[str, Any]] = None,
        *,
        api_base: Optional[str] = None,
        credential: CredentialLike = None,
        timeout: Optional[float] = None,
        settings: Optional[Mapping[str, Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
        **fields: Any,
    ) -> "ChatStream":
        """A streamed chat completion: iterate the result for the chunks. The adapter's
        instance lives until the stream ends or is closed (``with`` closes it)."""
        native = self._invoke(self._native.stream, request, fields, api_base, credential, timeout, settings, headers)
        return ChatStream(native)

    async def astream(
        self, request: Optional[Mapping[str, Any]] = None, **kwargs: Any
    ) -> "AsyncChatStream":
        """:meth:`stream` without blocking the event loop: ``async for chunk in await
        adapter.astream(...)``."""
        stream = await asyncio.to_thread(self.stream, request, **kwargs)
        return AsyncChatStream(stream)

    def embed(
        self,
        request: Optional[Mapping[str, Any]] = None,
        *,
        api_base: Optional[str] = None,
        credential: CredentialLike = None,
        timeout: Optional[float] = None,
        settings: Optional[Mapping[str, Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
        **fields: Any,
    ) -> Dict[str, Any]:
        """Embeddings for ``input`` (a string or a list of them)."""
        answer = self._invoke(self._native.embed, request, fields, api_base, credential, timeout, settings, headers)
        return json.loads(answer)

    async def aembed(self, request: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> Dict[str, Any]:
        """:meth:`embed` without blocking the event loop."""
        return await asyncio.to_thread(self.embed, request, **kwargs)


class ChatStream:
    """The chunks of a streamed answer, as ``chat.completion.chunk`` dicts."""

    def __init__(self, native: _native.Stream):
        self._native = native
        self._pending: List[Dict[str, Any]] = []
        self._done = False

    def next_batch(self) -> Optional[List[Dict[str, Any]]]:
        """The chunks the adapter made from one upstream read, or ``None`` at the end."""
        if self._pending:
            batch, self._pending = self._pending, []
            return batch
        if self._done:
            return None
        try:
            text = self._native.next_batch()
        except _native.CallFailed as e:
            self._done = True
            raise from_native(e) from None
        if text is None:
            self._done = True
            return None
        return json.loads(text)

    def peek(self) -> None:
        """Waits for the first batch now, so that a failure before the first chunk is raised
        here rather than from the first iteration."""
        if not self._pending and not self._done:
            batch = self.next_batch()
            self._pending = batch or []

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return self

    def __next__(self) -> Dict[str, Any]:
        while not self._pending:
            batch = self.next_batch()
            if batch is None:
                raise StopIteration
            self._pending = batch
        return self._pending.pop(0)

    def close(self) -> None:
        """Ends the stream now and frees the adapter's instance."""
        self._done = True
        self._pending = []
        self._native.close()

    def __enter__(self) -> "ChatStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncChatStream:
    """The chunks of a streamed answer for ``async for``; each wait runs off the event loop."""

    def __init__(self, stream: ChatStream):
        self._stream = stream
        self._pending: List[Dict[str, Any]] = []

    async def peek(self) -> None:
        """:meth:`ChatStream.peek` off the event loop."""
        await asyncio.to_thread(self._stream.peek)

    def __aiter__(self) -> AsyncIterator[Dict[str, Any]]:
        return self

    async def __anext__(self) -> Dict[str, Any]:
        while not self._pending:
            batch = await asyncio.to_thread(self._stream.next_batch)
            if batch is None:
                raise StopAsyncIteration
            self._pending = batch
        return self._pending.pop(0)

    async def aclose(self) -> None:
        """Ends the stream now and frees the adapter's instance."""
        await asyncio.to_thread(self._stream.close)

    async def __aenter__(self) -> "AsyncChatStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
