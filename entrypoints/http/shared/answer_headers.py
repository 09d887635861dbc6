"""The headers every dialect's generation answer carries beside its body (docs/api.md#generate)."""

from __future__ import annotations

from domain.models import Answer

OVERHEAD_HEADER = b"x-gateway-overhead-ms"
CACHE_HEADER = b"x-cache"


def overhead_header(answer: Answer) -> tuple[bytes, bytes]:
    """``X-Gateway-Overhead-Ms``: the time the gateway itself added to the provider's."""
    return OVERHEAD_HEADER, f"{max(0.0, answer.duration_ms - answer.upstream_ms):.3f}".encode()


def cache_header(answer: Answer) -> tuple[bytes, bytes]:
    """``X-Cache: hit`` for an answer from the response cache, else ``miss``."""
    return CACHE_HEADER, b"hit" if answer.cached else b"miss"
