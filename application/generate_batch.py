"""Use-cases: many requests at once (docs/api.md#batch, #batch-stream).

Items run concurrently through the worker pool, at most ``fan_out`` at a time
so that one batch cannot flood the pool's queue. Items that share a session
run one after another, in request order. An item that fails is reported in
its place; it never fails the batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import msgspec

from application.generate import Generate
from domain.accounting import BatchTotals
from domain.errors import DomainError
from domain.models import Answer, GenerationRequest
from domain.ports import Clock

BatchItem = GenerationRequest | DomainError
ItemOutcome = Answer | DomainError


class BatchItemResult(msgspec.Struct, frozen=True, kw_only=True):
    index: int
    outcome: Answer | DomainError


class BatchSummary(msgspec.Struct, frozen=True, kw_only=True):
    count: int
    totals: BatchTotals
    seconds: float


class _Runner:
    """Schedules a batch's items: sessions in order, everything else in parallel."""

    def __init__(self, generate: Generate, fan_out: int) -> None:
        self._generate = generate
        self._limit = asyncio.Semaphore(fan_out)

    def lanes(self, items: Sequence[BatchItem]) -> list[list[int]]:
        lanes: dict[str, list[int]] = {}
        solo: list[list[int]] = []
        for index, item in enumerate(items):
            if isinstance(item, GenerationRequest) and item.has_session:
                lanes.setdefault(item.session_id, []).append(index)
            else:
                solo.append([index])
        return [*lanes.values(), *solo]

    async def run_lane(
        self, items: Sequence[BatchItem], lane: list[int], emit: Callable[[BatchItemResult], Awaitable[None]]
    ) -> None:
        for index in lane:
            await emit(BatchItemResult(index=index, outcome=await self._run_one(items[index])))

    async def _run_one(self, item: BatchItem) -> ItemOutcome:
        if isinstance(item, DomainError):
            return item
        async with self._limit:
            try:
                return await self._generate.execute(item)
            except DomainError as exc:
                return exc


class GenerateBatch:
    def __init__(self, *, generate: Generate, clock: Clock, fan_out: int) -> None:
        self._generate = generate
        self._clock = clock
        self._fan_out = fan_out

    async def execute(self, items: Sequence[BatchItem]) -> tuple[list[ItemOutcome], BatchSummary]:
        started = self._clock.monotonic()
        runner = _Runner(self._generate, self._fan_out)
        outcomes: list[ItemOutcome | None] = [None] * len(items)

        async def keep(result: BatchItemResult) -> None:
            outcomes[result.index] = result.outcome

        async with asyncio.TaskGroup() as group:
            for lane in runner.lanes(items):
                group.create_task(runner.run_lane(items, lane, keep))
        done = [outcome for outcome in outcomes if outcome is not None]
        return done, _summary(done, self._clock.monotonic() - started)


class GenerateBatchStream:
    def __init__(self, *, generate: Generate, clock: Clock, fan_out: int) -> None:
        self._generate = generate
        self._clock = clock
        self._fan_out = fan_out

    async def execute(self, items: Sequence[BatchItem]) -> AsyncIterator[BatchItemResult | BatchSummary]:
        started = self._clock.monotonic()
        runner = _Runner(self._generate, self._fan_out)
        finished: asyncio.Queue[BatchItemResult] = asyncio.Queue()
        lanes = [asyncio.create_task(runner.run_lane(items, lane, finished.put)) for lane in runner.lanes(items)]
        outcomes: list[ItemOutcome] = []
        try:
            for _ in items:
                result = await finished.get()
                outcomes.append(result.outcome)
                yield result
        finally:
            for task in lanes:  # a client that went away cancels what is still running
                task.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
        yield _summary(outcomes, self._clock.monotonic() - started)


def _summary(outcomes: Sequence[ItemOutcome], seconds: float) -> BatchSummary:
    totals = BatchTotals()
    for outcome in outcomes:
        totals.add(outcome if isinstance(outcome, Answer) else None)
    return BatchSummary(count=len(outcomes), totals=totals, seconds=seconds)
