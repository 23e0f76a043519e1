"""Request URLs from an API base: encoded path segments, literal suffixes, encoded queries.

Pure Python, tested on the host.
"""

from typing import List, Tuple

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def encode(text: str) -> str:
    """Percent-encodes everything but RFC 3986's unreserved characters (UTF-8 bytes)."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


class UrlBuilder:
    """`UrlBuilder(base).segment("model").segment(model_id).raw(":x").query("k", "v").build()`."""

    def __init__(self, base: str) -> None:
        path, _, query = base.partition("?")
        self._url = path.rstrip("/")
        self._query: List[Tuple[str, str]] = [
            tuple(p.split("=", 1)) if "=" in p else (p, "") for p in query.split("&") if p
        ]

    def segment(self, segment: str) -> "UrlBuilder":
        """Appends `/` and `segment`, encoded (a model id with `:` or `/` stays one segment)."""
        self._url += "/" + encode(segment)
        return self

    def raw(self, text: str) -> "UrlBuilder":
        """Appends `text` as written (e.g. Gemini's `:streamGenerateContent`)."""
        self._url += text
        return self

    def query(self, name: str, value: str) -> "UrlBuilder":
        """Adds `name=value`, both encoded."""
        self._query.append((encode(name), encode(value)))
        return self

    def build(self) -> str:
        """The URL."""
        if not self._query:
            return self._url
        return self._url + "?" + "&".join(f"{k}={v}" for k, v in self._query)
