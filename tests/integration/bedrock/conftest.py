"""The Bedrock adapter's tests: each gets a fresh fake Bedrock and a provider on its own client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.providers.bedrock import BedrockProvider
from tests.support.bedrock_adapter import bedrock_provider
from tests.vendors.bedrock import FakeBedrock


@pytest.fixture
async def fake() -> AsyncIterator[FakeBedrock]:
    async with FakeBedrock() as server:
        yield server


@pytest.fixture
async def provider(fake: FakeBedrock) -> AsyncIterator[BedrockProvider]:
    async with bedrock_provider(fake) as adapter:
        yield adapter
