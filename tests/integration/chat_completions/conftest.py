"""The chat-completions adapters' tests: each runs once per upstream client, against a fresh fake."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.chat_completions_adapter import UPSTREAM_CLIENTS, FakeUpstream
from tests.vendors.azure_openai import FakeAzureOpenAI


@pytest.fixture(params=UPSTREAM_CLIENTS)
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeAzureOpenAI]:
    async with FakeUpstream(client=request.param) as server:
        yield server
