"""An incremental newline-delimited JSON parser (Ollama's streams): one JSON value per line.

Lines may end in LF or CRLF, also split across reads; blank lines are skipped; a last line
without a newline counts once `finish` is called; a line longer than `MAX_LINE` is refused.
Pure Python: it does not import the bindings, so it is tested on the host as well.
"""

import json
from typing import Any, List

MAX_LINE = 16 << 20


class NdjsonError(ValueError):
    """A line that is not JSON, or longer than `MAX_LINE`."""


class Parser:
    """Accumulates bytes and hands out the values of the lines they complete."""

    def __init__(self) -> None:
        self._partial = bytearray()

    def feed(self, chunk: bytes) -> List[Any]:
        """Adds `chunk` and returns the values of the lines it completes, in order."""
        self._partial += chunk
        *lines, rest = bytes(self._partial).split(b"\n")
        self._partial = bytearray(rest)
        if len(self._partial) > MAX_LINE:
            raise NdjsonError(f"an NDJSON line is longer than {MAX_LINE} bytes")
        return [v for v in (self._value(line) for line in lines) if v is not _SKIP]

    def finish(self) -> List[Any]:
        """Ends the body: the value of a last line without a newline, if any."""
        line, self._partial = bytes(self._partial), bytearray()
        value = self._value(line)
        return [] if value is _SKIP else [value]

    @staticmethod
    def _value(line: bytes) -> Any:
        line = line.rstrip(b"\r")
        if not line.strip():
            return _SKIP
        try:
            return json.loads(line)
        except ValueError as e:
            raise NdjsonError(f"the upstream sent a line that is not JSON: {e}") from None


_SKIP = object()
