"""``mcp-server-ai migrate``: apply the SQL migrations without starting the server."""

from __future__ import annotations

import asyncio
import sys

from adapters.backends.postgres_migrations import apply_migrations
from domain.errors import DomainError
from entrypoints.config import Settings


def run_migrations(settings: Settings) -> int:
    if not settings.postgres_url:
        print("mcp-server-ai migrate: POSTGRES_URL is not set", file=sys.stderr)
        return 2
    try:
        applied = asyncio.run(apply_migrations(settings.postgres_url, settings.migrations_path))
    except DomainError as exc:
        print(f"mcp-server-ai migrate: {exc.message}", file=sys.stderr)
        return 1
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none, already up to date'}")
    return 0
