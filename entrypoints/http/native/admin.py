"""Read-only and admin routes: models, status, pool, cache, sessions, health."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, Parameter

from application.get_status import Status
from domain.models import CacheKeyQuality
from domain.tool_servers import ToolServerStatus
from entrypoints.documented_limits import ID_SCHEMA, PATH_SEGMENT
from entrypoints.http.native.deps import HttpDeps
from entrypoints.http.native.documents import (
    OWNER_HEADER,
    READY_ANSWERS,
    BlacklistClearedDoc,
    HealthDoc,
    InvalidatedDoc,
    LiveDoc,
    ModelsDoc,
    SessionDeletedDoc,
    SessionDoc,
    ok,
)
from entrypoints.http.shared.body import JsonBody, documented
from entrypoints.native_json import InvalidateBody, model_json, session_json
from entrypoints.request_context import current_caller

AnyRequest = Request[Any, Any, Any]
SESSION_ID = {"session_id": ID_SCHEMA}
SESSION_ERRORS = frozenset({400, 403, 404})  # a bad id or no X-User-ID; not the owner; no such session


def status_json(status: Status) -> dict[str, object]:
    return {
        "status": "healthy" if status.healthy else "degraded",
        "version": status.version,
        "uptimeSeconds": status.uptime_seconds,
        "providers": list(status.providers),
        "models": status.models,
        "circuits": status.circuits,
        "cache": status.cache_enabled and status.cache.healthy,
        "cacheBackend": {"backend": status.cache.backend, "healthy": status.cache.healthy},
        "parallel": True,
        "poolStats": status.pool,
        "sessionEnabled": True,
        "sessionBackend": {"backend": status.sessions.backend, "healthy": status.sessions.healthy},
        "timestamp": status.timestamp,
        # This process's figures (each worker answers for itself): a soak watches them return to idle.
        "runtime": {"asyncioTasks": len(asyncio.all_tasks())},
    }


def quality_json(quality: CacheKeyQuality) -> dict[str, object]:
    return {
        "cache_key": quality.cache_key,
        "total_uses": quality.total_uses,
        "problem_reports": quality.problem_reports,
        "quality_score": quality.quality_score,
        "is_blacklisted": quality.is_blacklisted,
        "last_problem_at": quality.last_problem_at,
        "problem_rate_percent": quality.problem_rate_percent,
        "quality_rating": quality.quality_rating,
    }


def tool_server_json(status: ToolServerStatus) -> dict[str, object]:
    return {
        "name": status.name,
        "transport": status.transport,
        "state": status.state,
        "toolCount": status.tool_count,
        "lastError": status.last_error,
        "restarts": status.restarts,
        "failures": status.failures,
    }


def _end_user(request: AnyRequest) -> str:
    return request.headers.get("x-user-id", "").strip()


def build_admin_routes(deps: HttpDeps) -> list[HTTPRouteHandler]:
    @get(
        "/api/v1/models",
        summary="The models of the configured providers",
        operation_class=documented(answers=(ok(ModelsDoc),)),
    )
    async def models() -> dict[str, object]:
        listed = deps.list_models.execute()
        return {"models": [model_json(m) for m in listed], "count": len(listed)}

    @get("/api/v1/status", summary="Gateway status")
    async def status() -> dict[str, object]:
        return status_json(await deps.get_status.execute())

    @get("/api/v1/pool/stats", summary="Worker pool figures")
    async def pool_stats() -> dict[str, object]:
        stats = deps.pool.stats()
        return {**stats, "parallel_mode": True, "timestamp": int(deps.get_status.clock_now())}

    @get(
        "/api/v1/cache/stats",
        summary="Cache hits, misses and problematic keys",
        operation_class=documented(errors=frozenset({400})),
    )
    async def cache_stats(limit: int = Parameter(default=10, ge=1, le=100)) -> dict[str, object]:
        stats = await deps.get_cache_stats.execute(limit)
        return {
            **stats.counters,
            "feedbackEnabled": stats.feedback_enabled,
            "problematic_caches": [quality_json(q) for q in stats.problematic],
            "limit": stats.limit,
        }

    invalidate_body = JsonBody(InvalidateBody)

    @post(
        "/api/v1/cache/invalidate",
        status_code=200,
        summary="Remove and blacklist a cache key (admin)",
        operation_class=documented(InvalidateBody, answers=(ok(InvalidatedDoc),)),
    )
    async def invalidate(request: AnyRequest) -> dict[str, object]:
        data = await invalidate_body.read(request)
        await deps.invalidate_cache_key.execute(data.cache_key, data.reason, by=current_caller())
        return {"message": "Cache invalidated successfully", "cache_key": data.cache_key, "blacklisted": True}

    @delete(
        "/api/v1/cache/blacklist/{cache_key:str}",
        status_code=200,
        summary="Lift a blacklist (admin)",
        operation_id="clearBlacklist",
        operation_class=documented(answers=(ok(BlacklistClearedDoc),), parameters={"cache_key": PATH_SEGMENT}),
    )
    async def clear_blacklist(cache_key: FromPath[str]) -> dict[str, object]:
        cleared = await deps.clear_blacklist.execute(cache_key)
        return {"cache_key": cache_key, "cleared": cleared}

    @get("/api/v1/mcp/servers", summary="The upstream MCP servers: state, tool count, last error (admin)")
    async def mcp_servers() -> dict[str, object]:
        servers = [tool_server_json(status) for status in deps.tool_registry.statuses()]
        return {"servers": servers, "count": len(servers)}

    @get(
        "/api/v1/sessions/{session_id:str}",
        summary="A session's messages (owner or admin key only)",
        operation_id="readSession",
        operation_class=documented(
            answers=(ok(SessionDoc),), errors=SESSION_ERRORS, parameters=SESSION_ID, headers=OWNER_HEADER
        ),
    )
    async def read_session(request: AnyRequest, session_id: FromPath[str]) -> dict[str, object]:
        session = await deps.get_session.execute(session_id, user_id=_end_user(request), caller=current_caller())
        return session_json(session)

    @delete(
        "/api/v1/sessions/{session_id:str}",
        status_code=200,
        summary="Delete a session (owner or admin key)",
        operation_id="deleteSession",
        operation_class=documented(
            answers=(ok(SessionDeletedDoc),), errors=SESSION_ERRORS, parameters=SESSION_ID, headers=OWNER_HEADER
        ),
    )
    async def delete_session(request: AnyRequest, session_id: FromPath[str]) -> dict[str, object]:
        await deps.delete_session.execute(session_id, user_id=_end_user(request), caller=current_caller())
        return {"deleted": True, "sessionId": session_id}

    @get("/health", summary="Liveness", operation_class=documented(answers=(ok(HealthDoc),)))
    async def health() -> dict[str, object]:
        return {"status": "healthy", "version": deps.get_status.version}

    @get("/healthz", summary="Liveness", operation_class=documented(answers=(ok(LiveDoc),)))
    async def healthz() -> dict[str, object]:
        return {"status": "ok"}

    @get(
        "/readyz",
        summary="Readiness: the configured cache and session stores answer",
        operation_class=documented(answers=READY_ANSWERS),
    )
    async def readyz() -> Response[Any]:
        status = await deps.get_status.execute()
        body = {"ready": status.healthy, "cache": status.cache.healthy, "sessions": status.sessions.healthy}
        return Response(body, status_code=200 if status.healthy else 503)

    return [
        models, status, pool_stats, cache_stats, invalidate, clear_blacklist,
        read_session, delete_session, health, healthz, readyz, mcp_servers,
    ]  # fmt: skip
