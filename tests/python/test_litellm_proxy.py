"""The LiteLLM proxy serving a sandboxed adapter from its own config.yaml: `custom_provider_map`
names a `WasmProvider` in a module beside the config, and clients talk to the proxy as usual."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

HANDLER = '''
from wasmgate.litellm import WasmProvider

acme = WasmProvider("openai")
'''

CONFIG = """
model_list:
  - model_name: acme-chat
    litellm_params:
      model: acme/gpt-4o-mini
      api_base: {upstream}
      api_key: sk-proxy-test
  - model_name: acme-unauthorized
    litellm_params:
      model: acme/error-401
      api_base: {upstream}
      api_key: sk-proxy-test
litellm_settings:
  custom_provider_map:
    - provider: acme
      custom_handler: wasm_handlers.acme
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream):
    """A LiteLLM proxy process on loopback, its config naming the wasm handler."""
    folder = tmp_path_factory.mktemp("proxy")
    (folder / "wasm_handlers.py").write_text(HANDLER)
    (folder / "config.yaml").write_text(CONFIG.format(upstream=upstream))
    port = free_port()
    env = dict(
        os.environ,
        PYTHONPATH=str(folder),
        LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY="true",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_LOG="ERROR",
    )
    log = open(folder / "proxy.log", "w")
    litellm_cli = Path(sys.executable).parent / "litellm"
    process = subprocess.Popen(
        [str(litellm_cli), "--config", "config.yaml", "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the proxy exited: {(folder / 'proxy.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/health/liveliness", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the proxy did not start in 120 s: {(folder / 'proxy.log').read_text()[-3000:]}")
            time.sleep(0.25)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


HELLO = {"model": "acme-chat", "messages": [{"role": "user", "content": "Hello"}]}


def test_the_proxy_answers_through_the_adapter(proxy):
    reply = httpx.post(f"{proxy}/v1/chat/completions", json=HELLO, timeout=60)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["choices"][0]["message"]["content"] == "Hello from upstream"
    assert body["usage"]["total_tokens"] == 12


def test_the_proxy_streams_through_the_adapter(proxy):
    text = ""
    with httpx.stream("POST", f"{proxy}/v1/chat/completions", json={**HELLO, "stream": True}, timeout=60) as reply:
        assert reply.status_code == 200
        for line in reply.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunk = json.loads(line[len("data: "):])
                text += "".join(c["delta"].get("content") or "" for c in chunk["choices"])
    assert text == "Hello from upstream"


def test_a_provider_error_keeps_its_status_through_the_proxy(proxy):
    reply = httpx.post(f"{proxy}/v1/chat/completions", json={**HELLO, "model": "acme-unauthorized"}, timeout=60)
    assert reply.status_code == 401, reply.text
    assert "sk-proxy-test" not in reply.text
