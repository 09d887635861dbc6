"""The CountTokens use-case: the provider's count where it has one, else the estimate (docs/api.md#count-tokens)."""

from __future__ import annotations

import asyncio

from application.count_tokens import CountTokens
from domain.content import ToolSpec
from domain.errors import UpstreamBadRequest, UpstreamError
from domain.models import GenerationRequest, Message, ProviderCall
from domain.token_estimate import estimate_input_tokens


class Counter:
    def __init__(self, answer: int | Exception) -> None:
        self.answer = answer
        self.calls: list[ProviderCall] = []

    async def count_input_tokens(self, call: ProviderCall) -> int:
        self.calls.append(call)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def request(**fields: object) -> GenerationRequest:
    base: dict[str, object] = {
        "model": "claude",
        "provider": "aws",
        "max_tokens": 100,
        "temperature": 0.5,
        "system": "be brief",
        "messages": (Message(role="user", content="count these words please"),),
    }
    return GenerationRequest(**{**base, **fields})  # type: ignore[arg-type]


def test_the_providers_count_is_exact_and_gets_the_system_and_the_messages() -> None:
    counter = Counter(42)
    count = asyncio.run(CountTokens({"aws": counter}).execute(request()))
    assert (count.input_tokens, count.estimated) == (42, False)
    [call] = counter.calls
    assert call.system == "be brief" and call.messages[0].content == "count these words please"


def test_tools_are_estimated_on_top_of_the_count() -> None:
    tools = (ToolSpec(name="get_weather", description="The weather in a city"),)
    count = asyncio.run(CountTokens({"aws": Counter(42)}).execute(request(tools=tools)))
    assert count.estimated and count.input_tokens > 42


def test_no_counter_or_a_failing_one_is_the_estimate() -> None:
    asked = request()
    for counters in ({}, {"aws": Counter(UpstreamBadRequest("cannot count"))}, {"aws": Counter(UpstreamError("down"))}):
        count = asyncio.run(CountTokens(counters).execute(asked))
        assert (count.input_tokens, count.estimated) == (estimate_input_tokens(asked), True)
