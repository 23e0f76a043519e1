"""A wasmgate adapter in Python for any OpenAI-compatible API (OpenAI, vLLM, Ollama, Groq, ...):
chat, streaming and embeddings. Build it with `build.sh`; point a deployment's `api_base` at a
server.

Settings: `organization` and `project` become OpenAI's headers.
"""

import json
from typing import List, Optional

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
    return request.call_headers(ctx.headers)


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
            credential_uses=[
                t.CredentialUse(method="POST", path="/chat/completions"),
                t.CredentialUse(method="POST", path="/embeddings"),
            ],
            description="OpenAI-compatible chat and embeddings, written in Python",
        )

    @errors.reported
    def chat(self, ctx: t.CallContext, request: t.ChatRequest) -> t.ChatResponse:
        body = openai.chat_request_body(request, stream=False)
        response = _request(ctx, "/chat/completions", body).send().raise_for_status()
        answer = openai.parse_chat_response(response.json(MAX_RESPONSE))
        answer.headers = response.passed_on_headers()
        return answer

    @errors.reported
    def chat_stream(self, ctx: t.CallContext, request: t.ChatRequest) -> exports.adapter.OpenedStream:
        body = openai.chat_request_body(request, stream=True)
        response = (
            _request(ctx, "/chat/completions", body)
            .header("accept", "text/event-stream")
            .send()
            .raise_for_status()
        )
        return exports.adapter.OpenedStream(ChunkStream(response), response.passed_on_headers())

    @errors.reported
    def embed(self, ctx: t.CallContext, request: t.EmbeddingRequest) -> t.EmbeddingResponse:
        body = openai.embedding_request_body(request)
        response = _request(ctx, "/embeddings", body).send().raise_for_status()
        answer = openai.parse_embedding_response(response.json(MAX_RESPONSE), request.encoding_format)
        answer.headers = response.passed_on_headers()
        return answer


class ChunkStream(exports.adapter.ChunkStream):
    """A streamed answer: SSE events from the upstream body, until `[DONE]` or its end."""

    def __init__(self, response: Response) -> None:
        self._response: Optional[Response] = response
        self._parser = sse.Parser()
        self._held: Optional[Exception] = None

    @errors.reported
    def next(self) -> List[t.ChatChunk]:
        """Every chunk of the events one read completed; an empty list at the end. An error that
        follows chunks of the same read is reported on the next call."""
        if self._held is not None:
            held, self._held = self._held, None
            raise held
        out: List[t.ChatChunk] = []
        while self._response is not None and not out:
            data = self._response.read_chunk()
            if data is None:
                self._finish()
                break
            for event in self._parser.feed(data):
                if event.is_done():
                    self._finish()
                    break
                if not event.data.strip():
                    continue
                try:
                    value = json.loads(event.data)
                    failure = openai.stream_error(value)
                except ValueError as e:
                    failure = errors.upstream(f"invalid JSON in the provider's stream: {e}")
                if failure is not None:
                    self._finish()
                    if not out:
                        raise failure
                    self._held = failure
                    break
                out.append(openai.parse_chat_chunk(value))
        return out

    def _finish(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None
