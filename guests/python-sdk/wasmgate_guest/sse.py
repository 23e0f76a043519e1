"""An incremental Server-Sent Events parser (the WHATWG event-stream format).

Feed it bytes as they arrive; it yields complete events. Lines may end in CRLF, LF or CR, also
split across reads; a leading BOM is skipped; comments are ignored; an event without a final
blank line is not dispatched. Pure Python: it does not import the bindings, so it is tested on
the host as well.
"""

from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class Event:
    """One dispatched event."""

    data: str
    event: str = "message"
    id: Optional[str] = None
    retry: Optional[int] = None

    def is_done(self) -> bool:
        """OpenAI's end-of-stream marker `data: [DONE]`."""
        return self.data.strip() == "[DONE]"


@dataclass
class Parser:
    """Accumulates bytes and hands out the events they complete."""

    _buffer: bytearray = field(default_factory=bytearray)
    _data: List[str] = field(default_factory=list)
    _event: str = ""
    _id: Optional[str] = None
    _retry: Optional[int] = None
    _started: bool = False
    _pending_cr: bool = False

    def feed(self, chunk: bytes) -> List[Event]:
        """Adds `chunk` and returns the events completed by it, in order."""
        self._buffer += chunk
        if not self._started:
            if len(self._buffer) < 3 and b"\xef\xbb\xbf".startswith(bytes(self._buffer)):
                return []
            if self._buffer.startswith(b"\xef\xbb\xbf"):
                del self._buffer[:3]
            self._started = True
        events: List[Event] = []
        start = 0
        buf = self._buffer
        i = 0
        while i < len(buf):
            byte = buf[i]
            if self._pending_cr:
                self._pending_cr = False
                if byte == 0x0A and i == start:
                    start = i + 1
                    i += 1
                    continue
            if byte == 0x0A or byte == 0x0D:
                self._line(bytes(buf[start:i]).decode("utf-8", "replace"), events)
                if byte == 0x0D:
                    if i + 1 < len(buf):
                        if buf[i + 1] == 0x0A:
                            i += 1
                    else:
                        self._pending_cr = True
                start = i + 1
            i += 1
        del buf[:start]
        return events

    def _line(self, line: str, events: List[Event]) -> None:
        if line == "":
            if self._data:
                events.append(
                    Event(
                        data="\n".join(self._data),
                        event=self._event or "message",
                        id=self._id,
                        retry=self._retry,
                    )
                )
            self._data = []
            self._event = ""
            return
        if line.startswith(":"):
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry":
            if value.isdigit():
                self._retry = int(value)
