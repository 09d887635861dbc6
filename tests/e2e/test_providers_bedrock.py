"""The ``aws`` provider through the real server process, against the fake Bedrock (docs/api.md#providers).

What the fake received is the evidence: the model id in the path, the system
block or its folding into the first user turn, the history as real messages,
the credentials. Errors are scripted on the fake and must come back through
HTTP, SSE and batch with their status, code and message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
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
from tests.vendors.bedrock import FakeBedrock, HttpFailure, RecordedRequest, Reset, Script, StreamException, answer_for

CLAUDE = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
TITAN = "amazon.titan-text-express-v1"
Upstream = ThreadedFake[FakeBedrock]


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with ThreadedFake(FakeBedrock) as running:
        yield running


def bedrock_env(upstream: Upstream, **settings: str) -> dict[str, str]:
    credentials = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "fake-secret"}
    return {"AWS_BEDROCK_ENDPOINT_URL": upstream.fake.url, "AWS_REGION": "us-east-1", **credentials, **settings}


@pytest.fixture(scope="module")
def server(upstream: Upstream) -> Iterator[ServerProcess]:
    """No retries and a circuit that never opens, so that every error reaches the client as it is."""
    env = bedrock_env(
        upstream,
        PROVIDER_MAX_RETRIES="0",
        CIRCUIT_FAILURE_THRESHOLD="1000",
        PROVIDER_IDLE_TIMEOUT="2",
        PROVIDER_FIRST_BYTE_TIMEOUT="2",
    )
    with gateway(env) as running:
        yield running


@pytest.fixture(scope="module")
def retrying_server(upstream: Upstream) -> Iterator[ServerProcess]:
    """Two retries, and a Bedrock API key (bearer token) instead of SigV4 keys."""
    env = bedrock_env(upstream, PROVIDER_MAX_RETRIES="2", AWS_BEARER_TOKEN_BEDROCK="bedrock-api-key-example")
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    with gateway(env) as running:
        yield running


@pytest.fixture(scope="module")
def fragile_server(upstream: Upstream) -> Iterator[ServerProcess]:
    """A circuit that opens after two failures and probes again after three seconds."""
    env = bedrock_env(upstream, PROVIDER_MAX_RETRIES="0", CIRCUIT_FAILURE_THRESHOLD="2", CIRCUIT_RESET_SECONDS="3")
    with gateway(env) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_upstream(upstream: Upstream) -> None:
    async def reset() -> None:
        upstream.fake.script = Script()
        upstream.fake.requests.clear()

    upstream.run(reset())


def received(upstream: Upstream) -> list[RecordedRequest]:
    return list(upstream.fake.requests)


def texts(message: dict[str, Any]) -> str:
    return "".join(block["text"] for block in message["content"])


# ---- happy paths ------------------------------------------------------------------------------


def test_generate_answers_with_the_token_counts_bedrock_reported(server: ServerProcess, upstream: Upstream) -> None:
    upstream.fake.script = Script(input_tokens=1234, output_tokens=56)
    response = generate(server, {"prompt": "what is a gateway", "model": "claude-3-5-haiku", "temperature": 0.2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["content"] == answer_for("what is a gateway")
    assert (body["provider"], body["model"]) == ("aws-bedrock", CLAUDE)
    assert (body["promptTokens"], body["completionTokens"], body["tokensUsed"]) == (1234, 56, 1290)
    assert body["finishReason"] == "stop" and body["cached"] is False
    [call] = received(upstream)
    assert (call.operation, call.model_id, call.status) == ("Converse", CLAUDE, 200)
    assert call.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert call.body["inferenceConfig"] == {"maxTokens": 4096, "temperature": 0.2}
    assert call.body["messages"] == [{"role": "user", "content": [{"text": "what is a gateway"}]}]


def test_stream_relays_each_delta_then_the_usage_and_stop_reason(server: ServerProcess, upstream: Upstream) -> None:
    upstream.fake.script = Script(chunks=4, input_tokens=321, output_tokens=45, stop_reason="max_tokens")
    response, events = stream(server, {"prompt": "stream from bedrock", "model": "nova-pro", "maxTokens": 64})
    assert response.status_code == 200
    deltas, final = events[:-1], events[-1]
    assert len(deltas) == 4 and streamed_text(events) == answer_for("stream from bedrock")
    assert final["finished"] is True and final["index"] == 4
    assert (final["promptTokens"], final["completionTokens"], final["totalTokens"]) == (321, 45, 366)
    assert (final["provider"], final["model"]) == ("aws-bedrock", "us.amazon.nova-pro-v1:0")
    assert final["finishReason"] == "length"  # Bedrock's max_tokens stop reason
    [call] = received(upstream)
    assert (call.operation, call.model_id) == ("ConverseStream", "us.amazon.nova-pro-v1:0")
    assert call.body["inferenceConfig"]["maxTokens"] == 64


def test_batch_sends_each_item_to_bedrock_and_adds_up_their_usage(server: ServerProcess, upstream: Upstream) -> None:
    prompts = [f"batch question number {n}" for n in range(3)]
    body = batch(server, [{"prompt": p, "model": "claude-3-5-haiku"} for p in prompts])
    assert [r["content"] for r in body["responses"]] == [answer_for(p) for p in prompts]
    assert (body["succeeded"], body["failed"]) == (3, 0)
    # The fake reports words as tokens: four sent and six answered per item.
    assert [(r["promptTokens"], r["completionTokens"]) for r in body["responses"]] == [(4, 6)] * 3
    assert body["totalTokens"] == body["totalTokensProvider"] == 30
    assert sorted(texts(c.body["messages"][0]) for c in received(upstream)) == prompts


def test_a_bedrock_api_key_is_sent_as_a_bearer_token(retrying_server: ServerProcess, upstream: Upstream) -> None:
    assert generate(retrying_server, {"prompt": "bearer please", "model": "nova-lite"}).status_code == 200
    [call] = received(upstream)
    assert call.headers["authorization"] == "Bearer bedrock-api-key-example"


# ---- system prompt and history ----------------------------------------------------------------

FAMILIES = [
    ("claude-3-5-haiku", CLAUDE, True),
    ("llama-3-3-70b", "us.meta.llama3-3-70b-instruct-v1:0", True),
    ("nova-pro", "us.amazon.nova-pro-v1:0", True),
    ("pixtral-large", "us.mistral.pixtral-large-2502-v1:0", True),
    ("deepseek r1", "us.deepseek.r1-v1:0", True),
    ("titan-express", TITAN, False),
]


@pytest.mark.parametrize(("alias", "model_id", "system_block"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_the_system_prompt_is_a_system_block_or_folded_into_the_first_user_turn(
    server: ServerProcess, upstream: Upstream, alias: str, model_id: str, system_block: bool
) -> None:
    request = {"prompt": "name a colour", "model": alias, "systemPrompt": "Answer in one word."}
    response = generate(server, request)
    assert response.status_code == 200, response.text
    [call] = received(upstream)
    assert call.model_id == model_id
    if system_block:
        assert call.body["system"] == [{"text": "Answer in one word."}]
        assert texts(call.body["messages"][0]) == "name a colour"
    else:
        assert "system" not in call.body
        assert texts(call.body["messages"][0]) == "Answer in one word.\n\nname a colour"


def test_a_session_sends_its_history_to_bedrock_as_real_messages(server: ServerProcess, upstream: Upstream) -> None:
    session = {"X-User-ID": "ana", "X-Session-ID": "bedrock-history"}
    request = {"model": "claude-3-5-haiku", "system": "Be brief."}
    assert generate(server, {**request, "prompt": "first question"}, session).status_code == 200
    assert stream(server, {**request, "prompt": "second question"}, session)[0].status_code == 200
    assert generate(server, {**request, "prompt": "third question"}, session).status_code == 200
    third = received(upstream)[2].body
    assert third["system"] == [{"text": "Be brief."}]
    assert [(m["role"], texts(m)) for m in third["messages"]] == [
        ("user", "first question"),
        ("assistant", answer_for("first question")),
        ("user", "second question"),
        ("assistant", answer_for("second question")),
        ("user", "third question"),
    ]


def test_titan_in_a_session_gets_the_system_prompt_once_at_the_start(server: ServerProcess, upstream: Upstream) -> None:
    session = {"X-User-ID": "ana", "X-Session-ID": "titan-history"}
    request = {"model": "titan-express", "system": "Be brief."}
    generate(server, {**request, "prompt": "first question"}, session)
    assert generate(server, {**request, "prompt": "second question"}, session).status_code == 200
    second = received(upstream)[1].body
    assert "system" not in second
    assert [texts(m) for m in second["messages"]] == [
        "Be brief.\n\nfirst question",
        answer_for("Be brief.\n\nfirst question"),  # the fake echoes the whole first turn it was sent
        "second question",
    ]


# ---- errors -----------------------------------------------------------------------------------

ERRORS = [
    ("throttling", HttpFailure("ThrottlingException", "Too many requests, please wait.", "3"),
     429, "upstream_rate_limited", "Too many requests, please wait."),
    ("access denied", HttpFailure("AccessDeniedException", "You don't have access to the model."),
     502, "upstream_auth", "AWS_ACCESS_KEY_ID"),
    ("unknown model", HttpFailure("ResourceNotFoundException", "Model not found."),
     502, "upstream_auth", "not found or not enabled"),
    ("validation", HttpFailure("ValidationException", "Input is too long for requested model."),
     400, "upstream_bad_request", "Input is too long for requested model."),
    ("unavailable", HttpFailure("ServiceUnavailableException", "Bedrock is unavailable."),
     502, "upstream_error", "Bedrock is unavailable."),
    ("internal error", HttpFailure("InternalServerException", "Something broke."),
     502, "upstream_error", "Something broke."),
    ("model timeout", HttpFailure("ModelTimeoutException", "Model took too long."),
     504, "upstream_timeout", "Model took too long."),
    ("connection reset", Reset(after_chunks=0), 502, "upstream_error", "Bedrock connection failed"),
]  # fmt: skip


@pytest.mark.parametrize("surface", ["generate", "stream", "batch"])
@pytest.mark.parametrize(("case", "failure", "status", "code", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_each_bedrock_error_becomes_its_status_code_and_message(
    server: ServerProcess,
    upstream: Upstream,
    surface: str,
    case: str,
    failure: HttpFailure | Reset,
    status: int,
    code: str,
    message: str,
) -> None:
    upstream.fake.script = Script(failure=failure)
    request = {"prompt": f"fail with {case}", "model": "claude-3-5-haiku"}
    if surface == "batch":
        [item] = batch(server, [request])["responses"]
        assert (item["code"], item["index"]) == (code, 0)
        assert message in item["error"]
        return
    response = generate(server, request) if surface == "generate" else stream(server, request)[0]
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert message in response.json()["error"]
    if status == 429:
        assert response.headers["retry-after"] == "3"
    assert len(received(upstream)) == 1


def test_bedrock_throttling_without_retry_after_still_tells_the_client_when_to_retry(
    server: ServerProcess, upstream: Upstream
) -> None:
    upstream.fake.script = Script(failure=HttpFailure("ThrottlingException", "Rate exceeded."))
    response = generate(server, {"prompt": "throttled without a hint", "model": "nova-micro"})
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1


@pytest.mark.parametrize("surface", ["generate", "stream"])
def test_an_upstream_slower_than_the_timeout_is_a_504(server: ServerProcess, upstream: Upstream, surface: str) -> None:
    upstream.fake.script = Script(first_byte_delay=4.0)
    request = {"prompt": f"too slow to {surface}", "model": "claude-3-5-haiku"}
    response = generate(server, request) if surface == "generate" else stream(server, request)[0]
    assert response.status_code == 504, response.text
    assert response.json()["code"] == "upstream_timeout"


MID_STREAM = [
    ("exception frame", StreamException("modelStreamErrorException", 2, "The model stopped."), "upstream_error"),
    ("throttling frame", StreamException("throttlingException", 2, "Slow down."), "upstream_rate_limited"),
    ("connection reset", Reset(after_chunks=2), "upstream_error"),
]


@pytest.mark.parametrize(("case", "failure", "code"), MID_STREAM, ids=[m[0] for m in MID_STREAM])
def test_a_failure_mid_stream_is_a_final_error_event(
    server: ServerProcess, upstream: Upstream, case: str, failure: StreamException | Reset, code: str
) -> None:
    upstream.fake.script = Script(chunks=5, failure=failure)
    response, events = stream(server, {"prompt": f"break after two deltas by {case}", "model": "claude-3-5-haiku"})
    assert response.status_code == 200
    assert [e["index"] for e in events[:-1]] == [0, 1]
    error = events[-1]
    assert {"error", "code", "finished"} <= set(error)
    assert (error["code"], error["finished"]) == (code, True)
    if isinstance(failure, StreamException):
        assert failure.message in error["error"]
    upstream.fake.script = Script()
    assert generate(server, {"prompt": "still serving", "model": "claude-3-5-haiku"}).status_code == 200


# ---- resilience -------------------------------------------------------------------------------

RETRIABLE = [
    ("throttling", HttpFailure("ThrottlingException", "Rate exceeded.")),
    ("unavailable", HttpFailure("ServiceUnavailableException", "Try again.")),
    ("reset", Reset(after_chunks=0)),
]


@pytest.mark.parametrize("surface", ["generate", "stream"])
@pytest.mark.parametrize(("case", "failure"), RETRIABLE, ids=[r[0] for r in RETRIABLE])
def test_a_failed_first_attempt_is_retried_then_answered(
    retrying_server: ServerProcess, upstream: Upstream, surface: str, case: str, failure: HttpFailure | Reset
) -> None:
    upstream.fake.script = Script(failure=failure, fail_first=1)
    request = {"prompt": f"retry after {case}", "model": "claude-3-5-haiku"}
    if surface == "generate":
        response = generate(retrying_server, request)
        assert response.status_code == 200, response.text
        assert response.json()["content"] == answer_for(request["prompt"])
    else:
        response, events = stream(retrying_server, request)
        assert response.status_code == 200, response.text
        assert streamed_text(events) == answer_for(request["prompt"]) and events[-1]["finished"] is True
    assert len(received(upstream)) == 2


def test_the_circuit_opens_after_repeated_failures_and_closes_when_bedrock_recovers(
    fragile_server: ServerProcess, upstream: Upstream
) -> None:
    upstream.fake.script = Script(failure=HttpFailure("ServiceUnavailableException", "Down for now."))
    request = {"prompt": "is bedrock up", "model": "claude-3-5-haiku"}
    assert [generate(fragile_server, request).status_code for _ in range(2)] == [502, 502]
    assert circuits(fragile_server)["aws"] == "open"

    refused = generate(fragile_server, request)
    assert refused.status_code == 503 and refused.json()["code"] == "circuit_open"
    assert int(refused.headers["retry-after"]) >= 1
    assert stream(fragile_server, request)[0].status_code == 503
    assert len(received(upstream)) == 2  # the open circuit kept those calls away from Bedrock

    upstream.fake.script = Script()
    assert eventually(lambda: circuits(fragile_server)["aws"] == "half_open")
    assert generate(fragile_server, request).status_code == 200
    assert circuits(fragile_server)["aws"] == "closed"
    assert len(received(upstream)) == 3


def test_a_client_that_leaves_mid_stream_closes_the_bedrock_connection(
    server: ServerProcess, upstream: Upstream
) -> None:
    upstream.fake.script = Script(chunks=20, chunk_delay=0.2)
    with first_event_then_leave(server, {"prompt": "a long answer nobody reads", "model": "claude-3-5-haiku"}) as first:
        assert first["index"] == 0 and first["finished"] is False
    [call] = received(upstream)

    async def ended() -> None:
        await asyncio.wait_for(call.finished.wait(), 10)

    upstream.run(ended())
    assert call.closed_early is True
