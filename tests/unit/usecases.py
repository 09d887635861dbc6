"""The application as production builds it (the container), with the clock and the provider swapped for fakes.

Only what a unit test must control is overridden: the clock, the provider map
(so retries, circuits and tracing stay out of the way) and the memory stores'
sizes through the settings. Everything else is the real graph.
"""

from __future__ import annotations

from dataclasses import dataclass

from dependency_injector import providers

from adapters.cache.memory import MemoryCache
from adapters.feedback.memory import MemoryFeedbackRepo
from adapters.sessions.memory import MemorySessionRepo
from application.feedback_loop import FeedbackLoop
from application.generate import Generate
from application.generate_batch import GenerateBatch, GenerateBatchStream
from application.generate_stream import GenerateStream
from application.pool import WorkerPool
from application.response_cache import ResponseCache
from domain.models import GenerationRequest
from entrypoints.bootstrap.container import Container, build_container
from entrypoints.config import load_settings
from tests.fakes import FakeClock, ScriptedProvider


@dataclass
class App:
    provider: ScriptedProvider
    clock: FakeClock
    cache: MemoryCache
    sessions: MemorySessionRepo
    feedback_repo: MemoryFeedbackRepo
    pool: WorkerPool
    response_cache: ResponseCache
    feedback: FeedbackLoop
    generate: Generate
    stream: GenerateStream
    batch: GenerateBatch
    batch_stream: GenerateBatchStream
    container: Container


def build_app(
    provider: ScriptedProvider | None = None, *, max_concurrent: int = 8, queue_size: int = 8, wait: float = 5.0
) -> App:
    provider = provider or ScriptedProvider()
    clock = FakeClock()
    settings = load_settings(
        [],
        environ={
            "POOL_MAX_CONCURRENT": str(max_concurrent),
            "POOL_QUEUE_SIZE": str(queue_size),
            "POOL_MAX_WAIT_SECONDS": str(wait),
            "CACHE_TTL": "60",
            "CACHE_MAX_ENTRIES": "100",
            "ACCESS_LOG": "false",
        },
        dotenv=None,
    )
    container = build_container(settings)
    container.clock.override(providers.Object(clock))
    container.provider_map.override(providers.Object({"mock": provider}))
    # The embedded defaults open no client or pool (each resource would yield None); saying so up front
    # keeps the container synchronous, so the tests resolve objects rather than futures.
    for resource in container.traverse(types=[providers.Resource]):
        resource.override(providers.Object(None))
    return App(
        provider=provider,
        clock=clock,
        cache=container.cache(),
        sessions=container.sessions(),
        feedback_repo=container.feedback_repo(),
        pool=container.pool(),
        response_cache=container.response_cache(),
        feedback=container.feedback(),
        generate=container.generate(),
        stream=container.generate_stream(),
        batch=container.generate_batch(),
        batch_stream=container.generate_batch_stream(),
        container=container,
    )


def request(prompt: str = "hello", **overrides: object) -> GenerationRequest:
    fields: dict[str, object] = {
        "prompt": prompt,
        "model": "mock-1",
        "provider": "mock",
        "max_tokens": 100,
        "temperature": 0.7,
        **overrides,
    }
    return GenerationRequest(**fields)  # type: ignore[arg-type]
