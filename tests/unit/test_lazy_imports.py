"""The embedded default loads no vendor SDK it does not use (issue 18: a lighter idle process).

Each case runs a fresh interpreter that builds the container and the listeners from the given settings,
sends requests through the HTTP app in-process (no sockets), and prints the top-level packages in
``sys.modules``. The SDKs of unconfigured backends cost about 50 MB of RSS and seconds of start-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The SDKs that only a configuration needs: Bedrock, Azure/OpenAI through the SDK, Redis, PostgreSQL,
# OpenTelemetry's SDK and exporter (the API stays: the telemetry layer asks it for the current span),
# and the MCP SDK (only /mcp or MCP_SERVERS).
VENDOR_MODULES = (
    "aioboto3",
    "aiobotocore",
    "boto3",
    "botocore",
    "openai",
    "opentelemetry.sdk",
    "opentelemetry.exporter",
    "psycopg",
    "psycopg_pool",
    "redis",
    "mcp",
)

_PROBE = r"""
import asyncio, json, sys
from entrypoints.bootstrap.container import build_container, open_container, close_container
from entrypoints.config import load_settings
from entrypoints.listeners import build_listeners

async def call(app, method, path, body=b""):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = []
    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])
    await app(scope, receive, send)
    return status[0]

async def main():
    settings = load_settings([])
    container = build_container(settings)
    await open_container(container)
    listeners = build_listeners(container, settings)
    app = listeners[0].server.config.app
    answers = {}
    for method, path, body in json.loads(sys.argv[1]):
        answers[f"{method} {path}"] = await call(app, method, path, body.encode())
    await close_container(container)
    print(json.dumps({"answers": answers, "modules": sorted(sys.modules)}))

asyncio.run(main())
"""

_REQUESTS = [
    ("GET", "/health", ""),
    ("GET", "/api/v1/models", ""),
    ("GET", "/api/v1/status", ""),
    ("POST", "/api/v1/generate", json.dumps({"prompt": "hello"})),
    ("POST", "/api/v1/generate", json.dumps({"prompt": "hello"})),  # the cached answer
    ("POST", "/api/v1/generate/stream", json.dumps({"prompt": "hello", "useCache": False})),
    ("POST", "/v1/chat/completions", json.dumps({"model": "mock-1", "messages": [{"role": "user", "content": "hi"}]})),
    ("GET", "/metrics", ""),
]


def _probe(env: dict[str, str]) -> tuple[dict[str, int], set[str]]:
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(_REQUESTS)],
        env={**clean, "HTTP_PORT": "8000", "WS_PORT": "0", "GRPC_PORT": "0", "LOG_LEVEL": "error", **env},
        cwd=REPO / "tests",  # not the repository root: no developer's .env is read
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return found["answers"], set(found["modules"])


def _loaded(modules: set[str], name: str) -> bool:
    return name in modules or any(module.startswith(name + ".") for module in modules)


def test_the_embedded_default_answers_without_loading_any_vendor_sdk() -> None:
    answers, modules = _probe({})
    assert set(answers.values()) == {200}, answers
    loaded = [name for name in VENDOR_MODULES if _loaded(modules, name)]
    assert loaded == [], f"the embedded default imported {loaded}"


def test_the_lean_upstream_client_does_not_load_the_openai_sdk() -> None:
    # Azure and an OpenAI-compatible upstream through UPSTREAM_CLIENT=fast (the default): only the SDK path
    # (UPSTREAM_CLIENT=sdk) needs the openai package, about 20 MB once everything else is loaded.
    answers, modules = _probe(
        {
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "OPENAI_MODELS": "m1",
            "AZURE_ENDPOINT": "http://127.0.0.1:9",
            "AZURE_API_KEY": "k",
        }
    )
    # The default provider (Azure) is not listening: the failure is mapped without the SDK too.
    assert answers["POST /api/v1/generate"] == 503, answers
    assert not _loaded(modules, "openai")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_MODELS": "m1", "UPSTREAM_CLIENT": "sdk"}, "openai"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, "opentelemetry.sdk"),
    ],
)
def test_a_configured_backend_loads_its_sdk(env: dict[str, str], expected: str) -> None:
    # The probe itself can tell: the same check fails when the configuration does use the SDK.
    _answers, modules = _probe(env)
    assert _loaded(modules, expected)
