"""The gRPC listener with ``ENABLE_TLS``: in process, a client that trusts the test CA calls it over TLS."""

from __future__ import annotations

import asyncio
import inspect
import ssl
from pathlib import Path

import pytest
import trustme
from grpclib.client import Channel
from grpclib.exceptions import StreamTerminatedError

from entrypoints.bootstrap.container import build_container, open_container
from entrypoints.config import Settings
from entrypoints.grpc.generated import proto as pb
from entrypoints.grpc.listener import GrpcListener
from tests.support.server import free_port


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[trustme.CA, Path, Path]:
    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    for extra in issued.cert_chain_pems[1:]:
        extra.write_to_path(str(cert), append=True)
    issued.private_key_pem.write_to_path(str(key))
    return ca, cert, key


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(context)
    context.set_alpn_protocols(["h2"])
    return context


async def test_the_grpc_listener_serves_over_tls_when_enabled(certificate: tuple[trustme.CA, Path, Path]) -> None:
    ca, cert, key = certificate
    settings = Settings(
        host="127.0.0.1",
        grpc_port=free_port(),
        enable_tls=True,
        tls_cert_path=str(cert),
        tls_key_path=str(key),
        mock_latency_ms=0,
        shutdown_grace_seconds=2,
    )
    container = build_container(settings)
    await open_container(container)
    listener = GrpcListener(container, settings)
    serving = asyncio.create_task(listener.serve())
    try:
        reply = await _list_models_when_up(settings.grpc_port, client_context(ca))
        plain_refused = await _plaintext_fails(settings.grpc_port)
    finally:
        listener.stop()
        await serving
        await _settle(container.shutdown_resources())

    assert "mock-1" in [m.id for m in reply.models]
    assert plain_refused


async def _settle(result: object) -> None:
    if inspect.isawaitable(result):
        await result


async def _list_models_when_up(port: int, context: ssl.SSLContext) -> pb.ListModelsResponse:
    for _ in range(100):
        try:
            async with Channel("127.0.0.1", port, ssl=context) as channel:
                return await pb.AiServiceStub(channel).list_models(pb.ListModelsRequest(), timeout=5)
        except ConnectionRefusedError:
            await asyncio.sleep(0.05)
    raise AssertionError("the TLS listener never accepted a connection")


async def _plaintext_fails(port: int) -> bool:
    try:
        async with Channel("127.0.0.1", port) as channel:
            await pb.AiServiceStub(channel).list_models(pb.ListModelsRequest(), timeout=3)
    except (StreamTerminatedError, ConnectionError, TimeoutError):
        return True
    return False
