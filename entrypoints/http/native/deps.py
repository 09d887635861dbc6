"""What the HTTP routes need, resolved once from the container."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Request

from application.access import AccessControl
from application.cache_admin import ClearBlacklist, GetCacheStats, InvalidateCacheKey
from application.generate import Generate
from application.generate_batch import GenerateBatch, GenerateBatchStream
from application.generate_stream import GenerateStream
from application.get_status import GetStatus
from application.list_models import ListModels
from application.pool import WorkerPool
from application.sessions import DeleteSession, GetSession
from application.tool_loop import ToolLoop
from application.tool_registry import ToolRegistry
from domain.catalogue import Catalogue
from domain.models import GenerationRequest
from domain.validation import GenerateFields, RequestContext, RequestLimits, build_request
from entrypoints.bootstrap.container import Container, resolve
from entrypoints.config import Settings
from entrypoints.http.shared.fast_routes import request_context_from


@dataclass(frozen=True, slots=True)
class HttpDeps:
    settings: Settings
    catalogue: Catalogue
    limits: RequestLimits
    pool: WorkerPool
    generate: Generate
    generate_stream: GenerateStream
    generate_batch: GenerateBatch
    generate_batch_stream: GenerateBatchStream
    list_models: ListModels
    get_status: GetStatus
    get_session: GetSession
    delete_session: DeleteSession
    get_cache_stats: GetCacheStats
    invalidate_cache_key: InvalidateCacheKey
    clear_blacklist: ClearBlacklist
    access: AccessControl
    tool_registry: ToolRegistry
    tool_loop: ToolLoop

    @classmethod
    def from_container(cls, container: Container) -> HttpDeps:
        return resolve(cls, container)

    def context(self, request: Request[Any, Any, Any]) -> RequestContext:
        return self.context_from(request.headers)

    def context_from(self, headers: Mapping[str, str]) -> RequestContext:
        """The request's context from its headers (``headers`` looked up by lower-case name)."""
        return request_context_from(headers)

    def build(self, fields: GenerateFields, context: RequestContext) -> GenerationRequest:
        return build_request(fields, catalogue=self.catalogue, limits=self.limits, context=context)
