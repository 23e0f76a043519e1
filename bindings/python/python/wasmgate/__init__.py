"""wasmgate for Python: LLM provider adapters that run as sandboxed WebAssembly components.

>>> import wasmgate
>>> adapter = wasmgate.Adapter.load("acme.wasm", allowed_hosts=["https://api.acme.ai"])
>>> key = wasmgate.Credential.from_env("ACME_API_KEY")
>>> adapter.chat(model="acme-1", messages=[{"role": "user", "content": "Hi"}],
...              api_base="https://api.acme.ai/v1", credential=key)

The adapter never sees the key (only a placeholder the host swaps on the way out), reaches no
host but the call's ``api_base`` and its policy's ``allowed_hosts``, and runs under CPU, memory
and time limits in a fresh instance per call. ``wasmgate.litellm`` serves adapters to LiteLLM.
"""

from . import _native
from ._native import BUILTIN_ADAPTERS, CONTRACT_VERSION, Credential, Runtime
from .adapter import Adapter, AsyncChatStream, ChatStream, default_runtime
from .errors import (
    AdapterError,
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    ContextWindowExceededError,
    EgressRefusedError,
    LoadError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResourceLimitError,
    TimeoutError,
    UnavailableError,
    UpstreamError,
    WasmgateError,
)
from .policy import Policy

__all__ = [
    "Adapter",
    "AdapterError",
    "AsyncChatStream",
    "AuthenticationError",
    "BadRequestError",
    "BUILTIN_ADAPTERS",
    "ChatStream",
    "CONTRACT_VERSION",
    "ContentPolicyError",
    "ContextWindowExceededError",
    "Credential",
    "default_runtime",
    "EgressRefusedError",
    "LoadError",
    "NotFoundError",
    "PermissionDeniedError",
    "Policy",
    "RateLimitError",
    "ResourceLimitError",
    "Runtime",
    "TimeoutError",
    "UnavailableError",
    "UpstreamError",
    "WasmgateError",
]
