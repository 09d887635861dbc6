"""Chat completions through the ``openai`` SDK, shared by the Azure and OpenAI-compatible providers.

``ChatCompletions`` turns a ``ProviderCall`` into a ``chat.completions.create``
call (the body is ``chat_completions_wire.request_body``) and the SDK's answers
into domain values (``chat_completions_answer``); the two providers differ only in
the client they hold and in how a model name becomes a target (an Azure
deployment, or the model name itself). SDK errors are translated here:

    openai.OpenAIError
    ├── APIConnectionError ──────────────── UpstreamError (reset, refused, broken stream)
    │   └── APITimeoutError ─────────────── UpstreamTimeout
    ├── APIStatusError
    │   ├── BadRequestError (content filter) UpstreamBadRequest (upstream message)
    │   ├── AuthenticationError ─────────── UpstreamAuthError (names the credential variable)
    │   ├── PermissionDeniedError ───────── UpstreamAuthError
    │   ├── NotFoundError ───────────────── UpstreamAuthError (unknown deployment or model)
    │   ├── RateLimitError ──────────────── UpstreamRateLimited (retry_after from the headers)
    │   └── InternalServerError (5xx) ───── UpstreamError
    └── APIError (error event mid-stream) ── UpstreamError
    ValueError (a 200 that is not JSON) ──── UpstreamError (the lean client's "not chat-completion JSON")

Timeouts: the SDK's own retries are off (the resilience wrappers retry). The
connect timeout is the client's; the first byte (headers and first event) and
the gap between events are bounded here with ``asyncio.timeout``, so a long but
healthy stream is never cut by a total deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from adapters.providers.chat_completions_answer import StreamFold, WireChunk, WireCompletion, completion, from_sdk
from adapters.providers.chat_completions_wire import request_body
from adapters.providers.retry_after import retry_after_seconds
from domain.errors import (
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from domain.models import Completion, ProviderCall, ProviderChunk

if TYPE_CHECKING:  # the SDK is imported where it is used: the lean client (UPSTREAM_CLIENT=fast) never loads it
    import openai


def client_timeout(*, connect: float, first_byte: float, idle: float) -> openai.Timeout:
    """The HTTP timeouts: ``read`` is only a backstop, the adapter enforces first byte and idle gap itself."""
    import openai

    return openai.Timeout(connect=connect, read=max(first_byte, idle), write=connect, pool=connect)


@dataclass(frozen=True)
class Target:
    """Where one call goes: the name sent upstream and whether it is a reasoning model."""

    name: str
    reasoning: bool


@dataclass(frozen=True)
class Hints:
    """Per-provider wording for errors the operator has to fix."""

    provider: str
    credentials: str  # e.g. "AZURE_API_KEY or AZURE_AD_TOKEN"
    not_found: Callable[[str | None, str, str], str]  # (upstream code, target, upstream message) -> message


class ChatCompletions:
    """One ``AsyncOpenAI``/``AsyncAzureOpenAI`` client speaking chat completions for a provider adapter."""

    def __init__(
        self, client: openai.AsyncOpenAI, *, hints: Hints, first_byte_timeout: float, idle_timeout: float
    ) -> None:
        self._create = client.chat.completions.create
        self._hints = hints
        self._first_byte = first_byte_timeout
        self._idle = idle_timeout

    async def generate(self, call: ProviderCall, target: Target) -> Completion:
        import openai
        from openai.types.chat import ChatCompletion

        try:
            async with asyncio.timeout(self._first_byte):
                response = await self._create(**self._params(call, target))
        except TimeoutError as exc:
            raise self._timeout("the first byte", self._first_byte) from exc
        except openai.OpenAIError as exc:
            raise translate_error(exc, self._hints, target.name) from exc
        except ValueError as exc:  # a 200 whose body is not JSON: the SDK's parser does not raise an OpenAIError
            raise self._not_json("an answer that is not chat-completion JSON") from exc
        if not isinstance(response, ChatCompletion):  # a 200 of another content type: the SDK hands back the text
            raise self._not_json("an answer that is not chat-completion JSON")
        try:
            return completion(from_sdk(response, WireCompletion), call.model)
        except msgspec.ValidationError as exc:
            raise self._not_json("an answer that is not chat-completion JSON") from exc

    async def stream(self, call: ProviderCall, target: Target) -> AsyncIterator[ProviderChunk]:
        import openai

        params = {**self._params(call, target), "stream": True, "stream_options": {"include_usage": True}}
        loop = asyncio.get_running_loop()
        first_byte_deadline = loop.time() + self._first_byte
        try:
            async with asyncio.timeout_at(first_byte_deadline):
                upstream = await self._create(**params)
        except TimeoutError as exc:
            raise self._timeout("the first byte", self._first_byte) from exc
        except openai.OpenAIError as exc:
            raise translate_error(exc, self._hints, target.name) from exc
        # Leaving this block for any reason (end, error, cancellation, consumer gone) closes the response,
        # which drops the connection when the answer was not read to its end.
        async with upstream, aclosing(self._events(upstream, first_byte_deadline, target)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def _events(
        self, upstream: Any, first_byte_deadline: float, target: Target
    ) -> AsyncGenerator[ProviderChunk, None]:
        import openai

        fold = StreamFold(self._hints.provider)
        deadline, waiting_for = first_byte_deadline, "the first byte"
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    event = from_sdk(await upstream.__anext__(), WireChunk)
            except StopAsyncIteration:
                break
            except TimeoutError as exc:
                limit = self._first_byte if waiting_for == "the first byte" else self._idle
                raise self._timeout(waiting_for, limit) from exc
            except openai.OpenAIError as exc:
                raise translate_error(exc, self._hints, target.name) from exc
            except (ValueError, msgspec.ValidationError) as exc:  # an event whose data is not JSON, or not a chunk
                raise self._not_json("a stream event that is not JSON") from exc
            deadline, waiting_for = asyncio.get_running_loop().time() + self._idle, "the next chunk"
            for chunk in fold.add(event):
                yield chunk
        yield fold.end()

    def _params(self, call: ProviderCall, target: Target) -> dict[str, Any]:
        return request_body(call, model=target.name, reasoning=target.reasoning)

    def _timeout(self, waiting_for: str, seconds: float) -> UpstreamTimeout:
        return UpstreamTimeout(f"{self._hints.provider} did not send {waiting_for} within {seconds:g} s")

    def _not_json(self, what: str) -> UpstreamError:
        return UpstreamError(f"{self._hints.provider} sent {what}")


def translate_error(exc: openai.OpenAIError, hints: Hints, target: str) -> UpstreamError:
    """The most specific domain error for an SDK error (see the tree in the module docstring)."""
    import openai

    provider = hints.provider
    if isinstance(exc, openai.APITimeoutError):
        return UpstreamTimeout(f"{provider} timed out: {_cause(exc)}")
    if isinstance(exc, openai.APIConnectionError):
        return UpstreamError(f"{provider} connection failed: {_cause(exc)}")
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, hints, target)
    if isinstance(exc, openai.APIError):
        return UpstreamError(f"{provider} failed mid-answer: {upstream_message(exc)}")
    return UpstreamError(f"{provider} failed: {exc}")


def _status_error(exc: openai.APIStatusError, hints: Hints, target: str) -> UpstreamError:
    return status_error(exc.status_code, exc.code, upstream_message(exc), exc.response.headers, hints, target)


def status_error(
    status: int, code: str | None, message: str, headers: Mapping[str, str], hints: Hints, target: str
) -> UpstreamError:
    """The domain error for an upstream answer with an error status (shared with ``chat_completions_http``)."""
    provider = hints.provider
    if status == 429:
        return UpstreamRateLimited(
            f"{provider} is throttling requests: {message}", retry_after=retry_after_seconds(headers)
        )
    if status in (401, 403):
        return UpstreamAuthError(f"{provider} refused the credentials ({status}): {message}; check {hints.credentials}")
    if status == 404:
        return UpstreamAuthError(hints.not_found(code, target, message))
    if status == 408:
        return UpstreamTimeout(f"{provider} timed out ({status}): {message}")
    if status >= 500 or status == 409:
        return UpstreamError(f"{provider} failed ({status}): {message}")
    if code == "content_filter":
        return UpstreamBadRequest(f"{provider} content filter rejected the request: {message}")
    return UpstreamBadRequest(f"{provider} rejected the request ({status}): {message}")


def upstream_message(exc: openai.APIError) -> str:
    """The service's own message from its error body, else the SDK's."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return str(body["message"])
    return exc.message


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__
    return f"{exc} ({type(cause).__name__}: {cause})" if cause is not None else str(exc)
