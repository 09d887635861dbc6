"""The OpenAI Agents SDK with its default model (the Responses API) through the gateway, in front of the mock.

``set_default_openai_client`` points the SDK's default ``OpenAIResponsesModel`` at
the gateway; tracing is off (offline, its exporter would wait on api.openai.com).
The agent's tool turns go to ``/v1/responses`` as input items (messages,
``function_call``, ``function_call_output``) and, in the chained run, through
``previous_response_id``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from agents import Agent, Runner, function_tool, set_default_openai_api, set_default_openai_client, set_tracing_disabled
from openai import AsyncOpenAI

from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    with ServerProcess({"LOG_LEVEL": "warning", "MOCK_LATENCY_MS": "0"}) as running:
        yield running


@pytest.fixture
async def agent(gateway: ServerProcess) -> AsyncIterator[tuple[Agent[None], list[str]]]:
    set_tracing_disabled(True)
    set_default_openai_api("responses")  # the default, stated: another test may have switched it
    client = AsyncOpenAI(base_url=gateway.base_url + "/v1", api_key="x", max_retries=0)
    set_default_openai_client(client, use_for_tracing=False)
    ran: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        ran.append("get_weather")
        return f"sunny in {city}"

    @function_tool
    def get_time(city: str) -> str:
        """The local time in a city."""
        ran.append("get_time")
        return f"noon in {city}"

    yield (
        Agent(name="assistant", instructions="Answer with the tools.", model="mock-1", tools=[get_weather, get_time]),
        ran,
    )
    await client.close()


async def test_a_two_tool_agent_runs_to_completion_on_the_responses_api(agent: tuple[Agent[None], list[str]]) -> None:
    assistant, ran = agent
    result = await Runner.run(assistant, "call get_weather and get_time for Lima", max_turns=4)
    assert sorted(ran) == ["get_time", "get_weather"]
    assert "sunny in" in result.final_output and "noon in" in result.final_output
    assert result.raw_responses[0].response_id.startswith("resp_")  # type: ignore[union-attr]


async def test_a_streamed_run_chained_by_previous_response_id(agent: tuple[Agent[None], list[str]]) -> None:
    assistant, ran = agent
    first = await Runner.run(assistant, "call get_weather for Quito", max_turns=4)
    assert ran == ["get_weather"] and "sunny in" in first.final_output
    streamed = Runner.run_streamed(
        assistant, "now call get_time for Quito", max_turns=4, previous_response_id=first.last_response_id
    )
    async for _ in streamed.stream_events():
        pass
    assert ran == ["get_weather", "get_time"]
    assert "noon in" in streamed.final_output
