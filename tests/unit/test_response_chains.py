"""Stored responses in the application: ownership, retention, the bound of a chain (application/response_chains.py)."""

from __future__ import annotations

import pytest

from adapters.sessions.responses_memory import MemoryResponseStore
from application.response_chains import ResponseChains
from domain.content import TextPart, ToolCallPart, ToolResultPart
from domain.errors import NotFound
from domain.models import Answer, Caller, GenerationRequest, Message, Usage
from domain.stored_responses import bounded_chain, new_response_id
from tests.fakes import FakeClock

ALICE = Caller(key_id="alice")
BOB = Caller(key_id="bob")
ADMIN = Caller(key_id="root", admin=True)


def request(text: str, caller: Caller = ALICE, history: tuple[Message, ...] = ()) -> GenerationRequest:
    return GenerationRequest(
        model="mock-1", provider="mock", max_tokens=10, temperature=0.0, caller=caller,
        messages=(Message(role="user", content=text),), history=history,
    )  # fmt: skip


def answer(text: str) -> Answer:
    return Answer(content=text, model="mock-1", provider="mock", usage=Usage(), cache_key="ai:" + text)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def chains(clock: FakeClock) -> ResponseChains:
    return ResponseChains(store=MemoryResponseStore(), clock=clock, retention_seconds=60, max_messages=6)


async def keep(chains: ResponseChains, text: str, *, caller: Caller = ALICE, previous: str = "") -> str:
    history = await chains.history_of(previous, caller) if previous else ()
    response_id = new_response_id()
    await chains.keep(
        response_id, request(text, caller, history), answer("re " + text), document=b"{}", input_items=b"[]"
    )
    return response_id


async def test_a_chain_carries_its_history_with_the_cache_keys_the_feedback_loop_reads(chains: ResponseChains) -> None:
    first = await keep(chains, "one")
    second = await keep(chains, "two", previous=first)
    history = await chains.history_of(second, ALICE)
    assert [m.text for m in history] == ["one", "re one", "two", "re two"]
    assert history[-1].cache_key == "ai:re two"


async def test_only_the_owner_continues_the_owner_and_an_admin_read(chains: ResponseChains) -> None:
    first = await keep(chains, "one")
    for outsider in (BOB, ADMIN, Caller()):
        with pytest.raises(NotFound):
            await chains.history_of(first, outsider)
    with pytest.raises(NotFound):
        await chains.read(first, BOB)
    assert (await chains.read(first, ADMIN)).id == first
    with pytest.raises(NotFound):
        await chains.delete(first, BOB)
    await chains.delete(first, ALICE)
    with pytest.raises(NotFound):
        await chains.read(first, ALICE)


async def test_a_response_expires_after_the_retention(chains: ResponseChains, clock: FakeClock) -> None:
    first = await keep(chains, "one")
    clock.advance(59)
    assert (await chains.read(first, ALICE)).id == first
    clock.advance(2)
    with pytest.raises(NotFound):
        await chains.history_of(first, ALICE)


async def test_a_fork_keeps_each_branch_apart(chains: ResponseChains) -> None:
    root = await keep(chains, "root")
    left = await keep(chains, "left", previous=root)
    right = await keep(chains, "right", previous=root)
    assert [m.text for m in await chains.history_of(left, ALICE)][-2:] == ["left", "re left"]
    assert "left" not in [m.text for m in await chains.history_of(right, ALICE)]


async def test_a_long_chain_is_bounded_and_starts_at_a_user_message(chains: ResponseChains) -> None:
    previous = ""
    for n in range(10):
        previous = await keep(chains, f"q{n}", previous=previous)
    history = await chains.history_of(previous, ALICE)
    assert len(history) <= 6 and history[0].role == "user" and history[-1].text == "re q9"


def test_the_bound_never_separates_a_call_from_its_result() -> None:
    call = Message(role="assistant", parts=(ToolCallPart(id="c1", name="f"),))
    result = Message(role="tool", parts=(ToolResultPart(call_id="c1", content="r"),))
    done = Message(role="assistant", parts=(TextPart(text="done"),))
    chain = (Message(role="user", content="a"), Message(role="assistant", content="b"),
             Message(role="user", content="use f"), call, result, done)  # fmt: skip
    for bound in range(1, 7):
        kept = bounded_chain(chain, bound)
        assert not kept or kept[0].role == "user"
        assert (result in kept) == (call in kept)
    assert bounded_chain(chain, 4) == chain[2:]
    assert bounded_chain(chain, 3) == ()
