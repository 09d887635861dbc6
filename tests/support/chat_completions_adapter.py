"""Shared pieces of the Azure OpenAI / OpenAI-compatible adapter tests: providers wired to the fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from adapters.providers.azure_openai import AzureOpenAIProvider, create_azure_client
from adapters.providers.chat_completions_http import azure_endpoint, openai_endpoint
from adapters.providers.openai_compatible import OpenAICompatibleProvider, create_openai_client, parse_openai_models
from domain.models import ProviderChunk
from tests.support.provider_calls import call_maker
from tests.vendors.azure_openai import FakeAzureOpenAI

# Every adapter test runs twice: through the openai SDK and through the lean HTTP client
# (adapters.providers.chat_completions_http).
UPSTREAM_CLIENTS = ("sdk", "http")


class FakeUpstream(FakeAzureOpenAI):
    """The fake, plus which client the providers under test talk to it with (``sdk`` or ``http``)."""

    def __init__(self, *, client: str = "sdk", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client


def _kind(fake: FakeAzureOpenAI) -> str:
    return fake.client if isinstance(fake, FakeUpstream) else "sdk"


make_call = call_maker(prompt="hello brave world", model="gpt-4o", request_id="req-1")


@asynccontextmanager
async def azure_provider(
    fake: FakeAzureOpenAI,
    *,
    api_key: str | None = None,
    ad_token: str = "",
    deployments: str = "",
    first_byte_timeout: float = 10.0,
    idle_timeout: float = 10.0,
) -> AsyncIterator[AzureOpenAIProvider]:
    key = (fake.api_key if api_key is None else api_key) if not ad_token else ""
    client: Any
    if _kind(fake) == "http":
        client = azure_endpoint(
            fake.url + "/", api_version="2024-10-21", api_key=key, ad_token=ad_token, connect_timeout=2.0
        )
    else:
        client = create_azure_client(
            endpoint=fake.url + "/",
            api_key=key,
            ad_token=ad_token,
            connect_timeout=2.0,
            first_byte_timeout=first_byte_timeout,
            idle_timeout=idle_timeout,
        )
    try:
        yield AzureOpenAIProvider(
            client, deployments=deployments, first_byte_timeout=first_byte_timeout, idle_timeout=idle_timeout
        )
    finally:
        await client.close()


@asynccontextmanager
async def openai_provider(
    fake: FakeAzureOpenAI, *, api_key: str | None = None, models: str = "gpt-4o-mini,o3-mini"
) -> AsyncIterator[OpenAICompatibleProvider]:
    key = fake.api_key if api_key is None else api_key
    client: Any
    if _kind(fake) == "http":
        client = openai_endpoint(fake.openai_base_url, api_key=key, connect_timeout=2.0)
    else:
        client = create_openai_client(base_url=fake.openai_base_url, api_key=key, connect_timeout=2.0)
    try:
        yield OpenAICompatibleProvider(client, models=parse_openai_models(models))
    finally:
        await client.close()


async def collect(chunks: AsyncIterator[ProviderChunk]) -> list[ProviderChunk]:
    return [chunk async for chunk in chunks]


def text_of(chunks: list[ProviderChunk]) -> str:
    return "".join(chunk.text for chunk in chunks)
