"""Rich conversations through the mock provider and the use-cases: tool calls, JSON, images, reasoning, sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from adapters.providers.mock import MockProvider
from adapters.sessions.memory import MemorySessionRepo
from application.conversation import Conversations
from domain.content import (
    ImagePart,
    OutputFormat,
    ReasoningConfig,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from domain.errors import InvalidRequest, UpstreamBadRequest
from domain.models import Caller, Completion, Message, ProviderCall, ProviderChunk, Session, StreamDelta, StreamEnd
from domain.stream_assembly import ReasoningAssembly, ToolCallAssembly
from tests.fakes import FakeClock
from tests.unit.usecases import build_app, request

WEATHER = ToolSpec(
    name="get_weather",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
        "required": ["city"],
    },
)
TIME = ToolSpec(name="get_time", parameters={"type": "object", "properties": {"zone": {"enum": ["UTC", "PET"]}}})
TOOLS = (WEATHER, TIME)


class RecordingMock(MockProvider):
    """The mock provider, remembering every call it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[ProviderCall] = []

    async def generate(self, call: ProviderCall) -> Completion:
        self.calls.append(call)
        return await super().generate(call)

    async def stream(self, call: ProviderCall) -> AsyncIterator[ProviderChunk]:
        self.calls.append(call)
        async for chunk in super().stream(call):
            yield chunk


def call(*messages: Message, **options: Any) -> ProviderCall:
    return ProviderCall(model="mock-1", messages=messages, max_tokens=100, temperature=0.7, **options)


def user(text: str) -> Message:
    return Message(role="user", content=text)


async def streamed(provider: MockProvider, provider_call: ProviderCall) -> list[ProviderChunk]:
    return [chunk async for chunk in provider.stream(provider_call)]


class TestMockProvider:
    async def test_a_tool_named_in_the_prompt_is_called_with_arguments_that_satisfy_its_schema(self) -> None:
        completion = await MockProvider().generate(call(user("What does get_weather say?"), tools=TOOLS))
        assert (completion.finish_reason, completion.content, len(completion.tool_calls)) == ("tool_calls", "", 1)
        tool_call = completion.tool_calls[0]
        arguments = msgspec.json.decode(tool_call.arguments)
        assert tool_call.name == "get_weather" and tool_call.id.startswith("call_")
        assert isinstance(arguments["city"], str) and 1 <= arguments["days"] <= 7

    async def test_tools_the_prompt_does_not_name_are_not_called(self) -> None:
        completion = await MockProvider().generate(call(user("hello"), tools=TOOLS))
        assert (completion.tool_calls, completion.finish_reason) == ((), "stop")

    @pytest.mark.parametrize(
        ("prompt", "options", "called"),
        [
            ("get_time then get_weather", {}, ["get_time", "get_weather"]),
            ("get_time then get_weather", {"parallel_tool_calls": False}, ["get_time"]),
            ("get_weather", {"tool_choice": ToolChoice(mode="none")}, []),
            ("hello", {"tool_choice": ToolChoice(mode="required")}, ["get_weather"]),
            ("get_weather", {"tool_choice": ToolChoice(mode="tool", name="get_time")}, ["get_time"]),
        ],
    )
    async def test_the_tool_choice_decides_what_is_called(
        self, prompt: str, options: dict[str, Any], called: list[str]
    ) -> None:
        completion = await MockProvider().generate(call(user(prompt), tools=TOOLS, **options))
        assert [c.name for c in completion.tool_calls] == called
        assert len({c.id for c in completion.tool_calls}) == len(called)

    async def test_a_tool_call_answer_costs_output_tokens_whole_and_streamed(self) -> None:
        # Regression: the mock counted only text words, so a tool-call answer reported 0 completion tokens.
        provider = MockProvider()
        completion = await provider.generate(call(user("get_weather and get_time"), tools=TOOLS))
        expected = sum(1 + -(-len(c.arguments) // 16) for c in completion.tool_calls)
        assert completion.usage.completion_tokens == expected > len(completion.tool_calls)
        [end] = [c for c in await streamed(provider, call(user("get_weather and get_time"), tools=TOOLS)) if c.usage]
        assert end.usage is not None and end.usage.completion_tokens == expected

    async def test_a_long_system_prompt_is_written_to_its_prompt_cache_then_read(self) -> None:
        provider = MockProvider()
        system = " ".join(f"rule{n}" for n in range(1024))
        written = await provider.generate(call(user("one"), system=system))
        read = [c for c in await streamed(provider, call(user("two"), system=system)) if c.usage]
        short = await provider.generate(call(user("three"), system="be brief"))
        assert (written.usage.cache_write_input_tokens, written.usage.cache_read_input_tokens) == (1024, 0)
        assert read[0].usage is not None
        assert (read[0].usage.cache_write_input_tokens, read[0].usage.cache_read_input_tokens) == (0, 1024)
        assert read[0].usage.prompt_tokens == 1024 + 1  # the cached words are among the input tokens
        assert (short.usage.cache_read_input_tokens, short.usage.cache_write_input_tokens) == (0, 0)
        assert (await MockProvider().generate(call(user("one"), system=system))).usage.cache_write_input_tokens == 1024

    async def test_after_the_tool_results_it_answers_in_text(self) -> None:
        asked = user("get_weather please")
        first = await MockProvider().generate(call(asked, tools=TOOLS))
        results = Message(role="tool", parts=(ToolResultPart(call_id=first.tool_calls[0].id, content="18 C"),))
        final = await MockProvider().generate(
            call(asked, Message(role="assistant", parts=first.tool_calls), results, tools=TOOLS)
        )
        assert final.finish_reason == "stop" and final.tool_calls == ()
        assert "returned] 18 C" in final.content

    async def test_results_in_tool_messages_of_their_own_are_each_quoted(self) -> None:
        # Regression: only the last tool message was quoted, as if the other calls had not been answered.
        asked = user("get_time then get_weather")
        first = await MockProvider().generate(call(asked, tools=TOOLS))
        time_call, weather_call = first.tool_calls
        results = (
            Message(role="tool", parts=(ToolResultPart(call_id=time_call.id, content="clock offline", is_error=True),)),
            Message(role="tool", parts=(ToolResultPart(call_id=weather_call.id, content="18 C"),)),
        )
        final = await MockProvider().generate(
            call(asked, Message(role="assistant", parts=first.tool_calls), *results, tools=TOOLS)
        )
        assert final.content == (
            f"Mock answer (turn 1): [tool {time_call.id} error] clock offline [tool {weather_call.id} returned] 18 C"
        )

    async def test_json_modes_answer_valid_json(self) -> None:
        schema = {"type": "object", "properties": {"n": {"type": "integer"}, "tags": {"type": "array"}}}
        as_schema = OutputFormat(type="json_schema", name="r", schema=schema)
        object_answer = await MockProvider().generate(call(user("hi"), output_format=OutputFormat(type="json_object")))
        schema_answer = await MockProvider().generate(call(user("hi"), output_format=as_schema))
        assert msgspec.json.decode(object_answer.content) == {"answer": "Mock answer (turn 1): hi"}
        assert msgspec.json.decode(schema_answer.content) == {"n": 0, "tags": ["mock tags 1"]}

    async def test_attached_images_are_described(self) -> None:
        image = ImagePart(media_type="image/png", data=b"12345678")
        message = Message(role="user", parts=(TextPart(text="what is this?"), image, ImagePart(url="https://x/a.png")))
        completion = await MockProvider().generate(call(message))
        assert completion.content.endswith("what is this? [image image/png, 8 bytes] [image https://x/a.png]")

    async def test_a_stream_sends_the_same_answer_in_fragments(self) -> None:
        provider_call = call(user("get_weather and get_time"), tools=TOOLS, reasoning=ReasoningConfig(effort="low"))
        whole = await MockProvider().generate(provider_call)
        chunks = await streamed(MockProvider(), provider_call)
        calls, reasoning = ToolCallAssembly(), ReasoningAssembly()
        for chunk in chunks:
            for fragment in chunk.tool_calls:
                calls.add(fragment)
            if chunk.reasoning is not None:
                reasoning.add(chunk.reasoning)
        assert sum(len(chunk.tool_calls) for chunk in chunks) > 2 * len(whole.tool_calls)  # arguments in pieces
        assert calls.calls() == whole.tool_calls and reasoning.blocks() == whole.reasoning
        assert (chunks[-1].finish_reason, chunks[-1].usage) == ("tool_calls", whole.usage)

    async def test_reasoning_sent_back_altered_is_refused(self) -> None:
        first = await MockProvider().generate(call(user("hi"), reasoning=ReasoningConfig(effort="low")))
        block = first.reasoning[0]
        assert block.signature and first.usage.reasoning_tokens == len(block.text.split())
        back = Message(role="assistant", parts=(block, TextPart(text=first.content)))
        await MockProvider().generate(call(user("hi"), back, user("more")))
        altered = Message(role="assistant", parts=(ReasoningPart(text=block.text + "!", signature=block.signature),))
        with pytest.raises(UpstreamBadRequest, match="altered"):
            await MockProvider().generate(call(user("hi"), altered, user("more")))

    async def test_a_plain_prompt_is_answered_as_before(self) -> None:
        completion = await MockProvider().generate(call(user("one two"), system="be brief"))
        assert completion.content == "Mock answer (turn 1): one two [system: be brief ]"
        assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (4, 9)


class TestToolConversationsInSessions:
    async def test_a_two_step_tool_conversation_is_stored_and_sent_back(self) -> None:
        provider = RecordingMock()
        app = build_app(provider)  # type: ignore[arg-type]
        ids = {"user_id": "u", "session_id": "s"}
        first = await app.generate.execute(request("ask get_weather", tools=TOOLS, **ids))
        assert first.finish_reason == "tool_calls" and first.tool_calls
        result = Message(role="tool", parts=(ToolResultPart(call_id=first.tool_calls[0].id, content="sunny"),))
        final = await app.generate.execute(request("", messages=(result,), tools=TOOLS, **ids))
        assert final.finish_reason == "stop" and "sunny" in final.content
        assert provider.calls[-1].messages[1:] == (Message(role="assistant", parts=first.tool_calls), result)
        session = await app.sessions.get("s")
        assert session is not None
        assert [m.role for m in session.messages] == ["user", "assistant", "tool", "assistant"]
        assert session.messages[1].parts == first.tool_calls and session.messages[1].cache_key == first.cache_key

    async def test_a_result_without_its_call_is_refused_before_the_provider_is_asked(self) -> None:
        provider = RecordingMock()
        app = build_app(provider)  # type: ignore[arg-type]
        orphan = Message(role="tool", parts=(ToolResultPart(call_id="nope", content="x"),))
        with pytest.raises(InvalidRequest, match=r"messages\[0\].content\[0\].callId"):
            await app.generate.execute(request("", messages=(orphan,), user_id="u", session_id="s"))
        assert provider.calls == []

    async def test_a_tool_call_answer_is_cached_and_replayed_with_its_calls(self) -> None:
        app = build_app(RecordingMock())  # type: ignore[arg-type]
        fresh = await app.generate.execute(request("get_weather", tools=TOOLS))
        again = await app.generate.execute(request("get_weather", tools=TOOLS))
        assert again.cached and again.tool_calls == fresh.tool_calls and again.finish_reason == "tool_calls"
        replayed = [event async for event in app.stream.execute(request("get_weather", tools=TOOLS))]
        fragments = [d.tool_calls[0] for d in replayed if isinstance(d, StreamDelta) and d.tool_calls]
        assert [(f.id, f.name, f.arguments) for f in fragments] == [
            (c.id, c.name, c.arguments) for c in fresh.tool_calls
        ]

    async def test_a_stream_relays_fragments_and_ends_with_the_assembled_answer(self) -> None:
        app = build_app(RecordingMock())  # type: ignore[arg-type]
        events = [
            event
            async for event in app.stream.execute(
                request("get_time", tools=TOOLS, reasoning=ReasoningConfig(effort="low"))
            )
        ]
        deltas = [event for event in events if isinstance(event, StreamDelta)]
        end = events[-1]
        assert isinstance(end, StreamEnd)
        assert [d.index for d in deltas] == list(range(len(deltas))) and end.index == len(deltas)
        assert any(d.reasoning for d in deltas) and any(d.tool_calls for d in deltas)
        assert end.answer.tool_calls[0].name == "get_time" and end.answer.reasoning[0].signature
        assert msgspec.json.decode(end.answer.tool_calls[0].arguments) == {"zone": "UTC"}
        assert await app.cache.get(end.answer.cache_key) is not None

    async def test_a_complaint_in_a_rich_turn_still_reaches_the_feedback_loop(self) -> None:
        app = build_app(RecordingMock())  # type: ignore[arg-type]
        trusted = Caller(key_id="qa", trusted_feedback=True)
        ids: dict[str, Any] = {"user_id": "u", "session_id": "s", "caller": trusted}
        first = await app.generate.execute(request("write a sort", **ids))
        complaint = Message(role="user", parts=(TextPart(text="that code has a bug, no funciona"),))
        await app.generate.execute(request("", messages=(complaint,), **ids))
        assert await app.feedback_repo.is_blacklisted(first.cache_key)


class TestTheWindowKeepsCallsWithTheirResults:
    async def window(self, *messages: Message, window: int) -> tuple[Conversations, Session | None]:
        repo = MemorySessionRepo()
        await repo.append("s", "u", messages, max_messages=100, now=0.0)
        conversations = Conversations(repo=repo, clock=FakeClock(), max_messages=100, context_window=window)
        return conversations, await repo.get("s")

    async def test_pending_calls_keep_their_turn_however_small_the_window(self) -> None:
        called = Message(role="assistant", parts=(ToolCallPart(id="c", name="get_weather"),))
        history = (user("a"), Message(role="assistant", content="b"), user("get_weather"), called)
        conversations, session = await self.window(*history, window=1)
        result = Message(role="tool", parts=(ToolResultPart(call_id="c", content="ok"),))
        provider_call = conversations.call_for(
            request("", messages=(result,), tools=(WEATHER,), user_id="u", session_id="s"), session
        )
        assert provider_call.messages == (user("get_weather"), called, result)

    async def test_a_window_never_opens_with_an_orphaned_result(self) -> None:
        called = Message(role="assistant", parts=(ToolCallPart(id="c", name="get_weather"),))
        result = Message(role="tool", parts=(ToolResultPart(call_id="c", content="ok"),))
        history = (user("get_weather"), called, result, Message(role="assistant", content="done"))
        conversations, session = await self.window(*history, window=2)
        provider_call = conversations.call_for(request("next", user_id="u", session_id="s"), session)
        assert provider_call.messages == (user("next"),)
