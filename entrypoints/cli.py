"""``mcp-server-ai``: serve (the default), ``migrate``, ``hash-key``."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

from entrypoints.config import ConfigError, Settings, load_settings
from entrypoints.log_redaction import install_redaction
from entrypoints.logging_setup import configure_logging


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0) if args and args[0] in ("serve", "migrate", "hash-key") else "serve"
    if command == "hash-key":
        return _hash_key(args)
    try:
        settings = load_settings(args)
    except ConfigError as exc:
        print(f"mcp-server-ai: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    install_redaction(settings)
    if command == "migrate":
        return _migrate(settings)
    if settings.workers > 1:
        return _supervise(settings, args)
    _run(settings)
    return 0


def _run(settings: Settings) -> None:
    from entrypoints.listeners import build_listeners
    from entrypoints.server import serve

    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # uvloop is optional: plain asyncio works, a little slower
        runner = asyncio.Runner()
    with runner:
        runner.run(serve(settings, build_listeners))


def _supervise(settings: Settings, args: list[str]) -> int:
    """N worker processes share the ports through SO_REUSEPORT; signals are passed on."""
    env = {**os.environ, "WORKERS": "1", "MCP_REUSE_PORT": "1"}
    argv = _without_workers_flag(args)
    children = [
        subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve", *argv], env=env)
        for _ in range(settings.workers)
    ]

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return max(child.wait() for child in children)


def _without_workers_flag(args: list[str]) -> list[str]:
    kept: list[str] = []
    skip_value = False
    for arg in args:
        if skip_value:
            skip_value = False
        elif arg in ("--workers", "-workers"):
            skip_value = True
        elif not arg.startswith(("--workers=", "-workers=")):
            kept.append(arg)
    return kept


def _migrate(settings: Settings) -> int:
    from entrypoints.migrate import run_migrations

    return int(run_migrations(settings))


def _hash_key(args: list[str]) -> int:
    from entrypoints.hash_key import hash_key_command

    return int(hash_key_command(args))


if __name__ == "__main__":
    sys.exit(main())
