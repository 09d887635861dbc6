"""The composition root: the only module that sees adapters and use-cases together.

Adapters are ``Singleton``s, clients and pools ``Resource``s (opened by
``init_resources`` and closed by ``shutdown_resources``), use-cases
``Singleton``s too since they hold no per-request state. Tests swap any piece
with ``.override()``.
"""

from __future__ import annotations

from collections.abc import Mapping

from dependency_injector import containers, providers

from adapters.memory_cache import MemoryCache
from adapters.memory_sessions import MemorySessionRepo
from adapters.mock_provider import MockProvider
from adapters.system_clock import SystemClock
from application.cache_admin import ClearBlacklist, GetCacheStats, InvalidateCacheKey
from application.conversation import Conversations
from application.feedback_loop import FeedbackLoop
from application.generate import Generate
from application.generate_batch import GenerateBatch, GenerateBatchStream
from application.generate_stream import GenerateStream
from application.get_status import GetStatus
from application.list_models import ListModels
from application.pipeline import GenerationPipeline
from application.pool import WorkerPool
from application.response_cache import ResponseCache
from application.sessions import DeleteSession, GetSession
from domain.catalogue import Catalogue
from domain.catalogue_data import AWS_MODELS, AZURE_MODELS, DEFAULT_MODELS, MOCK_MODELS
from domain.ports import Provider
from domain.validation import RequestLimits
from entrypoints.config import Settings

VERSION = "1.0.0"


def configured_providers(settings: Settings) -> list[str]:
    names = []
    if settings.bedrock_enabled:
        names.append("aws")
    if settings.azure_enabled:
        names.append("azure")
    if settings.openai_enabled:
        names.append("openai")
    if settings.mock_provider_enabled:
        names.append("mock")
    return names


def build_catalogue(settings: Settings) -> Catalogue:
    defaults = dict(DEFAULT_MODELS)
    defaults["azure"] = settings.azure_default_model or defaults["azure"]
    if settings.aws_default_model:
        defaults["aws"] = settings.aws_default_model
    if settings.openai_default_model:
        defaults["openai"] = settings.openai_default_model
    return Catalogue(
        (*AWS_MODELS, *AZURE_MODELS, *MOCK_MODELS),
        configured=configured_providers(settings),
        default_models=defaults,
        default_provider=settings.default_provider,
    )


def build_providers(settings: Settings, mock: MockProvider) -> Mapping[str, Provider]:
    available: dict[str, Provider] = {}
    if settings.mock_provider_enabled:
        available["mock"] = mock
    return available


def circuit_states(providers_by_name: Mapping[str, Provider]) -> Mapping[str, str]:
    return {name: str(getattr(provider, "state", "closed")) for name, provider in providers_by_name.items()}


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    clock = providers.Singleton(SystemClock)
    started_at = providers.Singleton(lambda clock: clock.now(), clock)

    catalogue = providers.Singleton(build_catalogue, settings)
    limits = providers.Singleton(
        lambda s: RequestLimits(
            max_prompt_chars=s.max_prompt_chars,
            default_max_tokens=s.max_tokens,
            default_temperature=s.temperature,
        ),
        settings,
    )

    # Adapters
    cache = providers.Singleton(MemoryCache, max_entries=settings.provided.cache_max_entries, clock=clock)
    sessions = providers.Singleton(MemorySessionRepo)
    feedback_repo = providers.Singleton(lambda: _memory_feedback_repo())
    feedback_detector = providers.Singleton(lambda: _feedback_detector())
    mock_provider = providers.Singleton(MockProvider, latency_ms=settings.provided.mock_latency_ms)
    provider_map = providers.Singleton(build_providers, settings, mock_provider)

    # Application services
    pool = providers.Singleton(
        WorkerPool,
        max_concurrent=settings.provided.pool_max_concurrent,
        queue_size=settings.provided.pool_queue_size,
        max_wait_seconds=settings.provided.pool_max_wait_seconds,
    )
    response_cache = providers.Singleton(
        ResponseCache,
        cache=cache,
        feedback=feedback_repo,
        clock=clock,
        ttl_seconds=settings.provided.cache_ttl,
        enabled=settings.provided.cache_enabled,
    )
    conversations = providers.Singleton(
        Conversations,
        repo=sessions,
        clock=clock,
        max_messages=settings.provided.session_max_messages,
        context_window=settings.provided.session_context_window,
    )
    feedback = providers.Singleton(
        FeedbackLoop,
        detector=feedback_detector,
        repo=feedback_repo,
        cache=cache,
        clock=clock,
        enabled=settings.provided.enable_cache_feedback,
    )
    pipeline = providers.Singleton(
        GenerationPipeline,
        providers=provider_map,
        pool=pool,
        cache=response_cache,
        conversations=conversations,
        feedback=feedback,
        clock=clock,
    )

    # Use-cases
    generate = providers.Singleton(Generate, pipeline=pipeline)
    generate_stream = providers.Singleton(GenerateStream, pipeline=pipeline)
    generate_batch = providers.Singleton(
        GenerateBatch, generate=generate, clock=clock, fan_out=settings.provided.pool_max_concurrent
    )
    generate_batch_stream = providers.Singleton(
        GenerateBatchStream, generate=generate, clock=clock, fan_out=settings.provided.pool_max_concurrent
    )
    list_models = providers.Singleton(ListModels, catalogue=catalogue)
    get_status = providers.Singleton(
        GetStatus,
        version=VERSION,
        started_at=started_at,
        clock=clock,
        catalogue=catalogue,
        circuits=providers.Callable(lambda m: lambda: circuit_states(m), provider_map),
        cache=cache,
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


def _memory_feedback_repo() -> object:
    from adapters.memory_feedback import MemoryFeedbackRepo

    return MemoryFeedbackRepo()


def _feedback_detector() -> object:
    from domain.feedback import KeywordFeedbackDetector

    return KeywordFeedbackDetector()
