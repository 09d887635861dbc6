"""The offline ``mock`` embeddings (docs/api.md#embeddings): deterministic unit vectors from the text.

A text's vector is a pure function of the text: its SHAKE-256 digest read as
signed 32-bit numbers, scaled to unit length. A shortened vector is the
prefix of the full one, scaled again (as text-embedding-3 shortens), so the
same text gives related vectors at every size. One token per
whitespace-separated word, as the mock text provider counts.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import struct

from domain.embedding_catalogue import MOCK_EMBED
from domain.embeddings import EmbeddingBatch, EmbeddingCall


def unit_vector(text: str, dimensions: int) -> tuple[float, ...]:
    """The mock's vector of ``text``: ``dimensions`` components, Euclidean length 1."""
    digest = hashlib.shake_256(text.encode("utf-8")).digest(4 * dimensions)
    raw = struct.unpack(f"<{dimensions}i", digest)
    norm = math.sqrt(sum(float(x) * x for x in raw)) or 1.0
    return tuple(x / norm for x in raw)


class MockEmbeddings:
    """Offline embeddings for first runs, demos and tests; ``latency_ms`` is waited once per call."""

    def __init__(self, *, latency_ms: float = 0.0) -> None:
        self._delay = max(0.0, latency_ms) / 1000.0

    @property
    def name(self) -> str:
        return "mock"

    async def embed(self, call: EmbeddingCall) -> EmbeddingBatch:
        if self._delay:
            await asyncio.sleep(self._delay)
        size = call.dimensions or MOCK_EMBED.dimensions
        return EmbeddingBatch(
            vectors=tuple(unit_vector(text, size) for text in call.texts),
            input_tokens=sum(len(text.split()) for text in call.texts),
        )
