"""Builds the application over memory adapters and hand-written fakes, as the container would."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.cache.memory import MemoryCache
from adapters.feedback.memory import MemoryFeedbackRepo
from adapters.sessions.memory import MemorySessionRepo
from application.conversation import Conversations
from application.feedback_loop import FeedbackLoop
from application.generate import Generate
from application.generate_batch import GenerateBatch, GenerateBatchStream
from application.generate_stream import GenerateStream
from application.pipeline import GenerationPipeline
from application.pool import WorkerPool
from application.response_cache import ResponseCache
from domain.feedback import KeywordFeedbackDetector
from domain.models import GenerationRequest
from domain.ports import Provider
from tests.unit.fakes import FakeClock, ScriptedProvider


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


def build_app(
    provider: ScriptedProvider | None = None, *, max_concurrent: int = 8, queue_size: int = 8, wait: float = 5.0
) -> App:
    provider = provider or ScriptedProvider()
    clock = FakeClock()
    cache = MemoryCache(max_entries=100, clock=clock)
    sessions = MemorySessionRepo()
    feedback_repo = MemoryFeedbackRepo()
    pool = WorkerPool(max_concurrent=max_concurrent, queue_size=queue_size, max_wait_seconds=wait)
    response_cache = ResponseCache(cache=cache, feedback=feedback_repo, clock=clock, ttl_seconds=60, enabled=True)
    feedback = FeedbackLoop(
        detector=KeywordFeedbackDetector(), repo=feedback_repo, cache=cache, clock=clock, enabled=True
    )
    providers: dict[str, Provider] = {"mock": provider}
    pipeline = GenerationPipeline(
        providers=providers,
        pool=pool,
        cache=response_cache,
        conversations=Conversations(repo=sessions, clock=clock, max_messages=100, context_window=50),
        feedback=feedback,
        clock=clock,
    )
    generate = Generate(pipeline=pipeline)
    return App(
        provider=provider,
        clock=clock,
        cache=cache,
        sessions=sessions,
        feedback_repo=feedback_repo,
        pool=pool,
        response_cache=response_cache,
        feedback=feedback,
        generate=generate,
        stream=GenerateStream(pipeline=pipeline),
        batch=GenerateBatch(generate=generate, clock=clock, fan_out=4),
        batch_stream=GenerateBatchStream(generate=generate, clock=clock, fan_out=4),
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
