"""Streaming timings for benches/run.sh (standard library only).

ttfb HOST PORT MODEL N: p50/p99 time to first body byte and to the last byte over N streamed chat
requests on one keep-alive connection, in microseconds.
paced HOST PORT MODEL: for each chunk of one streamed request whose content carries the upstream's
send time (`...@<unix microseconds>`, the upstream's `paced-50` model), the time from the upstream
sending it to this client reading it, in microseconds, one per line.
"""
import http.client
import json
import sys
import time


def send_delay_us(event):
    """Microseconds since the upstream stamped this SSE event, or None if it carries no stamp."""
    now = time.time_ns() // 1000
    for line in event.split(b"\n"):
        if line.startswith(b"data: {"):
            choices = json.loads(line[6:]).get("choices") or [{}]
            content = (choices[0].get("delta") or {}).get("content") or ""
            if "@" in content:
                return now - int(content.rsplit("@", 1)[1])
    return None


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
            event, buf = buf.split(b"\n\n", 1)
            if on_event:
                on_event(event)
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
        delays = []
        stream_once(conn, model, lambda event: delays.append(send_delay_us(event)))
        print("\n".join(str(d) for d in delays if d is not None))


main()
