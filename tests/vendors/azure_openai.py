"""A local fake of Azure OpenAI and of any OpenAI-compatible server.

Routes:
    POST /openai/deployments/{deployment}/chat/completions?api-version=...   (``api-key`` or Entra bearer)
    POST /openai/deployments/{deployment}/embeddings?api-version=...         (embedding deployments only)
    POST /v1/chat/completions                                                (``Authorization: Bearer``)
    POST /v1/embeddings                                                      (``tests.vendors.openai_embeddings``)

It validates requests as the service does (known api-version, deployment, and
``tests.vendors.openai_rules``: messages, tool calls answered by tool messages,
tools, tool choice, response format, images, reasoning-model parameters),
answers (``tests.vendors.openai_rich``: text, tool calls, JSON, reasoning, cached
and reasoning tokens) in the real ``chat.completion``
shape or as SSE ``chat.completion.chunk`` events with the final usage chunk and
``data: [DONE]``, and fails on demand in Azure's error format (or with a 200 that is not JSON). Scriptable per
test through ``script`` (latency, chunks, pacing, failure kind); every request
is recorded, including whether the client went away before the answer ended.

Run alone: ``python -m tests.vendors.azure_openai --port 8300 --chunks 20``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import ssl as ssl_module
import time
import zlib
from dataclasses import dataclass
from typing import Any

import msgspec

from tests.vendors import openai_embeddings, openai_rich, openai_rules
from tests.vendors import openai_wire as wire
from tests.vendors._http11 import Exchange, HttpRequest, HttpServer
from tests.vendors.openai_script import Failure, FailureKind, ReceivedRequest, Script

DEFAULT_DEPLOYMENTS = frozenset(
    {
        "DeepSeek-R1",
        "DeepSeek-R1-0528",
        "DeepSeek-V3-0324",
        "gpt-4.1",
        "gpt-4o",
        "gpt-5-chat",
        "o4-mini",
        "Llama-3.3-70B-Instruct",
        "grok-3",
    }
)
_STATUS_FAILURES: dict[str, tuple[int, bytes]] = {
    "server_error": (500, wire.SERVER_ERROR_BODY),
    "unavailable": (503, wire.UNAVAILABLE_BODY),
    "auth": (401, wire.AZURE_AUTH_BODY),
    "forbidden": (403, wire.FORBIDDEN_BODY),
    "content_filter": (400, wire.CONTENT_FILTER_BODY),
}
_SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
# A 200 whose body is not what it claims to be: an SSE event that is not JSON, an HTML page labelled JSON.
_MALFORMED = {
    True: (b"data: {not json\n\n", _SSE_HEADERS),
    False: (b"<html>not an API</html>", {"content-type": "application/json"}),
}


EMBEDDING_DEPLOYMENTS = frozenset(openai_embeddings.NATIVE_SIZES)


@dataclass
class _Route:
    azure: bool
    model: str
    api_version: str = ""
    embeddings: bool = False


class FakeAzureOpenAI:
    """Azure OpenAI and plain OpenAI on one local port; start it in-process or run the module."""

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        ad_token: str = "test-entra-token",
        deployments: frozenset[str] = DEFAULT_DEPLOYMENTS,
        embedding_deployments: frozenset[str] = EMBEDDING_DEPLOYMENTS,
        openai_models: frozenset[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        script: Script | None = None,
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        self.api_key = api_key
        self.ad_token = ad_token
        self.deployments = deployments
        self.embedding_deployments = embedding_deployments
        self.openai_models = openai_models
        self.script = script or Script()
        self.requests: list[ReceivedRequest] = []
        self.record = True
        self._server = HttpServer(self._handle, host=host, port=port, ssl=ssl)
        self._scheme = "https" if ssl is not None else "http"
        self._host = host
        self._ids = itertools.count(1)
        self._call_ids = itertools.count(1)
        self._closed_early = asyncio.Event()
        self._arrived = asyncio.Event()

    # ---- lifecycle and test helpers -------------------------------------------------------------

    async def start(self) -> None:
        await self._server.start()

    async def stop(self) -> None:
        await self._server.stop()

    async def __aenter__(self) -> FakeAzureOpenAI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        """The Azure endpoint (``AZURE_ENDPOINT``)."""
        return f"{self._scheme}://{self._host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """The OpenAI-compatible base URL (``OPENAI_BASE_URL``)."""
        return f"{self.url}/v1"

    def fail(
        self,
        kind: FailureKind,
        *,
        times: int | None = None,
        retry_after: float = 2.0,
        after_chunks: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.script.failure = Failure(kind, times, retry_after, after_chunks, headers)

    async def wait_requests(self, count: int, within: float = 10.0) -> None:
        """Until ``count`` requests have arrived (to act while an answer is still under way)."""
        async with asyncio.timeout(within):
            while len(self.requests) < count:
                self._arrived.clear()
                await self._arrived.wait()

    async def wait_closed_early(self, count: int = 1, within: float = 10.0) -> ReceivedRequest:
        """Until ``count`` clients went away before their answer was complete; returns the first such request."""
        async with asyncio.timeout(within):
            while sum(r.closed_early for r in self.requests) < count:
                self._closed_early.clear()
                await self._closed_early.wait()
        return next(r for r in self.requests if r.closed_early)

    # ---- request handling -----------------------------------------------------------------------

    async def _handle(self, request: HttpRequest, exchange: Exchange) -> None:
        try:
            body = msgspec.json.decode(request.body) if request.body else None
        except msgspec.DecodeError:
            body = None
        received = ReceivedRequest(request.method, request.path, request.query, request.headers, body)
        if self.record:
            self.requests.append(received)
            self._arrived.set()
        exchange.on_closed_early.append(lambda: self._note_closed_early(received))
        exchange.on_status.append(lambda status: setattr(received, "status", status))
        await self._respond(request, exchange, body)

    async def _respond(self, request: HttpRequest, exchange: Exchange, body: Any) -> None:
        route, refusal = self._route(request, body)
        if refusal is None and route is not None:
            rules = openai_embeddings if route.embeddings else openai_rules
            refusal = rules.validate_body(body, route.model, model_required=not route.azure)
        if refusal is not None:
            exchange.respond(*refusal)
            return
        assert route is not None
        await self._answer(exchange, route, body)

    def _note_closed_early(self, received: ReceivedRequest) -> None:
        received.closed_early = True
        self._closed_early.set()

    def _route(self, request: HttpRequest, body: Any) -> tuple[_Route | None, tuple[int, bytes] | None]:
        parts = request.path.strip("/").split("/")
        if request.method != "POST":
            return None, (405, wire.error_body("405", "Method not allowed"))
        if len(parts) == 5 and parts[:2] == ["openai", "deployments"] and parts[3:] == ["chat", "completions"]:
            return self._azure_route(request, parts[2])
        if len(parts) == 4 and parts[:2] == ["openai", "deployments"] and parts[3] == "embeddings":
            return self._azure_route(request, parts[2], embeddings=True)
        if parts == ["v1", "chat", "completions"]:
            return self._openai_route(request, body)
        if parts == ["v1", "embeddings"]:
            return self._openai_route(request, body, embeddings=True)
        return None, (404, wire.RESOURCE_NOT_FOUND_BODY)

    def _azure_route(
        self, request: HttpRequest, deployment: str, *, embeddings: bool = False
    ) -> tuple[_Route | None, tuple[int, bytes] | None]:
        version = request.query.get("api-version")
        if version is None:
            return None, (404, wire.RESOURCE_NOT_FOUND_BODY)
        if version not in wire.KNOWN_API_VERSIONS:
            return None, (400, wire.API_VERSION_BODY)
        headers = request.headers
        if headers.get("api-key") != self.api_key and headers.get("authorization") != f"Bearer {self.ad_token}":
            return None, (401, wire.AZURE_AUTH_BODY)
        if deployment not in self.deployments | self.embedding_deployments:
            return None, (404, wire.DEPLOYMENT_NOT_FOUND_BODY)
        if embeddings != (deployment in self.embedding_deployments):
            operation = "embeddings" if embeddings else "chatCompletion"
            return None, (400, wire.operation_not_supported_body(operation, deployment))
        return _Route(azure=True, model=deployment, api_version=version, embeddings=embeddings), None

    def _openai_route(
        self, request: HttpRequest, body: Any, *, embeddings: bool = False
    ) -> tuple[_Route | None, tuple[int, bytes] | None]:
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
        if given != self.api_key:
            return None, (401, wire.openai_auth_body(given))
        model = body.get("model", "") if isinstance(body, dict) else ""
        known = self.openai_models if not embeddings else None  # every embedding model name is served
        if known is not None and isinstance(model, str) and model not in known:
            return None, (404, wire.model_not_found_body(model))
        return _Route(azure=False, model=model if isinstance(model, str) else "", embeddings=embeddings), None

    async def _answer(self, exchange: Exchange, route: _Route, body: dict[str, Any]) -> None:
        script = self.script
        failure = self._take_failure(script.failure, body)
        if script.latency_ms:
            await asyncio.sleep(script.latency_ms / 1000)
        if failure is not None and failure.kind == "malformed":
            streaming = body.get("stream") is True
            exchange.respond(200, *_MALFORMED[streaming])
            return
        if failure is not None and await self._fail_before_answer(exchange, route, failure):
            return
        if route.embeddings:
            exchange.respond(200, openai_embeddings.body(body, route.model))
            return
        answer = openai_rich.answer(body, script, self._call_ids)
        ident, created = f"chatcmpl-fake{next(self._ids):08x}", int(time.time())
        if body.get("stream") is True:
            await self._stream(exchange, route, body, answer, (ident, created), failure)
        elif failure is not None:  # a mid-answer failure on a whole answer: the body stops part-way
            exchange.start_stream(200, {"content-type": "application/json"})
            if failure.kind == "stall_mid_stream":
                await asyncio.Event().wait()
            exchange.send_chunk(wire.completion_body(ident, created, route.model, answer)[:20])
            exchange.reset()
        else:
            exchange.respond(200, wire.completion_body(ident, created, route.model, answer))

    def _take_failure(self, failure: Failure | None, body: dict[str, Any]) -> Failure | None:
        if failure is None:
            return None
        if failure.every > 1:
            key = msgspec.json.encode(body.get("messages")).decode()
            if key in failure.failed_once or zlib.crc32(key.encode()) % failure.every:
                return None
            failure.failed_once.add(key)
        if failure.times is not None:
            if failure.times <= 0:
                return None
            failure.times -= 1
        return failure

    async def _fail_before_answer(self, exchange: Exchange, route: _Route, failure: Failure) -> bool:
        if failure.kind == "hang":
            await asyncio.Event().wait()  # until the client goes away (the task is then cancelled)
        if failure.kind == "reset":
            exchange.reset()
            return True
        if failure.kind == "rate_limit":
            headers = failure.headers or {
                "retry-after": str(math.ceil(failure.retry_after)),
                "retry-after-ms": str(int(failure.retry_after * 1000)),
            }
            exchange.respond(429, wire.rate_limit_body(route.api_version or "v1", failure.retry_after), headers)
            return True
        if failure.kind in _STATUS_FAILURES:
            exchange.respond(*_STATUS_FAILURES[failure.kind])
            return True
        return False

    async def _stream(
        self,
        exchange: Exchange,
        route: _Route,
        body: dict[str, Any],
        answer: wire.Answer,
        ident: tuple[str, int],
        failure: Failure | None,
    ) -> None:
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        writer = wire.ChunkWriter(ident[0], ident[1], route.model, with_usage=with_usage)
        exchange.start_stream(200, _SSE_HEADERS)
        if route.azure:
            exchange.send_chunk(writer.prompt_filter())
        exchange.send_chunk(writer.delta({"role": "assistant", "content": ""}))
        delay = self.script.chunk_delay_ms / 1000
        for i, word in enumerate(answer.reasoning.split(" ") if answer.reasoning else ()):
            exchange.send_chunk(writer.delta({"reasoning_content": word if i == 0 else " " + word}))
        for index, piece in enumerate(answer.pieces):
            if failure is not None and index == failure.after_chunks:
                await self._fail_mid_stream(exchange, failure)
                return
            if delay:
                await asyncio.sleep(delay)
            exchange.send_chunk(writer.delta({"content": piece}))
        for fragment in openai_rich.tool_call_fragments(answer.tool_calls):
            exchange.send_chunk(writer.delta({"tool_calls": [fragment]}))
        tail = writer.delta({}, answer.finish_reason)
        exchange.send_chunk(tail + writer.usage(answer) + wire.DONE if with_usage else tail + wire.DONE)
        exchange.end_stream()

    async def _fail_mid_stream(self, exchange: Exchange, failure: Failure) -> None:
        if failure.kind == "stall_mid_stream":
            await asyncio.Event().wait()  # until the client goes away
        if failure.kind == "error_event":
            exchange.send_chunk(b"data: " + wire.SERVER_ERROR_BODY + b"\n\n")
            exchange.end_stream()
        else:
            exchange.reset()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8300)
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0)
    parser.add_argument("--chunks", type=int, default=None)
    args = parser.parse_args(argv)
    script = Script(latency_ms=args.latency_ms, chunk_delay_ms=args.chunk_delay_ms, chunks=args.chunks)
    asyncio.run(_serve(FakeAzureOpenAI(api_key=args.api_key, host=args.host, port=args.port, script=script)))


async def _serve(fake: FakeAzureOpenAI) -> None:
    fake.record = False  # a long-running demo or benchmark upstream must not grow without bound
    await fake.start()
    print(f"fake Azure OpenAI / OpenAI on {fake.url} (api-key {fake.api_key})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


if __name__ == "__main__":
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    main()
