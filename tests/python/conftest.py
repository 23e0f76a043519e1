"""Fixtures of the Python suite: a loopback OpenAI-compatible upstream (the project's
`wasmgate-upstream` process) and the adapters under test, built by `run.sh`."""

import os
import selectors
import subprocess
from pathlib import Path

import pytest

import wasmgate

ROOT = Path(__file__).resolve().parents[2]
GUESTS = ROOT / "target" / "guests"


def component(name: str) -> Path:
    """A built component: `hostile` (Rust guests) or `python-example` (componentize-py)."""
    for path in (GUESTS / "wasm32-wasip2" / "release" / f"wasmgate_{name}.wasm", GUESTS / f"{name}.wasm"):
        if path.exists():
            return path
    raise FileNotFoundError(f"no component {name} under {GUESTS}; run tests/python/run.sh")


@pytest.fixture(scope="session")
def upstream() -> str:
    """The base URL (`http://127.0.0.1:PORT/v1`) of a fresh loopback upstream."""
    binary = ROOT / "target" / "debug" / "wasmgate-upstream"
    process = subprocess.Popen([str(binary), "0"], stdout=subprocess.PIPE, text=True)
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    if not selector.select(timeout=30):
        process.kill()
        raise RuntimeError("wasmgate-upstream did not start within 30 s")
    origin = process.stdout.readline().split()[-1]
    yield f"{origin}/v1"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def openai_adapter() -> wasmgate.Adapter:
    """The built-in `openai` adapter."""
    return wasmgate.Adapter.builtin("openai")


@pytest.fixture(scope="session")
def python_adapter() -> wasmgate.Adapter:
    """The Python example adapter (componentize-py), loaded from its file."""
    return wasmgate.Adapter.load(component("python-example"), cpu_ms=2000)


@pytest.fixture(scope="session")
def hostile_path() -> Path:
    """The adapter that attacks its host (for the sandbox tests only)."""
    return component("hostile")


def pytest_configure(config):
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
