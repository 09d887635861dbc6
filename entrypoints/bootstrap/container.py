"""The composition root: the only module that sees adapters and use-cases together.

Adapters are ``Singleton``s, clients and pools ``Resource``s (opened by
``init_resources`` and closed by ``shutdown_resources``), use-cases
``Singleton``s too since they hold no per-request state. Tests swap any piece
with ``.override()``.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import TYPE_CHECKING, TypeVar

from dependency_injector import containers, providers

from adapters.clock.system import SystemClock
from application.cache_admin import ClearBlacklist, GetCacheStats, InvalidateCacheKey
from application.conversation import Conversations
from application.count_tokens import CountTokens
from application.embed import Embed
from application.feedback_loop import FeedbackLoop
from application.generate import Generate
from application.generate_batch import GenerateBatch, GenerateBatchStream
from application.generate_stream import GenerateStream
from application.get_status import GetStatus
from application.list_models import ListModels
from application.pipeline import GenerationPipeline
from application.pool import WorkerPool
from application.response_cache import ResponseCache
from application.response_chains import ResponseChains
from application.session_activity import SessionActivity
from application.sessions import DeleteSession, GetSession
from application.tool_loop import ToolLoop
from domain.feedback import KeywordFeedbackDetector
from domain.validation import RequestLimits
from entrypoints.bootstrap import access as access_control
from entrypoints.bootstrap import adapter_choice, observability, resources, tool_servers
from entrypoints.config import Settings
from entrypoints.telemetry.embeddings import ObservedEmbed
from entrypoints.telemetry.tool_calls import ObservedToolCalls, ToolCallTelemetry
from entrypoints.telemetry.usecases import ObservedGenerate, ObservedGenerateStream

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

VERSION = "1.0.0"
Deps = TypeVar("Deps", bound="DataclassInstance")


def request_limits(settings: Settings) -> RequestLimits:
    return RequestLimits(
        max_prompt_chars=settings.max_prompt_chars,
        default_max_tokens=settings.max_tokens,
        default_temperature=settings.temperature,
    )


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    clock = providers.Singleton(SystemClock)
    started_at = providers.Singleton(lambda clock: clock.now(), clock)

    catalogue = providers.Singleton(adapter_choice.build_catalogue, settings)
    embedding_catalogue = providers.Singleton(adapter_choice.build_embedding_catalogue, settings)
    limits = providers.Singleton(request_limits, settings)
    metrics = providers.Singleton(observability.build_metrics, settings, catalogue, embedding_catalogue)

    # Clients and pools (opened by init_resources, closed by shutdown_resources)
    redis_client = providers.Resource(resources.redis_client, settings)
    postgres_pool = providers.Resource(resources.postgres_pool, settings)
    postgres_session_locks = providers.Resource(resources.postgres_session_locks, settings)
    bedrock_client = providers.Resource(resources.bedrock_client, settings)
    azure_client = providers.Resource(resources.azure_client, settings)
    openai_client = providers.Resource(resources.openai_client, settings)

    # Adapters
    cache = providers.Singleton(
        adapter_choice.build_cache,
        settings,
        clock,
        redis_client,
        on_error=providers.Callable(observability.error_counter, metrics, "cache_backend"),
    )
    sessions = providers.Singleton(
        adapter_choice.build_sessions, settings, clock, redis_client, postgres_pool, postgres_session_locks
    )
    feedback_repo = providers.Singleton(adapter_choice.build_feedback_repo, postgres_pool)
    feedback_detector = providers.Singleton(KeywordFeedbackDetector)
    image_fetcher = providers.Singleton(adapter_choice.build_image_fetcher, settings)
    breakers = providers.Singleton(
        adapter_choice.build_breakers,
        settings,
        catalogue,
        bedrock_client=bedrock_client,
        azure_client=azure_client,
        openai_client=openai_client,
        image_fetcher=image_fetcher,
    )
    provider_map = providers.Singleton(adapter_choice.build_providers, settings, breakers)
    embedder_map = providers.Singleton(
        adapter_choice.build_embedders,
        settings,
        breakers,
        bedrock_client=bedrock_client,
        azure_client=azure_client,
        openai_client=openai_client,
    )

    # Observability and protection: decorators around the ports (spans only when tracing is on)
    tracing = providers.Resource(observability.tracing, settings, VERSION)
    tracer = providers.Singleton(observability.tracer_of, tracing)
    observed_providers = providers.Singleton(observability.trace_providers, provider_map, tracing)
    observed_embedders = providers.Singleton(observability.trace_embedders, embedder_map, tracing)
    trace_propagation = providers.Singleton(
        observability.propagate_trace_context,
        tracing,
        bedrock=bedrock_client,
        azure=azure_client,
        openai=openai_client,
    )
    observed_cache = providers.Singleton(observability.trace_cache, cache, tracing, settings)
    session_activity = providers.Singleton(SessionActivity, sessions, clock=clock)
    observed_sessions = providers.Singleton(observability.trace_sessions, session_activity, tracing, settings)
    access = providers.Singleton(access_control.build_access, settings, clock, redis_client, metrics)
    # The upstream MCP servers (MCP_SERVERS), supervised from start to shutdown
    tool_registry = providers.Resource(tool_servers.tool_registry, settings, metrics)
    tool_call_telemetry = providers.Singleton(ToolCallTelemetry, metrics=metrics, tracer=tracer)
    tool_calls = providers.Singleton(ObservedToolCalls, tool_registry, tool_call_telemetry)

    # Application services
    pool = providers.Singleton(
        WorkerPool,
        max_concurrent=settings.provided.pool_max_concurrent,
        queue_size=settings.provided.pool_queue_size,
        max_wait_seconds=settings.provided.pool_max_wait_seconds,
    )
    response_cache = providers.Singleton(
        ResponseCache,
        cache=observed_cache,
        feedback=feedback_repo,
        clock=clock,
        ttl_seconds=settings.provided.cache_ttl,
        enabled=settings.provided.cache_enabled,
    )
    conversations = providers.Singleton(
        Conversations,
        repo=observed_sessions,
        clock=clock,
        max_messages=settings.provided.session_max_messages,
        context_window=settings.provided.session_context_window,
    )
    response_store = providers.Singleton(adapter_choice.build_response_store, settings, redis_client, postgres_pool)
    response_chains = providers.Singleton(
        ResponseChains,
        store=response_store,
        clock=clock,
        retention_seconds=settings.provided.responses_retention_seconds,
        max_messages=settings.provided.session_max_messages,
    )
    feedback = providers.Singleton(
        FeedbackLoop,
        detector=feedback_detector,
        repo=feedback_repo,
        cache=observed_cache,
        clock=clock,
        enabled=settings.provided.enable_cache_feedback,
        min_reporters=settings.provided.feedback_min_reporters,
        reports_per_hour=settings.provided.feedback_reports_per_hour,
    )
    pipeline = providers.Singleton(
        GenerationPipeline,
        providers=observed_providers,
        pool=pool,
        cache=response_cache,
        conversations=conversations,
        feedback=feedback,
        clock=clock,
    )

    # Use-cases
    generate = providers.Singleton(
        ObservedGenerate, providers.Singleton(Generate, pipeline=pipeline), metrics=metrics, tracer=tracer
    )
    generate_stream = providers.Singleton(
        ObservedGenerateStream, providers.Singleton(GenerateStream, pipeline=pipeline), metrics=metrics, tracer=tracer
    )
    tool_loop = providers.Singleton(
        ToolLoop,
        generate=generate,
        registry=tool_registry,
        calls=tool_calls,
        max_rounds=settings.provided.mcp_max_tool_rounds,
        client_servers=providers.Singleton(adapter_choice.build_client_tool_servers, settings),
        generate_stream=generate_stream,
    )
    generate_batch = providers.Singleton(
        GenerateBatch, generate=generate, clock=clock, fan_out=settings.provided.batch_fan_out
    )
    generate_batch_stream = providers.Singleton(
        GenerateBatchStream, generate=generate, clock=clock, fan_out=settings.provided.batch_fan_out
    )
    embed = providers.Singleton(
        ObservedEmbed,
        providers.Singleton(
            Embed,
            catalogue=embedding_catalogue,
            embedders=observed_embedders,
            pool=pool,
            clock=clock,
            fan_out=settings.provided.batch_fan_out,
        ),
        metrics=metrics,
        tracer=tracer,
    )
    list_models = providers.Singleton(ListModels, catalogue=catalogue)
    count_tokens = providers.Singleton(
        CountTokens,
        counters=providers.Singleton(
            adapter_choice.build_token_counters, catalogue, bedrock_client=bedrock_client, image_fetcher=image_fetcher
        ),
    )
    get_status = providers.Singleton(
        GetStatus,
        version=VERSION,
        started_at=started_at,
        clock=clock,
        catalogue=catalogue,
        circuits=providers.Callable(lambda b: lambda: adapter_choice.circuit_states(b), breakers),
        cache=observed_cache,
        cache_backend=settings.provided.cache_backend,
        response_cache=response_cache,
        sessions=sessions,
        session_backend=settings.provided.session_backend,
        pool=pool,
    )
    get_session = providers.Singleton(GetSession, conversations=conversations)
    delete_session = providers.Singleton(DeleteSession, conversations=conversations)
    get_cache_stats = providers.Singleton(GetCacheStats, cache=response_cache, feedback=feedback, repo=feedback_repo)
    invalidate_cache_key = providers.Singleton(InvalidateCacheKey, feedback=feedback)
    clear_blacklist = providers.Singleton(ClearBlacklist, repo=feedback_repo)
    telemetry = providers.Singleton(
        observability.build_telemetry,
        settings,
        metrics,
        tracing,
        pool=pool,
        response_cache=response_cache,
        session_activity=session_activity,
    )


def build_container(settings: Settings) -> Container:
    container = Container()
    container.settings.override(providers.Object(settings))
    return container


def resolve(deps: type[Deps], container: Container) -> Deps:
    """A surface's dependencies: each field of the dataclass ``deps`` is the container's provider of that name."""
    return deps(**{field.name: getattr(container, field.name)() for field in dataclasses.fields(deps)})


async def open_container(container: Container) -> None:
    """Open clients and pools, build every singleton once, then let the listeners resolve synchronously.

    With async resources in it, dependency-injector hands out futures; after
    everything is built, async mode is switched off so that ``container.x()``
    returns the object itself. Building eagerly also makes a wiring mistake fail
    the start rather than the first request.
    """
    await _maybe_await(container.init_resources())
    for provider in container.traverse(types=[providers.Singleton]):
        await _maybe_await(provider())
    for provider in container.traverse():
        provider.disable_async_mode()


async def close_container(container: Container) -> None:
    """Close the clients and pools ``open_container`` opened."""
    await _maybe_await(container.shutdown_resources())


async def _maybe_await(result: object) -> None:
    # dependency-injector returns an awaitable only when some resource is async.
    if inspect.isawaitable(result):
        await result
