"""An upstream's ``Retry-After`` cannot break the answer, and no 500 leaves without the error shape (issue 11, item 11).

``Retry-After: inf`` from an upstream reached ``math.ceil`` in the error
writers: the client got a bare ``text/plain`` 500 without a request id, and
gRPC answered UNKNOWN. Now one parser at the adapter boundary turns any hint
into ``None`` or a number of seconds in ``[0, MAX_RETRY_AFTER_SECONDS]``; and
whatever escapes a handler (a bug in an error mapper included) is answered
``{error, code, requestId}`` on HTTP and INTERNAL with a message on gRPC.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from dependency_injector import providers
from grpclib.client import Channel
from grpclib.const import Status

from adapters.providers.retry_after import MAX_RETRY_AFTER_SECONDS, retry_after_seconds
from domain.errors import Overloaded, UpstreamRateLimited
from domain.models import Completion, ProviderCall, ProviderChunk
from entrypoints.asgi import ASGIApp, Message, Receive, Scope, Send
from entrypoints.bootstrap.container import Container
from entrypoints.config import load_settings
from entrypoints.grpc.calls import CallMetadata, CallRunner, CallTracker
from entrypoints.grpc.generated import proto as pb
from entrypoints.http.app import create_http_app
from entrypoints.http.shared.request_id import RequestIdMiddleware
from entrypoints.server import build_container, open_container
from tests.support.bedrock_adapter import bedrock_provider, make_call
from tests.support.grpc_calls import call
from tests.support.server import ServerProcess
from tests.support.upstreams import ThreadedFake
from tests.vendors.azure_openai import FakeAzureOpenAI
from tests.vendors.bedrock import FakeBedrock, HttpFailure, Script

CAP = MAX_RETRY_AFTER_SECONDS
NOW = 1_700_000_000.0


# -- the parser ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "inf"}, CAP),
        ({"retry-after": "Infinity"}, CAP),
        ({"retry-after": "1e400"}, CAP),
        ({"retry-after": "-inf"}, 0.0),
        ({"retry-after": "-5"}, 0.0),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "soon"}, None),
        ({"retry-after": ""}, None),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "99999999"}, CAP),
        ({"retry-after-ms": "inf"}, CAP),
        ({"retry-after-ms": "nan", "retry-after": "3"}, 3.0),
        ({"retry-after-ms": "1500", "retry-after": "inf"}, 1.5),
        ({"retry-after": email.utils.formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"retry-after": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.0),
        ({"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"}, CAP),
        ({"retry-after": "Mon, 01 Jan 0001 00:00:00 GMT"}, 0.0),
        ({"retry-after": "Thu, 01 Jan 1970 00:00:00 +9999"}, None),
        ({}, None),
    ],
)
def test_any_retry_hint_becomes_none_or_a_bounded_number_of_seconds(
    headers: dict[str, str], expected: float | None
) -> None:
    assert retry_after_seconds(headers, now=NOW) == expected


# -- Bedrock, through its adapter -----------------------------------------------------------------


@pytest.mark.parametrize(("header", "expected"), [("inf", CAP), ("nan", None), ("1e999", CAP), ("12", 12.0)])
async def test_bedrock_throttling_carries_a_bounded_hint(header: str, expected: float | None) -> None:
    async with FakeBedrock() as fake, bedrock_provider(fake) as provider:
        fake.script = Script(failure=HttpFailure("ThrottlingException", retry_after=header))
        with pytest.raises(UpstreamRateLimited) as raised:
            await provider.generate(make_call())
    assert raised.value.retry_after == expected


# -- the real gateway, against a fake Azure / OpenAI upstream that says "inf" ----------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[ThreadedFake[FakeAzureOpenAI]]:
    with ThreadedFake(FakeAzureOpenAI) as running:
        yield running


@pytest.fixture(scope="module", params=["fast", "sdk"])
def server(request: pytest.FixtureRequest, upstream: ThreadedFake[FakeAzureOpenAI]) -> Iterator[ServerProcess]:
    env = {
        "OPENAI_BASE_URL": upstream.fake.openai_base_url,
        "OPENAI_API_KEY": upstream.fake.api_key,
        "OPENAI_MODELS": "gpt-4o-mini",
        "UPSTREAM_CLIENT": request.param,
        "PROVIDER_MAX_RETRIES": "0",
        "CIRCUIT_FAILURE_THRESHOLD": "1000",
    }
    grpc_server = ServerProcess({"CACHE_ENABLED": "false", "LOG_LEVEL": "warning", **env}, grpc=True)
    with grpc_server as running:
        yield running


@pytest.fixture(autouse=True)
def infinite_hint(upstream: ThreadedFake[FakeAzureOpenAI]) -> None:
    async def script() -> None:
        upstream.fake.fail("rate_limit", headers={"retry-after": "inf", "retry-after-ms": "inf"})

    upstream.run(script())


REQUEST = {"prompt": "when may I come back?", "model": "gpt-4o-mini", "provider": "openai"}


@pytest.mark.parametrize("path", ["/api/v1/generate", "/api/v1/generate/stream"])
def test_an_infinite_upstream_hint_is_a_429_with_a_bounded_retry_after(server: ServerProcess, path: str) -> None:
    response = httpx.post(server.base_url + path, json=REQUEST, headers={"X-Request-ID": "req-inf-1"}, timeout=30)
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["retry-after"] == str(int(CAP))
    assert response.json() == {
        "error": response.json()["error"],
        "code": "upstream_rate_limited",
        "requestId": "req-inf-1",
    }


def test_an_infinite_upstream_hint_is_reported_in_place_in_a_batch(server: ServerProcess) -> None:
    response = httpx.post(server.base_url + "/api/v1/generate/batch", json={"requests": [REQUEST]}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["responses"][0]["code"] == "upstream_rate_limited"


async def test_an_infinite_upstream_hint_is_resource_exhausted_on_grpc(server: ServerProcess) -> None:
    async with Channel("127.0.0.1", server.grpc_port) as channel:
        request = pb.GenerateRequest(prompt="when may I come back?", model="gpt-4o-mini", provider="openai")
        outcome = await call(channel, "Generate", request, {"x-request-id": "req-inf-2"})
    assert outcome.error is not None
    assert outcome.error.status is Status.RESOURCE_EXHAUSTED
    assert outcome.trailing["retry-after"] == str(int(CAP))
    assert outcome.trailing["x-request-id"] == "req-inf-2"


# -- whatever escapes a handler is still the gateway's error shape ----------------------------------


class _BrokenHintProvider:
    """An upstream error whose hint no error writer can print: what the parser now prevents."""

    name = "mock"

    async def generate(self, call: ProviderCall) -> Completion:
        raise UpstreamRateLimited("throttled", retry_after=float("inf"))

    async def stream(self, call: ProviderCall) -> AsyncIterator[ProviderChunk]:
        raise UpstreamRateLimited("throttled", retry_after=float("inf"))
        yield  # pragma: no cover - makes this an async generator


class _BrokenListModels:
    def execute(self) -> Any:
        raise Overloaded("busy", retry_after=float("inf"))


@asynccontextmanager
async def _gateway_client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    settings = container.settings()
    await open_container(container)
    transport = httpx.ASGITransport(app=create_http_app(container, settings))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client
    finally:
        result = container.shutdown_resources()
        if result is not None:
            await result


def _container(env: Mapping[str, str] | None = None) -> Container:
    settings = load_settings([], {"MOCK_LATENCY_MS": "0", "ACCESS_LOG": "false", **(env or {})}, None)
    container = build_container(settings)
    container.provider_map.override(providers.Object({"mock": _BrokenHintProvider()}))
    container.list_models.override(providers.Object(_BrokenListModels()))
    return container


def _assert_gateway_500(response: httpx.Response, request_id: str) -> None:
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"] == request_id
    assert response.json() == {"error": "internal error", "code": "internal_error", "requestId": request_id}


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/v1/generate"), ("POST", "/api/v1/generate/stream"), ("GET", "/api/v1/models")],
)
async def test_a_failing_error_handler_still_answers_the_error_shape(method: str, path: str) -> None:
    async with _gateway_client(_container()) as client:
        body = {"prompt": "hi", "provider": "mock"} if method == "POST" else None
        response = await client.request(method, path, json=body, headers={"X-Request-ID": "req-broken"})
    _assert_gateway_500(response, "req-broken")


async def test_an_exception_out_of_any_asgi_layer_is_the_error_shape() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=RequestIdMiddleware(broken, tls=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        response = await client.get("/anything", headers={"X-Request-ID": "req-bug"})
    _assert_gateway_500(response, "req-bug")


async def test_an_exception_after_the_answer_started_is_left_to_the_server() -> None:
    async def half(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("a bug mid-answer")

    sent: list[Message] = []

    async def record(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    app: ASGIApp = RequestIdMiddleware(half, tls=False)
    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    with pytest.raises(RuntimeError):
        await app(scope, receive, record)
    assert [m["type"] for m in sent] == ["http.response.start"]


class _RecordingStream:
    """The part of a grpclib server stream that ``CallRunner`` uses."""

    def __init__(self, metadata: dict[str, str]) -> None:
        self.metadata = metadata
        self.peer = None
        self.trailers: dict[str, Any] = {}

    async def send_initial_metadata(self, *, metadata: dict[str, str]) -> None:
        return None

    async def send_trailing_metadata(self, *, status: Status, status_message: str | None, metadata: Any) -> None:
        self.trailers = {"status": status, "message": status_message, "metadata": metadata}


async def test_a_failing_grpc_error_mapping_is_internal_with_a_message_not_unknown() -> None:
    stream = _RecordingStream({"x-request-id": "req-grpc-bug"})

    async def body(call: CallMetadata) -> None:
        raise UpstreamRateLimited("throttled", retry_after=float("inf"))

    await asyncio.wait_for(CallRunner(CallTracker()).run(stream, "Generate", body), 10)  # type: ignore[arg-type]
    assert stream.trailers["status"] is Status.INTERNAL
    assert stream.trailers["message"] == "internal error"
    assert stream.trailers["metadata"]["x-request-id"] == "req-grpc-bug"
