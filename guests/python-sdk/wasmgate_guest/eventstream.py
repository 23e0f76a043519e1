"""AWS event-stream framing (`application/vnd.amazon.eventstream`, Bedrock's streams).

Each message: a 12-byte prelude (total length, headers length, CRC32 of both), typed headers,
the payload, and a CRC32 of everything before it. Both checksums are verified (zlib's CRC32);
messages may be split across reads or share one. Pure Python, tested on the host.
"""

import json
import struct
import uuid
import zlib
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

MAX_MESSAGE = 16 << 20
_PRELUDE = 12


class EventStreamError(ValueError):
    """A malformed frame or a checksum mismatch; the stream cannot continue after one."""


@dataclass
class Message:
    """One decoded message: headers in the order sent, and the payload bytes."""

    headers: List[Tuple[str, Any]]
    payload: bytes

    def header(self, name: str) -> Optional[Any]:
        """A header's value."""
        return next((v for n, v in self.headers if n == name), None)

    def message_type(self) -> Optional[str]:
        """`:message-type`: `event`, `exception` or `error`."""
        return self.header(":message-type")

    def event_type(self) -> Optional[str]:
        """`:event-type`, or `:exception-type` for exceptions."""
        return self.header(":event-type") or self.header(":exception-type")

    def json(self) -> Any:
        """The payload as JSON."""
        return json.loads(self.payload)


def _decode(frame: bytes) -> Message:
    total, headers_len, prelude_crc = struct.unpack(">III", frame[:_PRELUDE])
    if zlib.crc32(frame[:8]) != prelude_crc:
        raise EventStreamError("prelude checksum mismatch")
    if zlib.crc32(frame[:-4]) != struct.unpack(">I", frame[-4:])[0]:
        raise EventStreamError("message checksum mismatch")
    if _PRELUDE + headers_len > total - 4:
        raise EventStreamError("headers longer than the message")
    raw = frame[_PRELUDE:_PRELUDE + headers_len]
    headers: List[Tuple[str, Any]] = []
    at = 0

    def take(n: int) -> bytes:
        nonlocal at
        if at + n > len(raw):
            raise EventStreamError("a header runs past the headers")
        piece = raw[at:at + n]
        at += n
        return piece

    while at < len(raw):
        name = take(take(1)[0]).decode("utf-8")
        tag = take(1)[0]
        if tag in (0, 1):
            value: Any = tag == 0
        elif tag in (2, 3, 4, 5, 8):
            size = {2: 1, 3: 2, 4: 4, 5: 8, 8: 8}[tag]
            value = int.from_bytes(take(size), "big", signed=True)
        elif tag in (6, 7):
            data = take(struct.unpack(">H", take(2))[0])
            value = data if tag == 6 else data.decode("utf-8")
        elif tag == 9:
            value = uuid.UUID(bytes=take(16))
        else:
            raise EventStreamError(f"unknown header type {tag}")
        headers.append((name, value))
    return Message(headers, frame[_PRELUDE + headers_len:-4])


class Parser:
    """Accumulates bytes and hands out the messages they complete."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> List[Message]:
        """Adds `chunk` and returns the messages it completes, in order."""
        self._buffer += chunk
        out = []
        while len(self._buffer) >= _PRELUDE:
            total = struct.unpack(">I", self._buffer[:4])[0]
            if not 16 <= total <= MAX_MESSAGE:
                raise EventStreamError(f"a message of {total} bytes")
            if zlib.crc32(self._buffer[:8]) != struct.unpack(">I", self._buffer[8:12])[0]:
                raise EventStreamError("prelude checksum mismatch")
            if len(self._buffer) < total:
                break
            frame = bytes(self._buffer[:total])
            del self._buffer[:total]
            out.append(_decode(frame))
        return out

    def has_partial(self) -> bool:
        """Whether bytes of an unfinished message are buffered."""
        return bool(self._buffer)


def encode(headers: List[Tuple[str, str]], payload: bytes) -> bytes:
    """A message with string headers (for tests and fixtures)."""
    head = b"".join(
        bytes([len(n)]) + n.encode() + b"\x07" + struct.pack(">H", len(v.encode())) + v.encode()
        for n, v in headers
    )
    prelude = struct.pack(">II", _PRELUDE + len(head) + len(payload) + 4, len(head))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + payload
    return body + struct.pack(">I", zlib.crc32(body))
