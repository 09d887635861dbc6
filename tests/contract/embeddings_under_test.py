"""Every ``Embeddings`` adapter the contract suite runs over, each with the means to script its upstream.

Remote adapters run against the local wire-level fakes: Bedrock (Titan Text Embeddings v2 and Cohere
Embed v3 through ``InvokeModel``), Azure OpenAI and OpenAI-compatible ``/embeddings`` through both upstream
clients (the openai SDK and the lean HTTP client). The mock never fails: scripting a failure skips the
test with the reason. A new adapter joins the suite with one factory in ``ADAPTERS``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Literal, Protocol

import pytest

from adapters.embeddings.azure_openai import AzureOpenAIEmbeddings
from adapters.embeddings.bedrock import BedrockEmbeddings
from adapters.embeddings.mock import MockEmbeddings
from adapters.embeddings.openai_compatible import OpenAICompatibleEmbeddings
from adapters.providers.azure_openai import create_azure_client
from adapters.providers.bedrock import open_bedrock_client
from adapters.providers.chat_completions_http import azure_endpoint, openai_endpoint
from adapters.providers.openai_compatible import create_openai_client
from domain.ports import Embeddings
from tests.support.bedrock_adapter import ACCESS_KEY
from tests.support.chat_completions_adapter import FakeUpstream
from tests.vendors.bedrock import FakeBedrock, Garbled, HttpFailure, Reset, Script
from tests.vendors.bedrock_script import Failure as BedrockFailure

Failure = Literal["rate_limited", "server_error", "dropped", "garbled", "auth"]
TIMEOUT_SECONDS = 0.5  # the adapters' first-byte limit in this suite: a stalled upstream is a timeout


class EmbeddingsUnderTest(Protocol):
    @property
    def embeddings(self) -> Embeddings: ...

    @property
    def model(self) -> str:
        """The catalogue id of the model this adapter is asked for."""
        ...

    @property
    def provider(self) -> str:
        """The provider key (``aws``, ``azure``, ``openai``, ``mock``)."""
        ...

    def fail(self, how: Failure) -> None:
        """The next calls fail before any answer (a 429 carries ``Retry-After: 2``)."""
        ...

    def stall(self) -> None:
        """The next call gets no answer within ``TIMEOUT_SECONDS``."""
        ...


class MockUnderTest:
    provider = "mock"
    model = "mock-embed-1"

    def __init__(self) -> None:
        self.embeddings: Embeddings = MockEmbeddings()

    def fail(self, how: Failure) -> None:
        pytest.skip("the mock embeddings never fail")

    def stall(self) -> None:
        pytest.skip("the mock embeddings have no upstream to stall")


@asynccontextmanager
async def mock() -> AsyncIterator[EmbeddingsUnderTest]:
    yield MockUnderTest()


class BedrockUnderTest:
    provider = "aws"

    def __init__(self, fake: FakeBedrock, embeddings: Embeddings, model: str) -> None:
        self.fake = fake
        self.embeddings = embeddings
        self.model = model

    def fail(self, how: Failure) -> None:
        failures: dict[str, BedrockFailure] = {
            "rate_limited": HttpFailure("ThrottlingException", "Too many requests", retry_after="2"),
            "server_error": HttpFailure("InternalServerException"),
            "dropped": Reset(after_chunks=0),
            "garbled": Garbled(),
            "auth": HttpFailure("AccessDeniedException", "not authorized to invoke this model"),
        }
        self.fake.script = Script(failure=failures[how])

    def stall(self) -> None:
        self.fake.script = Script(first_byte_delay=TIMEOUT_SECONDS * 5)


def _bedrock(model: str) -> Callable[[], AbstractAsyncContextManager[EmbeddingsUnderTest]]:
    @asynccontextmanager
    async def bedrock() -> AsyncIterator[EmbeddingsUnderTest]:
        async with (
            FakeBedrock() as fake,
            open_bedrock_client(
                region="us-east-1",
                endpoint_url=fake.url,
                access_key_id=ACCESS_KEY,
                secret_access_key="fake-secret",
                read_timeout=TIMEOUT_SECONDS,
            ) as client,
        ):
            yield BedrockUnderTest(fake, BedrockEmbeddings(client), model)

    return bedrock


class OpenAIUnderTest:
    def __init__(self, fake: FakeUpstream, embeddings: Embeddings, provider: str) -> None:
        self.fake = fake
        self.embeddings = embeddings
        self.provider = provider
        self.model = "text-embedding-3-small"

    def fail(self, how: Failure) -> None:
        kinds = {
            "rate_limited": "rate_limit",
            "server_error": "server_error",
            "dropped": "reset",
            "garbled": "malformed",
            "auth": "auth",
        }
        self.fake.fail(kinds[how], retry_after=2.0)  # type: ignore[arg-type]

    def stall(self) -> None:
        self.fake.fail("hang")


def _azure(client_kind: str) -> Callable[[], AbstractAsyncContextManager[EmbeddingsUnderTest]]:
    @asynccontextmanager
    async def azure() -> AsyncIterator[EmbeddingsUnderTest]:
        fake = FakeUpstream(client=client_kind)
        async with fake:
            client = (
                azure_endpoint(fake.url, api_version="2024-10-21", api_key=fake.api_key, connect_timeout=2.0)
                if client_kind == "http"
                else create_azure_client(endpoint=fake.url, api_key=fake.api_key, connect_timeout=2.0)
            )
            try:
                yield OpenAIUnderTest(fake, AzureOpenAIEmbeddings(client, first_byte_timeout=TIMEOUT_SECONDS), "azure")
            finally:
                await client.close()

    return azure


def _openai(client_kind: str) -> Callable[[], AbstractAsyncContextManager[EmbeddingsUnderTest]]:
    @asynccontextmanager
    async def openai_compatible() -> AsyncIterator[EmbeddingsUnderTest]:
        fake = FakeUpstream(client=client_kind)
        async with fake:
            client = (
                openai_endpoint(fake.openai_base_url, api_key=fake.api_key, connect_timeout=2.0)
                if client_kind == "http"
                else create_openai_client(base_url=fake.openai_base_url, api_key=fake.api_key, connect_timeout=2.0)
            )
            try:
                embeddings = OpenAICompatibleEmbeddings(client, first_byte_timeout=TIMEOUT_SECONDS)
                yield OpenAIUnderTest(fake, embeddings, "openai")
            finally:
                await client.close()

    return openai_compatible


ADAPTERS: dict[str, Callable[[], AbstractAsyncContextManager[EmbeddingsUnderTest]]] = {
    "mock": mock,
    "bedrock-titan": _bedrock("amazon.titan-embed-text-v2:0"),
    "bedrock-cohere": _bedrock("cohere.embed-english-v3"),
    "azure-sdk": _azure("sdk"),
    "azure-fast": _azure("http"),
    "openai-sdk": _openai("sdk"),
    "openai-fast": _openai("http"),
}
