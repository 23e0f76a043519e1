"""Host tests of the NDJSON and AWS event-stream parsers and the URL builder (pure Python)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "wasmgate_guest"))

import eventstream  # noqa: E402
import ndjson  # noqa: E402
from urls import UrlBuilder, encode  # noqa: E402


class NdjsonTest(unittest.TestCase):
    def test_lines_split_across_reads(self):
        stream = b'{"a":1}\r\n\n  \n{"b":2}\n{"c":3}'
        for cut in range(len(stream) + 1):
            parser = ndjson.Parser()
            got = parser.feed(stream[:cut]) + parser.feed(stream[cut:]) + parser.finish()
            self.assertEqual(got, [{"a": 1}, {"b": 2}, {"c": 3}], cut)

    def test_bad_line(self):
        with self.assertRaises(ndjson.NdjsonError):
            ndjson.Parser().feed(b"nope\n")


class EventStreamTest(unittest.TestCase):
    def test_published_empty_message(self):
        frame = bytes.fromhex("000000100000000005c248eb7d98c8ff")
        self.assertEqual(eventstream.encode([], b""), frame)
        (message,) = eventstream.Parser().feed(frame)
        self.assertEqual((message.headers, message.payload), ([], b""))

    def test_split_and_joined_messages(self):
        a = eventstream.encode([(":message-type", "event"), (":event-type", "contentBlockDelta")], b'{"delta":{"text":"Hi"}}')
        b = eventstream.encode([(":message-type", "event"), (":event-type", "messageStop")], b"{}")
        both = a + b
        for cut in range(len(both) + 1):
            parser = eventstream.Parser()
            got = parser.feed(both[:cut]) + parser.feed(both[cut:])
            self.assertEqual([m.event_type() for m in got], ["contentBlockDelta", "messageStop"], cut)
            self.assertEqual(got[0].json()["delta"]["text"], "Hi")
            self.assertFalse(parser.has_partial())

    def test_corruption_is_refused(self):
        frame = bytearray(eventstream.encode([(":message-type", "event")], b"{}"))
        frame[-5] ^= 0xFF
        with self.assertRaisesRegex(eventstream.EventStreamError, "message checksum"):
            eventstream.Parser().feed(bytes(frame))


class UrlTest(unittest.TestCase):
    def test_segments_and_queries(self):
        url = UrlBuilder("https://h/").segment("model").segment("anthropic.claude-v2:1").segment("converse").build()
        self.assertEqual(url, "https://h/model/anthropic.claude-v2%3A1/converse")
        url = UrlBuilder("https://x/v1beta?key=k").segment("models").raw("/g:streamGenerateContent").query("alt", "sse").query("q", "a b&c=d/é").build()
        self.assertEqual(url, "https://x/v1beta/models/g:streamGenerateContent?key=k&alt=sse&q=a%20b%26c%3Dd%2F%C3%A9")
        self.assertEqual(encode("a/b"), "a%2Fb")


if __name__ == "__main__":
    unittest.main()
