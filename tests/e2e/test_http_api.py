"""The HTTP API (docs/api.md#routes) through the real server process, on its embedded defaults."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.server import ServerProcess
from tests.support.sse import read_stream


def post(server: ServerProcess, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
    return httpx.post(server.base_url + path, json=body, timeout=30, **kwargs)


def test_generate_answers_with_tokens_timing_and_request_id(server: ServerProcess) -> None:
    response = post(server, "/api/v1/generate", {"prompt": "hello gateway"}, headers={"X-Request-ID": "req-42"})
    assert response.status_code == 200
    body = response.json()
    assert body["content"] == "Mock answer (turn 1): hello gateway"
    assert body["provider"] == "mock"
    assert body["model"] == "mock-1"
    assert (body["promptTokens"], body["completionTokens"], body["tokensUsed"]) == (2, 5, 7)
    assert body["cached"] is False
    assert body["requestId"] == "req-42"
    assert response.headers["x-request-id"] == "req-42"
    assert float(response.headers["x-gateway-overhead-ms"]) >= 0
    assert body["processingTime"].endswith("s")


def test_a_repeated_request_is_a_cache_hit_that_costs_nothing_now(server: ServerProcess) -> None:
    first = post(server, "/api/v1/generate", {"prompt": "cache me please", "temperature": 0}).json()
    second = post(server, "/api/v1/generate", {"prompt": "cache me please", "temperature": 0}).json()
    assert second["cached"] is True
    assert second["content"] == first["content"]
    assert second["tokensUsed"] == 0
    assert second["metadata"]["prompt_tokens_cache"] == first["promptTokens"]
    assert second["metadata"]["completion_tokens_cache"] == first["completionTokens"]
    assert second["metadata"]["original_provider"] == "mock"


def test_no_cache_header_skips_the_cache_read(server: ServerProcess) -> None:
    post(server, "/api/v1/generate", {"prompt": "fresh every time"})
    again = post(server, "/api/v1/generate", {"prompt": "fresh every time"}, headers={"Cache-Control": "no-cache"})
    assert again.json()["cached"] is False


def test_stream_sends_chunks_then_a_final_event_with_totals(server: ServerProcess) -> None:
    with httpx.stream(
        "POST", server.base_url + "/api/v1/generate/stream", json={"prompt": "stream these words"}, timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        events = read_stream(response)
    chunks, final = events[:-1], events[-1]
    assert "".join(c["content"] for c in chunks) == "Mock answer (turn 1): stream these words"
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    assert all(c["finished"] is False for c in chunks)
    assert final["finished"] is True
    assert final["index"] == len(chunks)
    assert (final["promptTokens"], final["completionTokens"], final["totalTokens"]) == (3, 6, 9)
    assert final["provider"] == "mock" and final["model"] == "mock-1"
    assert final["cached"] is False and final["finishReason"] == "stop"
    assert final["requestId"] == response.headers["x-request-id"]


def test_a_streamed_answer_is_cached_and_replayed_as_a_stream(server: ServerProcess) -> None:
    body = {"prompt": "replay me from the cache"}
    with httpx.stream("POST", server.base_url + "/api/v1/generate/stream", json=body, timeout=30) as first:
        fresh = read_stream(first)
    with httpx.stream("POST", server.base_url + "/api/v1/generate/stream", json=body, timeout=30) as second:
        replay = read_stream(second)
    assert replay[-1]["cached"] is True
    assert "".join(e["content"] for e in replay[:-1]) == "".join(e["content"] for e in fresh[:-1])


def test_batch_keeps_request_order_and_reports_a_failing_item_in_place(server: ServerProcess) -> None:
    requests = [{"prompt": f"item {i}"} for i in range(5)]
    requests[2] = {"prompt": "bad item", "model": "no-such-model"}
    response = post(server, "/api/v1/generate/batch", {"requests": requests})
    assert response.status_code == 200
    body = response.json()
    assert [r["index"] for r in body["responses"]] == [0, 1, 2, 3, 4]
    assert body["responses"][0]["content"].endswith("item 0")
    assert body["responses"][4]["content"].endswith("item 4")
    assert body["responses"][2]["code"] == "unknown_model"
    assert "no-such-model" in body["responses"][2]["error"]
    assert (body["count"], body["succeeded"], body["failed"]) == (5, 4, 1)
    assert body["totalTokens"] == sum(r.get("tokensUsed", 0) for r in body["responses"])
    assert body["parallelProcessing"] is True and body["rate"].endswith("req/s")


def test_batch_of_1001_items_is_refused(server: ServerProcess) -> None:
    response = post(server, "/api/v1/generate/batch", {"requests": [{"prompt": "x"}] * 1001})
    assert response.status_code == 400
    assert "1000" in response.json()["error"]


def test_batch_stream_sends_each_result_then_a_summary(server: ServerProcess) -> None:
    body = {"requests": [{"prompt": f"streamed item {i}"} for i in range(4)]}
    with httpx.stream("POST", server.base_url + "/api/v1/generate/batch/stream", json=body, timeout=30) as response:
        events = read_stream(response)
    items, summary = events[:-1], events[-1]
    assert sorted(e["index"] for e in items) == [0, 1, 2, 3]
    assert all(e["total"] == 4 and e["response"]["content"] for e in items)
    assert summary["finished"] is True and summary["count"] == 4 and summary["succeeded"] == 4


BAD_INPUTS = [
    ("malformed JSON", b'{"prompt": "unterminated', 400),
    ("empty body", b"", 400),
    ("wrong type for maxTokens", b'{"prompt": "hi", "maxTokens": "100"}', 400),
    ("wrong type for prompt", b'{"prompt": 12}', 400),
    ("empty prompt", b'{"prompt": ""}', 400),
    ("blank prompt", b'{"prompt": "   "}', 400),
    ("temperature 3", b'{"prompt": "hi", "temperature": 3}', 400),
    ("maxTokens 0", b'{"prompt": "hi", "maxTokens": 0}', 400),
    ("maxTokens above the model cap", b'{"prompt": "hi", "maxTokens": 999999}', 400),
    ("unknown provider", b'{"prompt": "hi", "provider": "vertex"}', 400),
    ("unknown model", b'{"prompt": "hi", "model": "gpt-99"}', 400),
    ("a JSON array", b"[1, 2]", 400),
    ("a 2 MiB body", b'{"prompt": "' + b"a" * (2 * 1024 * 1024) + b'"}', 413),
]


@pytest.mark.parametrize(("case", "raw", "status"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_a_clear_4xx_and_the_server_stays_healthy(
    server: ServerProcess, case: str, raw: bytes, status: int
) -> None:
    response = httpx.post(
        server.base_url + "/api/v1/generate",
        content=raw,
        headers={"Content-Type": "application/json", "X-Request-ID": "req-bad"},
        timeout=30,
    )
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] and body["code"] and body["requestId"] == "req-bad"
    assert httpx.get(server.base_url + "/healthz").status_code == 200


def test_one_session_header_alone_is_refused(server: ServerProcess) -> None:
    response = post(server, "/api/v1/generate", {"prompt": "hi"}, headers={"X-Session-ID": "s-1"})
    assert response.status_code == 400
    assert "X-User-ID" in response.json()["error"]


def test_validate_checks_a_prompt(server: ServerProcess) -> None:
    assert post(server, "/api/v1/validate", {"prompt": "fine"}).json() == {"valid": True}
    refused = post(server, "/api/v1/validate", {"prompt": ""})
    assert refused.status_code == 400 and refused.json()["valid"] is False


def test_models_are_listed_in_a_stable_order(server: ServerProcess) -> None:
    first = httpx.get(server.base_url + "/api/v1/models").json()
    second = httpx.get(server.base_url + "/api/v1/models").json()
    assert first == second
    assert first["count"] == len(first["models"]) >= 1
    mock = first["models"][0]
    assert mock["id"] == "mock-1" and mock["provider"] == "mock"
    assert mock["maxTokens"] < mock["contextWindow"]


def test_status_pool_cache_and_health_routes_answer(server: ServerProcess) -> None:
    status = httpx.get(server.base_url + "/api/v1/status").json()
    assert status["status"] == "healthy" and "mock" in status["providers"]
    assert status["cacheBackend"] == {"backend": "memory", "healthy": True}
    assert status["sessionBackend"] == {"backend": "memory", "healthy": True}
    pool = httpx.get(server.base_url + "/api/v1/pool/stats").json()
    assert {"total_processed", "total_failed", "current_concurrent", "max_concurrent", "queue_size"} <= set(pool)
    cache = httpx.get(server.base_url + "/api/v1/cache/stats").json()
    assert {"hits", "misses", "hit_rate", "problematic_caches"} <= set(cache)
    assert httpx.get(server.base_url + "/api/v1/cache/stats?limit=0").status_code == 400
    assert httpx.get(server.base_url + "/health").json()["status"] == "healthy"
    assert httpx.get(server.base_url + "/readyz").json()["ready"] is True
    assert httpx.get(server.base_url + "/schema/openapi.json").json()["info"]["title"] == "MCP Server AI"


def test_unknown_route_is_a_404_in_the_error_shape(server: ServerProcess) -> None:
    response = httpx.get(server.base_url + "/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
