"""The ``openai`` provider: any OpenAI-compatible chat-completions server (OpenAI, Ollama, vLLM).

``OPENAI_MODELS`` lists the models it offers, each ``name`` or
``name:max_output:context`` (the two trailing numbers are optional, so Ollama
tags such as ``llama3.1:8b`` keep their colon); they become catalogue entries of
provider ``openai``. Nothing says what a listed model can do, so each is given
tools, images and JSON Schema (and reasoning when its name is a reasoning
model's): the server decides, and its 400 names what the model refuses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING

from adapters.providers.chat_completions import Hints, Target, client_timeout
from adapters.providers.chat_completions_http import ChatEndpoint, chat_api
from adapters.providers.chat_completions_wire import looks_like_reasoning_model
from domain.content import CAP_JSON_SCHEMA, CAP_THINKING, CAP_TOOLS, CAP_VISION
from domain.models import Completion, ModelInfo, ProviderCall, ProviderChunk

if TYPE_CHECKING:  # the SDK is imported where it is used: the lean client (UPSTREAM_CLIENT=fast) never loads it
    import openai

DEFAULT_MAX_OUTPUT = 4096
DEFAULT_CONTEXT_WINDOW = 128000
_CAPABILITIES = ("text-generation", CAP_TOOLS, CAP_VISION, CAP_JSON_SCHEMA)


def create_openai_client(
    *,
    base_url: str,
    api_key: str = "",
    connect_timeout: float = 5.0,
    first_byte_timeout: float = 60.0,
    idle_timeout: float = 30.0,
) -> openai.AsyncOpenAI:
    """The one OpenAI-compatible client of the process; the container closes it (``await client.close()``).

    Local servers such as Ollama need no key; a placeholder is sent so the SDK does not read the
    environment behind our back.
    """
    if not base_url:
        raise ValueError("OPENAI_BASE_URL is required for the openai provider")
    import openai

    return openai.AsyncOpenAI(
        base_url=base_url.rstrip("/"),
        api_key=api_key or "unused",
        max_retries=0,
        timeout=client_timeout(connect=connect_timeout, first_byte=first_byte_timeout, idle=idle_timeout),
    )


def parse_openai_models(
    spec: str, *, default_max_output: int = DEFAULT_MAX_OUTPUT, default_context: int = DEFAULT_CONTEXT_WINDOW
) -> tuple[ModelInfo, ...]:
    """``OPENAI_MODELS`` (comma list of ``name`` or ``name:max_output:context``) as catalogue entries."""
    return tuple(
        _model_info(item, default_max_output, default_context)
        for item in filter(None, (part.strip() for part in spec.split(",")))
    )


def _model_info(item: str, default_max_output: int, default_context: int) -> ModelInfo:
    parts = item.split(":")
    numbers: list[int] = []
    while len(parts) > 1 and len(numbers) < 2 and parts[-1].isdigit():
        numbers.insert(0, int(parts.pop()))
    name = ":".join(parts).strip()
    if not name:
        raise ValueError(f"OPENAI_MODELS: missing model name in '{item}'")
    max_output = numbers[0] if numbers else default_max_output
    context = numbers[1] if len(numbers) == 2 else max(default_context, max_output)
    if max_output < 1 or context < max_output:
        raise ValueError(f"OPENAI_MODELS: '{item}' needs 1 <= max_output <= context")
    reasoning = looks_like_reasoning_model(name)
    return ModelInfo(
        id=name,
        name=name,
        provider="openai",
        max_output_tokens=max_output,
        context_window=context,
        description=f"{name} on the OpenAI-compatible server",
        capabilities=(*_CAPABILITIES, *((CAP_THINKING,) if reasoning else ())),
        reasoning=reasoning,
    )


def _not_found(code: str | None, model: str, message: str) -> str:
    return (
        f"model '{model}' is not available on the OpenAI-compatible server ({message}); "
        "check OPENAI_MODELS and OPENAI_BASE_URL"
    )


_HINTS = Hints(provider="openai", credentials="OPENAI_API_KEY", not_found=_not_found)


class OpenAICompatibleProvider:
    """An OpenAI-compatible server behind the ``Provider`` port.

    ``client`` is the process-wide ``AsyncOpenAI`` (see ``create_openai_client``) or a ``ChatEndpoint``
    (``adapters.providers.chat_completions_http.openai_endpoint``, the lean HTTP path); ``models`` are the
    entries parsed from ``OPENAI_MODELS`` (they decide which are reasoning models; names not listed
    are sent as they are).
    """

    def __init__(
        self,
        client: openai.AsyncOpenAI | ChatEndpoint,
        *,
        models: Iterable[ModelInfo] = (),
        first_byte_timeout: float = 60.0,
        idle_timeout: float = 30.0,
    ) -> None:
        self._models = {m.id.lower(): m for m in models}
        self._chat = chat_api(client, hints=_HINTS, first_byte_timeout=first_byte_timeout, idle_timeout=idle_timeout)

    @property
    def name(self) -> str:
        return "openai"

    def target(self, model: str) -> Target:
        info = self._models.get(model.lower())
        return Target(
            name=info.id if info else model, reasoning=info.reasoning if info else looks_like_reasoning_model(model)
        )

    async def generate(self, call: ProviderCall) -> Completion:
        return await self._chat.generate(call, self.target(call.model))

    def stream(self, call: ProviderCall) -> AsyncIterator[ProviderChunk]:
        return self._chat.stream(call, self.target(call.model))
