"""The matched stop sequence: cut by the mock, kept by the cache, answered by the Anthropic door."""

from __future__ import annotations

import json

import msgspec

from adapters.providers.mock import MockProvider
from domain.accounting import answer_from_cache, entry_from_answer
from domain.content import Sampling
from domain.models import Answer, CacheEntry, GenerationRequest, Message, ProviderCall, StreamEnd, Usage
from entrypoints.http.anthropic.events import EventRenderer
from entrypoints.http.anthropic.mapping import message_json

REQUEST = GenerationRequest(prompt="p", model="mock-1", provider="mock", max_tokens=10, temperature=0.5)


def mock_call(prompt: str, *stops: str, max_tokens: int = 256) -> ProviderCall:
    return ProviderCall(
        model="mock-1",
        messages=(Message(role="user", content=prompt),),
        max_tokens=max_tokens,
        temperature=0.5,
        sampling=Sampling(stop=stops),
    )


def answer(**fields: object) -> Answer:
    return Answer(**{"content": "", "model": "m", "provider": "mock", "usage": Usage(), **fields})  # type: ignore[arg-type]


async def test_the_mock_cuts_its_answer_at_the_first_stop_sequence_and_names_it() -> None:
    provider = MockProvider()
    call = mock_call("one two STOP three END four", "END", "STOP")

    completion = await provider.generate(call)
    chunks = [chunk async for chunk in provider.stream(call)]

    assert completion.content == "Mock answer (turn 1): one two "
    assert (completion.finish_reason, completion.stop_sequence) == ("stop", "STOP")
    assert "".join(chunk.text for chunk in chunks) == completion.content
    assert (chunks[-1].finish_reason, chunks[-1].stop_sequence) == ("stop", "STOP")
    assert completion.usage.completion_tokens == 6  # what it said (five words, the space before the cut), no more


async def test_the_mock_cuts_inside_a_word_and_prefers_the_longer_of_two_at_one_place() -> None:
    completion = await MockProvider().generate(mock_call("abcdef", "cd", "cde"))

    assert (completion.content, completion.stop_sequence) == ("Mock answer (turn 1): ab", "cde")


async def test_the_mock_names_no_stop_sequence_when_none_occurs_or_the_cap_comes_first() -> None:
    untouched = await MockProvider().generate(mock_call("nothing to cut", "zzz"))
    capped = await MockProvider().generate(mock_call("a b c d e END", "END", max_tokens=3))

    assert (untouched.content, untouched.stop_sequence) == ("Mock answer (turn 1): nothing to cut", None)
    assert (capped.finish_reason, capped.stop_sequence) == ("length", None)


def test_the_stop_sequence_survives_the_cache_and_old_entries_still_read() -> None:
    fresh = answer(content="ab", finish_reason="stop", stop_sequence="cd")
    entry = entry_from_answer(fresh, now=1.0)
    encoded = msgspec.msgpack.encode(entry)
    hit = answer_from_cache(msgspec.msgpack.decode(encoded, type=CacheEntry), REQUEST, key="k", duration_ms=0.1)

    assert (hit.finish_reason, hit.stop_sequence) == ("stop", "cd")
    old = msgspec.msgpack.encode({"content": "x", "model": "m", "provider": "p", "usage": {}, "finish_reason": "stop"})
    assert msgspec.msgpack.decode(old, type=CacheEntry).stop_sequence is None


def test_the_anthropic_message_says_stop_sequence_and_which_one_matched() -> None:
    matched = message_json(answer(content="ab", stop_sequence="cd"))
    natural = message_json(answer(content="ab"))

    assert (matched["stop_reason"], matched["stop_sequence"]) == ("stop_sequence", "cd")
    assert (natural["stop_reason"], natural["stop_sequence"]) == ("end_turn", None)


def test_the_anthropic_message_delta_says_stop_sequence_and_which_one_matched() -> None:
    render = EventRenderer(message_id="msg_1", model="m")
    frames = render(StreamEnd(index=0, answer=answer(content="ab", stop_sequence="cd")))

    deltas = [json.loads(line[6:]) for line in frames.decode().splitlines() if '"message_delta"' in line]
    assert deltas[0]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "cd"}
