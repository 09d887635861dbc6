"""What the gateway does around every door, on ``/v1/responses`` (docs/api.md#responses-api).

The response cache (``X-Cache``, ``Cache-Control: no-cache``), the request id and
overhead headers, the ``method="openai_responses"`` metric, the rate limit as
the SDK's ``RateLimitError``, and feedback on a chain: a complaint sent as the
next response of a chain retires the cached answer it complains about.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator

import httpx
import openai
import pytest

from domain.api_keys import hash_api_key
from tests.support.server import ServerProcess

KEYS = {name: f"mcp_{name}_{secrets.token_urlsafe(18)}" for name in ("user", "admin", "limited")}
BURST = 40
COMPLAINT = "that code has a bug, no funciona"


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    entries = ",".join(
        hash_api_key(key, role="admin" if name == "admin" else "user", salt=secrets.token_bytes(16))
        for name, key in KEYS.items()
    )
    env = {"API_KEYS": entries, "RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_RPS": "0.01",
           "RATE_LIMIT_BURST": str(BURST), "MOCK_LATENCY_MS": "0", "LOG_LEVEL": "warning"}  # fmt: skip
    with ServerProcess(env) as running:
        yield running


def client(gateway: ServerProcess, name: str = "user") -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=KEYS[name], max_retries=0)


def test_the_cache_and_the_shared_headers(gateway: ServerProcess) -> None:
    sdk = client(gateway)
    prompt = f"cache me {uuid.uuid4().hex[:8]}"
    first = sdk.responses.with_raw_response.create(model="mock-1", input=prompt)
    second = sdk.responses.with_raw_response.create(model="mock-1", input=prompt)
    assert first.headers["x-cache"] == "miss" and second.headers["x-cache"] == "hit"
    assert second.parse().output_text == first.parse().output_text
    assert second.parse().id != first.parse().id  # a cached answer is still a response of its own
    for raw in (first, second):
        assert raw.headers["x-request-id"] and float(raw.headers["x-gateway-overhead-ms"]) >= 0
    fresh = sdk.responses.with_raw_response.create(
        model="mock-1", input=prompt, extra_headers={"Cache-Control": "no-cache"}
    )
    assert fresh.headers["x-cache"] == "miss"


def test_responses_are_counted_under_their_own_method_label(gateway: ServerProcess) -> None:
    client(gateway).responses.create(model="mock-1", input="count me")
    headers = {"Authorization": f"Bearer {KEYS['user']}"}
    deadline = time.monotonic() + 5
    metrics = ""
    while time.monotonic() < deadline and 'method="openai_responses"' not in metrics:
        metrics = httpx.get(gateway.base_url + "/metrics", headers=headers).text
    assert 'mcp_requests_total{method="openai_responses"' in metrics.replace(", ", ",")


def test_a_complaint_on_a_chain_retires_the_answer_it_follows(gateway: ServerProcess) -> None:
    admin = client(gateway, "admin")  # an admin's severe complaint retires an answer on its own
    prompt = f"write a sort function {uuid.uuid4().hex[:6]}"
    first = admin.responses.with_raw_response.create(model="mock-1", input=prompt)
    assert first.headers["x-cache"] == "miss"
    assert admin.responses.with_raw_response.create(model="mock-1", input=prompt).headers["x-cache"] == "hit"
    admin.responses.create(model="mock-1", input=COMPLAINT, previous_response_id=first.parse().id)
    for _ in range(2):  # retired: asked upstream again, and no longer stored
        assert admin.responses.with_raw_response.create(model="mock-1", input=prompt).headers["x-cache"] == "miss"


def test_the_rate_limit_is_the_sdks_rate_limit_error(gateway: ServerProcess) -> None:
    sdk = client(gateway, "limited")
    with pytest.raises(openai.RateLimitError) as caught:
        for _ in range(BURST + 1):
            sdk.responses.create(model="mock-1", input="again", store=False)
    assert caught.value.response.headers["retry-after"]
    assert caught.value.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
