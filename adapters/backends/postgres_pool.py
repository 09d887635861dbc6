"""The PostgreSQL connection pool of the process (psycopg 3)."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool


def create_pg_pool(conninfo: str, min_size: int, max_size: int, timeout: float) -> AsyncConnectionPool:
    """A pool that is not open yet: the container opens and closes it.

    Connections are in autocommit mode; the adapters open explicit transactions
    where they need several statements to act as one. Each connection is checked
    when it is handed out, so that connections left over from before a database
    restart are replaced instead of failing one request each. ``timeout`` is how
    long a caller waits for a free connection before ``StorageUnavailable``.
    """
    return AsyncConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max(max_size, min_size),
        timeout=timeout,
        open=False,
        kwargs={"autocommit": True},
        check=AsyncConnectionPool.check_connection,
        name="mcp-server-ai",
    )
