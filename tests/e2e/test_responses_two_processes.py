"""A ``previous_response_id`` chain started on one gateway process and continued on another (docs/api.md#responses-api).

The processes share the session backend: Redis in one module run, PostgreSQL in
the other (each with a fresh database the gateways migrate, a key prefix of its
own). The second process holds nothing in memory of the first's responses, so
the chain and the stored documents can only come from the shared store.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import openai
import pytest

from tests.conftest import scratch_database
from tests.support.server import ServerProcess
from tests.support.services import running

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module", params=["redis", "postgres"])
def pair(
    request: pytest.FixtureRequest, redis_url: str, redis_run_prefix: str, postgres_maintenance_url: str
) -> Iterator[tuple[ServerProcess, ...]]:
    env = {"MOCK_LATENCY_MS": "0", "LOG_LEVEL": "warning", "SESSION_BACKEND": request.param}
    if request.param == "redis":
        env |= {"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": f"{redis_run_prefix}{uuid.uuid4().hex[:12]}:"}
        with running(ServerProcess(env), ServerProcess(env)) as servers:
            yield servers
        return
    with scratch_database(postgres_maintenance_url) as database:
        env["POSTGRES_URL"] = database
        with running(ServerProcess(env), ServerProcess(env)) as servers:
            yield servers


def sdk(server: ServerProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key="x", max_retries=0)


def test_a_chain_continues_on_the_other_process(pair: tuple[ServerProcess, ...]) -> None:
    a, b = pair
    asked = sdk(a).responses.create(model="mock-1", input="weather in Lima? use get_weather", tools=[WEATHER])  # type: ignore[list-item]
    call = next(item for item in asked.output if item.type == "function_call")
    answered = sdk(b).responses.create(
        model="mock-1",
        previous_response_id=asked.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert "sunny" in answered.output_text  # B's provider saw A's call as history: the result met its call
    streamed = list(
        sdk(a).responses.create(model="mock-1", previous_response_id=answered.id, input="thanks", stream=True)
    )
    final = streamed[-1]
    assert final.type == "response.completed" and "turn 2" in final.response.output_text
    assert sdk(b).responses.retrieve(final.response.id).output_text == final.response.output_text
    assert sdk(a).responses.retrieve(asked.id).model_dump() == asked.model_dump()
    sdk(b).responses.delete(asked.id)
    with pytest.raises(openai.NotFoundError):
        sdk(a).responses.retrieve(asked.id)
    with pytest.raises(openai.NotFoundError):
        sdk(a).responses.create(model="mock-1", previous_response_id=asked.id, input="again")
    # the later responses carry their own chains: deleting the first does not break them
    assert (
        sdk(a).responses.create(model="mock-1", previous_response_id=answered.id, input="still there").status
        == "completed"
    )
