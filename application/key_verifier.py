"""API-key verification that never runs a KDF on the event loop, and bounds how many run at all.

A PBKDF2 entry costs a tenth of a second of CPU per comparison, and anyone
may present a key: done on the loop, eight wrong keys in parallel stall every
request for a second. ``KeyRing`` already cuts the work to one entry per key
(the lookup id) and remembers verdicts; what is still slow runs here:

- in a worker thread (``offload``, ``asyncio.to_thread`` by default: hashlib
  releases the GIL while it hashes), so the loop keeps serving;
- at most ``at_once`` at a time, with at most ``pending`` verifications
  admitted in all: past that a new key is refused at once with ``Overloaded``
  (503 + Retry-After, counted in ``refused``) instead of queueing CPU work;
- once per key even when it arrives on many requests together: they all wait
  for the same verification, and its verdict is remembered for the next.

Cheap checks (salted HMAC entries, cached verdicts) stay inline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from domain.api_keys import KeyCheck, KeyRing, Principal
from domain.errors import Overloaded

Offload = Callable[[Callable[[], Principal | None]], Awaitable[Principal | None]]

SLOW_CHECKS_AT_ONCE = 2
SLOW_CHECKS_PENDING = 16


class KeyVerifier:
    def __init__(
        self,
        keys: KeyRing,
        *,
        offload: Offload = asyncio.to_thread,
        at_once: int = SLOW_CHECKS_AT_ONCE,
        pending: int = SLOW_CHECKS_PENDING,
    ) -> None:
        self._keys = keys
        self._offload = offload
        self._slots = asyncio.Semaphore(at_once)
        self._max_pending = pending
        self._pending: dict[bytes, asyncio.Future[Principal | None]] = {}
        self.slow_checks = 0
        self.refused = 0

    async def verify(self, presented: str) -> Principal | None:
        """The principal ``presented`` proves, or ``None``; ``Overloaded`` when too many slow checks are pending."""
        check = self._keys.check(presented)
        if check.settled:
            return check.principal
        if not check.slow:
            principal = check.run()
            self._keys.record(check, principal)
            return principal
        shared = self._pending.get(check.fingerprint)
        if shared is None:
            shared = self._start(check)
        return await asyncio.shield(shared)  # a caller that goes away leaves the verdict to the others

    def _start(self, check: KeyCheck) -> asyncio.Future[Principal | None]:
        if len(self._pending) >= self._max_pending:
            self.refused += 1
            raise Overloaded("too many API keys are being verified; retry shortly", retry_after=1)
        task = asyncio.ensure_future(self._run(check))
        self._pending[check.fingerprint] = task
        task.add_done_callback(lambda done: self._finished(check.fingerprint, done))
        return task

    async def _run(self, check: KeyCheck) -> Principal | None:
        async with self._slots:
            self.slow_checks += 1
            principal = await self._offload(check.run)
        self._keys.record(check, principal)
        return principal

    def _finished(self, fingerprint: bytes, done: asyncio.Future[Principal | None]) -> None:
        del self._pending[fingerprint]
        if not done.cancelled():
            done.exception()  # retrieved here, so that a failure nobody awaited any more is not reported twice
