"""The ``azure`` and ``openai`` providers through the real server process, against the fake (docs/api.md#providers).

One fake serves both wire dialects (Azure deployments with ``api-key`` and
``api-version``; plain ``/v1/chat/completions`` with a bearer key), so every
test runs for both providers. What the fake received is the evidence; errors
are scripted on the fake and must come back through HTTP, SSE and batch with
their status, code and message.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.server import ServerProcess
from tests.support.upstreams import (
    ThreadedFake,
    batch,
    circuits,
    eventually,
    first_event_then_leave,
    gateway,
    generate,
    stream,
    streamed_text,
)
from tests.vendors import openai_wire as wire
from tests.vendors.azure_openai import DEFAULT_DEPLOYMENTS, FakeAzureOpenAI
from tests.vendors.openai_script import FailureKind, ReceivedRequest, Script

Upstream = ThreadedFake[FakeAzureOpenAI]


@dataclass(frozen=True)
class Flavour:
    """One provider as the tests see it: its name, a model it serves, and where that model lands."""

    provider: str
    model: str
    answered_by: str  # the ``provider`` field of the answers
    path: str
    missing_model: str  # listed in the gateway's configuration, unknown upstream
    credentials: str  # the variable an auth error tells the operator to check

    def __str__(self) -> str:
        return self.provider


AZURE = Flavour(
    "azure", "gpt-4o", "azure-openai", "/openai/deployments/gpt-4o/chat/completions", "grok-3", "AZURE_API_KEY"
)
OPENAI = Flavour("openai", "gpt-4o-mini", "openai", "/v1/chat/completions", "retired-model", "OPENAI_API_KEY")
FLAVOURS = [AZURE, OPENAI]


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    def make() -> FakeAzureOpenAI:
        return FakeAzureOpenAI(
            deployments=DEFAULT_DEPLOYMENTS - {"grok-3"},
            openai_models=frozenset({"gpt-4o-mini", "o3-mini"}),
        )

    with ThreadedFake(make) as running:
        yield running


def upstream_env(upstream: Upstream, **settings: str) -> dict[str, str]:
    fake = upstream.fake
    return {
        "AZURE_ENDPOINT": fake.url,
        "AZURE_API_KEY": fake.api_key,
        "OPENAI_BASE_URL": fake.openai_base_url,
        "OPENAI_API_KEY": fake.api_key,
        "OPENAI_MODELS": "gpt-4o-mini,o3-mini,retired-model",
        **settings,
    }


def plain_env(upstream: Upstream, client: str) -> dict[str, str]:
    """No retries and a circuit that never opens, so that every error reaches the client as it is."""
    return upstream_env(
        upstream,
        UPSTREAM_CLIENT=client,
        PROVIDER_MAX_RETRIES="0",
        CIRCUIT_FAILURE_THRESHOLD="1000",
        PROVIDER_FIRST_BYTE_TIMEOUT="2",
        PROVIDER_IDLE_TIMEOUT="2",
    )


@pytest.fixture(scope="module")
def fast_server(upstream: Upstream) -> Iterator[ServerProcess]:
    """The gateway's own lean HTTP client to the upstream (the default)."""
    with gateway(plain_env(upstream, "fast")) as running:
        yield running


@pytest.fixture(scope="module")
def sdk_server(upstream: Upstream) -> Iterator[ServerProcess]:
    """The ``openai`` SDK as the upstream client (``UPSTREAM_CLIENT=sdk``, e.g. behind a proxy)."""
    with gateway(plain_env(upstream, "sdk")) as running:
        yield running


@pytest.fixture(scope="module", params=["fast", "sdk"])
def server(request: pytest.FixtureRequest) -> ServerProcess:
    """Each upstream client in turn: both must put the same requests on the wire and map the same errors."""
    running: ServerProcess = request.getfixturevalue(f"{request.param}_server")
    return running


@pytest.fixture(scope="module")
def retrying_server(upstream: Upstream) -> Iterator[ServerProcess]:
    with gateway(upstream_env(upstream, PROVIDER_MAX_RETRIES="2")) as running:
        yield running


@pytest.fixture(scope="module")
def fragile_server(upstream: Upstream) -> Iterator[ServerProcess]:
    """A circuit that opens after two failures and probes again after three seconds."""
    env = upstream_env(upstream, PROVIDER_MAX_RETRIES="0", CIRCUIT_FAILURE_THRESHOLD="2", CIRCUIT_RESET_SECONDS="3")
    with gateway(env) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_upstream(upstream: Upstream) -> None:
    async def reset() -> None:
        upstream.fake.script = Script()
        upstream.fake.requests.clear()

    upstream.run(reset())


def received(upstream: Upstream) -> list[ReceivedRequest]:
    return list(upstream.fake.requests)


def expected_usage(call: ReceivedRequest) -> tuple[int, int]:
    """The usage the fake reported for ``call`` (it counts words), recomputed from what it received."""
    answer = wire.answer_for(call.body["messages"])
    return answer.prompt_tokens, answer.completion_tokens


def assert_reached(call: ReceivedRequest, flavour: Flavour) -> None:
    assert call.path == flavour.path
    if flavour is AZURE:
        assert call.query == {"api-version": "2024-10-21"}
        assert call.headers["api-key"] == "test-key"
    else:
        assert call.headers["authorization"] == "Bearer test-key"
        assert call.body["model"] == flavour.model


# ---- happy paths ------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS, ids=str)
def test_generate_answers_with_the_token_counts_the_upstream_reported(
    server: ServerProcess, upstream: Upstream, flavour: Flavour
) -> None:
    response = generate(server, {"prompt": "count these five words please", "model": flavour.model})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["content"] == "Echo: count these five words please"
    assert (body["provider"], body["model"], body["finishReason"]) == (flavour.answered_by, flavour.model, "stop")
    [call] = received(upstream)
    assert_reached(call, flavour)
    assert (body["promptTokens"], body["completionTokens"]) == expected_usage(call) == (5, 6)
    assert body["tokensUsed"] == 11
    assert call.body["messages"] == [{"role": "user", "content": "count these five words please"}]
    assert (call.body["max_tokens"], call.body["temperature"]) == (4096, 0.7)
    assert "stream" not in call.body


@pytest.mark.parametrize("flavour", FLAVOURS, ids=str)
def test_stream_relays_each_chunk_then_the_final_usage_chunk(
    server: ServerProcess, upstream: Upstream, flavour: Flavour
) -> None:
    upstream.fake.script = Script(chunks=3)
    response, events = stream(server, {"prompt": "one two three four five six", "model": flavour.model})
    assert response.status_code == 200
    deltas, final = events[:-1], events[-1]
    assert len(deltas) == 3 and streamed_text(events) == "Echo: one two three four five six"
    assert final["finished"] is True and final["provider"] == flavour.answered_by
    [call] = received(upstream)
    assert_reached(call, flavour)
    assert call.body["stream"] is True and call.body["stream_options"] == {"include_usage": True}
    assert (final["promptTokens"], final["completionTokens"]) == expected_usage(call) == (6, 7)
    assert final["totalTokens"] == 13


def test_a_batch_spans_both_providers_and_reports_an_unknown_deployment_in_place(
    server: ServerProcess, upstream: Upstream
) -> None:
    body = batch(
        server,
        [
            {"prompt": "to azure", "model": "gpt-4o"},
            {"prompt": "to openai", "model": "gpt-4o-mini"},
            {"prompt": "to nowhere", "model": "grok-3"},
        ],
    )
    first, second, third = body["responses"]
    assert (first["content"], first["provider"]) == ("Echo: to azure", "azure-openai")
    assert (second["content"], second["provider"]) == ("Echo: to openai", "openai")
    assert third["code"] == "upstream_auth" and "grok-3" in third["error"]
    assert (body["succeeded"], body["failed"]) == (2, 1)
    assert body["totalTokens"] == first["tokensUsed"] + second["tokensUsed"] == (2 + 3) * 2
    assert sorted(call.path for call in received(upstream)) == sorted(
        [AZURE.path, OPENAI.path, "/openai/deployments/grok-3/chat/completions"]
    )


# ---- system prompt, reasoning models and history ----------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS, ids=str)
def test_the_system_prompt_is_a_system_message_only_when_there_is_one(
    server: ServerProcess, upstream: Upstream, flavour: Flavour
) -> None:
    generate(server, {"prompt": "with a system prompt", "model": flavour.model, "system": "Be terse."})
    generate(server, {"prompt": "without one", "model": flavour.model})
    with_system, without = (call.body["messages"] for call in received(upstream))
    assert with_system == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "with a system prompt"},
    ]
    assert without == [{"role": "user", "content": "without one"}]


REASONING = [("azure", "o4-mini", "/openai/deployments/o4-mini/chat/completions"),
             ("azure", "gpt5-chat", "/openai/deployments/gpt-5-chat/chat/completions"),
             ("openai", "o3-mini", "/v1/chat/completions")]  # fmt: skip


@pytest.mark.parametrize(("provider", "model", "path"), REASONING, ids=[r[1] for r in REASONING])
@pytest.mark.parametrize("surface", ["generate", "stream"])
def test_reasoning_models_get_max_completion_tokens_and_no_temperature(
    server: ServerProcess, upstream: Upstream, provider: str, model: str, path: str, surface: str
) -> None:
    request = {"prompt": "think hard", "model": model, "provider": provider, "maxTokens": 300, "temperature": 0.3}
    response = generate(server, request) if surface == "generate" else stream(server, request)[0]
    assert response.status_code == 200, response.text
    [call] = received(upstream)
    assert call.path == path
    assert call.body["max_completion_tokens"] == 300
    assert "max_tokens" not in call.body and "temperature" not in call.body


@pytest.mark.parametrize("flavour", FLAVOURS, ids=str)
def test_a_session_sends_its_history_as_real_messages_in_order(
    server: ServerProcess, upstream: Upstream, flavour: Flavour
) -> None:
    session = {"X-User-ID": "ana", "X-Session-ID": f"history-{flavour.provider}"}
    request = {"model": flavour.model, "systemPrompt": "Be terse."}
    assert generate(server, {**request, "prompt": "first question"}, session).status_code == 200
    assert stream(server, {**request, "prompt": "second question"}, session)[0].status_code == 200
    third = generate(server, {**request, "prompt": "third question"}, session)
    assert third.status_code == 200 and third.json()["sessionId"] == session["X-Session-ID"]
    assert received(upstream)[2].body["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "Echo: first question"},
        {"role": "user", "content": "second question"},
        {"role": "assistant", "content": "Echo: second question"},
        {"role": "user", "content": "third question"},
    ]


# ---- errors -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorCase:
    name: str
    kind: FailureKind | None  # None: the request itself names a model the upstream does not have
    status: int
    code: str
    message: str  # a part of the message the client gets; {credentials} and {model} are filled in

    def __str__(self) -> str:
        return self.name


ERRORS = [
    ErrorCase("rate limit", "rate_limit", 429, "upstream_rate_limited", "Please retry after 3 seconds"),
    ErrorCase("bad credentials", "auth", 502, "upstream_auth", "check {credentials}"),
    ErrorCase("no permission", "forbidden", 502, "upstream_auth", "Principal does not have access"),
    ErrorCase("unknown deployment or model", None, 502, "upstream_auth", "'{model}'"),
    ErrorCase("content filter", "content_filter", 400, "upstream_bad_request", "content management policy"),
    ErrorCase("server error", "server_error", 502, "upstream_error", "The server had an error"),
    ErrorCase("unavailable", "unavailable", 502, "upstream_error", "temporarily unable to process"),
    ErrorCase("connection reset", "reset", 502, "upstream_error", "connection failed"),
]


@pytest.mark.parametrize("surface", ["generate", "stream", "batch"])
@pytest.mark.parametrize("case", ERRORS, ids=str)
@pytest.mark.parametrize("flavour", FLAVOURS, ids=str)
def test_each_upstream_error_becomes_its_status_code_and_message(
    server: ServerProcess, upstream: Upstream, flavour: Flavour, case: ErrorCase, surface: str
) -> None:
    if case.kind is not None:
        upstream.fake.fail(case.kind, retry_after=3)
    model = flavour.model if case.kind is not None else flavour.missing_model
    request = {"prompt": f"fail with {case.name}", "model": model, "provider": flavour.provider}
    message = case.message.format(credentials=flavour.credentials, model=model)
    if surface == "batch":
        [item] = batch(server, [request])["responses"]
        assert item["code"] == case.code and message in item["error"]
        return
    response = generate(server, request) if surface == "generate" else stream(server, request)[0]
    assert response.status_code == case.status, response.text
    assert response.json()["code"] == case.code
    assert message in response.json()["error"]
    if case.status == 429:
        assert response.headers["retry-after"] == "3"
    assert len(received(upstream)) == 1, [(r.path, r.body, r.closed_early) for r in received(upstream)]


@pytest.mark.parametrize("surface", ["generate", "stream"])
@pytest.mark.parametrize("flavour", FLAVOURS, ids=str)
def test_an_upstream_that_never_answers_is_a_504(
    server: ServerProcess, upstream: Upstream, flavour: Flavour, surface: str
) -> None:
    upstream.fake.fail("hang")
    request = {"prompt": f"hang on {surface}", "model": flavour.model}
    response = generate(server, request) if surface == "generate" else stream(server, request)[0]
    assert response.status_code == 504, response.text
    assert response.json()["code"] == "upstream_timeout"


MID_STREAM: list[tuple[FailureKind, str]] = [
    ("reset_mid_stream", "upstream_error"),
    ("error_event", "upstream_error"),
    ("stall_mid_stream", "upstream_timeout"),
]


@pytest.mark.parametrize(("kind", "code"), MID_STREAM, ids=[m[0] for m in MID_STREAM])
@pytest.mark.parametrize("flavour", FLAVOURS, ids=str)
def test_a_failure_mid_stream_is_a_final_error_event(
    server: ServerProcess, upstream: Upstream, flavour: Flavour, kind: FailureKind, code: str
) -> None:
    upstream.fake.script = Script(chunks=6)
    upstream.fake.fail(kind, after_chunks=2)
    response, events = stream(server, {"prompt": f"break after two chunks by {kind}", "model": flavour.model})
    assert response.status_code == 200
    assert [e["index"] for e in events[:-1]] == [0, 1]
    error = events[-1]
    assert {"error", "code", "finished"} <= set(error)
    assert (error["code"], error["finished"]) == (code, True)
    upstream.fake.script = Script()
    assert generate(server, {"prompt": "still serving", "model": flavour.model}).status_code == 200


# ---- resilience -------------------------------------------------------------------------------


@pytest.mark.parametrize("surface", ["generate", "stream"])
@pytest.mark.parametrize("kind", ["rate_limit", "server_error", "reset"])
@pytest.mark.parametrize("flavour", FLAVOURS, ids=str)
def test_a_failed_first_attempt_is_retried_then_answered(
    retrying_server: ServerProcess, upstream: Upstream, flavour: Flavour, kind: FailureKind, surface: str
) -> None:
    upstream.fake.fail(kind, times=1, retry_after=0.05)
    request = {"prompt": f"retry after {kind}", "model": flavour.model}
    if surface == "generate":
        response = generate(retrying_server, request)
        assert response.status_code == 200, response.text
        assert response.json()["content"] == f"Echo: retry after {kind}"
    else:
        response, events = stream(retrying_server, request)
        assert response.status_code == 200, response.text
        assert streamed_text(events) == f"Echo: retry after {kind}" and events[-1]["finished"] is True
    assert len(received(upstream)) == 2


@pytest.mark.parametrize("flavour", FLAVOURS, ids=str)
def test_the_circuit_opens_after_repeated_failures_and_closes_when_the_upstream_recovers(
    fragile_server: ServerProcess, upstream: Upstream, flavour: Flavour
) -> None:
    other = "openai" if flavour is AZURE else "azure"
    upstream.fake.fail("server_error")
    request = {"prompt": "is it up", "model": flavour.model}
    assert [generate(fragile_server, request).status_code for _ in range(2)] == [502, 502]
    assert circuits(fragile_server) == {flavour.provider: "open", other: "closed"}

    refused = generate(fragile_server, request)
    assert refused.status_code == 503 and refused.json()["code"] == "circuit_open"
    assert int(refused.headers["retry-after"]) >= 1
    assert stream(fragile_server, request)[0].status_code == 503
    assert len(received(upstream)) == 2  # the open circuit kept those calls away from the upstream

    upstream.fake.script = Script()
    assert eventually(lambda: circuits(fragile_server)[flavour.provider] == "half_open")
    assert generate(fragile_server, request).status_code == 200
    assert circuits(fragile_server)[flavour.provider] == "closed"
    assert len(received(upstream)) == 3


@pytest.mark.parametrize("flavour", FLAVOURS, ids=str)
def test_a_client_that_leaves_mid_stream_closes_the_upstream_connection(
    server: ServerProcess, upstream: Upstream, flavour: Flavour
) -> None:
    upstream.fake.script = Script(chunks=20, chunk_delay_ms=200)
    request: dict[str, Any] = {"prompt": "a long answer nobody reads", "model": flavour.model}
    with first_event_then_leave(server, request) as first:
        assert first["index"] == 0 and first["finished"] is False
    left = upstream.run(upstream.fake.wait_closed_early(1))
    assert left.path == flavour.path and left.body["stream"] is True
