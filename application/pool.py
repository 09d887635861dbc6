"""The worker pool (docs/api.md#pool-stats): bounded concurrency for provider calls.

At most ``max_concurrent`` calls run at once and at most ``queue_size`` wait
for a slot, each for at most ``max_wait_seconds``. Beyond that a caller gets
``Overloaded`` with a ``Retry-After`` hint at once: the queue never grows
without bound, and a request is never silently dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from domain.errors import Overloaded

POOL_NAME = "ai-parallel-processor"


class WorkerPool:
    def __init__(self, *, max_concurrent: int, queue_size: int, max_wait_seconds: float) -> None:
        if max_concurrent < 1 or queue_size < 0 or max_wait_seconds <= 0:
            raise ValueError("pool limits must be positive")
        self.max_concurrent = max_concurrent
        self.queue_capacity = queue_size
        self._max_wait = max_wait_seconds
        self._slots = asyncio.Semaphore(max_concurrent)
        self.active = 0
        self.waiting = 0
        self.total_tasks = 0
        self.processed = 0
        self.failed = 0
        self.cancelled = 0
        self.rejected = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the concurrent slots for the duration of a provider call."""
        await self._acquire()
        self.active += 1
        try:
            yield
        except (asyncio.CancelledError, GeneratorExit):  # the caller went away: a stream closed early
            self.cancelled += 1
            raise
        except Exception:
            self.failed += 1
            raise
        else:
            self.processed += 1
        finally:
            self.active -= 1
            self._slots.release()

    async def _acquire(self) -> None:
        self.total_tasks += 1
        if not self._slots.locked():
            await self._slots.acquire()
            return
        if self.waiting >= self.queue_capacity:
            self.rejected += 1
            raise Overloaded(
                f"worker pool is full: {self.active} calls running and {self.waiting} waiting", retry_after=1
            )
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self._max_wait)
        except TimeoutError:
            self.rejected += 1
            raise Overloaded(
                f"no worker became free within {self._max_wait:g}s", retry_after=max(1, round(self._max_wait))
            ) from None
        finally:
            self.waiting -= 1

    def stats(self) -> dict[str, object]:
        """The figures of ``/api/v1/pool/stats`` (docs/api.md#pool-stats)."""
        return {
            "total_processed": self.processed,
            "total_failed": self.failed,
            "total_cancelled": self.cancelled,
            "total_rejected": self.rejected,
            "current_concurrent": self.active,
            "max_concurrent": self.max_concurrent,
            "queue_size": self.waiting,
            "queue_capacity": self.queue_capacity,
            "pool_stats": {
                "name": POOL_NAME,
                "current_workers": self.active,
                "min_workers": 0,
                "max_workers": self.max_concurrent,
                "queue_size": self.waiting,
                "queue_capacity": self.queue_capacity,
                "tasks_processed": self.processed + self.failed,
                "tasks_failed": self.failed,
                "completed_tasks": self.processed,
                "total_tasks": self.total_tasks,
            },
        }
