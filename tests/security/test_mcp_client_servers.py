"""A chat completion naming an MCP server by URL, with ``MCP_ALLOW_CLIENT_SERVERS=true``: the request-forgery guard.

The gateway must never connect to its own network for a client: loopback
(127.0.0.1, ::1, localhost), the metadata service (169.254.169.254, also in
an IPv6 form), private addresses; each is a 400 naming ``server_url`` before
anything is sent, in OpenAI's error shape (the SDK's ``BadRequestError``).
A label may not take a configured server's name, and client headers are
never sent on. (A name resolving to a private address, rebinding and a
redirect to a private address: tests/integration/mcp/test_client_servers.py,
with a resolver the test controls.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.support.mcp_peers import HttpUpstream
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def upstream() -> Iterator[HttpUpstream]:
    with HttpUpstream() as running:
        yield running


@pytest.fixture(scope="module")
def sdk(upstream: HttpUpstream) -> Iterator[openai.OpenAI]:
    env = {
        "MCP_ALLOW_CLIENT_SERVERS": "true",
        "MCP_CLIENT_SERVER_TIMEOUT_SECONDS": "3",
        "MCP_SERVERS": json.dumps({"mcpServers": {"web": {"url": upstream.url}}}),
    }
    with ServerProcess(env) as running:
        yield openai.OpenAI(base_url=running.base_url + "/v1", api_key="unused-without-keys", max_retries=0)


def _complete(sdk: openai.OpenAI, tool: dict[str, Any]) -> Any:
    messages: Any = [{"role": "user", "content": "please call mine__echo"}]
    tools: Any = [{"type": "mcp", "require_approval": "never", **tool}]
    return sdk.chat.completions.create(model="mock-1", messages=messages, tools=tools)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        pytest.param("http://127.0.0.1:8090/mcp", "a loopback address", id="loopback"),
        pytest.param("http://[::1]:8090/mcp", "a loopback address", id="ipv6-loopback"),
        pytest.param("http://localhost:8090/mcp", "a loopback address", id="localhost"),
        pytest.param("http://169.254.169.254/latest/meta-data/", "link-local", id="metadata"),
        pytest.param("http://[::ffff:a9fe:a9fe]/latest/meta-data/", "link-local", id="metadata-mapped"),
        pytest.param("http://10.0.0.8/mcp", "private", id="private"),
        pytest.param("http://0.0.0.0:8090/mcp", "unspecified", id="unspecified"),
    ],
)
def test_an_internal_server_url_is_refused_naming_the_field(sdk: openai.OpenAI, url: str, reason: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        _complete(sdk, {"server_label": "mine", "server_url": url})
    assert "tools[0].server_url: the server URL is refused" in refused.value.message
    assert reason in refused.value.message


def test_the_tests_own_upstream_on_loopback_is_refused_too(sdk: openai.OpenAI, upstream: HttpUpstream) -> None:
    with pytest.raises(openai.BadRequestError, match="loopback"):
        _complete(sdk, {"server_label": "mine", "server_url": upstream.url})


def test_a_label_may_not_take_a_configured_servers_name(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        _complete(sdk, {"server_label": "web", "server_url": "https://example.com/mcp"})
    assert "tools[0].server_label: 'web' is already in use" in refused.value.message


def test_a_url_that_is_not_http_or_carries_credentials_is_refused(sdk: openai.OpenAI) -> None:
    for url, what in (("file:///etc/passwd", "http or https"), ("https://a:b@example.com/mcp", "credentials")):
        with pytest.raises(openai.BadRequestError) as refused:
            _complete(sdk, {"server_label": "mine", "server_url": url})
        assert "tools[0].server_url: " in refused.value.message and what in refused.value.message


def test_client_headers_are_refused_rather_than_sent(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match=r"tools\[0\]\.headers"):
        _complete(sdk, {"server_label": "mine", "server_url": "https://example.com/mcp", "headers": {"X": "1"}})


def test_the_process_still_answers_after_the_refusals(sdk: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "still there?"}]
    assert sdk.chat.completions.create(model="mock-1", messages=messages).choices[0].message.content
