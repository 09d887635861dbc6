"""Which adapter serves each port, decided from the settings (used by the container).

An adapter that needs a vendor SDK (aioboto3/botocore, openai, psycopg, redis) is imported in the
function that builds it, and only when the settings choose it: the embedded default never loads those
SDKs (about 40 MB and seconds of start-up; ``tests/unit/test_lazy_imports.py`` keeps it so).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from adapters.cache.memory import MemoryCache
from adapters.embeddings.mock import MockEmbeddings
from adapters.feedback.failsafe import FailSafeFeedbackRepo
from adapters.feedback.memory import MemoryFeedbackRepo
from adapters.images.disabled import DisabledImageFetcher
from adapters.images.http import HttpImageFetcher
from adapters.providers.bedrock_converse import ImageResolver, refuse_image_url
from adapters.providers.mock import MockProvider
from adapters.sessions.cached import CachedSessionRepo
from adapters.sessions.memory import MemorySessionRepo
from adapters.sessions.responses_memory import MemoryResponseStore
from application.resilience import CircuitBreakerProvider, ResilientEmbeddings, RetryingProvider, RetryPolicy
from domain.catalogue import Catalogue
from domain.catalogue_data import AWS_MODELS, AZURE_MODELS, DEFAULT_MODELS, MOCK_MODELS
from domain.embedding_catalogue import EMBEDDING_MODELS, EmbeddingCatalogue
from domain.embeddings import EmbeddingLimits
from domain.models import ModelInfo
from domain.ports import (
    Cache,
    Clock,
    Embeddings,
    FeedbackRepo,
    ImageFetcher,
    Provider,
    ResponseStore,
    SessionRepo,
    TokenCounter,
)
from domain.tool_servers import ClientToolServers
from entrypoints.config import ConfigError, Settings


def configured_providers(settings: Settings) -> list[str]:
    enabled = {
        "aws": settings.bedrock_enabled,
        "azure": settings.azure_enabled,
        "openai": settings.openai_enabled,
        "mock": settings.mock_provider_enabled,
    }
    return [name for name, on in enabled.items() if on]


def openai_models(settings: Settings) -> tuple[ModelInfo, ...]:
    if not settings.openai_models.strip():
        return ()
    from adapters.providers.openai_compatible import parse_openai_models

    try:
        return parse_openai_models(settings.openai_models)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def build_catalogue(settings: Settings) -> Catalogue:
    defaults = dict(DEFAULT_MODELS)
    defaults["azure"] = settings.azure_default_model or defaults["azure"]
    if settings.aws_default_model:
        defaults["aws"] = settings.aws_default_model
    extra = openai_models(settings)
    openai_default = settings.openai_default_model or (extra[0].id if extra else "")
    if openai_default:
        defaults["openai"] = openai_default
    return Catalogue(
        (*AWS_MODELS, *AZURE_MODELS, *extra, *MOCK_MODELS),
        configured=configured_providers(settings),
        default_models=defaults,
        default_provider=settings.default_provider,
    )


def image_resolver(fetcher: ImageFetcher) -> ImageResolver:
    """The Bedrock adapter's image seam, answered by the image fetcher port."""

    async def resolve(url: str) -> tuple[bytes, str]:
        image = await fetcher.fetch(url)
        return image.data, image.media_type

    return resolve


def build_breakers(
    settings: Settings,
    catalogue: Catalogue,
    *,
    bedrock_client: Any,
    azure_client: Any,
    openai_client: Any,
    image_fetcher: ImageFetcher | None = None,
) -> dict[str, CircuitBreakerProvider]:
    """Every configured upstream behind its own circuit breaker (whose state ``/api/v1/status`` shows).

    Bedrock takes image bytes only: an image given by URL goes through ``image_fetcher`` (which refuses
    URLs unless ``IMAGE_FETCH_ENABLED``); OpenAI-compatible upstreams get the URL itself.
    """
    first_byte, idle = settings.provider_first_byte_timeout, settings.provider_idle_timeout
    upstreams: dict[str, Provider] = {}
    if bedrock_client is not None:
        from adapters.providers.bedrock import BedrockProvider

        resolve = image_resolver(image_fetcher) if image_fetcher is not None else refuse_image_url
        upstreams["aws"] = BedrockProvider(bedrock_client, supports_system=catalogue, resolve_image=resolve)
    if azure_client is not None:
        from adapters.providers.azure_openai import AzureOpenAIProvider

        upstreams["azure"] = AzureOpenAIProvider(
            azure_client, deployments=settings.azure_deployments, first_byte_timeout=first_byte, idle_timeout=idle
        )
    if openai_client is not None:
        from adapters.providers.openai_compatible import OpenAICompatibleProvider

        upstreams["openai"] = OpenAICompatibleProvider(
            openai_client, models=openai_models(settings), first_byte_timeout=first_byte, idle_timeout=idle
        )
    return {
        name: CircuitBreakerProvider(
            upstream, failure_threshold=settings.circuit_failure_threshold, reset_timeout=settings.circuit_reset_seconds
        )
        for name, upstream in upstreams.items()
    }


def build_token_counters(
    catalogue: Catalogue, *, bedrock_client: Any, image_fetcher: ImageFetcher | None = None
) -> Mapping[str, TokenCounter]:
    """The providers that count input tokens themselves: Bedrock (CountTokens). The others are estimated."""
    if bedrock_client is None:
        return {}
    from adapters.providers.bedrock import BedrockProvider

    resolve = image_resolver(image_fetcher) if image_fetcher is not None else refuse_image_url
    return {"aws": BedrockProvider(bedrock_client, supports_system=catalogue, resolve_image=resolve)}


def build_providers(settings: Settings, breakers: Mapping[str, CircuitBreakerProvider]) -> Mapping[str, Provider]:
    """Retries around each breaker: every attempt counts toward the circuit, and an open circuit stops retrying."""
    providers: dict[str, Provider] = {
        name: RetryingProvider(breaker, max_retries=settings.provider_max_retries) for name, breaker in breakers.items()
    }
    if settings.mock_provider_enabled:
        providers["mock"] = MockProvider(latency_ms=settings.mock_latency_ms)
    return providers


def build_embedding_catalogue(settings: Settings) -> EmbeddingCatalogue:
    """The embedding models of the configured providers; one input is bounded like a prompt (``MAX_PROMPT_CHARS``)."""
    return EmbeddingCatalogue(
        EMBEDDING_MODELS,
        configured=configured_providers(settings),
        limits=EmbeddingLimits(max_input_chars=settings.max_prompt_chars),
    )


def build_embedders(
    settings: Settings,
    breakers: Mapping[str, CircuitBreakerProvider],
    *,
    bedrock_client: Any,
    azure_client: Any,
    openai_client: Any,
) -> Mapping[str, Embeddings]:
    """An embeddings adapter per configured provider, on the provider's own client, behind its circuit and retries."""
    timeout = settings.provider_first_byte_timeout
    upstreams: dict[str, Embeddings] = {}
    if bedrock_client is not None:
        from adapters.embeddings.bedrock import BedrockEmbeddings

        upstreams["aws"] = BedrockEmbeddings(bedrock_client)
    if azure_client is not None:
        from adapters.embeddings.azure_openai import AzureOpenAIEmbeddings

        upstreams["azure"] = AzureOpenAIEmbeddings(
            azure_client, deployments=settings.azure_deployments, first_byte_timeout=timeout
        )
    if openai_client is not None:
        from adapters.embeddings.openai_compatible import OpenAICompatibleEmbeddings

        upstreams["openai"] = OpenAICompatibleEmbeddings(openai_client, first_byte_timeout=timeout)
    policy = RetryPolicy(max_retries=settings.provider_max_retries)
    embedders: dict[str, Embeddings] = {
        name: ResilientEmbeddings(upstream, breaker=breakers[name], policy=policy)
        for name, upstream in upstreams.items()
    }
    if settings.mock_provider_enabled:
        embedders["mock"] = MockEmbeddings(latency_ms=settings.mock_latency_ms)
    return embedders


def build_cache(settings: Settings, clock: Clock, redis: Any, on_error: Callable[[str], None] | None = None) -> Cache:
    if settings.cache_backend == "redis":
        from adapters.cache.redis import RedisCache

        return RedisCache(redis, key_prefix=settings.redis_key_prefix, on_error=on_error)
    return MemoryCache(max_entries=settings.cache_max_entries, clock=clock)


def build_sessions(settings: Settings, clock: Clock, redis: Any, pool: Any, locks: Any) -> SessionRepo:
    ttl = settings.session_cache_ttl
    if settings.session_backend == "redis":
        from adapters.sessions.redis import RedisSessionRepo

        return RedisSessionRepo(redis, ttl_seconds=ttl, key_prefix=settings.redis_key_prefix)
    if settings.session_backend == "postgres":
        from adapters.sessions.postgres import PostgresSessionRepo
        from adapters.sessions.redis_copy import RedisSessionCopy

        primary = PostgresSessionRepo(pool, locks)
        if not settings.use_redis_cache:
            return primary
        copy = RedisSessionCopy(redis, ttl_seconds=ttl, key_prefix=settings.redis_key_prefix)
        return CachedSessionRepo(primary, copy)
    return MemorySessionRepo(max_sessions=settings.session_memory_max, ttl_seconds=ttl, clock=clock)


def build_response_store(settings: Settings, redis: Any, pool: Any) -> ResponseStore:
    """The Responses API's stored responses live in the session backend (PostgreSQL directly: a response is
    written once and read rarely, so the Redis copy in front of PostgreSQL would buy nothing)."""
    if settings.session_backend == "redis":
        from adapters.sessions.responses_redis import RedisResponseStore

        return RedisResponseStore(redis, key_prefix=settings.redis_key_prefix)
    if settings.session_backend == "postgres":
        from adapters.sessions.responses_postgres import PostgresResponseStore

        return PostgresResponseStore(pool)
    return MemoryResponseStore(max_responses=settings.session_memory_max)


# How long a request's blacklist check waits for a pooled connection before bypassing the cache.
FEEDBACK_CHECK_WAIT_SECONDS = 0.5


def build_feedback_repo(pool: Any) -> FeedbackRepo:
    """PostgreSQL when configured, behind the fail-safe: a database that is down never fails a stateless request."""
    if pool is None:
        return MemoryFeedbackRepo()
    from adapters.feedback.postgres import PostgresFeedbackRepo

    return FailSafeFeedbackRepo(PostgresFeedbackRepo(pool, hot_path_wait_seconds=FEEDBACK_CHECK_WAIT_SECONDS))


def build_image_fetcher(settings: Settings) -> ImageFetcher:
    """Images by URL over HTTPS behind the SSRF guard when ``IMAGE_FETCH_ENABLED``; data URLs only otherwise."""
    if not settings.image_fetch_enabled:
        return DisabledImageFetcher(max_bytes=settings.max_image_bytes)
    return HttpImageFetcher(
        max_bytes=settings.max_image_bytes,
        timeout_seconds=settings.image_fetch_timeout_seconds,
        allow_http=settings.image_fetch_allow_http,
    )


def circuit_states(breakers: Mapping[str, CircuitBreakerProvider]) -> dict[str, str]:
    return {name: breaker.state for name, breaker in breakers.items()}


def build_client_tool_servers(settings: Settings) -> ClientToolServers | None:
    """MCP servers a request names by URL: ``None`` (refused) unless ``MCP_ALLOW_CLIENT_SERVERS``."""
    if not settings.mcp_allow_client_servers:
        return None
    from adapters.mcp.client_servers import GuardedClientServers  # the mcp SDK loads only when used

    return GuardedClientServers(timeout_seconds=settings.mcp_client_server_timeout_seconds)
