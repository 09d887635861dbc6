"""Helpers shared by the WebSocket, gRPC and browser tests: gateways with every listener, pool figures."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx

from tests.support.server import ServerProcess


def realtime_server(env: Mapping[str, str] | None = None) -> ServerProcess:
    """A gateway with HTTP, WebSocket and gRPC listeners on free ports (not started)."""
    return ServerProcess(dict(env or {}), ws=True, grpc=True)


async def get_json(server: ServerProcess, path: str, headers: Mapping[str, str] | None = None) -> Any:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        response = await http.get(path, headers=dict(headers or {}))
    response.raise_for_status()
    return response.json()


async def post_json(server: ServerProcess, path: str, body: object) -> Any:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        response = await http.post(path, json=body)
    response.raise_for_status()
    return response.json()


async def pool_stats(server: ServerProcess) -> dict[str, Any]:
    stats: dict[str, Any] = await get_json(server, "/api/v1/pool/stats")
    return stats


async def settled_pool(server: ServerProcess, cancelled_before: int, attempts: int = 200) -> dict[str, Any]:
    """The pool figures once a cancellation has been counted and no call is running any more."""
    stats = await pool_stats(server)
    for _ in range(attempts):
        if stats["total_cancelled"] > cancelled_before and stats["current_concurrent"] == 0:
            return stats
        await asyncio.sleep(0.05)
        stats = await pool_stats(server)
    return stats


def words(count: int, stem: str) -> str:
    """A prompt of ``count`` distinct words: the mock streams one chunk per word, and no cache entry matches."""
    return " ".join(f"{stem}{i}" for i in range(count))
