"""A wasmgate adapter in Python for any OpenAI-compatible API (OpenAI, vLLM, Ollama, Groq, ...):
chat, streaming and embeddings. Build it with `build.sh`; point a deployment's `api_base` at a
server.

Settings: `organization` and `project` become OpenAI's headers.
"""

import json
from typing import Optional

from wasmgate_guest import errors, openai, sse
from wasmgate_guest.http import Request, Response
from wit_world import exports
from wit_world.imports import wasmgate_provider_types as t

DEFAULT_API_BASE = "https://api.openai.com/v1"
MAX_RESPONSE = 32 * 1024 * 1024


def _request(ctx: t.CallContext, path: str, body: dict) -> Request:
    base = (ctx.api_base or DEFAULT_API_BASE).rstrip("/")
    request = Request.post_json(base + path, body).bearer(ctx.credential)
    request.timeout_ms = ctx.timeout_ms
    settings = dict(ctx.settings)
    if "organization" in settings:
        request.header("openai-organization", settings["organization"])
    if "project" in settings:
        request.header("openai-project", settings["project"])
    return request


class Adapter(exports.Adapter):
    """The adapter's exports."""

    def info(self) -> t.AdapterInfo:
        return t.AdapterInfo(
            name="python-example",
            version="0.1.0",
            capabilities=t.Capabilities.CHAT
            | t.Capabilities.STREAMING
            | t.Capabilities.EMBEDDINGS
            | t.Capabilities.TOOLS
            | t.Capabilities.VISION,
            default_api_base=DEFAULT_API_BASE,
            required_hosts=["https://api.openai.com"],
            description="OpenAI-compatible chat and embeddings, written in Python",
        )

    @errors.reported
    def chat(self, ctx: t.CallContext, request: t.ChatRequest) -> t.ChatResponse:
        body = openai.chat_request_body(request, stream=False)
        response = _request(ctx, "/chat/completions", body).send().raise_for_status()
        return openai.parse_chat_response(response.json(MAX_RESPONSE))

    @errors.reported
    def chat_stream(self, ctx: t.CallContext, request: t.ChatRequest) -> "ChunkStream":
        body = openai.chat_request_body(request, stream=True)
        response = (
            _request(ctx, "/chat/completions", body)
            .header("accept", "text/event-stream")
            .send()
            .raise_for_status()
        )
        return ChunkStream(response)

    @errors.reported
    def embed(self, ctx: t.CallContext, request: t.EmbeddingRequest) -> t.EmbeddingResponse:
        body = openai.embedding_request_body(request)
        response = _request(ctx, "/embeddings", body).send().raise_for_status()
        return openai.parse_embedding_response(response.json(MAX_RESPONSE))


class ChunkStream(exports.adapter.ChunkStream):
    """A streamed answer: SSE events from the upstream body, until `[DONE]` or its end."""

    def __init__(self, response: Response) -> None:
        self._response: Optional[Response] = response
        self._parser = sse.Parser()
        self._ready: list = []

    @errors.reported
    def next(self) -> Optional[t.ChatChunk]:
        while self._response is not None:
            while self._ready:
                event = self._ready.pop(0)
                if event.is_done():
                    return self._finish()
                if not event.data.strip():
                    continue
                try:
                    value = json.loads(event.data)
                except ValueError as e:
                    self._finish()
                    raise errors.upstream(f"invalid JSON in the provider's stream: {e}") from None
                failure = openai.stream_error(value)
                if failure is not None:
                    self._finish()
                    raise failure
                return openai.parse_chat_chunk(value)
            data = self._response.read_chunk()
            if data is None:
                return self._finish()
            self._ready.extend(self._parser.feed(data))
        return None

    def _finish(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None
        return None
