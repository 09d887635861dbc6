"""A thin grpclib client for the tests: calls that also return the initial and trailing metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from grpclib.client import Channel
from grpclib.const import Cardinality
from grpclib.exceptions import GRPCError

from entrypoints.grpc.generated import proto as pb

SERVICE = "/proto.AIService/"


@dataclass
class Outcome:
    """What one call gave back: the replies, or the error, and both sets of metadata."""

    replies: list[Any] = field(default_factory=list)
    error: GRPCError | None = None
    initial: dict[str, str] = field(default_factory=dict)
    trailing: dict[str, str] = field(default_factory=dict)

    @property
    def reply(self) -> Any:
        assert self.error is None, f"the call failed: {self.error!r}"
        assert len(self.replies) == 1
        return self.replies[0]


_TYPES: dict[str, tuple[Cardinality, type, type]] = {
    "Generate": (Cardinality.UNARY_UNARY, pb.GenerateRequest, pb.GenerateResponse),
    "GenerateStream": (Cardinality.UNARY_STREAM, pb.GenerateRequest, pb.StreamChunk),
    "ListModels": (Cardinality.UNARY_UNARY, pb.ListModelsRequest, pb.ListModelsResponse),
    "GetStatus": (Cardinality.UNARY_UNARY, pb.StatusRequest, pb.StatusResponse),
}


async def call(channel: Channel, method: str, request: Any, metadata: Mapping[str, str] | None = None) -> Outcome:
    outcome = Outcome()
    async for _ in _run(channel, method, request, metadata, outcome):
        pass
    return outcome


async def stream_replies(
    channel: Channel, method: str, request: Any, outcome: Outcome, metadata: Mapping[str, str] | None = None
) -> AsyncIterator[Any]:
    """Replies one by one, so that a test can stop reading (and cancel) in the middle."""
    async for reply in _run(channel, method, request, metadata, outcome):
        yield reply


async def _run(
    channel: Channel, method: str, request: Any, metadata: Mapping[str, str] | None, outcome: Outcome
) -> AsyncIterator[Any]:
    cardinality, request_type, reply_type = _TYPES[method]
    async with channel.request(
        SERVICE + method, cardinality, request_type, reply_type, metadata=dict(metadata or {}), timeout=30
    ) as stream:
        try:
            await stream.send_message(request, end=True)
            await stream.recv_initial_metadata()
            outcome.initial = _plain(stream.initial_metadata)
            while (reply := await stream.recv_message()) is not None:
                outcome.replies.append(reply)
                yield reply
            await stream.recv_trailing_metadata()
        except GRPCError as exc:
            outcome.error = exc
        outcome.initial = outcome.initial or _plain(stream.initial_metadata)
        outcome.trailing = _plain(stream.trailing_metadata)


def _plain(metadata: Any) -> dict[str, str]:
    return {key: value for key, value in (metadata or {}).items() if isinstance(value, str)}
