#!/usr/bin/env python3
"""End-to-end test of this adapter: a fake OpenAI-compatible upstream on 127.0.0.1, the adapter
served by a real `wasmgate serve`, and chat, streaming and embeddings requests through it.

Usage: python3 test_adapter.py [build/ADAPTER.wasm]
The gateway binary is `wasmgate` on PATH, or the path in $WASMGATE. Standard library only.
"""

import glob
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = "sk-adapter-test-key"
WORDS = ["Hello", " from", " upstream"]
seen_authorization = []


class FakeUpstream(BaseHTTPRequestHandler):
    """Answers /v1/chat/completions (JSON or SSE) and /v1/embeddings like OpenAI does."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        seen_authorization.append(self.headers.get("authorization"))
        if self.path.endswith("/embeddings"):
            data = [{"object": "embedding", "index": i, "embedding": [float(i), 0.5]} for i, _ in enumerate(body["input"])]
            return self.reply({"object": "list", "model": body["model"], "data": data, "usage": {"prompt_tokens": 2, "total_tokens": 2}})
        if not body.get("stream"):
            return self.reply({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(WORDS)}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
            })
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        deltas = [{"role": "assistant", "content": ""}] + [{"content": w} for w in WORDS] + [{}]
        for i, delta in enumerate(deltas):
            chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": body["model"],
                     "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if i == len(deltas) - 1 else None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def reply(self, value):
        data = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, value):
    request = urllib.request.Request(url, json.dumps(value).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read().decode()


def main():
    wasm = sys.argv[1] if len(sys.argv) > 1 else (glob.glob("build/*.wasm") or [""])[0]
    if not os.path.isfile(wasm):
        sys.exit("no adapter: run ./build.sh first, or pass the .wasm path")
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), FakeUpstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    config = f"""adapters:
- name: under-test
  path: {os.path.abspath(wasm)}
model_list:
- model_name: test
  litellm_params:
    model: under-test/test-model
    api_base: http://127.0.0.1:{upstream.server_address[1]}/v1
    api_key: {KEY}
"""
    with tempfile.TemporaryDirectory() as tmp:
        config_path = os.path.join(tmp, "config.yaml")
        with open(config_path, "w") as f:
            f.write(config)
        gateway = subprocess.Popen(
            [os.environ.get("WASMGATE", "wasmgate"), "serve", "--config", config_path, "--port", str(port),
             "--cache-dir", ".wasmgate-cache"])
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 180
            while True:
                try:
                    urllib.request.urlopen(base + "/health/liveliness", timeout=2).read()
                    break
                except OSError:
                    if gateway.poll() is not None or time.monotonic() > deadline:
                        sys.exit("the gateway did not start")
                    time.sleep(0.2)
            messages = [{"role": "user", "content": "Hi"}]
            answer = json.loads(post(base + "/v1/chat/completions", {"model": "test", "messages": messages}))
            assert answer["choices"][0]["message"]["content"] == "Hello from upstream", answer
            assert answer["usage"]["total_tokens"] == 8, answer
            stream = post(base + "/v1/chat/completions", {"model": "test", "messages": messages, "stream": True})
            events = [line[6:] for line in stream.split("\n") if line.startswith("data: ")]
            assert events[-1] == "[DONE]", stream
            text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1])
            assert text == "Hello from upstream", stream
            vectors = json.loads(post(base + "/v1/embeddings", {"model": "test", "input": ["a", "b"]}))
            assert [d["embedding"] for d in vectors["data"]] == [[0.0, 0.5], [1.0, 0.5]], vectors
            assert seen_authorization and all(a == f"Bearer {KEY}" for a in seen_authorization), seen_authorization
            print("ok: chat, streaming and embeddings through wasmgate")
        finally:
            gateway.terminate()
            gateway.wait(timeout=30)
            upstream.shutdown()


if __name__ == "__main__":
    main()
