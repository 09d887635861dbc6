"""Resilience around any ``Provider``: retries with backoff and a circuit breaker.

Both are decorators that satisfy the ``Provider`` port themselves, so the
container wires them around each adapter; the intended order is
``RetryingProvider(CircuitBreakerProvider(adapter))``: every attempt counts in
the breaker, and an open circuit (``CircuitOpen`` is not retriable) ends the
retries at once.

What is retried is decided by the error class: an ``UpstreamError`` whose class
says ``retriable = True`` (throttling, 5xx, resets, timeouts). Bad requests and
auth errors are never retried. A stream is retried only before its first chunk
was handed on; after that, the consumer has seen text and a retry would repeat it.
Time is injected (``sleep``, ``clock``, ``random``) so tests never sleep.
``ResilientEmbeddings`` gives an ``Embeddings`` adapter the same rule and its provider's circuit.
"""

from __future__ import annotations

import asyncio
import random as _random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal, TypeVar

from application.closing import close_iterator
from domain.embeddings import EmbeddingBatch, EmbeddingCall
from domain.errors import CircuitOpen, UpstreamError
from domain.models import Completion, ProviderCall, ProviderChunk
from domain.ports import Embeddings, Provider

CircuitState = Literal["closed", "open", "half_open"]
T = TypeVar("T")


class RetryPolicy:
    """When a failed call is tried again, and after how long (the rule of ``RetryingProvider``)."""

    def __init__(
        self,
        *,
        max_retries: int,
        base_delay: float = 0.2,
        max_delay: float = 5.0,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self._max_retries = max(0, max_retries)
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._random = random

    def delay(self, exc: UpstreamError, attempt: int) -> float | None:
        """How long to wait before the next attempt, or ``None`` when the error must go back."""
        if not exc.retriable or attempt >= self._max_retries:
            return None
        if exc.retry_after is not None:
            return exc.retry_after if exc.retry_after <= self._max_delay else None
        return self._random() * min(self._max_delay, self._base_delay * 2.0**attempt)


async def retrying(
    operation: Callable[[], Awaitable[T]], policy: RetryPolicy, sleep: Callable[[float], Awaitable[None]]
) -> T:
    """``operation()``, tried again on the retriable upstream failures ``policy`` allows."""
    attempt = 0
    while True:
        try:
            return await operation()
        except UpstreamError as exc:
            delay = policy.delay(exc, attempt)
            if delay is None:
                raise
        attempt += 1
        await sleep(delay)


class RetryingProvider:
    """Retries retriable upstream failures with full-jitter exponential backoff.

    The n-th retry waits ``random() * min(max_delay, base_delay * 2**n)``, or the upstream's
    ``retry_after`` when it gave one. A ``retry_after`` longer than ``max_delay`` is not waited
    for: the error goes back to the client, whose ``Retry-After`` then says when to come back.
    """

    def __init__(
        self,
        inner: Provider,
        *,
        max_retries: int,
        base_delay: float = 0.2,
        max_delay: float = 5.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self._inner = inner
        self._policy = RetryPolicy(max_retries=max_retries, base_delay=base_delay, max_delay=max_delay, random=random)
        self._sleep = sleep

    @property
    def name(self) -> str:
        return self._inner.name

    async def generate(self, call: ProviderCall) -> Completion:
        return await retrying(lambda: self._inner.generate(call), self._policy, self._sleep)

    async def stream(self, call: ProviderCall) -> AsyncIterator[ProviderChunk]:
        attempt = 0
        while True:
            chunks = self._inner.stream(call)
            started = False
            try:
                async for chunk in chunks:
                    started = True
                    yield chunk
                return
            except UpstreamError as exc:
                delay = None if started else self._policy.delay(exc, attempt)
                if delay is None:
                    raise
            finally:
                await close_iterator(chunks)  # closing, not garbage collection, cancels the upstream call
            attempt += 1
            await self._sleep(delay)


class CircuitBreakerProvider:
    """Stops calling a provider that keeps failing, and probes it again after a pause.

    closed → open after ``failure_threshold`` consecutive retriable failures; while open, calls
    fail at once with ``CircuitOpen`` (``retry_after`` = time left); after ``reset_timeout`` the
    circuit is half-open and lets one trial call through: its success closes the circuit, its
    failure opens it again. A non-retriable error (bad request, auth) proves the upstream is up,
    so it counts as a success. A stream counts as a success at its first chunk.
    """

    def __init__(
        self,
        inner: Provider,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._threshold = max(1, failure_threshold)
        self._reset_timeout = reset_timeout
        self._clock = clock
        self._state: CircuitState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def state(self) -> CircuitState:
        """``closed``, ``open`` or ``half_open`` (an open circuit whose pause is over reads half-open)."""
        if self._state == "open" and self._clock() - self._opened_at >= self._reset_timeout:
            return "half_open"
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    async def generate(self, call: ProviderCall) -> Completion:
        return await self.call(lambda: self._inner.generate(call))

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """``operation()`` through this circuit: any other call to the same upstream (embeddings) counts too."""
        trial = self._admit()
        try:
            result = await operation()
        except UpstreamError as exc:
            self._record_failure(exc, trial)
            raise
        except BaseException:
            self._abandon(trial)
            raise
        self._record_success(trial)
        return result

    async def stream(self, call: ProviderCall) -> AsyncIterator[ProviderChunk]:
        trial = self._admit()
        chunks = self._inner.stream(call)
        settled = False
        try:
            async for chunk in chunks:
                if not settled:
                    settled = True
                    self._record_success(trial)
                yield chunk
        except UpstreamError as exc:
            self._record_failure(exc, trial and not settled)
            settled = True
            raise
        finally:
            if not settled:
                self._abandon(trial)
            await close_iterator(chunks)  # closing, not garbage collection, cancels the upstream call

    def _admit(self) -> bool:
        """Let a call through (``True`` if it is the half-open trial) or raise ``CircuitOpen``."""
        state = self.state
        if state == "closed":
            return False
        if state == "open":
            raise self._open_error(self._opened_at + self._reset_timeout - self._clock())
        if self._trial_in_flight:
            raise self._open_error(self._reset_timeout)
        self._state, self._trial_in_flight = "half_open", True
        return True

    def _record_success(self, trial: bool) -> None:
        if trial or self._state == "closed":
            self._state, self._failures = "closed", 0
        self._trial_in_flight = self._trial_in_flight and not trial

    def _record_failure(self, exc: UpstreamError, trial: bool) -> None:
        if not exc.retriable:
            self._record_success(trial)
            return
        self._failures += 1
        if trial or (self._state == "closed" and self._failures >= self._threshold):
            self._state, self._opened_at = "open", self._clock()
        self._trial_in_flight = self._trial_in_flight and not trial

    def _abandon(self, trial: bool) -> None:
        """The call ended without a verdict (cancelled, consumer gone): free the trial slot."""
        if trial:
            self._trial_in_flight = False

    def _open_error(self, retry_after: float) -> CircuitOpen:
        return CircuitOpen(
            f"{self.name} is unavailable: circuit open after {self._failures} consecutive failures",
            retry_after=max(0.0, retry_after),
        )


class ResilientEmbeddings:
    """An ``Embeddings`` adapter behind its provider's circuit breaker, with the same retries as its text calls.

    The breaker is the one of the provider's text calls (``CircuitBreakerProvider.call``): one upstream,
    one circuit, so an outage seen by either kind of call stops both.
    """

    def __init__(
        self,
        inner: Embeddings,
        *,
        breaker: CircuitBreakerProvider,
        policy: RetryPolicy,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._inner = inner
        self._breaker = breaker
        self._policy = policy
        self._sleep = sleep

    @property
    def name(self) -> str:
        return self._inner.name

    async def embed(self, call: EmbeddingCall) -> EmbeddingBatch:
        return await retrying(lambda: self._breaker.call(lambda: self._inner.embed(call)), self._policy, self._sleep)
