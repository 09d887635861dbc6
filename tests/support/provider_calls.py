"""Provider calls for adapter tests: one builder, each vendor's tests with their own default prompt and model."""

from __future__ import annotations

from collections.abc import Callable

from domain.models import Message, ProviderCall

CallMaker = Callable[..., ProviderCall]


def call_maker(*, prompt: str, model: str, request_id: str = "") -> CallMaker:
    """``make_call(prompt=..., *, model=..., history=(), system="", max_tokens=256, temperature=0.5)``."""

    def make_call(
        prompt: str = prompt,
        *,
        model: str = model,
        history: tuple[Message, ...] = (),
        system: str = "",
        max_tokens: int = 256,
        temperature: float = 0.5,
    ) -> ProviderCall:
        return ProviderCall(
            model=model,
            messages=(*history, Message(role="user", content=prompt)),
            max_tokens=max_tokens,
            temperature=temperature,
            system=system,
            request_id=request_id,
        )

    return make_call
