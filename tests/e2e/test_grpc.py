"""The gRPC listener, through a grpclib client, against the real server process (docs/api.md#grpc)."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from grpclib.client import Channel
from grpclib.const import Status

from entrypoints.grpc.generated import proto as pb
from tests.support.grpc_calls import Outcome, call, stream_replies
from tests.support.realtime import get_json, pool_stats, post_json, realtime_server, settled_pool, words
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    with realtime_server() as running:
        yield running


@pytest.fixture(scope="module")
def slow_gateway() -> Iterator[ServerProcess]:
    """One provider slot, no queue, slow words, small messages: overload and cancellation are observable."""
    env = {
        "MOCK_LATENCY_MS": "40",
        "POOL_MAX_CONCURRENT": "1",
        "POOL_QUEUE_SIZE": "0",
        "GRPC_MAX_MESSAGE_BYTES": "4096",
    }
    with realtime_server(env) as running:
        yield running


@pytest.fixture
async def channel(gateway: ServerProcess) -> AsyncIterator[Channel]:
    async with Channel("127.0.0.1", gateway.grpc_port) as opened:
        yield opened


@pytest.fixture
async def slow_channel(slow_gateway: ServerProcess) -> AsyncIterator[Channel]:
    async with Channel("127.0.0.1", slow_gateway.grpc_port) as opened:
        yield opened


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"


def failed_with(outcome: Outcome, status: Status) -> str:
    assert outcome.error is not None, f"expected {status.name}, the call succeeded"
    assert outcome.error.status == status, f"expected {status.name}, got {outcome.error!r}"
    assert outcome.error.message
    return outcome.error.message


async def test_generate_answers_with_tokens_ids_and_the_request_id_echoed_in_both_metadata(channel: Channel) -> None:
    prompt = unique("hello grpc")
    outcome = await call(channel, "Generate", pb.GenerateRequest(prompt=prompt), {"x-request-id": "grpc-req-1"})

    reply = outcome.reply
    assert reply.content == f"Mock answer (turn 1): {prompt}"
    assert (reply.provider, reply.model, reply.finish_reason) == ("mock", "mock-1", "stop")
    assert reply.tokens_used == reply.prompt_tokens + reply.completion_tokens > 0
    assert reply.metadata["completion_tokens"] == str(reply.completion_tokens)
    assert reply.metadata["prompt_tokens_cache"] == "0"
    assert not reply.cached
    assert reply.processing_time.endswith("s")
    assert reply.request_id == "grpc-req-1"
    assert outcome.initial["x-request-id"] == outcome.trailing["x-request-id"] == "grpc-req-1"


async def test_a_call_without_a_request_id_gets_a_generated_one(channel: Channel) -> None:
    outcome = await call(channel, "Generate", pb.GenerateRequest(prompt=unique("no id")))

    assert outcome.reply.request_id.startswith("req-")
    assert outcome.initial["x-request-id"] == outcome.reply.request_id


async def test_the_same_request_again_is_a_cache_hit_that_costs_nothing(channel: Channel) -> None:
    request = pb.GenerateRequest(prompt=unique("cache me"), max_tokens=50)
    first = (await call(channel, "Generate", request)).reply
    second = (await call(channel, "Generate", request)).reply

    assert second.cached and second.provider == "cache" and second.tokens_used == 0
    assert second.content == first.content
    assert second.metadata["completion_tokens_cache"] == str(first.completion_tokens)


async def test_field_7_system_is_honoured_and_wins_over_system_prompt(channel: Channel) -> None:
    alone = await call(channel, "Generate", pb.GenerateRequest(prompt=unique("a"), system="be brief"))
    both = await call(
        channel, "Generate", pb.GenerateRequest(prompt=unique("b"), system="from system", system_prompt="ignored")
    )
    legacy = await call(channel, "Generate", pb.GenerateRequest(prompt=unique("c"), system_prompt="legacy"))

    assert alone.reply.content.endswith("[system: be brief ]")
    assert both.reply.content.endswith("[system: from system ]")
    assert legacy.reply.content.endswith("[system: legacy ]")


async def test_a_float32_temperature_means_the_same_as_over_http(gateway: ServerProcess, channel: Channel) -> None:
    prompt = unique("temperature")
    await post_json(gateway, "/api/v1/generate", {"prompt": prompt, "temperature": 0.3})

    same = await call(channel, "Generate", pb.GenerateRequest(prompt=prompt, temperature=0.3))
    greedy = await call(channel, "Generate", pb.GenerateRequest(prompt=prompt, temperature=0.0))

    assert same.reply.cached, "0.3 over gRPC arrives as 0.30000001 and must still be 0.3"
    assert not greedy.reply.cached, "an explicit 0.0 is a real temperature, not the default"


async def test_generate_stream_sends_chunks_in_order_then_one_final_chunk_with_totals(channel: Channel) -> None:
    prompt = unique("stream these words")
    outcome = await call(channel, "GenerateStream", pb.GenerateRequest(prompt=prompt), {"x-request-id": "s-1"})

    assert outcome.error is None
    *chunks, final = outcome.replies
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert not any(c.finished for c in chunks)
    assert "".join(c.content for c in chunks) == f"Mock answer (turn 1): {prompt}"
    assert final.finished and final.content == "" and final.index == len(chunks)
    assert final.total_tokens == final.prompt_tokens + final.completion_tokens > 0
    assert (final.provider, final.finish_reason, final.request_id) == ("mock", "stop", "s-1")
    assert final.timestamp > 0
    assert outcome.trailing["x-request-id"] == "s-1"


async def test_list_models_gives_the_catalogue_of_the_http_api(gateway: ServerProcess, channel: Channel) -> None:
    reply = (await call(channel, "ListModels", pb.ListModelsRequest())).reply
    over_http = await get_json(gateway, "/api/v1/models")

    assert reply.count == len(reply.models) == over_http["count"]
    assert [m.id for m in reply.models] == [m["id"] for m in over_http["models"]]
    mock = next(m for m in reply.models if m.id == "mock-1")
    assert mock.provider == "mock" and mock.max_tokens > 0 and mock.context_window >= mock.max_tokens


async def test_get_status_reports_providers_backends_and_the_pool(channel: Channel) -> None:
    reply = (await call(channel, "GetStatus", pb.StatusRequest())).reply

    assert reply.status == "healthy"
    assert "mock" in reply.providers and reply.models >= 1
    assert reply.cache_backend.backend == "memory" and reply.session_backend.healthy
    assert reply.pool_stats.max_concurrent > 0
    assert reply.timestamp > 0 and reply.version


@pytest.mark.parametrize(
    ("request_message", "metadata", "mentions"),
    [
        (pb.GenerateRequest(prompt=""), {}, "prompt"),
        (pb.GenerateRequest(prompt="x", temperature=2.5), {}, "temperature"),
        (pb.GenerateRequest(prompt="x", max_tokens=0), {}, "maxTokens"),
        (pb.GenerateRequest(prompt="x", model="no-such-model"), {}, "no-such-model"),
        (pb.GenerateRequest(prompt="x", provider="nowhere"), {}, "nowhere"),
        (pb.GenerateRequest(prompt="x"), {"x-user-id": "alone"}, "X-Session-ID"),
    ],
)
async def test_invalid_requests_are_invalid_argument_with_a_readable_message(
    channel: Channel, request_message: pb.GenerateRequest, metadata: dict[str, str], mentions: str
) -> None:
    for method in ("Generate", "GenerateStream"):
        outcome = await call(channel, method, request_message, metadata)

        assert mentions in failed_with(outcome, Status.INVALID_ARGUMENT)
        assert outcome.trailing["x-error-code"] in ("invalid_request", "unknown_model")
        assert outcome.trailing["x-request-id"]


async def test_another_users_session_is_not_found(channel: Channel) -> None:
    session = unique("sess").replace(" ", "-")
    owner = await call(
        channel, "Generate", pb.GenerateRequest(prompt="mine"), {"x-user-id": "ana", "x-session-id": session}
    )
    intruder = await call(
        channel, "Generate", pb.GenerateRequest(prompt="yours?"), {"x-user-id": "bob", "x-session-id": session}
    )

    assert owner.error is None
    assert f"session '{session}' not found" in failed_with(intruder, Status.NOT_FOUND)
    assert intruder.trailing["x-error-code"] == "not_found"


async def test_three_turns_of_a_session_reach_the_provider_as_history(gateway: ServerProcess, channel: Channel) -> None:
    session = "grpc-" + uuid.uuid4().hex
    metadata = {"x-user-id": "carla", "x-session-id": session}

    first = await call(channel, "Generate", pb.GenerateRequest(prompt="first question"), metadata)
    second = await call(channel, "GenerateStream", pb.GenerateRequest(prompt="second question"), metadata)
    third = await call(channel, "Generate", pb.GenerateRequest(prompt="third question"), metadata)

    assert first.reply.content.startswith("Mock answer (turn 1):")
    assert "".join(c.content for c in second.replies).startswith("Mock answer (turn 2):")
    assert third.reply.content.startswith("Mock answer (turn 3):")
    assert third.reply.session_id == session
    stored = await get_json(gateway, f"/api/v1/sessions/{session}", {"X-User-ID": "carla"})
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant"] * 3


async def test_a_full_pool_is_resource_exhausted_with_a_retry_hint(
    slow_gateway: ServerProcess, slow_channel: Channel
) -> None:
    outcome = Outcome()
    replies = stream_replies(slow_channel, "GenerateStream", pb.GenerateRequest(prompt=words(200, "busy")), outcome)
    await anext(replies)  # the only slot is now taken
    try:
        refused = await call(slow_channel, "Generate", pb.GenerateRequest(prompt=unique("no room")))
    finally:
        await replies.aclose()

    assert "pool" in failed_with(refused, Status.RESOURCE_EXHAUSTED)
    assert refused.trailing["x-error-code"] == "overloaded"
    assert int(refused.trailing["retry-after"]) >= 1


async def test_a_message_over_the_size_limit_is_resource_exhausted(slow_channel: Channel) -> None:
    outcome = await call(slow_channel, "Generate", pb.GenerateRequest(prompt="x" * 5000))

    assert "4096" in failed_with(outcome, Status.RESOURCE_EXHAUSTED)


async def test_a_client_that_cancels_a_stream_cancels_the_upstream_call(
    slow_gateway: ServerProcess, slow_channel: Channel
) -> None:
    cancelled_before = (await pool_stats(slow_gateway))["total_cancelled"]
    outcome = Outcome()
    replies = stream_replies(slow_channel, "GenerateStream", pb.GenerateRequest(prompt=words(200, "cut")), outcome)
    assert (await anext(replies)).content == "Mock"
    await anext(replies)
    await replies.aclose()  # leaves the call's context: grpclib resets the HTTP/2 stream

    stats = await settled_pool(slow_gateway, cancelled_before)
    assert stats["total_cancelled"] == cancelled_before + 1
    assert stats["current_concurrent"] == 0


async def test_shutdown_lets_a_running_stream_finish_and_refuses_new_calls_as_unavailable() -> None:
    with realtime_server({"MOCK_LATENCY_MS": "30"}) as server:
        async with Channel("127.0.0.1", server.grpc_port) as channel:
            prompt = words(60, "drain")
            outcome = Outcome()
            replies = stream_replies(channel, "GenerateStream", pb.GenerateRequest(prompt=prompt), outcome)
            await anext(replies)
            server.signal(signal.SIGTERM)
            refused = await _first_refusal(channel)
            rest = [reply async for reply in replies]

        assert server.wait(30) == 0
    assert rest[-1].finished and outcome.error is None
    assert "".join(r.content for r in outcome.replies).endswith(prompt)
    assert refused is not None, "no call was refused while the stream was draining"
    assert "shutting down" in failed_with(refused, Status.UNAVAILABLE)


async def test_a_stopping_server_stops_listening_at_once_while_its_stream_drains() -> None:
    """Found by ``python -m bench.chaos`` (fault ``sigterm``, two workers on one port): a stopping worker kept
    accepting connections for the whole grace period and refused every call on them, while the other worker
    could have answered. Now nothing listens once the stop begins; the running stream still finishes."""
    with realtime_server({"MOCK_LATENCY_MS": "30"}) as server:
        async with Channel("127.0.0.1", server.grpc_port) as channel:
            prompt = words(60, "listen")
            outcome = Outcome()
            replies = stream_replies(channel, "GenerateStream", pb.GenerateRequest(prompt=prompt), outcome)
            await anext(replies)
            server.signal(signal.SIGTERM)
            assert await _refused_connections(server.http_port), "the stop did not begin"
            assert await _refused_connections(server.grpc_port, attempts=1), (
                "still accepting connections while draining"
            )
            rest = [reply async for reply in replies]
        assert server.wait(30) == 0
    assert rest[-1].finished and outcome.error is None


async def _refused_connections(port: int, attempts: int = 100) -> bool:
    for _ in range(attempts):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except ConnectionRefusedError:
            return True
        writer.close()
        await asyncio.sleep(0.02)
    return False


async def _first_refusal(channel: Channel) -> Outcome | None:
    for _ in range(100):
        outcome = await call(channel, "ListModels", pb.ListModelsRequest())
        if outcome.error is not None:
            return outcome
        await asyncio.sleep(0.02)
    return None
