"""Images on Bedrock through the running server: bytes go up as Converse image blocks, a URL goes through
the image fetcher (docs/api.md, "Images by URL"), which refuses it unless IMAGE_FETCH_ENABLED, and then only
for public addresses (docs/security.md)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from tests.support.server import ServerProcess
from tests.support.upstreams import ThreadedFake, gateway, generate
from tests.vendors.bedrock import FakeBedrock

CLAUDE = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"  # takes images (3.5 Haiku does not)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
Upstream = ThreadedFake[FakeBedrock]


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with ThreadedFake(FakeBedrock) as running:
        yield running


def server_for(upstream: Upstream, **settings: str) -> ServerProcess:
    return gateway(
        {
            "AWS_BEDROCK_ENDPOINT_URL": upstream.fake.url,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "fake-secret",
            "PROVIDER_MAX_RETRIES": "0",
            **settings,
        }
    )


def ask_with_image(server: ServerProcess, image: dict[str, str]) -> tuple[int, dict[str, object]]:
    content = [{"type": "text", "text": "what is in this picture?"}, {"type": "image", **image}]
    body = {"model": CLAUDE, "provider": "aws", "messages": [{"role": "user", "content": content}]}
    response = generate(server, body)
    return response.status_code, response.json()


def test_image_bytes_reach_bedrock_as_an_image_block(upstream: Upstream) -> None:
    with server_for(upstream) as server:
        status, _ = ask_with_image(server, {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()})
    assert status == 200
    blocks = upstream.fake.requests[-1].body["messages"][0]["content"]
    assert {"image": {"format": "png", "source": {"bytes": base64.b64encode(PNG).decode()}}} in blocks


def test_an_image_url_is_refused_naming_the_setting_while_fetching_is_off(upstream: Upstream) -> None:
    sent = len(upstream.fake.requests)
    with server_for(upstream) as server:
        status, body = ask_with_image(server, {"url": "https://images.example/cat.png"})
    assert status == 400 and body["code"] == "invalid_request"
    assert "IMAGE_FETCH_ENABLED" in str(body["error"])
    assert len(upstream.fake.requests) == sent  # refused before Bedrock was called


def test_with_fetching_on_a_url_to_a_loopback_or_metadata_address_is_still_refused(upstream: Upstream) -> None:
    sent = len(upstream.fake.requests)
    with server_for(upstream, IMAGE_FETCH_ENABLED="true", IMAGE_FETCH_ALLOW_HTTP="true") as server:
        for url in ("http://127.0.0.1:9/cat.png", "http://169.254.169.254/latest/meta-data/", "http://[::1]/x.png"):
            status, body = ask_with_image(server, {"url": url})
            assert status == 400 and body["code"] == "invalid_request", (url, body)
            assert "public hosts" in str(body["error"])
    assert len(upstream.fake.requests) == sent
