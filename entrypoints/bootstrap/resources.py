"""Clients and pools with a lifetime: opened once at startup, closed at shutdown.

Each function is an async generator used as a dependency-injector ``Resource``:
it yields the client (or ``None`` when that backend is not configured) and
closes it after the listeners have drained. Each imports its client library only when its backend
is configured, so that an unconfigured SDK is never loaded (see ``adapter_choice``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from entrypoints.config import Settings

log = logging.getLogger("mcp.resources")

# Between attempts while the database is down (each attempt itself waits for the pool's
# timeout); short, because sessions answer 503 until the migrations have run.
MIGRATION_RETRY_SECONDS = 1.0


async def redis_client(settings: Settings) -> AsyncIterator[Any]:
    if not settings.redis_url:
        yield None
        return
    from adapters.backends.redis_client import create_redis_client

    client = create_redis_client(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_seconds,
        connect_timeout=settings.redis_timeout_seconds,
    )
    try:
        yield client
    finally:
        await client.aclose()


async def postgres_pool(settings: Settings) -> AsyncIterator[Any]:
    """The pool, with migrations applied; a database that is down at startup is retried in the background."""
    if not settings.postgres_url:
        yield None
        return
    from adapters.backends.postgres_pool import create_pg_pool

    pool = create_pg_pool(settings.postgres_url, min_size=1, max_size=settings.postgres_pool_max, timeout=5.0)
    await pool.open(wait=False)
    migrating = asyncio.create_task(_migrate_until_done(pool, settings.migrations_path))
    try:
        yield pool
    finally:
        migrating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await migrating
        await pool.close()


async def postgres_session_locks(settings: Settings) -> AsyncIterator[Any]:
    """The connections that carry the sessions' turn locks, apart from the pool (``postgres_session_locks.py``)."""
    if settings.session_backend != "postgres" or not settings.postgres_url:
        yield None
        return
    from adapters.sessions.postgres_locks import PostgresSessionLocks

    locks = PostgresSessionLocks(settings.postgres_url, connections=settings.postgres_lock_connections)
    try:
        yield locks
    finally:
        await locks.aclose()


async def _migrate_until_done(pool: Any, directory: Path) -> None:
    from adapters.backends.postgres_migrations import apply_migrations

    while True:
        try:
            applied = await apply_migrations(pool, directory)
            log.info("migrations up to date", extra={"applied": applied})
            return
        except Exception as exc:  # the database may come up later; sessions answer 503 until then
            log.error("migrations not applied, retrying", extra={"error": str(exc)})
            await asyncio.sleep(MIGRATION_RETRY_SECONDS)


async def bedrock_client(settings: Settings) -> AsyncIterator[Any]:
    if not settings.bedrock_enabled:
        yield None
        return
    from adapters.providers.bedrock import open_bedrock_client

    async with open_bedrock_client(
        region=settings.aws_region,
        endpoint_url=settings.aws_bedrock_endpoint_url or None,
        bearer_token=settings.aws_bearer_token_bedrock or None,
        access_key_id=settings.aws_access_key_id or None,
        secret_access_key=settings.aws_secret_access_key or None,
        session_token=settings.aws_session_token or None,
        connect_timeout=settings.provider_connect_timeout,
        read_timeout=settings.provider_idle_timeout,
        max_pool_connections=settings.pool_max_concurrent,
    ) as client:
        yield client


OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"


async def azure_client(settings: Settings) -> AsyncIterator[Any]:
    async for client in _closed_at_shutdown(_azure(settings) if settings.azure_enabled else None):
        yield client


async def openai_client(settings: Settings) -> AsyncIterator[Any]:
    async for client in _closed_at_shutdown(_openai(settings) if settings.openai_enabled else None):
        yield client


async def _closed_at_shutdown(client: Any) -> AsyncIterator[Any]:
    try:
        yield client
    finally:
        if client is not None:
            await client.close()


def _azure(settings: Settings) -> Any:
    """The lean client (``UPSTREAM_CLIENT=fast``) or the openai SDK's ``AsyncAzureOpenAI``."""
    credentials = {"api_key": settings.azure_api_key.strip(), "ad_token": settings.azure_ad_token}
    if settings.upstream_client == "fast":
        from adapters.providers.chat_completions_http import azure_endpoint

        return azure_endpoint(
            settings.azure_endpoint,
            api_version=settings.azure_api_version,
            connect_timeout=settings.provider_connect_timeout,
            **credentials,
        )
    from adapters.providers.azure_openai import create_azure_client

    return create_azure_client(
        endpoint=settings.azure_endpoint,
        api_version=settings.azure_api_version,
        connect_timeout=settings.provider_connect_timeout,
        first_byte_timeout=settings.provider_first_byte_timeout,
        idle_timeout=settings.provider_idle_timeout,
        **credentials,
    )


def _openai(settings: Settings) -> Any:
    """The lean client (``UPSTREAM_CLIENT=fast``) or the openai SDK's ``AsyncOpenAI``."""
    base_url = settings.openai_base_url or OPENAI_DEFAULT_BASE_URL
    if settings.upstream_client == "fast":
        from adapters.providers.chat_completions_http import openai_endpoint

        return openai_endpoint(
            base_url, api_key=settings.openai_api_key, connect_timeout=settings.provider_connect_timeout
        )
    from adapters.providers.openai_compatible import create_openai_client

    return create_openai_client(
        base_url=base_url,
        api_key=settings.openai_api_key,
        connect_timeout=settings.provider_connect_timeout,
        first_byte_timeout=settings.provider_first_byte_timeout,
        idle_timeout=settings.provider_idle_timeout,
    )
