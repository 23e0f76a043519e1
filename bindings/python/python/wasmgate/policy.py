"""What an adapter may do: the same keys as an ``adapters:`` entry of the gateway's config."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional, Sequence


@dataclass(frozen=True)
class Policy:
    """The sandbox an adapter runs in.

    ``allowed_hosts`` are the origins the adapter may reach besides each call's ``api_base``
    (``https://api.acme.ai``, ``*.acme.ai``); nothing else is reachable, and private addresses
    only with ``allow_private_networks``. The credential goes only to ``credential_hosts``
    (default: the call's ``api_base`` and the allowed hosts) and only on the requests
    ``credential_uses`` names (``"POST /v1/chat/completions"``; default: what the adapter
    declares). Limits apply per call; ``None`` keeps the runtime's default.
    """

    allowed_hosts: Sequence[str] = field(default_factory=tuple)
    credential_hosts: Optional[Sequence[str]] = None
    allow_private_networks: bool = False
    raw_credentials: bool = False
    credential_uses: Optional[Sequence[str]] = None
    memory_mb: Optional[int] = None
    cpu_ms: Optional[int] = None
    timeout_s: Optional[float] = None
    stream_next_timeout_s: Optional[float] = None
    stream_timeout_s: Optional[float] = None
    max_concurrency: Optional[int] = None
    queue_timeout_ms: Optional[int] = None
    max_response_mb: Optional[int] = None
    max_requests_per_call: Optional[int] = None

    _LIMITS = (
        "memory_mb",
        "cpu_ms",
        "timeout_s",
        "stream_next_timeout_s",
        "stream_timeout_s",
        "max_concurrency",
        "queue_timeout_ms",
        "max_response_mb",
        "max_requests_per_call",
    )

    def to_json(self) -> str:
        """The policy as the native loader reads it."""
        if isinstance(self.allowed_hosts, str):
            raise TypeError("allowed_hosts must be a list of origins, not one string")
        out = {
            "allowed_hosts": list(self.allowed_hosts),
            "allow_private_networks": self.allow_private_networks,
            "raw_credentials": self.raw_credentials,
        }
        if self.credential_hosts is not None:
            out["credential_hosts"] = list(self.credential_hosts)
        if self.credential_uses is not None:
            out["credential_uses"] = list(self.credential_uses)
        limits = {k: getattr(self, k) for k in self._LIMITS if getattr(self, k) is not None}
        if limits:
            out["limits"] = limits
        return json.dumps(out)
