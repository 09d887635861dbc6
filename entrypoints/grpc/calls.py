"""What every RPC does around its body: metadata, authorization, draining and error statuses.

Each call reads ``x-request-id`` (echoed in the initial and trailing metadata,
or generated), ``x-user-id``/``x-session-id`` (the session), ``authorization``
and ``x-api-key`` or ``api-key`` (kept for the auth hook) and ``cache-control``. Domain errors
become a status with a readable message; a cancelled call is not answered at
all, because the client has gone and the cancellation must reach the provider
(grpclib cancels the handler's task when the client resets the stream or the
connection is lost, for unary calls as for streams).

Back-pressure under grpclib: ``send_message`` awaits HTTP/2 flow control (the
stream's and the connection's window, which a client grows only as it reads)
and the transport's ``write_ready``. ``CallRunner.send`` gives each reply
``write_timeout`` seconds of that (``CLIENT_WRITE_TIMEOUT_SECONDS``); past it
the body is abandoned, which closes the use-case (its upstream call, pool slot
and session lock), and the stream is reset (RST_STREAM: a reply may have been
cut mid-message). The call is ended, not the connection, which carries others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from grpclib.const import Status
from grpclib.exceptions import GRPCError, StreamTerminatedError
from grpclib.server import Stream

from domain.api_keys import KEY_HEADERS, key_header
from domain.errors import DomainError, ShuttingDown
from domain.models import Caller
from domain.validation import RequestContext
from entrypoints.grpc.errors import error_metadata, status_of
from entrypoints.request_context import (
    accept_request_id,
    bind_request,
    caller_var,
    current_caller,
)
from entrypoints.telemetry.observer import Telemetry
from entrypoints.telemetry.record import RequestRecord, note_error

log = logging.getLogger("mcp.grpc")

AnyStream = Stream[Any, Any]


@dataclass(frozen=True, slots=True)
class CallMetadata:
    """Who is calling, from the call's metadata. ``authorization``/``api_key`` are never logged."""

    method: str
    request_id: str
    user_id: str = ""
    session_id: str = ""
    authorization: str = ""
    api_key: str = ""
    skip_cache_read: bool = False
    peer: str = ""  # the client's address, for per-address rate limits

    @classmethod
    def read(cls, stream: AnyStream, method: str) -> CallMetadata:
        metadata: Mapping[str, str | bytes] = stream.metadata or {}

        def text(name: str) -> str:
            value = metadata.get(name, "")
            return value.strip() if isinstance(value, str) else ""

        return cls(
            method=method,
            request_id=accept_request_id(text("x-request-id")),
            user_id=text("x-user-id"),
            session_id=text("x-session-id"),
            authorization=text("authorization"),
            api_key=key_header({name: text(name) for name in KEY_HEADERS}),
            skip_cache_read="no-cache" in text("cache-control").lower(),
            peer=_peer_host(stream),
        )

    def context(self) -> RequestContext:
        return RequestContext(
            request_id=self.request_id,
            user_id=self.user_id,
            session_id=self.session_id,
            skip_cache_read=self.skip_cache_read,
            caller=current_caller(),
        )


Authorizer = Callable[[CallMetadata], Awaitable[None]]


class ClientStalled(Exception):
    """A reply waited on flow control for longer than the write timeout: the client has stopped reading."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the client read nothing for {seconds:g}s")
        self.seconds = seconds


async def authorize_call(call: CallMetadata) -> None:
    """THE hook for API-key checks on gRPC (docs/api.md#authentication): every RPC passes here before any work is done.

    Raise ``Unauthenticated`` (no key, unknown key) or ``PermissionDenied`` (the key's role may not
    call ``call.method``); return to let the call through. ``call.authorization`` holds the raw
    ``authorization`` metadata (``Bearer <key>``) and ``call.api_key`` the ``x-api-key`` (else ``api-key``) metadata.
    Until API keys are configured, every call is allowed.
    """
    return None


class CallTracker:
    """Counts calls in flight so that shutdown can wait for them; refuses new ones while draining."""

    def __init__(self) -> None:
        self.active = 0
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    @contextmanager
    def track(self) -> Iterator[None]:
        if self.draining:
            raise ShuttingDown("the gateway is shutting down; retry the call", retry_after=1)
        self.active += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.active -= 1
            if self.active == 0:
                self._idle.set()

    async def drain(self, grace_seconds: float) -> bool:
        """Refuse new calls and wait for the running ones; ``False`` when the grace period ran out."""
        self.draining = True
        try:
            await asyncio.wait_for(self._idle.wait(), grace_seconds)
        except TimeoutError:
            return False
        return True


class CallRunner:
    """Runs the body of one RPC between metadata handling and the final status.

    With ``telemetry`` each call is a request of its own for metrics, tracing
    (a server span, child of the caller's ``traceparent`` metadata) and the
    access log, labelled ``grpc_<method>``.
    """

    def __init__(
        self,
        tracker: CallTracker,
        authorize: Authorizer = authorize_call,
        *,
        telemetry: Telemetry | None = None,
        write_timeout: float = 30.0,
    ) -> None:
        self._tracker = tracker
        self._authorize = authorize
        self._telemetry = telemetry
        self._write_timeout = write_timeout

    async def send(self, stream: AnyStream, message: Any) -> None:
        """Send one reply; ``ClientStalled`` when the client has not made room for it within the write timeout."""
        try:
            async with asyncio.timeout(self._write_timeout):
                await stream.send_message(message)
        except TimeoutError:
            raise ClientStalled(self._write_timeout) from None

    async def run(self, stream: AnyStream, method: str, body: Callable[[CallMetadata], Awaitable[None]]) -> None:
        call = CallMetadata.read(stream, method)
        bind_request(request_id=call.request_id, user_id=call.user_id, session_id=call.session_id)
        caller_var.set(Caller(address=call.peer))  # the authorizer adds the key, when keys are on
        record = self._begin(stream, method)
        status = Status.CANCELLED  # unless an answer is sent below
        try:
            status = await self._serve(stream, call, body)
        finally:
            if record is not None and self._telemetry is not None:
                self._telemetry.finish(record, status.name, failed=status is not Status.OK, fields={"rpc": method})

    def _begin(self, stream: AnyStream, method: str) -> RequestRecord | None:
        if self._telemetry is None:
            return None
        label = _METRIC_LABELS.get(method, "grpc_other")
        carrier = _trace_headers(stream) if self._telemetry.tracer is not None else None
        return self._telemetry.begin(label, span_name=f"proto.AIService/{method}", carrier=carrier)

    async def _serve(
        self, stream: AnyStream, call: CallMetadata, body: Callable[[CallMetadata], Awaitable[None]]
    ) -> Status:
        echo = {"x-request-id": call.request_id}
        try:
            return await self._answer(stream, call, body, echo)
        except ClientStalled as exc:
            log.info("gRPC client stopped reading: call reset", extra={"timeout_seconds": exc.seconds})
            await _reset(stream, exc.seconds)
            return Status.CANCELLED
        except StreamTerminatedError:  # the client reset the stream: nobody is left to answer
            log.debug("gRPC stream terminated by the client", extra={"method": call.method})
            return Status.CANCELLED
        except Exception:  # a bug, even one in mapping an error: INTERNAL without internals, never UNKNOWN
            log.exception("gRPC call failed", extra={"method": call.method})
            return await _finish(stream, Status.INTERNAL, "internal error", echo)

    async def _answer(
        self,
        stream: AnyStream,
        call: CallMetadata,
        body: Callable[[CallMetadata], Awaitable[None]],
        echo: dict[str, str],
    ) -> Status:
        """The body's status; an exception that is neither a domain nor a gRPC error goes to ``_serve``."""
        try:
            with self._tracker.track():
                await self._authorize(call)
                await stream.send_initial_metadata(metadata=echo)
                await body(call)
        except DomainError as exc:
            note_error(exc.code)
            return await _finish(stream, status_of(exc), exc.message, {**echo, **error_metadata(exc)})
        except GRPCError as exc:  # raised by grpclib or the codec: a malformed or oversized message
            return await _finish(stream, exc.status, exc.message, echo)
        return await _finish(stream, Status.OK, None, echo)


_METRIC_LABELS = {
    "Generate": "grpc_generate",
    "GenerateStream": "grpc_stream",
    "ListModels": "grpc_list_models",
    "GetStatus": "grpc_status",
    "ServerReflectionInfo": "grpc_reflection",
}


def _trace_headers(stream: AnyStream) -> dict[str, str]:
    metadata: Mapping[str, str | bytes] = stream.metadata or {}
    return {name: value for name in ("traceparent", "tracestate") if isinstance(value := metadata.get(name), str)}


def _peer_host(stream: AnyStream) -> str:
    peer = getattr(stream, "peer", None)
    address = peer.addr() if peer is not None else None
    return str(address[0]) if address else ""


async def _reset(stream: AnyStream, seconds: float) -> None:
    """End the call with RST_STREAM: the reply may have been cut mid-message, so no trailers can follow it.

    A connection so stalled that it cannot take even the reset within ``seconds`` is left to grpclib, which
    answers CANCELLED once the connection drains or drops it when it is lost; the gateway holds nothing by then.
    """
    try:
        async with asyncio.timeout(seconds):
            await stream.cancel()
    except TimeoutError:
        raise GRPCError(Status.CANCELLED, "the client stopped reading") from None


async def _finish(stream: AnyStream, status: Status, message: str | None, metadata: dict[str, str]) -> Status:
    if status in (Status.INTERNAL, Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED):
        log.warning("gRPC call failed: %s", message, extra={"status": status.name})
    await stream.send_trailing_metadata(status=status, status_message=message, metadata=metadata)
    return status
