"""Chat completions over the lean HTTP/1.1 client: the calls and errors of ``ChatCompletions``, without the SDK.

``HttpChatCompletions`` sends the same request bodies as the SDK path
(``chat_completions_wire.request_body``), decodes the answer or the SSE stream
with msgspec into the Structs the SDK path reads too (``chat_completions_answer``),
and raises the same domain errors with the same messages (the status mapping is
shared with ``adapters.providers.chat_completions``)::

    status other than 200 ───────────────── status_error (throttling, auth, not found, 5xx, bad request)
    connection refused, reset, cut short ── UpstreamError ("connection failed")
    no connection within the connect limit ─ UpstreamTimeout
    no first byte / silent gap ──────────── UpstreamTimeout (first-byte and idle limits, as the SDK path)
    error event mid-stream ──────────────── UpstreamError ("failed mid-answer")

``ChatEndpoint`` is the process-wide client for one service (an Azure resource
or an OpenAI-compatible base URL): where its chat completions live and how to
authenticate. The container opens it once and closes it at shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import msgspec

from adapters.providers.azure_access import azure_access
from adapters.providers.chat_completions import ChatCompletions, Hints, Target, status_error
from adapters.providers.chat_completions_answer import StreamFold, WireChunk, WireCompletion, completion
from adapters.providers.chat_completions_wire import request_body
from adapters.providers.http1_client import ConnectTimeout, Http1Client, Http1Response
from domain.errors import UpstreamError, UpstreamTimeout
from domain.models import Completion, ProviderCall, ProviderChunk

if TYPE_CHECKING:  # the SDK is imported where it is used: the lean client (UPSTREAM_CLIENT=fast) never loads it
    import openai

_encode = msgspec.json.Encoder().encode
_decode_completion = msgspec.json.Decoder(WireCompletion).decode
_decode_event = msgspec.json.Decoder(WireChunk).decode
_decode_any = msgspec.json.Decoder().decode
_JSON = b"Content-Type: application/json\r\nAccept: application/json\r\nUser-Agent: mcp-server-ai\r\n"
_SSE = b"Content-Type: application/json\r\nAccept: text/event-stream\r\nUser-Agent: mcp-server-ai\r\n"


@dataclass(frozen=True)
class ChatEndpoint:
    """One service's chat completions: the connections, the auth header and the URL layout."""

    client: Http1Client
    auth: bytes  # one header line, CRLF-terminated
    azure_api_version: str = ""  # set: Azure's /openai/deployments/{name}/... layout; empty: OpenAI's /chat/completions
    # Per-request header lines (CRLF-terminated), e.g. W3C ``traceparent`` when tracing is on.
    header_hooks: list[Callable[[], bytes]] = field(default_factory=list)

    def headers(self, fixed: bytes) -> bytes:
        if not self.header_hooks:
            return fixed
        return fixed + b"".join(hook() for hook in self.header_hooks)

    def path(self, target: str, operation: str = "chat/completions") -> str:
        """Where ``operation`` (``chat/completions``, ``embeddings``) of deployment or model ``target`` lives."""
        base = self.client.base_path
        if self.azure_api_version:
            return (
                f"{base}/openai/deployments/{quote(target, safe='')}/{operation}"
                f"?api-version={quote(self.azure_api_version, safe='')}"
            )
        return f"{base}/{operation}"

    async def close(self) -> None:
        await self.client.close()


def azure_endpoint(
    endpoint: str, *, api_version: str, api_key: str = "", ad_token: str = "", connect_timeout: float = 5.0
) -> ChatEndpoint:
    """Azure OpenAI (``AZURE_ENDPOINT``) with exactly one of an API key and an Entra bearer token."""
    access = azure_access(endpoint, api_version=api_version, api_key=api_key, ad_token=ad_token)
    auth = f"api-key: {access.api_key}\r\n" if access.api_key else f"Authorization: Bearer {access.ad_token}\r\n"
    client = Http1Client(access.endpoint, connect_timeout=connect_timeout)
    return ChatEndpoint(client=client, auth=auth.encode("latin-1"), azure_api_version=access.api_version)


def openai_endpoint(base_url: str, *, api_key: str = "", connect_timeout: float = 5.0) -> ChatEndpoint:
    """An OpenAI-compatible server (``OPENAI_BASE_URL``); a placeholder key for servers that need none."""
    if not base_url:
        raise ValueError("OPENAI_BASE_URL is required for the openai provider")
    client = Http1Client(base_url.rstrip("/"), connect_timeout=connect_timeout)
    return ChatEndpoint(client=client, auth=f"Authorization: Bearer {api_key or 'unused'}\r\n".encode("latin-1"))


class HttpChatCompletions:
    """``generate`` and ``stream`` for a provider adapter, spoken directly over HTTP/1.1."""

    def __init__(self, endpoint: ChatEndpoint, *, hints: Hints, first_byte_timeout: float, idle_timeout: float) -> None:
        self._endpoint = endpoint
        self._client = endpoint.client
        self._hints = hints
        self._first_byte = first_byte_timeout
        self._idle = idle_timeout
        self._json_headers = endpoint.auth + _JSON
        self._sse_headers = endpoint.auth + _SSE

    async def generate(self, call: ProviderCall, target: Target) -> Completion:
        body = _encode(request_body(call, model=target.name, reasoning=target.reasoning))
        try:
            async with asyncio.timeout(self._first_byte):
                response = await self._client.post(
                    self._endpoint.path(target.name), self._endpoint.headers(self._json_headers), body
                )
                try:
                    raw = await response.read()
                finally:
                    response.release()
        except TimeoutError as exc:
            raise self._timeout("the first byte", self._first_byte) from exc
        except OSError as exc:
            raise self._connection_error(exc) from exc
        if response.status != 200:
            raise self._status_error(response, raw, target)
        try:
            answer = _decode_completion(raw)
        except msgspec.DecodeError as exc:
            raise UpstreamError(f"{self._hints.provider} sent an answer that is not chat-completion JSON") from exc
        return completion(answer, call.model)

    async def stream(self, call: ProviderCall, target: Target) -> AsyncIterator[ProviderChunk]:
        params = {
            **request_body(call, model=target.name, reasoning=target.reasoning),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        first_byte_deadline = asyncio.get_running_loop().time() + self._first_byte
        try:
            async with asyncio.timeout_at(first_byte_deadline):
                response = await self._client.post(
                    self._endpoint.path(target.name), self._endpoint.headers(self._sse_headers), _encode(params)
                )
        except TimeoutError as exc:
            raise self._timeout("the first byte", self._first_byte) from exc
        except OSError as exc:
            raise self._connection_error(exc) from exc
        # Leaving for any reason (end, error, cancellation, consumer gone) releases the connection, and
        # closes it when the answer was not read to its end: that is what tells the upstream to stop.
        try:
            if response.status != 200:
                raise self._status_error(response, await self._rest(response, first_byte_deadline), target)
            async for chunk in self._events(response, first_byte_deadline):
                yield chunk
        finally:
            response.release()

    async def _events(self, response: Http1Response, first_byte_deadline: float) -> AsyncGenerator[ProviderChunk, None]:
        fold = StreamFold(self._hints.provider)
        async for data in self._sse_data(response, first_byte_deadline):
            for chunk in fold.add(self._event(data)):
                yield chunk
        yield fold.end()

    async def _sse_data(self, response: Http1Response, first_byte_deadline: float) -> AsyncIterator[bytes]:
        """The ``data:`` payload of each event up to ``[DONE]``, each read within the first-byte or idle limit."""
        buffer = b""
        deadline, waiting_for = first_byte_deadline, "the first byte"
        loop = asyncio.get_running_loop()
        while True:
            try:
                piece = await response.next_piece(deadline)
            except TimeoutError as exc:
                raise self._timeout(
                    waiting_for, self._first_byte if waiting_for == "the first byte" else self._idle
                ) from exc
            except OSError as exc:
                raise self._connection_error(exc) from exc
            if piece is None:
                return
            deadline, waiting_for = loop.time() + self._idle, "the next chunk"
            buffer += piece
            if b"\r" in buffer:
                buffer = buffer.replace(b"\r\n", b"\n")
            *events, buffer = buffer.split(b"\n\n")
            for event in events:
                if event.startswith(b"data: ") and b"\n" not in event:  # the usual one-line event
                    data = event[6:]
                else:
                    data = b"\n".join(line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:"))
                if data == b"[DONE]":
                    await self._rest(response, deadline)
                    return
                if data:
                    yield data

    def _event(self, data: bytes) -> WireChunk:
        try:
            event = _decode_event(data)
        except msgspec.DecodeError as exc:
            raise UpstreamError(f"{self._hints.provider} sent a stream event that is not JSON") from exc
        if event.error is not None:
            raise UpstreamError(f"{self._hints.provider} failed mid-answer: {event.error.message or 'error event'}")
        return event

    async def _rest(self, response: Http1Response, deadline: float) -> bytes:
        try:
            async with asyncio.timeout_at(deadline):
                return await response.read()
        except TimeoutError as exc:
            raise self._timeout("the first byte", self._first_byte) from exc
        except OSError as exc:
            raise self._connection_error(exc) from exc

    def _status_error(self, response: Http1Response, raw: bytes, target: Target) -> UpstreamError:
        code, message = error_fields(raw, response.status)
        return status_error(response.status, code, message, response.headers, self._hints, target.name)

    def _connection_error(self, exc: OSError) -> UpstreamError:
        if isinstance(exc, ConnectTimeout):
            return UpstreamTimeout(f"{self._hints.provider} timed out: {exc}")
        return UpstreamError(f"{self._hints.provider} connection failed: {exc or type(exc).__name__}")

    def _timeout(self, waiting_for: str, seconds: float) -> UpstreamTimeout:
        return UpstreamTimeout(f"{self._hints.provider} did not send {waiting_for} within {seconds:g} s")


def error_fields(raw: bytes, status: int) -> tuple[str | None, str]:
    """``(code, message)`` from an error body (``{"error": {"code", "message"}}`` or a bare object)."""
    try:
        body: Any = _decode_any(raw)
    except msgspec.DecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if isinstance(body, dict):
        code = body.get("code")
        message = body.get("message")
        if isinstance(message, str) and message:
            return (str(code) if code is not None else None), message
    text = raw[:500].decode("utf-8", "replace")
    return None, f"Error code: {status} - {text}"


def chat_api(
    client: openai.AsyncOpenAI | ChatEndpoint, *, hints: Hints, first_byte_timeout: float, idle_timeout: float
) -> ChatCompletions | HttpChatCompletions:
    """The chat-completions speaker for a provider: lean HTTP for a ``ChatEndpoint``, else the SDK client."""
    if isinstance(client, ChatEndpoint):
        return HttpChatCompletions(
            client, hints=hints, first_byte_timeout=first_byte_timeout, idle_timeout=idle_timeout
        )
    return ChatCompletions(client, hints=hints, first_byte_timeout=first_byte_timeout, idle_timeout=idle_timeout)
