"""Every ``Provider`` the contract suite runs over, each with the means to script its upstream.

A ``ProviderUnderTest`` holds one provider and speaks for its upstream: it makes
the upstream fail before answering or in the middle of a stream, stall, and
tell when a call arrived and when it was let go. Remote providers run against
the local wire-level fakes (Bedrock; Azure OpenAI and OpenAI-compatible through
both upstream clients); in-process providers (mock, the scripted provider of the
unit tests) have nothing to drop, so "let go" means that nothing of the call
still waits. A scripting step a provider cannot take (the mock never fails)
skips the test with the reason.

A new provider joins the suite with one factory in ``PROVIDERS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Literal, Protocol

import pytest

from adapters.providers.mock import MockProvider
from domain.errors import UpstreamError
from domain.models import Message, ProviderCall
from domain.ports import Provider
from tests.fakes import ScriptedProvider
from tests.support import bedrock_adapter, chat_completions_adapter
from tests.support.chat_completions_adapter import FakeUpstream
from tests.vendors.bedrock import FakeBedrock, Garbled, HttpFailure, Reset, Script, StreamException
from tests.vendors.openai_script import FailureKind

Refusal = Literal["error_status", "dropped"]  # an error answer / the connection dropped before any byte
Break = Literal["error_event", "dropped"]  # an error event in the stream / the connection dropped mid-stream
WAIT_SECONDS = 10.0


class ProviderUnderTest(Protocol):
    @property
    def provider(self) -> Provider: ...

    def call(self, prompt: str) -> ProviderCall:
        """A call this provider can answer (its models differ)."""
        ...

    def fail_before_answer(self, how: Refusal) -> None:
        """The next calls fail before the upstream sends any of the answer."""
        ...

    def fail_mid_stream(self, how: Break, *, after_chunks: int) -> None:
        """The next stream breaks after ``after_chunks`` text chunks."""
        ...

    def answer_garbled(self) -> None:
        """The next calls get a success status with a body that is not the API's (a proxy's page)."""
        ...

    def stall_before_answer(self) -> None:
        """The next call waits for its answer until the caller gives up."""
        ...

    def stall_mid_stream(self) -> None:
        """The next stream is still under way long after its first chunk."""
        ...

    async def wait_called(self) -> None:
        """Until the upstream has received the next call."""
        ...

    async def wait_released(self) -> None:
        """Until the upstream has let the last call go (a remote one saw it abandoned before its end)."""
        ...


def _call(prompt: str, model: str) -> ProviderCall:
    return ProviderCall(model=model, messages=(Message(role="user", content=prompt),), max_tokens=256, temperature=0.5)


# ---- mock -------------------------------------------------------------------------------------


class MockUnderTest:
    """The offline provider: it never fails, and its only upstream is its own pacing."""

    def __init__(self) -> None:
        self.provider: Provider = MockProvider(latency_ms=0)

    def call(self, prompt: str) -> ProviderCall:
        return _call(prompt, "mock-1")

    def fail_before_answer(self, how: Refusal) -> None:
        pytest.skip("the mock provider never fails")

    def fail_mid_stream(self, how: Break, *, after_chunks: int) -> None:
        pytest.skip("the mock provider never fails")

    def answer_garbled(self) -> None:
        pytest.skip("the mock provider never fails")

    def stall_before_answer(self) -> None:
        self.provider = MockProvider(latency_ms=3_600_000)

    def stall_mid_stream(self) -> None:
        self.provider = MockProvider(latency_ms=500)  # one word each half second: a long stream under way

    async def wait_called(self) -> None:
        await asyncio.sleep(0)  # the calling task runs up to its first pause, the provider's own sleep

    async def wait_released(self) -> None:
        return None  # the pause belongs to the cancelled task itself: nothing else holds the call


@asynccontextmanager
async def mock() -> AsyncIterator[ProviderUnderTest]:
    yield MockUnderTest()


# ---- the scripted provider of the unit tests --------------------------------------------------


class ScriptedUpstream(asyncio.Event):
    """The gate of a ``ScriptedProvider``, scripted as its upstream.

    The provider waits on its gate once before a whole answer and once before
    each word of a stream; each wait is one step of the upstream. From step
    ``fail_from`` on a wait raises; from step ``hold_from`` on it never returns.
    """

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0
        self.fail_from: int | None = None
        self.hold_from: int | None = None
        self._arrived = asyncio.Event()
        self._held = 0
        self._none_held = asyncio.Event()
        self._none_held.set()

    def script(self, *, fail_from: int | None = None, hold_from: int | None = None) -> None:
        self.steps, self.fail_from, self.hold_from = 0, fail_from, hold_from
        self._arrived.clear()

    async def wait(self) -> Literal[True]:
        step, self.steps = self.steps, self.steps + 1
        self._arrived.set()
        if self.fail_from is not None and step >= self.fail_from:
            raise UpstreamError("the scripted upstream failed")
        if self.hold_from is not None and step >= self.hold_from:
            self._held += 1
            self._none_held.clear()
            try:
                await asyncio.Event().wait()  # until the caller gives up
            finally:
                self._held -= 1
                if not self._held:
                    self._none_held.set()
        return True

    async def arrived(self) -> None:
        await self._arrived.wait()

    async def none_held(self) -> None:
        await self._none_held.wait()


class ScriptedUnderTest:
    def __init__(self) -> None:
        self.upstream = ScriptedUpstream()
        self.provider: Provider = ScriptedProvider("the scripted answer arrives word by word", gate=self.upstream)

    def call(self, prompt: str) -> ProviderCall:
        return _call(prompt, "scripted-1")

    def fail_before_answer(self, how: Refusal) -> None:
        self.upstream.script(fail_from=0)

    def fail_mid_stream(self, how: Break, *, after_chunks: int) -> None:
        self.upstream.script(fail_from=after_chunks)

    def answer_garbled(self) -> None:
        pytest.skip("the scripted provider has no wire to garble")

    def stall_before_answer(self) -> None:
        self.upstream.script(hold_from=0)

    def stall_mid_stream(self) -> None:
        self.upstream.script(hold_from=1)

    async def wait_called(self) -> None:
        await self.upstream.arrived()

    async def wait_released(self) -> None:
        await self.upstream.none_held()


@asynccontextmanager
async def scripted() -> AsyncIterator[ProviderUnderTest]:
    yield ScriptedUnderTest()


# ---- AWS Bedrock, against the fake Bedrock runtime -------------------------------------------


class BedrockUnderTest:
    def __init__(self, fake: FakeBedrock, provider: Provider) -> None:
        self.fake = fake
        self.provider = provider
        self._seen = 0

    def call(self, prompt: str) -> ProviderCall:
        return _call(prompt, bedrock_adapter.CLAUDE)

    def fail_before_answer(self, how: Refusal) -> None:
        failure = HttpFailure("InternalServerException") if how == "error_status" else Reset(after_chunks=0)
        self._script(Script(failure=failure))

    def fail_mid_stream(self, how: Break, *, after_chunks: int) -> None:
        failure = StreamException(after_chunks=after_chunks) if how == "error_event" else Reset(after_chunks)
        self._script(Script(chunks=after_chunks + 3, failure=failure))

    def answer_garbled(self) -> None:
        self._script(Script(failure=Garbled()))

    def stall_before_answer(self) -> None:
        self._script(Script(first_byte_delay=30.0))

    def stall_mid_stream(self) -> None:
        self._script(Script(chunks=50, chunk_delay=0.1))

    async def wait_called(self) -> None:
        await self.fake.wait_for_requests(self._seen + 1)

    async def wait_released(self) -> None:
        request = self.fake.requests[-1]
        await request.finished.wait()
        assert request.closed_early, "the Bedrock connection was not closed before the answer ended"

    def _script(self, script: Script) -> None:
        self.fake.script = script
        self._seen = len(self.fake.requests)


@asynccontextmanager
async def bedrock() -> AsyncIterator[ProviderUnderTest]:
    async with FakeBedrock() as fake, bedrock_adapter.bedrock_provider(fake) as provider:
        yield BedrockUnderTest(fake, provider)


# ---- Azure OpenAI and OpenAI-compatible, against the fake, through each upstream client ----------


class ChatCompletionsUnderTest:
    def __init__(self, fake: FakeUpstream, provider: Provider, model: str) -> None:
        self.fake = fake
        self.provider = provider
        self._model = model
        self._seen = 0

    def call(self, prompt: str) -> ProviderCall:
        return _call(prompt, self._model)

    def fail_before_answer(self, how: Refusal) -> None:
        self._fail("server_error" if how == "error_status" else "reset")

    def fail_mid_stream(self, how: Break, *, after_chunks: int) -> None:
        self.fake.script.chunks = after_chunks + 3
        self._fail("error_event" if how == "error_event" else "reset_mid_stream", after_chunks=after_chunks)

    def answer_garbled(self) -> None:
        self._fail("malformed")

    def stall_before_answer(self) -> None:
        self._fail("hang")

    def stall_mid_stream(self) -> None:
        self.fake.script.chunks = 6
        self._fail("stall_mid_stream", after_chunks=1)

    async def wait_called(self) -> None:
        await self.fake.wait_requests(self._seen + 1, within=WAIT_SECONDS)

    async def wait_released(self) -> None:
        await self.fake.wait_closed_early(within=WAIT_SECONDS)

    def _fail(self, kind: FailureKind, *, after_chunks: int = 1) -> None:
        self.fake.fail(kind, after_chunks=after_chunks)
        self._seen = len(self.fake.requests)


def _azure(client: str) -> Callable[[], AbstractAsyncContextManager[ProviderUnderTest]]:
    @asynccontextmanager
    async def azure() -> AsyncIterator[ProviderUnderTest]:
        async with FakeUpstream(client=client) as fake, chat_completions_adapter.azure_provider(fake) as provider:
            yield ChatCompletionsUnderTest(fake, provider, "gpt-4o")

    return azure


def _openai(client: str) -> Callable[[], AbstractAsyncContextManager[ProviderUnderTest]]:
    @asynccontextmanager
    async def openai_compatible() -> AsyncIterator[ProviderUnderTest]:
        async with FakeUpstream(client=client) as fake, chat_completions_adapter.openai_provider(fake) as provider:
            yield ChatCompletionsUnderTest(fake, provider, "gpt-4o-mini")

    return openai_compatible


# UPSTREAM_CLIENT=sdk is the openai SDK; UPSTREAM_CLIENT=fast the lean HTTP client ("http" in chat_completions_adapter).
PROVIDERS: dict[str, Callable[[], AbstractAsyncContextManager[ProviderUnderTest]]] = {
    "mock": mock,
    "scripted": scripted,
    "bedrock": bedrock,
    "azure-sdk": _azure("sdk"),
    "azure-fast": _azure("http"),
    "openai-sdk": _openai("sdk"),
    "openai-fast": _openai("http"),
}
