"""``proto.AIService``: the four RPCs over the application's use-cases (docs/api.md#grpc).

The handlers take grpclib's ``Stream`` rather than the bare message that the
generated ``AiServiceBase`` offers, because they need the call's metadata and
must send the request id back in it. The method paths and message types are the
generated ones.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from grpclib.const import Cardinality, Handler
from grpclib.server import Stream

from application.generate import Generate
from application.generate_stream import GenerateStream
from application.get_status import GetStatus
from application.list_models import ListModels
from domain.catalogue import Catalogue
from domain.errors import InvalidRequest
from domain.models import GenerationRequest, StreamEvent
from domain.validation import RequestLimits, build_request
from entrypoints.bootstrap.container import Container, resolve
from entrypoints.grpc.calls import CallMetadata, CallRunner
from entrypoints.grpc.convert import (
    generate_response,
    list_models_response,
    request_fields,
    status_response,
    stream_chunk,
)
from entrypoints.grpc.generated import proto as pb

SERVICE = "proto.AIService"
Received = TypeVar("Received")


@dataclass(frozen=True, slots=True)
class GrpcDeps:
    """What the RPCs need, resolved once from the container."""

    catalogue: Catalogue
    limits: RequestLimits
    generate: Generate
    generate_stream: GenerateStream
    list_models: ListModels
    get_status: GetStatus

    @classmethod
    def from_container(cls, container: Container) -> GrpcDeps:
        return resolve(cls, container)

    def build(self, message: pb.GenerateRequest, call: CallMetadata) -> GenerationRequest:
        return build_request(
            request_fields(message), catalogue=self.catalogue, limits=self.limits, context=call.context()
        )


async def _receive(stream: Stream[Received, Any]) -> Received:
    message = await stream.recv_message()
    if message is None:
        raise InvalidRequest("the call carried no request message")
    return message


class AIService:
    """The servicer registered with grpclib; ``__mapping__`` is grpclib's service protocol."""

    def __init__(self, deps: GrpcDeps, calls: CallRunner) -> None:
        self._deps = deps
        self._calls = calls

    def __mapping__(self) -> dict[str, Handler]:
        return {
            f"/{SERVICE}/Generate": Handler(
                self._generate, Cardinality.UNARY_UNARY, pb.GenerateRequest, pb.GenerateResponse
            ),
            f"/{SERVICE}/GenerateStream": Handler(
                self._generate_stream, Cardinality.UNARY_STREAM, pb.GenerateRequest, pb.StreamChunk
            ),
            f"/{SERVICE}/ListModels": Handler(
                self._list_models, Cardinality.UNARY_UNARY, pb.ListModelsRequest, pb.ListModelsResponse
            ),
            f"/{SERVICE}/GetStatus": Handler(
                self._get_status, Cardinality.UNARY_UNARY, pb.StatusRequest, pb.StatusResponse
            ),
        }

    async def _generate(self, stream: Stream[pb.GenerateRequest, pb.GenerateResponse]) -> None:
        async def body(call: CallMetadata) -> None:
            generation = self._deps.build(await _receive(stream), call)
            answer = await self._deps.generate.execute(generation)
            await self._calls.send(stream, generate_response(answer))

        await self._calls.run(stream, "Generate", body)

    async def _generate_stream(self, stream: Stream[pb.GenerateRequest, pb.StreamChunk]) -> None:
        async def body(call: CallMetadata) -> None:
            generation = self._deps.build(await _receive(stream), call)
            # aclosing: when sending fails (the client went away or stopped reading, a message over the limit)
            # the use-case's generator is closed at once, which releases the pool slot and the provider call.
            events = cast(AsyncGenerator[StreamEvent, None], self._deps.generate_stream.execute(generation))
            async with aclosing(events):
                async for event in events:
                    await self._calls.send(stream, stream_chunk(event))

        await self._calls.run(stream, "GenerateStream", body)

    async def _list_models(self, stream: Stream[pb.ListModelsRequest, pb.ListModelsResponse]) -> None:
        async def body(_: CallMetadata) -> None:
            await _receive(stream)
            await self._calls.send(stream, list_models_response(self._deps.list_models.execute()))

        await self._calls.run(stream, "ListModels", body)

    async def _get_status(self, stream: Stream[pb.StatusRequest, pb.StatusResponse]) -> None:
        async def body(_: CallMetadata) -> None:
            await _receive(stream)
            await self._calls.send(stream, status_response(await self._deps.get_status.execute()))

        await self._calls.run(stream, "GetStatus", body)
