"""Metrics after traffic on every surface, the metrics port, access logs, and OTLP export (docs/api.md#metrics)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
import websockets
from grpclib.client import Channel

from entrypoints.grpc.generated import proto as pb
from tests.support.grpc_calls import call
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.server import REPO_ROOT, ServerProcess, free_port
from tests.support.sse import read_stream

SPEC_METRICS = (
    "mcp_requests_total",
    "mcp_request_duration_seconds",
    "mcp_tokens_used_total",
    "mcp_cache_hits_total",
    "mcp_cache_misses_total",
    "mcp_errors_total",
    "mcp_worker_pool_active_workers",
    "mcp_worker_pool_queue_size",
    "mcp_worker_pool_processed_total",
    "mcp_worker_pool_max_workers",
    "mcp_sessions_active",
    "mcp_sessions_total",
    "mcp_gateway_overhead_seconds",
    "mcp_time_to_first_token_seconds",
)
SECRET = "sk-provider-secret-0123456789"


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    env = {
        "METRICS_PORT": str(free_port()),
        "OPENAI_API_KEY": SECRET,
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "DEFAULT_PROVIDER": "mock",
    }
    with ServerProcess(env, ws=True, grpc=True) as running:
        yield running


def samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for line in exposition.splitlines():
        match = re.match(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
        if match:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            found[(match.group(1), labels)] = float(match.group(3))
    return found


def value(metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


async def traffic(gateway: ServerProcess) -> None:
    """One request on every surface, a repeated one (a cache hit), a session turn and a refusal."""
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=20) as http:
        assert (await http.post("/api/v1/generate", json={"prompt": "metrics one"})).status_code == 200
        assert (await http.post("/api/v1/generate", json={"prompt": "metrics one"})).status_code == 200
        stream = await http.post("/api/v1/generate/stream", json={"prompt": "metrics stream"})
        assert read_stream(stream)[-1]["finished"] is True
        batch = await http.post("/api/v1/generate/batch", json={"requests": [{"prompt": "b1"}, {"prompt": "b2"}]})
        assert batch.json()["succeeded"] == 2
        session = {"X-User-ID": "ana", "X-Session-ID": "metrics-session"}
        assert (await http.post("/api/v1/generate", json={"prompt": "hi"}, headers=session)).status_code == 200
        assert (await http.post("/api/v1/generate", json={"prompt": ""})).status_code == 400
    async with websockets.connect(f"ws://127.0.0.1:{gateway.ws_port}/ws") as socket:
        await socket.send(json.dumps({"prompt": "metrics websocket"}))
        while not json.loads(await socket.recv()).get("finished"):
            pass
    channel = Channel("127.0.0.1", gateway.grpc_port)
    try:
        assert (await call(channel, "Generate", pb.GenerateRequest(prompt="metrics grpc"))).error is None
        assert (await call(channel, "GenerateStream", pb.GenerateRequest(prompt="metrics grpc stream"))).error is None
    finally:
        channel.close()


async def test_after_traffic_on_every_surface_metrics_hold_every_spec_family_with_its_labels(
    gateway: ServerProcess,
) -> None:
    await traffic(gateway)
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        text = (await http.get("/metrics")).text
    for name in SPEC_METRICS:
        assert re.search(rf"^# TYPE {name} ", text, re.MULTILINE), name
    metrics = samples(text)
    ok = {"status": "200", "provider": "mock", "model": "mock-1"}
    assert value(metrics, "mcp_requests_total", method="generate", **ok) == 3
    for method in ("stream", "batch", "ws"):
        assert value(metrics, "mcp_requests_total", method=method, **ok) == 1, method
    for method in ("grpc_generate", "grpc_stream"):
        assert value(metrics, "mcp_requests_total", method=method, status="OK", provider="mock", model="mock-1") == 1
    refused = {"method": "generate", "status": "400", "provider": "none", "model": "none"}
    assert value(metrics, "mcp_requests_total", **refused) == 1
    assert value(metrics, "mcp_errors_total", type="invalid_request", provider="none") == 1
    assert value(metrics, "mcp_cache_hits_total") >= 1 and value(metrics, "mcp_cache_misses_total") >= 6
    assert value(metrics, "mcp_tokens_used_total", provider="mock", model="mock-1", type="completion") > 0
    assert value(metrics, "mcp_tokens_used_total", provider="mock", model="mock-1", type="cached_completion") > 0
    assert value(metrics, "mcp_sessions_total") == 1 and value(metrics, "mcp_sessions_active") == 1
    assert value(metrics, "mcp_worker_pool_processed_total") >= 6
    assert value(metrics, "mcp_worker_pool_max_workers") == 512
    assert value(metrics, "mcp_gateway_overhead_seconds_count", provider="mock") >= 8
    assert value(metrics, "mcp_time_to_first_token_seconds_count", provider="mock") == 3  # SSE, WebSocket, gRPC
    assert value(metrics, "mcp_request_duration_seconds_count", method="batch", provider="mock") == 1


def test_every_metric_the_dashboards_and_alerts_query_is_exported(gateway: ServerProcess) -> None:
    checker = REPO_ROOT / "deploy" / "check_metric_names.py"
    result = subprocess.run(
        [sys.executable, str(checker), "--metrics", gateway.base_url + "/metrics"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_metrics_port_serves_the_same_metrics(gateway: ServerProcess) -> None:
    port = int(gateway.env["METRICS_PORT"])
    response = httpx.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200 and "mcp_requests_total" in response.text
    assert httpx.get(f"http://127.0.0.1:{port}/api/v1/models").status_code == 404


def test_access_log_lines_carry_the_request_id_and_no_secret_or_prompt(gateway: ServerProcess) -> None:
    prompt = "my confidential prompt text"
    headers = {"X-Request-ID": "req-log-check-1", "Authorization": "Bearer caller-token-abcdef123456"}
    response = httpx.post(gateway.base_url + "/api/v1/generate", json={"prompt": prompt}, headers=headers)
    assert response.status_code == 200
    lines = [json.loads(line) for line in gateway.logs().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("requestId") == "req-log-check-1" and line["logger"] == "mcp.access"]
    assert len(access) == 1
    assert {"level", "requestId", "provider", "model", "tokens", "duration"} <= access[0].keys()
    logs = gateway.logs()
    assert prompt not in logs and SECRET not in logs and "caller-token-abcdef123456" not in logs


def test_spans_reach_an_otlp_collector_in_the_callers_trace() -> None:
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    with OtlpReceiver() as collector:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        with ServerProcess(env) as server:
            headers = {"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"}
            assert httpx.post(server.base_url + "/api/v1/generate", json={"prompt": "otlp"}, headers=headers).is_success
            spans = collector.wait_for_spans(trace_id, count=3)
    names = {span.name for span in spans}
    assert {"POST /api/v1/generate", "generate", "chat mock-1"} <= names
    assert collector.service_names() == {"mcp-server-ai"}
