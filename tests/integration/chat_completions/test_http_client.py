"""The lean HTTP/1.1 chat client (providers/chat_completions_http.py): what the SDK gave for free, checked alone.

The shared adapter suites (test_openai_providers.py, test_openai_provider_failures.py) already run
through this client; these tests cover connection handling that only it owns.
"""

from __future__ import annotations

import asyncio
import ssl

import pytest
import trustme

from adapters.providers.azure_openai import AzureOpenAIProvider
from adapters.providers.chat_completions_http import ChatEndpoint, openai_endpoint
from adapters.providers.http1_client import Http1Client
from adapters.providers.openai_compatible import OpenAICompatibleProvider
from domain.errors import UpstreamBadRequest, UpstreamError
from tests.support.chat_completions_adapter import collect, make_call, text_of
from tests.vendors._http11 import Exchange, HttpRequest, HttpServer
from tests.vendors.azure_openai import FakeAzureOpenAI


def _provider(base_url: str) -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider(openai_endpoint(base_url, api_key="test-key", connect_timeout=2.0))


async def test_many_concurrent_calls_each_get_their_own_answer() -> None:
    async with FakeAzureOpenAI() as fake:
        provider = _provider(fake.openai_base_url)
        prompts = [f"question number {i}" for i in range(50)]
        answers = await asyncio.gather(*(provider.generate(make_call(p, model="m")) for p in prompts))
        streamed = await asyncio.gather(*(collect(provider.stream(make_call(p, model="m"))) for p in prompts[:10]))
    assert [a.content for a in answers] == [f"Echo: {p}" for p in prompts]
    assert [text_of(chunks) for chunks in streamed] == [f"Echo: {p}" for p in prompts[:10]]


async def test_calls_keep_working_after_the_upstream_restarts_and_drops_idle_connections() -> None:
    first = FakeAzureOpenAI()
    await first.start()
    port = first.port
    provider = _provider(first.openai_base_url)
    assert (await provider.generate(make_call("before", model="m"))).content == "Echo: before"
    await first.stop()
    async with FakeAzureOpenAI(port=port) as second:
        assert (await provider.generate(make_call("after", model="m"))).content == "Echo: after"
        assert text_of(await collect(provider.stream(make_call("streamed", model="m")))) == "Echo: streamed"
        assert len(second.requests) == 2


async def test_a_refused_connection_is_an_upstream_error() -> None:
    server = HttpServer(_never_called)
    await server.start()
    port = server.port
    await server.stop()  # nothing listens on the port any more
    provider = _provider(f"http://127.0.0.1:{port}/v1")
    with pytest.raises(UpstreamError, match="connection failed"):
        await provider.generate(make_call(model="m"))
    with pytest.raises(UpstreamError, match="connection failed"):
        await collect(provider.stream(make_call(model="m")))


async def test_an_error_page_that_is_not_json_keeps_its_status_and_text() -> None:
    async def html_page(request: HttpRequest, exchange: Exchange) -> None:
        exchange.respond(400, b"<html>bad gateway config</html>", {"content-type": "text/html"})

    server = HttpServer(html_page)
    await server.start()
    try:
        provider = _provider(f"http://127.0.0.1:{server.port}/v1")
        with pytest.raises(UpstreamBadRequest, match=r"\(400\): Error code: 400 - <html>bad gateway config"):
            await provider.generate(make_call(model="m"))
    finally:
        await server.stop()


async def _never_called(request: HttpRequest, exchange: Exchange) -> None:
    raise AssertionError("no request expected")


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def _tls_fake(authority: trustme.CA) -> FakeAzureOpenAI:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    return FakeAzureOpenAI(ssl=server_context)


def _azure_over_tls(fake: FakeAzureOpenAI, client_context: ssl.SSLContext) -> AzureOpenAIProvider:
    endpoint = ChatEndpoint(
        client=Http1Client(fake.url, ssl_context=client_context),
        auth=f"api-key: {fake.api_key}\r\n".encode(),
        azure_api_version="2024-10-21",
    )
    return AzureOpenAIProvider(endpoint)


async def test_azure_over_tls_answers_and_streams_when_the_certificate_is_trusted(authority: trustme.CA) -> None:
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    async with _tls_fake(authority) as fake:
        provider = _azure_over_tls(fake, trusting)
        assert (await provider.generate(make_call("over tls"))).content == "Echo: over tls"
        assert text_of(await collect(provider.stream(make_call("streamed over tls")))) == "Echo: streamed over tls"


async def test_a_certificate_nobody_vouches_for_is_a_connection_failure(authority: trustme.CA) -> None:
    async with _tls_fake(authority) as fake:
        provider = _azure_over_tls(fake, ssl.create_default_context())  # the system store: not our CA
        with pytest.raises(UpstreamError, match=r"connection failed.*CERTIFICATE_VERIFY_FAILED"):
            await provider.generate(make_call())
    assert fake.requests == []
