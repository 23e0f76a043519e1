"""Provider errors: constructors, and the mapping from an upstream HTTP answer (OpenAI,
Anthropic and most other JSON error shapes) or a `wasi:http` error code to a WIT error kind.

Adapter methods report a failure by raising `Err(ProviderError)`; the helpers here build that
exception, so an adapter writes `raise errors.bad_request("...")`.
"""

import functools
import json
import time
from email.utils import parsedate_to_datetime
from typing import Any, Callable, List, Optional, Tuple, TypeVar

from componentize_py_types import Err
from wit_world.imports import wasi_http_types as http
from wit_world.imports.wasmgate_provider_types import ErrorKind, ProviderError

F = TypeVar("F", bound=Callable[..., Any])


def failure(
    kind: ErrorKind,
    message: str,
    status: Optional[int] = None,
    retry_after_ms: Optional[int] = None,
    provider_code: Optional[str] = None,
    headers: Optional[List[Tuple[str, str]]] = None,
) -> Err:
    """The exception that reports a provider error of `kind` to the host."""
    return Err(ProviderError(kind, status, message, retry_after_ms, provider_code, headers or []))


def bad_request(message: str) -> Err:
    """The request cannot be served by this provider (400)."""
    return failure(ErrorKind.BAD_REQUEST, message)


def upstream(message: str) -> Err:
    """The provider answered with something unusable (502)."""
    return failure(ErrorKind.UPSTREAM_ERROR, message)


def internal(message: str) -> Err:
    """The adapter itself failed (500)."""
    return failure(ErrorKind.INTERNAL, message)


def reported(method: F) -> F:
    """Turns an unexpected exception in an adapter method into an `internal` provider error.

    An exception that escapes an export traps the instance; the host contains that, but the
    client then sees a generic adapter failure instead of the reason.
    """

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Err:
            raise
        except Exception as e:  # noqa: BLE001 - every other exception becomes an error value
            raise internal(f"{type(e).__name__}: {e}") from None

    return wrapper  # type: ignore[return-value]


def snippet(body: bytes, limit: int = 512) -> str:
    """A printable, bounded excerpt of a body for error messages."""
    text = body.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else text[:limit] + "..."


def from_http(status: int, headers: List[Tuple[str, str]], body: bytes) -> Err:
    """The error for a non-2xx upstream answer."""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = None
    message, code = _error_fields(parsed) if parsed is not None else (None, None)
    if message is None:
        message = snippet(body) or f"the provider answered HTTP {status}"
    return failure(
        _kind_for(status, message, code),
        message,
        status=status,
        retry_after_ms=_retry_after_ms(headers),
        provider_code=code,
        headers=passed_on(headers),
    )


# Headers about the connection or the body, which mean nothing past this hop.
_HOP_HEADERS = {
    "connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding",
    "content-type", "set-cookie", "date", "server", "vary", "alt-svc", "via",
}


def passed_on(headers: List[Tuple[str, str]]) -> List[Tuple[str, str]]:
    """The response headers an adapter passes on to the host (the host decides which reach the
    client)."""
    return [(k, v) for k, v in headers if k.lower() not in _HOP_HEADERS]


def _error_fields(value: Any) -> Tuple[Optional[str], Optional[str]]:
    err = value.get("error", value) if isinstance(value, dict) else value
    if isinstance(err, str):
        return err, None
    if not isinstance(err, dict):
        return None, None

    def text(key: str) -> Optional[str]:
        v = err.get(key)
        if isinstance(v, bool):
            return None
        if isinstance(v, (str, int, float)):
            return str(v)
        return None

    return text("message") or text("detail"), text("code") or text("type")


_CONTEXT_WINDOW = (
    "context length",
    "context window",
    "maximum context",
    "prompt is too long",
    "too many tokens",
)


def _kind_for(status: int, message: str, code: Optional[str]) -> ErrorKind:
    lower = message.lower()
    code = (code or "").lower()
    context_window = "context_length" in code or any(p in lower for p in _CONTEXT_WINDOW)
    content_policy = (
        "content_policy" in code
        or "content_filter" in code
        or "content management policy" in lower
        or "content policy" in lower
    )
    if status in (400, 413, 422) and context_window:
        return ErrorKind.CONTEXT_WINDOW_EXCEEDED
    if status in (400, 422) and content_policy:
        return ErrorKind.CONTENT_POLICY
    fixed = {
        401: ErrorKind.AUTHENTICATION,
        403: ErrorKind.PERMISSION_DENIED,
        404: ErrorKind.NOT_FOUND,
        408: ErrorKind.TIMEOUT,
        504: ErrorKind.TIMEOUT,
        429: ErrorKind.RATE_LIMITED,
        503: ErrorKind.UNAVAILABLE,
        529: ErrorKind.UNAVAILABLE,
    }
    if status in fixed:
        return fixed[status]
    if 500 <= status <= 599:
        return ErrorKind.UPSTREAM_ERROR
    return ErrorKind.BAD_REQUEST


def _retry_after_ms(headers: List[Tuple[str, str]]) -> Optional[int]:
    def get(name: str) -> Optional[str]:
        for k, v in headers:
            if k.lower() == name:
                return v.strip()
        return None

    ms = get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms)
            return int(value) if value >= 0 and value != float("inf") else None
        except ValueError:
            pass
    seconds = get("retry-after")
    if seconds is None:
        return None
    try:
        value = float(seconds)
        return int(value * 1000) if value >= 0 and value != float("inf") else None
    except ValueError:
        pass
    try:
        at = parsedate_to_datetime(seconds).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0, int(at - time.time())) * 1000


_UNREACHABLE_WORDS = {
    "DestinationNotFound": "no such host",
    "DestinationUnavailable": "the host is unavailable",
    "DestinationIpUnroutable": "no route to its address",
    "ConnectionRefused": "the connection was refused",
    "ConnectionTerminated": "the connection was closed early",
    "ConnectionLimitReached": "too many connections",
    "TlsProtocolError": "the TLS handshake failed",
    "TlsCertificateError": "its TLS certificate is not trusted",
    "TlsAlertReceived": "it sent a TLS alert",
    "DnsError": "the DNS lookup failed",
}

_TIMEOUT_WORDS = {
    "DnsTimeout": "the DNS lookup timed out",
    "ConnectionTimeout": "connecting timed out",
    "ConnectionReadTimeout": "it stopped sending",
    "ConnectionWriteTimeout": "it stopped reading the request",
    "HttpResponseTimeout": "no response head",
}


def from_error_code(code: http.ErrorCode, host: str = "the provider") -> Err:
    """The error for a `wasi:http` error code (a refused, failed or timed-out request to `host`),
    in words: which host, what went wrong."""
    name = type(code).__name__.removeprefix("ErrorCode_")
    if isinstance(code, http.ErrorCode_HttpRequestDenied):
        return internal(
            f"the host refused the request to {host}: it is not on the adapter's allow-list, "
            "or it carried the sealed credential where the credential may not go"
        )
    if isinstance(code, http.ErrorCode_DestinationIpProhibited):
        return internal(
            f"the host refused to connect to {host}: it resolves to a private or local address"
        )
    if name in _TIMEOUT_WORDS:
        return failure(ErrorKind.TIMEOUT, f"{host} did not answer in time ({_TIMEOUT_WORDS[name]})")
    if name in _UNREACHABLE_WORDS:
        return failure(ErrorKind.UNAVAILABLE, f"could not reach {host}: {_UNREACHABLE_WORDS[name]}")
    if isinstance(code, http.ErrorCode_HttpResponseBodySize):
        return upstream(f"{host} sent a response body larger than the limit")
    return upstream(f"talking to {host} failed (HTTP protocol error)")
