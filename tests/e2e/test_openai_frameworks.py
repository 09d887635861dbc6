"""Frameworks built on OpenAI's API, unchanged, against the real server in front of the mock.

LangChain's ``ChatOpenAI`` (invoke, stream, ``bind_tools`` round trip,
``with_structured_output``) and the OpenAI Agents SDK's
``OpenAIChatCompletionsModel`` running a two-tool agent to completion. The
mock calls every offered tool the prompt names, then answers quoting the
results, so the agent's final output proves that both tools ran and that
their results came back to the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_tracing_disabled
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from openai import AsyncOpenAI
from pydantic import BaseModel

from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    with ServerProcess({"LOG_LEVEL": "warning", "CACHE_ENABLED": "false"}) as running:
        yield running


@pytest.fixture(scope="module")
def chat(gateway: ServerProcess) -> ChatOpenAI:
    return ChatOpenAI(model="mock/mock-1", base_url=gateway.base_url + "/v1", api_key="x", max_retries=0)


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


class Report(BaseModel):
    city: str
    celsius: float


def test_langchain_invoke_and_stream(chat: ChatOpenAI) -> None:
    answer = chat.invoke("hello from langchain")
    assert isinstance(answer, AIMessage) and answer.content == "Mock answer (turn 1): hello from langchain"
    assert answer.usage_metadata is not None and answer.usage_metadata["total_tokens"] > 0
    pieces = list(chat.stream("stream from langchain"))
    assert len(pieces) > 2
    assert "".join(str(p.content) for p in pieces) == "Mock answer (turn 1): stream from langchain"


def test_langchain_bind_tools_round_trip(chat: ChatOpenAI) -> None:
    with_tools = chat.bind_tools([get_weather])
    question = HumanMessage("use get_weather for Lima")
    first = with_tools.invoke([question])
    assert isinstance(first, AIMessage) and first.tool_calls
    [call] = first.tool_calls
    assert call["name"] == "get_weather" and "city" in call["args"]
    result = ToolMessage(content=get_weather.invoke(call["args"]), tool_call_id=call["id"])
    final = with_tools.invoke([question, first, result])
    assert "sunny in" in str(final.content)


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_langchain_with_structured_output(chat: ChatOpenAI, method: str) -> None:
    structured = chat.with_structured_output(Report, method=method)  # type: ignore[arg-type]
    report = structured.invoke("report the weather in Lima")
    assert isinstance(report, Report)


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
async def test_an_agents_sdk_agent_runs_two_tools_to_completion(gateway: ServerProcess, streamed: bool) -> None:
    set_tracing_disabled(True)  # offline: the trace exporter would wait on api.openai.com
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

    client = AsyncOpenAI(base_url=gateway.base_url + "/v1", api_key="x", max_retries=0)
    agent = Agent(
        name="assistant",
        instructions="Answer with the tools.",
        model=OpenAIChatCompletionsModel(model="mock-1", openai_client=client),
        tools=[get_weather, get_time],
    )
    question = "call get_weather and get_time for Lima"
    if streamed:  # chat.completion.chunk deltas, tool calls by index, the usage chunk: what the SDK assembles
        result: Any = Runner.run_streamed(agent, question, max_turns=4)
        async for _ in result.stream_events():
            pass
    else:
        result = await Runner.run(agent, question, max_turns=4)
    assert sorted(ran) == ["get_time", "get_weather"]
    assert "sunny in" in result.final_output and "noon in" in result.final_output
    await client.close()
