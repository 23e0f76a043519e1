"""Outgoing HTTP over `wasi:http/outgoing-handler`, the adapter's only way out of the sandbox.

Blocking calls, which is what an adapter export needs: `send` returns once the response head is
in; the body is read whole (`Response.read`, `Response.json`) or piece by piece
(`Response.read_chunk`), also across `chunk-stream.next` calls.
"""

import json
from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple
from urllib.parse import urlsplit

from componentize_py_types import Err, Ok
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import wasi_http_types as http

from . import errors

_WRITE_CHUNK = 4096
_READ_CHUNK = 64 * 1024
# The header that asks the host for an AWS SigV4 signature (`service` or `service/region`).
AWS_SIGV4_HEADER = "x-wasmgate-aws-sigv4"


@dataclass
class Request:
    """An outgoing request; build it, then `send()` it."""

    method: str
    url: str
    headers: List[Tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    timeout_ms: Optional[int] = None

    @classmethod
    def post_json(cls, url: str, value: Any) -> "Request":
        """A POST with a JSON body."""
        body = json.dumps(value, separators=(",", ":")).encode()
        return cls("POST", url, [("content-type", "application/json")], body)

    def header(self, name: str, value: str) -> "Request":
        """Adds a header."""
        self.headers.append((name, value))
        return self

    def call_headers(self, headers: List[Tuple[str, str]]) -> "Request":
        """Adds the call context's headers (the deployment's `extra_headers` and forwarded
        client headers), replacing headers of the same name."""
        for name, value in headers:
            self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
            self.headers.append((name, value))
        return self

    def bearer(self, credential: Optional[str]) -> "Request":
        """Adds `authorization: Bearer <credential>` when there is a credential. The credential
        is usually the host's placeholder, which the host swaps for the real key on the way
        out."""
        if credential:
            self.header("authorization", f"Bearer {credential}")
        return self

    def aws_sigv4(self, service: str, region: Optional[str] = None) -> "Request":
        """Asks the host to sign the request with AWS SigV4 for `service` (e.g. `bedrock`), in
        `region` or the deployment's; the host holds the keys (credential kind `aws-sigv4`)."""
        return self.header(AWS_SIGV4_HEADER, f"{service}/{region}" if region else service)

    def send(self) -> "Response":
        """Sends the request and waits for the response head. Any status is returned; use
        `Response.raise_for_status` to turn 4xx/5xx into a provider error."""
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise errors.bad_request(f"not an http(s) URL: {self.url!r}")
        entries = [(name, value.encode()) for name, value in self.headers]
        if self.method != "GET" or self.body:
            entries.append(("content-length", str(len(self.body)).encode()))
        try:
            headers = http.Fields.from_list(entries)
        except Err as e:
            raise errors.internal(f"invalid header: {type(e.value).__name__}") from None
        request = http.OutgoingRequest(headers)
        _set(request.set_method, _method(self.method), "method")
        _set(
            request.set_scheme,
            http.Scheme_Https() if parts.scheme == "https" else http.Scheme_Http(),
            "scheme",
        )
        _set(request.set_authority, parts.netloc, "URL authority")
        path = parts.path or "/"
        _set(request.set_path_with_query, path + (f"?{parts.query}" if parts.query else ""), "URL path")
        options = http.RequestOptions()
        if self.timeout_ms is not None:
            ns = self.timeout_ms * 1_000_000
            options.set_first_byte_timeout(ns)
            options.set_between_bytes_timeout(ns)
        body = request.body()
        try:
            pending = outgoing_handler.handle(request, options)
        except Err as e:
            raise errors.from_error_code(e.value, parts.netloc) from None
        # A body write fails when the host refused the request; the response future then carries
        # the real reason, so a write error is reported only when the future has none.
        write_error = _write_body(body, self.body, parts.netloc)
        with pending.subscribe() as ready:
            ready.block()
        outcome = pending.get()
        pending.__exit__(None, None, None)
        if not isinstance(outcome, Ok):
            raise errors.internal("the response future was polled twice")
        if isinstance(outcome.value, Err):
            raise errors.from_error_code(outcome.value.value, parts.netloc)
        if write_error is not None:
            raise write_error
        return Response(outcome.value.value)


def _method(name: str) -> http.Method:
    known = {
        "GET": http.Method_Get(),
        "POST": http.Method_Post(),
        "PUT": http.Method_Put(),
        "DELETE": http.Method_Delete(),
        "PATCH": http.Method_Patch(),
    }
    return known.get(name.upper(), http.Method_Other(name))


def _set(setter: Any, value: Any, what: str) -> None:
    try:
        setter(value)
    except Err:
        raise errors.bad_request(f"invalid {what}") from None


def _write_body(body: http.OutgoingBody, data: bytes, host: str) -> Optional[Err]:
    try:
        with body.write() as out:
            for start in range(0, len(data), _WRITE_CHUNK):
                out.blocking_write_and_flush(data[start : start + _WRITE_CHUNK])
    except Err as e:
        body.__exit__(None, None, None)
        return errors.upstream(f"sending the request body: {_stream_error(e.value)}")
    try:
        http.OutgoingBody.finish(body, None)
    except Err as e:
        return errors.from_error_code(e.value, host)
    return None


def _stream_error(error: Any) -> str:
    if isinstance(error, streams.StreamError_LastOperationFailed):
        return error.value.to_debug_string()
    return "the stream was closed"


class Response:
    """A response head with its body not yet read."""

    def __init__(self, response: http.IncomingResponse) -> None:
        self.status: int = response.status()
        with response.headers() as fields:
            self.headers: List[Tuple[str, str]] = [
                (name.lower(), value.decode("utf-8", "replace")) for name, value in fields.entries()
            ]
        self._response = response
        self._body: Optional[http.IncomingBody] = response.consume()
        self._stream: Optional[streams.InputStream] = self._body.stream()

    def header(self, name: str) -> Optional[str]:
        """The first value of header `name` (case-insensitive)."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def passed_on_headers(self) -> List[Tuple[str, str]]:
        """The response headers to pass on to the host (rate limits, request id, ...)."""
        return errors.passed_on(self.headers)

    def raise_for_status(self) -> "Response":
        """Raises the provider error for a 4xx/5xx answer, with the error body read."""
        if 200 <= self.status < 300:
            return self
        body = self.read(64 * 1024, truncate=True)
        raise errors.from_http(self.status, self.headers, body)

    def read_chunk(self) -> Optional[bytes]:
        """The next piece of the body as it arrives, `None` at its end."""
        if self._stream is None:
            return None
        try:
            while True:
                data = self._stream.blocking_read(_READ_CHUNK)
                if data:
                    return data
        except Err as e:
            self.close()
            if isinstance(e.value, streams.StreamError_Closed):
                return None
            raise errors.upstream(f"reading the response body: {_stream_error(e.value)}") from None

    def read(self, limit: int, truncate: bool = False) -> bytes:
        """The whole body, at most `limit` bytes; longer bodies are an error unless
        `truncate`."""
        out = bytearray()
        while (chunk := self.read_chunk()) is not None:
            out += chunk
            if len(out) > limit:
                self.close()
                if truncate:
                    return bytes(out[:limit])
                raise errors.upstream(f"the provider's response is larger than {limit} bytes")
        return bytes(out)

    def json(self, limit: int) -> Any:
        """The body parsed as JSON."""
        body = self.read(limit)
        try:
            return json.loads(body)
        except ValueError as e:
            raise errors.upstream(f"the provider's response is not JSON: {e}: {errors.snippet(body)}") from None

    def close(self) -> None:
        """Releases the body, children before parents."""
        if self._stream is not None:
            self._stream.__exit__(None, None, None)
            self._stream = None
        if self._body is not None:
            self._body.__exit__(None, None, None)
            self._body = None
        if self._response is not None:
            self._response.__exit__(None, None, None)
            self._response = None
