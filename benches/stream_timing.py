"""Streaming timings for benches/run.sh (standard library only).

ttfb HOST PORT MODEL N: p50/p99 time to first body byte and to the last byte over N streamed chat
requests on one keep-alive connection, in microseconds.
paced HOST PORT MODEL: arrival time of each SSE event of one streamed request, in microseconds
since the request was sent, one per line.
"""
import http.client
import json
import sys
import time


def body(model):
    return json.dumps({"model": model, "stream": True, "messages": [{"role": "user", "content": "Hi"}]})


def stream_once(conn, model, on_event=None):
    start = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body=body(model), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200, resp.status
    first = None
    buf = b""
    while True:
        chunk = resp.read1(65536)
        if not chunk:
            break
        now = time.perf_counter()
        if first is None:
            first = now
        buf += chunk
        while b"\n\n" in buf:
            _, buf = buf.split(b"\n\n", 1)
            if on_event:
                on_event((now - start) * 1e6)
    return (first - start) * 1e6, (time.perf_counter() - start) * 1e6


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main():
    mode, host, port, model = sys.argv[1:5]
    conn = http.client.HTTPConnection(host, int(port))
    if mode == "ttfb":
        n = int(sys.argv[5])
        stream_once(conn, model)
        ttfb, ttlb = [], []
        for _ in range(n):
            a, b = stream_once(conn, model)
            ttfb.append(a)
            ttlb.append(b)
        print(f"{pct(ttfb, 0.5):.0f} {pct(ttfb, 0.99):.0f} {pct(ttlb, 0.5):.0f} {pct(ttlb, 0.99):.0f}")
    elif mode == "paced":
        events = []
        stream_once(conn, model, events.append)
        print("\n".join(f"{e:.0f}" for e in events))


main()
