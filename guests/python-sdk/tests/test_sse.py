"""Host tests of the SSE parser (pure Python): `python3 -m unittest discover guests/python-sdk/tests`."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "wasmgate_guest"))

from sse import Parser  # noqa: E402

STREAM = b'\xef\xbb\xbf: comment\r\ndata: {"a":1}\r\n\r\nevent: ping\ndata: x\ndata: y\nid: 7\nretry: 30\n\ndata: [DONE]\r\rdata: partial'


def events(pieces):
    parser = Parser()
    out = []
    for piece in pieces:
        out.extend(parser.feed(piece))
    return [(e.event, e.data, e.id, e.retry) for e in out]


class SseTest(unittest.TestCase):
    def test_whole_split_and_byte_by_byte_agree(self):
        whole = events([STREAM])
        self.assertEqual(
            whole,
            [("message", '{"a":1}', None, None), ("ping", "x\ny", "7", 30), ("message", "[DONE]", "7", 30)],
        )
        for cut in range(len(STREAM) + 1):
            self.assertEqual(events([STREAM[:cut], STREAM[cut:]]), whole, cut)
        self.assertEqual(events([bytes([b]) for b in STREAM]), whole)

    def test_done_marker(self):
        parser = Parser()
        (event,) = parser.feed(b"data: [DONE]\n\n")
        self.assertTrue(event.is_done())


if __name__ == "__main__":
    unittest.main()
