"""AWS Bedrock through the Converse and ConverseStream APIs (docs/api.md#providers).

One aioboto3 ``bedrock-runtime`` client serves the whole process: the
container enters ``open_bedrock_client(...)`` once (an ``AsyncExitStack`` or a
dependency-injector ``Resource``) and hands the client to ``BedrockProvider``.

Converse is the one API for every text family (Claude, Llama, Titan, Nova,
Mistral, DeepSeek), so the request is built the same way for all
(``adapters.providers.bedrock_converse``: messages, images, tools, reasoning,
cache points), and answers are read the same way
(``adapters.providers.bedrock_replies``: text, tool calls, reasoning, usage).
Failures become domain errors in ``adapters.providers.bedrock_errors``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

import aioboto3
import aiobotocore.session
from botocore.config import Config
from botocore.tokens import FrozenAuthToken

from adapters.providers.bedrock_converse import (
    THINKING_FAMILIES,
    ImageResolver,
    ModelTraits,
    answer_tool,
    converse_request,
    refuse_image_url,
    traits_by_family,
)
from adapters.providers.bedrock_errors import TRANSLATABLE, translate
from adapters.providers.bedrock_replies import chunks, completion
from domain.catalogue import Catalogue
from domain.content import CAP_THINKING
from domain.models import Completion, ProviderCall, ProviderChunk

# Model families whose Converse API refuses a ``system`` block, for ids the catalogue does not know.
_NO_SYSTEM_MARKERS = (
    "amazon.titan",
    "mistral.mistral-7b",
    "mistral.mixtral-8x7b",
    "cohere.command-text",
    "cohere.command-light",
    "ai21.j2",
)


class BedrockRuntimeClient(Protocol):
    """The calls of an aioboto3 ``bedrock-runtime`` client the gateway uses: Converse here, InvokeModel for
    the embeddings (``adapters.embeddings.bedrock``)."""

    async def converse(self, **kwargs: Any) -> dict[str, Any]: ...

    async def converse_stream(self, **kwargs: Any) -> dict[str, Any]: ...

    async def count_tokens(self, **kwargs: Any) -> dict[str, Any]: ...

    async def invoke_model(self, **kwargs: Any) -> dict[str, Any]: ...


SystemSupport = Catalogue | Callable[[str], bool]


class BedrockProvider:
    """The ``aws`` provider: Bedrock Converse (whole answers) and ConverseStream (streams).

    ``supports_system`` says whether a model id accepts a system block: a
    ``Catalogue`` (its ``ModelInfo.supports_system``, and its ``thinking``
    capability for reasoning) or a callable. Ids it does not know are judged by
    family: Titan Text and the few others that refuse one get the system prompt
    folded into the first user turn; Claude 3.7 and 4 think.

    ``resolve_image`` turns an image URL into its bytes and media type (Bedrock
    takes bytes only); the default refuses every URL with a 400 that names
    ``IMAGE_FETCH_ENABLED``.
    """

    def __init__(
        self,
        client: BedrockRuntimeClient,
        *,
        supports_system: SystemSupport | None = None,
        resolve_image: ImageResolver = refuse_image_url,
    ) -> None:
        self._client = client
        self._supports_system = supports_system
        self._resolve_image = resolve_image

    @property
    def name(self) -> str:
        return "aws-bedrock"

    async def generate(self, call: ProviderCall) -> Completion:
        request = await self._request(call)
        try:
            response = await self._client.converse(**request)
        except TRANSLATABLE as exc:
            raise translate(exc) from exc
        return completion(response, model=call.model, answer_tool=_answer_name(call))

    async def stream(self, call: ProviderCall) -> AsyncIterator[ProviderChunk]:
        request = await self._request(call)
        try:
            response = await self._client.converse_stream(**request)
        except TRANSLATABLE as exc:
            raise translate(exc) from exc
        events = response["stream"]
        finished = False
        try:
            async for chunk in chunks(events, answer_tool=_answer_name(call)):
                yield chunk
            finished = True
        except TRANSLATABLE as exc:
            raise translate(exc) from exc
        finally:
            if not finished:
                # Cancelled, failed or abandoned by the consumer: drop the HTTP connection so that
                # Bedrock stops generating (and billing) an answer nobody will read.
                events.close()

    async def count_input_tokens(self, call: ProviderCall) -> int:
        """Bedrock's CountTokens over the Converse request's system prompt and messages (some Claude models)."""
        request = await self._request(call)
        converse = {key: request[key] for key in ("messages", "system") if key in request}
        try:
            response = await self._client.count_tokens(modelId=call.model, input={"converse": converse})
        except TRANSLATABLE as exc:
            raise translate(exc) from exc
        return int(response["inputTokens"])

    async def _request(self, call: ProviderCall) -> dict[str, Any]:
        return await converse_request(call, self._traits(call.model), self._resolve_image)

    def _traits(self, model_id: str) -> ModelTraits:
        return traits_by_family(model_id, system=self._accepts_system(model_id), thinking=self._thinks(model_id))

    def _accepts_system(self, model_id: str) -> bool:
        lookup = self._supports_system
        if isinstance(lookup, Catalogue):
            info = lookup.lookup(model_id)
            if info is not None:
                return info.supports_system
        elif lookup is not None:
            return lookup(model_id)
        return not any(marker in model_id for marker in _NO_SYSTEM_MARKERS)

    def _thinks(self, model_id: str) -> bool:
        if isinstance(self._supports_system, Catalogue):
            info = self._supports_system.lookup(model_id)
            if info is not None:
                return info.can(CAP_THINKING)
        return any(marker in model_id for marker in THINKING_FAMILIES)


def _answer_name(call: ProviderCall) -> str:
    tool = answer_tool(call.output_format)
    return tool.name if tool is not None else ""


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
