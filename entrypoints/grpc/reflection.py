"""Server reflection (v1 and v1alpha) behind the same checks as ``proto.AIService``.

grpclib's reflection services answer anyone, so with API keys on a caller
without a key could still list and describe the service. Here every handler
of theirs runs through the ``CallRunner`` of the service: the key check and
rate limit (UNAUTHENTICATED without a valid key), draining at shutdown, the
request-id echo and the metrics of a call (label ``grpc_reflection``). Without
keys, reflection stays open, as every RPC is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from grpclib.const import Handler
from grpclib.reflection.service import ServerReflection
from grpclib.server import Stream

from entrypoints.grpc.calls import CallMetadata, CallRunner
from entrypoints.grpc.generated.google_proto_descriptor_pool import default_google_proto_descriptor_pool


class Servable(Protocol):
    """What grpclib's ``Server`` serves: a mapping of method paths to handlers."""

    def __mapping__(self) -> Mapping[str, Handler]: ...


def with_reflection(service: Servable, calls: CallRunner) -> list[Servable]:
    """``service`` and the reflection services that describe it, these behind ``calls``."""
    extended: list[Servable] = ServerReflection.extend([service], pool=default_google_proto_descriptor_pool)
    return [service, *(_Checked(reflection, calls) for reflection in extended if reflection is not service)]


class _Checked:
    """Another servable whose handlers each run as one call of the ``CallRunner``."""

    def __init__(self, inner: Servable, calls: CallRunner) -> None:
        self._inner = inner
        self._calls = calls

    def __mapping__(self) -> dict[str, Handler]:
        return {
            path: handler._replace(func=self._checked(handler.func, path.rsplit("/", 1)[-1]))
            for path, handler in self._inner.__mapping__().items()
        }

    def _checked(self, func: Any, method: str) -> Any:
        async def handle(stream: Stream[Any, Any]) -> None:
            async def body(_: CallMetadata) -> None:
                await func(stream)

            await self._calls.run(stream, method, body)

        return handle
