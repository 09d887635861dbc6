"""``mcp-server-ai migrate`` against real databases."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import scratch_database
from tests.support.server import REPO_ROOT, free_port

MIGRATIONS = sorted(path.name for path in (REPO_ROOT / "migrations").glob("[0-9][0-9][0-9][0-9]_*.sql"))


def migrate(postgres_url: str | None) -> subprocess.CompletedProcess[str]:
    """The console command users run, in an empty directory so that no ``.env`` is read."""
    script = Path(sys.executable).with_name("mcp-server-ai")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "entrypoints.cli"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)}
    if postgres_url is not None:
        env["POSTGRES_URL"] = postgres_url
    with tempfile.TemporaryDirectory(prefix="mcp-migrate-") as workdir:
        return subprocess.run(
            [*command, "migrate"], cwd=workdir, env=env, capture_output=True, text=True, timeout=60, check=False
        )


@pytest.fixture
def empty_database(postgres_maintenance_url: str) -> Iterator[str]:
    with scratch_database(postgres_maintenance_url) as url:
        yield url


def recorded(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]


def test_the_first_run_applies_every_file_and_the_second_applies_none(empty_database: str) -> None:
    assert MIGRATIONS == [
        "0001_sessions.sql",
        "0002_cache_feedback.sql",
        "0003_feedback_reporters.sql",
        "0004_rich_messages.sql",
        "0005_stored_responses.sql",
    ]

    first = migrate(empty_database)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"applied 5 migration(s): {', '.join(MIGRATIONS)}"
    assert recorded(empty_database) == MIGRATIONS
    with psycopg.connect(empty_database) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"sessions", "session_messages", "cache_feedback", "cache_stats", "stored_responses"} <= tables

    second = migrate(empty_database)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "applied 0 migration(s): none, already up to date"
    assert recorded(empty_database) == MIGRATIONS


def test_an_unreachable_database_fails_with_a_message_and_status_1() -> None:
    result = migrate(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres?connect_timeout=2")
    assert result.returncode == 1
    assert result.stderr.startswith("mcp-server-ai migrate:")
    assert "Traceback" not in result.stderr


def test_without_postgres_url_it_says_so_and_exits_2() -> None:
    result = migrate(None)
    assert result.returncode == 2
    assert "POSTGRES_URL is not set" in result.stderr
