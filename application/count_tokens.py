"""Count a request's input tokens (docs/api.md#count-tokens): the provider's own count where it has one.

A provider with a ``TokenCounter`` (Bedrock's CountTokens, for the Claude
models that take it) counts the system prompt and the messages exactly; the
tool definitions, which CountTokens does not take, are added as an estimate,
and the answer then says it is one. A provider without a counter, a model it
cannot count for (its 400) or an upstream that fails: the whole count is the
estimate of ``domain.token_estimate``. Counting is not generating: no cache,
no session, no worker-pool slot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.errors import UpstreamError
from domain.models import GenerationRequest, ProviderCall
from domain.ports import TokenCounter
from domain.token_estimate import estimate_input_tokens, estimate_tool_tokens


@dataclass(frozen=True, slots=True)
class TokenCount:
    input_tokens: int
    estimated: bool


class CountTokens:
    def __init__(self, counters: Mapping[str, TokenCounter]) -> None:
        self._counters = counters

    async def execute(self, request: GenerationRequest) -> TokenCount:
        counter = self._counters.get(request.provider)
        if counter is None:
            return TokenCount(estimate_input_tokens(request), estimated=True)
        try:
            counted = await counter.count_input_tokens(_call_of(request))
        except UpstreamError:  # a model that cannot count, or an upstream that is down: the estimate still answers
            return TokenCount(estimate_input_tokens(request), estimated=True)
        if not request.tools:
            return TokenCount(counted, estimated=False)
        return TokenCount(counted + estimate_tool_tokens(request.tools), estimated=True)


def _call_of(request: GenerationRequest) -> ProviderCall:
    return ProviderCall(
        model=request.model,
        messages=request.turn,
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        system=request.system,
        request_id=request.request_id,
        cache_marks=request.cache_marks,
    )
