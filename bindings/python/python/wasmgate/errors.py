"""The exceptions a call or a load raises, one class per way it can fail.

Every call error is a :class:`WasmgateError` carrying the HTTP ``status_code`` the gateway
would answer with, OpenAI's error ``type``, the provider's ``code`` and, for rate limits,
``retry_after`` in seconds. ``reason`` says what stopped the call: ``provider`` (the
provider's own answer) or one of the sandbox's stops (``cpu_limit``, ``memory_limit``,
``trap``, ``timeout``, ``egress_refused``, ...).
"""

from __future__ import annotations

import builtins
import json
from typing import Optional


class WasmgateError(Exception):
    """Base class of every wasmgate error."""

    status_code: int = 500
    kind: str = "internal"
    reason: str = "provider"

    def __init__(
        self,
        message: str,
        *,
        status_code: Optional[int] = None,
        kind: Optional[str] = None,
        reason: Optional[str] = None,
        type: Optional[str] = None,
        code: Optional[str] = None,
        param: Optional[str] = None,
        retry_after: Optional[float] = None,
    ):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if kind is not None:
            self.kind = kind
        if reason is not None:
            self.reason = reason
        self.type = type
        self.code = code
        self.param = param
        self.retry_after = retry_after


class LoadError(WasmgateError):
    """The adapter could not be loaded: unreadable, not a component, a pinned hash that does
    not match, imports it may not have, or an invalid policy."""


class BadRequestError(WasmgateError):
    """400: the request is invalid, for wasmgate or for the provider."""

    status_code = 400
    kind = "bad_request"


class ContextWindowExceededError(BadRequestError):
    """400: the prompt is longer than the model accepts."""

    kind = "context_window_exceeded"


class ContentPolicyError(BadRequestError):
    """400: the provider refused the content."""

    kind = "content_policy"


class AuthenticationError(WasmgateError):
    """401: the credential is missing or wrong."""

    status_code = 401
    kind = "authentication"


class PermissionDeniedError(WasmgateError):
    """403: the credential may not do this."""

    status_code = 403
    kind = "permission_denied"


class NotFoundError(WasmgateError):
    """404: unknown model or endpoint."""

    status_code = 404
    kind = "not_found"


class RateLimitError(WasmgateError):
    """429: slow down; ``retry_after`` says for how long when the provider said."""

    status_code = 429
    kind = "rate_limited"


class TimeoutError(WasmgateError, builtins.TimeoutError):
    """The provider, or the adapter, did not answer in time."""

    status_code = 408
    kind = "timeout"


class UnavailableError(WasmgateError):
    """503: the provider is down or overloaded, or the adapter is at its concurrency limit."""

    status_code = 503
    kind = "unavailable"


class UpstreamError(WasmgateError):
    """502: the provider answered with something unusable."""

    status_code = 502
    kind = "upstream_error"


class AdapterError(WasmgateError):
    """500: the adapter misbehaved and the sandbox stopped it. The process, the runtime and
    every other call are unaffected."""

    status_code = 500
    kind = "internal"


class ResourceLimitError(AdapterError):
    """The adapter went over its CPU, memory or output limit."""


class EgressRefusedError(AdapterError):
    """The adapter tried to reach a host its policy does not allow."""


_BY_REASON = {
    "cpu_limit": ResourceLimitError,
    "memory_limit": ResourceLimitError,
    "output_too_large": ResourceLimitError,
    "trap": AdapterError,
    "egress_refused": EgressRefusedError,
    "timeout": TimeoutError,
    "overloaded": UnavailableError,
    "invalid_request": BadRequestError,
    "invalid_call": BadRequestError,
    "unsupported": BadRequestError,
    "credential": AuthenticationError,
}

_BY_KIND = {
    "bad_request": BadRequestError,
    "context_window_exceeded": ContextWindowExceededError,
    "content_policy": ContentPolicyError,
    "authentication": AuthenticationError,
    "permission_denied": PermissionDeniedError,
    "not_found": NotFoundError,
    "rate_limited": RateLimitError,
    "timeout": TimeoutError,
    "unavailable": UnavailableError,
    "upstream_error": UpstreamError,
    "internal": AdapterError,
}


def from_native(error: Exception) -> WasmgateError:
    """The typed exception for the native module's ``CallFailed`` (whose argument is JSON)."""
    fields = json.loads(error.args[0])
    reason = fields.get("reason", "provider")
    cls = _BY_REASON.get(reason) or _BY_KIND.get(fields.get("kind"), WasmgateError)
    return cls(
        fields.get("message") or "the call failed",
        status_code=fields.get("status"),
        kind=fields.get("kind"),
        reason=reason,
        type=fields.get("type"),
        code=fields.get("code"),
        param=fields.get("param"),
        retry_after=fields.get("retry_after"),
    )
