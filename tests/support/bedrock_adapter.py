"""Shared pieces of the Bedrock adapter tests: a fake server, a client with dummy credentials, calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from adapters.providers.bedrock import BedrockProvider, SystemSupport, open_bedrock_client
from adapters.providers.bedrock_converse import ImageResolver, refuse_image_url
from domain.catalogue import Catalogue
from domain.catalogue_data import AWS_MODELS, DEFAULT_MODELS
from domain.models import ProviderCall, ProviderChunk
from tests.support.provider_calls import call_maker
from tests.vendors.bedrock import FakeBedrock

CLAUDE = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
TITAN = "amazon.titan-text-express-v1"
ACCESS_KEY = "AKIDEXAMPLE"
CATALOGUE = Catalogue(AWS_MODELS, configured=("aws",), default_models=DEFAULT_MODELS)


make_call = call_maker(prompt="hello bedrock", model=CLAUDE)


@asynccontextmanager
async def bedrock_provider(
    fake: FakeBedrock,
    *,
    supports_system: SystemSupport = CATALOGUE,
    resolve_image: ImageResolver = refuse_image_url,
    **client_options: Any,
) -> AsyncIterator[BedrockProvider]:
    """A provider on its own client, with dummy SigV4 keys unless ``client_options`` say otherwise."""
    options: dict[str, Any] = {"access_key_id": ACCESS_KEY, "secret_access_key": "fake-secret", "read_timeout": 10.0}
    options.update(client_options)
    async with open_bedrock_client(region="us-east-1", endpoint_url=fake.url, **options) as client:
        yield BedrockProvider(client, supports_system=supports_system, resolve_image=resolve_image)


async def collect(provider: BedrockProvider, call: ProviderCall) -> list[ProviderChunk]:
    return [chunk async for chunk in provider.stream(call)]
