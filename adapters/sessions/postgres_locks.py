"""Turn locks of PostgreSQL sessions that never pin a connection of the statement pool.

A turn holds its session's lock from reading the history to storing the
answer: seconds or minutes while the provider answers. When that lock lived on
a pooled connection, ten concurrent session streams filled the default pool of
ten and every other query (blacklist checks, session reads) timed out. Here:

* within the process, turns on one session queue on an ``asyncio.Lock``, so at
  most one turn per session and process ever touches PostgreSQL for the lock;
* across processes, that turn takes a session-level advisory lock with
  ``pg_try_advisory_lock(bigint)`` on one of a few dedicated connections,
  outside the pool. One connection holds the locks of any number of sessions;
  taking or releasing one uses it for one short statement. A try-lock never
  blocks the shared connection: a turn that finds the lock held by another
  process polls, backing off from ``_POLL_MIN_SECONDS`` to ``_POLL_MAX_SECONDS``;
* the key is 64 bits of BLAKE2b over a namespace and the session id, so two
  unrelated sessions share a lock with negligible probability (the former
  32-bit ``hashtext`` key collided once some tens of thousands of sessions
  were active).

A session-level lock dies with its connection, so a crashed process never
leaves a session locked. The other side of that coin: a lock connection that
breaks mid-turn loses the locks it carried while their turns still run.
``HeldLock.still_held`` lets a turn's write check, inside its own transaction,
that its lock is still granted, so such a turn fails instead of interleaving
with a turn of another process.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from weakref import WeakValueDictionary

import psycopg

from domain.errors import StorageUnavailable

logger = logging.getLogger(__name__)

_Conn = psycopg.AsyncConnection[Any]
_T = TypeVar("_T")

_NAMESPACE = b"mcp-server-ai/session\x00"
_POLL_MIN_SECONDS = 0.005
_POLL_MAX_SECONDS = 0.05
_FAILURES = (psycopg.Error, OSError, TimeoutError)

# A bigint advisory key shows in pg_locks as its high half (classid) and low half (objid), objsubid 1.
_STILL_HELD = """
SELECT 1 FROM pg_locks
WHERE locktype = 'advisory' AND objsubid = 1 AND granted
  AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND pid = %s
"""


def session_lock_key(session_id: str) -> int:
    """The signed 64-bit advisory key of a session."""
    digest = hashlib.blake2b(_NAMESPACE + session_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass(frozen=True, eq=False)
class HeldLock:
    """A granted advisory lock: its key and the connection (server process) that holds it."""

    key: int
    pid: int
    conn: _Conn

    async def still_held(self, conn: _Conn) -> bool:
        """Whether the lock is still granted, read on ``conn`` (in the caller's transaction)."""
        unsigned = self.key & 0xFFFF_FFFF_FFFF_FFFF
        cursor = await conn.execute(_STILL_HELD, (unsigned >> 32, unsigned & 0xFFFF_FFFF, self.pid))
        return await cursor.fetchone() is not None


class _LockLine:
    """One dedicated connection and the advisory locks it holds; reconnects after a failure."""

    def __init__(self, conninfo: str, connect_timeout: float) -> None:
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._conn: _Conn | None = None
        self._opening = asyncio.Lock()

    async def try_lock(self, key: int) -> HeldLock | None:
        was_open = self._conn is not None and not self._conn.closed
        try:
            return await self._try_lock(key)
        except _FAILURES:
            if not was_open or self._conn is not None:
                raise
            # The open connection had broken (the server ended it while idle, or restarted): once more, afresh.
            return await self._try_lock(key)

    async def _try_lock(self, key: int) -> HeldLock | None:
        conn = await self._connected()
        try:
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))).fetchone()
        except _FAILURES:
            if conn.broken:  # a statement that failed on a sound connection took no lock: keep the others
                await self._drop(conn)
            raise
        return HeldLock(key=key, pid=conn.info.backend_pid, conn=conn) if row and row[0] else None

    async def unlock(self, held: HeldLock) -> None:
        if held.conn is not self._conn or held.conn.closed:
            return  # the connection that held it is gone, and the lock went with it
        try:
            await held.conn.execute("SELECT pg_advisory_unlock(%s)", (held.key,))
        except _FAILURES:
            # Left held, the lock would shut other processes out of the session for good.
            await self._drop(held.conn)
            raise

    async def close(self) -> None:
        if self._conn is not None:
            await self._drop(self._conn)

    async def _connected(self) -> _Conn:
        async with self._opening:
            if self._conn is None or self._conn.closed:
                async with asyncio.timeout(self._connect_timeout):
                    self._conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            return self._conn

    async def _drop(self, conn: _Conn) -> None:
        # Closing ends the server session, which releases every lock it still held.
        if self._conn is conn:
            self._conn = None
        await conn.close()


class PostgresSessionLocks:
    """Per-session locks for ``PostgresSessionRepo``, on ``connections`` connections of their own.

    ``hold`` waits at most ``wait_seconds`` in all (behind turns of this process
    and of others) and then raises ``StorageUnavailable``; a database that
    cannot be reached raises it too. ``aclose`` closes the connections.
    """

    def __init__(
        self, conninfo: str, *, connections: int = 1, wait_seconds: float = 120.0, connect_timeout: float = 5.0
    ) -> None:
        if connections < 1:
            raise ValueError("connections must be at least 1")
        self._lines = [_LockLine(conninfo, connect_timeout) for _ in range(connections)]
        self._wait = wait_seconds
        self._local: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()
        # Releases that outlive a cancelled caller, kept referenced until they finish.
        self._releasing: set[asyncio.Future[None]] = set()

    @asynccontextmanager
    async def hold(self, session_id: str) -> AsyncIterator[HeldLock]:
        deadline = asyncio.get_running_loop().time() + self._wait
        local = self._local.get(session_id)
        if local is None:
            local = self._local[session_id] = asyncio.Lock()
        await self._before(deadline, local.acquire())
        try:
            held = await self._take(session_lock_key(session_id), deadline)
            try:
                yield held
            finally:
                await self._let_go(held)
        finally:
            local.release()

    async def aclose(self) -> None:
        if self._releasing:
            await asyncio.gather(*self._releasing, return_exceptions=True)
        for line in self._lines:
            await line.close()

    async def _take(self, key: int, deadline: float) -> HeldLock:
        line = self._lines[key % len(self._lines)]
        delay = _POLL_MIN_SECONDS
        while (held := await self._try(line, key)) is None:
            await self._before(deadline, asyncio.sleep(delay))
            delay = min(delay * 2, _POLL_MAX_SECONDS)
        return held

    async def _try(self, line: _LockLine, key: int) -> HeldLock | None:
        # Shielded: a cancelled caller must not leave the shared connection mid-statement,
        # nor keep a lock that was granted after it stopped listening.
        attempt = asyncio.ensure_future(_storage(line.try_lock(key)))
        try:
            return await asyncio.shield(attempt)
        except asyncio.CancelledError:
            attempt.add_done_callback(self._release_abandoned)
            raise

    def _release_abandoned(self, attempt: asyncio.Future[HeldLock | None]) -> None:
        if not attempt.cancelled() and attempt.exception() is None and (held := attempt.result()) is not None:
            self._keep(asyncio.ensure_future(self._unlock(held)))

    async def _let_go(self, held: HeldLock) -> None:
        # The release finishes even when the turn is cancelled meanwhile. Advisory locks are
        # re-entrant per connection, so a next turn of this process taking the same key before
        # this release lands still holds the lock afterwards.
        await asyncio.shield(self._keep(asyncio.ensure_future(self._unlock(held))))

    async def _unlock(self, held: HeldLock) -> None:
        try:
            await self._lines[held.key % len(self._lines)].unlock(held)
        except _FAILURES as exc:
            # Raising would hide the turn's own outcome; the broken connection was closed,
            # which released the lock.
            logger.warning("could not release a session lock, its connection was closed: %s", exc)

    def _keep(self, release: asyncio.Future[None]) -> asyncio.Future[None]:
        self._releasing.add(release)
        release.add_done_callback(self._releasing.discard)
        return release

    async def _before(self, deadline: float, waiting: Awaitable[object]) -> None:
        try:
            async with asyncio.timeout_at(deadline):
                await waiting
        except TimeoutError:
            raise StorageUnavailable(
                f"timed out after {self._wait:g} s waiting for another turn on this session"
            ) from None


async def _storage(operation: Awaitable[_T]) -> _T:
    try:
        return await operation
    except _FAILURES as exc:
        raise StorageUnavailable(
            f"session storage (PostgreSQL) unavailable, could not lock the session: {type(exc).__name__}"
        ) from exc
