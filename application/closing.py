"""Closing async iterators on time.

A consumer that stops iterating early (a client gone, a batch cancelled) must
close the generators it was reading at once, so that the provider call under
them is cancelled and the pool slot freed now rather than when the garbage
collector gets to them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

T = TypeVar("T")


async def close_iterator(iterator: AsyncIterator[T]) -> None:
    """Close ``iterator`` now when it can be closed (an async generator); a plain iterator has nothing to close."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


@asynccontextmanager
async def closing_iterator(iterator: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    """``contextlib.aclosing`` for any async iterator, as the ports declare their streams."""
    try:
        yield iterator
    finally:
        await close_iterator(iterator)
