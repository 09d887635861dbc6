"""AWS Bedrock through the Converse and ConverseStream APIs (docs/api.md#providers).

One aioboto3 ``bedrock-runtime`` client serves the whole process: the
container enters ``open_bedrock_client(...)`` once (an ``AsyncExitStack`` or a
dependency-injector ``Resource``) and hands the client to ``BedrockProvider``.

Converse is the one API for every text family (Claude, Llama, Titan, Nova,
Mistral, DeepSeek), so the request is built the same way for all: the history
as alternating user/assistant messages, the system prompt as a ``system``
block, or folded into the first user turn for models that refuse one (Titan
Text and a few others), and ``inferenceConfig`` with ``maxTokens`` and
``temperature``. Failures become domain errors in ``adapters.providers.bedrock_errors``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

import aioboto3
import aiobotocore.session
from botocore.config import Config
from botocore.tokens import FrozenAuthToken

from adapters.providers.bedrock_errors import TRANSLATABLE, translate
from domain.catalogue import Catalogue
from domain.errors import UpstreamError
from domain.models import Completion, ProviderCall, ProviderChunk, Usage

# Model families whose Converse API refuses a ``system`` block, for ids the catalogue does not know.
_NO_SYSTEM_MARKERS = (
    "amazon.titan",
    "mistral.mistral-7b",
    "mistral.mixtral-8x7b",
    "cohere.command-text",
    "cohere.command-light",
    "ai21.j2",
)
_FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}
_MAX_TEMPERATURE = 1.0  # Converse's modelled maximum; the gateway accepts up to 2.0


class BedrockRuntimeClient(Protocol):
    """The two calls of an aioboto3 ``bedrock-runtime`` client this adapter uses."""

    async def converse(self, **kwargs: Any) -> dict[str, Any]: ...

    async def converse_stream(self, **kwargs: Any) -> dict[str, Any]: ...


SystemSupport = Catalogue | Callable[[str], bool]


class BedrockProvider:
    """The ``aws`` provider: Bedrock Converse (whole answers) and ConverseStream (streams).

    ``supports_system`` says whether a model id accepts a system block: a
    ``Catalogue`` (its ``ModelInfo.supports_system``) or a callable. Ids it does
    not know are judged by family: Titan Text and the few others that refuse
    one get the system prompt folded into the first user turn.
    """

    def __init__(self, client: BedrockRuntimeClient, *, supports_system: SystemSupport | None = None) -> None:
        self._client = client
        self._supports_system = supports_system

    @property
    def name(self) -> str:
        return "aws-bedrock"

    async def generate(self, call: ProviderCall) -> Completion:
        try:
            response = await self._client.converse(**self._request(call))
        except TRANSLATABLE as exc:
            raise translate(exc) from exc
        if "output" not in response:  # a 200 whose body is not a Converse answer (botocore keeps it as "message")
            raise UpstreamError("Bedrock sent an answer that is not a Converse response")
        content = response["output"].get("message", {}).get("content", [])
        return Completion(
            content="".join(block["text"] for block in content if "text" in block),
            model=call.model,
            usage=_usage(response.get("usage", {})),
            finish_reason=_finish_reason(response.get("stopReason", "")),
        )

    async def stream(self, call: ProviderCall) -> AsyncIterator[ProviderChunk]:
        try:
            response = await self._client.converse_stream(**self._request(call))
        except TRANSLATABLE as exc:
            raise translate(exc) from exc
        events = response["stream"]
        finished = False
        try:
            async for chunk in _chunks(events):
                yield chunk
            finished = True
        except TRANSLATABLE as exc:
            raise translate(exc) from exc
        finally:
            if not finished:
                # Cancelled, failed or abandoned by the consumer: drop the HTTP connection so that
                # Bedrock stops generating (and billing) an answer nobody will read.
                events.close()

    def _request(self, call: ProviderCall) -> dict[str, Any]:
        system = "\n\n".join(text for text in (call.system, *_system_messages(call)) if text.strip())
        keep_system = bool(system) and self._accepts_system(call.model)
        messages = _conversation(call, fold=system if system and not keep_system else "")
        request: dict[str, Any] = {
            "modelId": call.model,
            "messages": messages,
            "inferenceConfig": {
                "maxTokens": call.max_tokens,
                "temperature": min(max(call.temperature, 0.0), _MAX_TEMPERATURE),
            },
        }
        if keep_system:
            request["system"] = [{"text": system}]
        return request

    def _accepts_system(self, model_id: str) -> bool:
        lookup = self._supports_system
        if isinstance(lookup, Catalogue):
            info = lookup.lookup(model_id)
            if info is not None:
                return info.supports_system
        elif lookup is not None:
            return lookup(model_id)
        return not any(marker in model_id for marker in _NO_SYSTEM_MARKERS)


async def _chunks(events: Any) -> AsyncIterator[ProviderChunk]:
    """Text deltas, then one chunk with the usage (``metadata``) and stop reason (``messageStop``)."""
    stop_reason: str | None = None
    usage: Usage | None = None
    async for event in events:
        if "contentBlockDelta" in event:
            text = event["contentBlockDelta"].get("delta", {}).get("text")
            if text:  # reasoning and tool-use deltas carry no answer text
                yield ProviderChunk(text=text)
        elif "messageStop" in event:
            stop_reason = event["messageStop"].get("stopReason", "")
        elif "metadata" in event:
            usage = _usage(event["metadata"].get("usage", {}))
    if stop_reason is None:
        raise UpstreamError("the Bedrock stream ended before its messageStop event")
    yield ProviderChunk(usage=usage or Usage(), finish_reason=_finish_reason(stop_reason))


def _system_messages(call: ProviderCall) -> list[str]:
    return [message.content for message in call.messages if message.role == "system"]


def _conversation(call: ProviderCall, *, fold: str) -> list[dict[str, Any]]:
    """Converse wants user/assistant turns that alternate and start with the user: merge and trim to that."""
    turns: list[tuple[str, list[str]]] = []
    for message in call.messages:
        if message.role == "system" or not message.content.strip():
            continue  # blank text blocks are a ValidationException
        if turns and turns[-1][0] == message.role:
            turns[-1][1].append(message.content)
        else:
            turns.append((message.role, [message.content]))
    while turns and turns[0][0] != "user":
        turns.pop(0)  # a history cut at max_messages may start with an answer to a dropped question
    if fold and turns:
        turns[0][1].insert(0, fold)
    return [{"role": role, "content": [{"text": "\n\n".join(texts)}]} for role, texts in turns]


def _usage(usage: dict[str, Any]) -> Usage:
    return Usage(prompt_tokens=int(usage.get("inputTokens", 0)), completion_tokens=int(usage.get("outputTokens", 0)))


def _finish_reason(stop_reason: str) -> str:
    return _FINISH_REASONS.get(stop_reason, stop_reason.lower() or "stop")


class _StaticToken:
    """A token provider for botocore that always returns the bearer token it was given."""

    def __init__(self, token: str) -> None:
        self._token = FrozenAuthToken(token)

    def load_token(self, **kwargs: Any) -> FrozenAuthToken:
        return self._token


@asynccontextmanager
async def open_bedrock_client(
    *,
    region: str = "us-east-1",
    endpoint_url: str | None = None,
    bearer_token: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
    profile: str | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 60.0,
    max_pool_connections: int = 64,
    max_attempts: int = 1,
) -> AsyncIterator[BedrockRuntimeClient]:
    """The process's one ``bedrock-runtime`` client, closed on exit.

    Credentials: ``bearer_token`` (a Bedrock API key, as in ``AWS_BEARER_TOKEN_BEDROCK``)
    wins; else explicit keys; else botocore's standard chain (env, profile, SSO,
    container/instance roles), which also honours ``AWS_BEARER_TOKEN_BEDROCK`` by
    itself when that variable is set at client creation. ``read_timeout`` bounds the
    wait for the first byte and each gap between stream chunks, never the whole
    answer. ``max_attempts=1`` leaves retries to the gateway's own retry wrapper.
    """
    botocore_session = aiobotocore.session.AioSession(profile=profile)
    signature: dict[str, Any] = {}
    if bearer_token:
        botocore_session.register_component("token_provider", _StaticToken(bearer_token))
        signature["signature_version"] = "bearer"
    session = aioboto3.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        aws_session_token=session_token,
        region_name=region,
        botocore_session=botocore_session,
    )
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=max_pool_connections,
        retries={"total_max_attempts": max_attempts, "mode": "standard"},
        **signature,
    )
    async with session.client("bedrock-runtime", endpoint_url=endpoint_url, config=config) as client:
        yield client
