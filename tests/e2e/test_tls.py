"""TLS on all three listeners with a certificate the test makes (docs/api.md#listeners)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme
import websockets
from grpclib.client import Channel

from entrypoints.grpc.generated import proto as pb
from tests.support.grpc_calls import call
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_server(authority: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("tls")
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path = Path(directory, "server.pem"), Path(directory, "server.key")
    certificate.private_key_pem.write_to_path(str(key_path))
    certificate.cert_chain_pems[0].write_to_path(str(cert_path))
    env = {"ENABLE_TLS": "true", "TLS_CERT_PATH": str(cert_path), "TLS_KEY_PATH": str(key_path)}
    server = ServerProcess(env, ws=True, grpc=True)
    server.scheme, server.verify = "https", client_context(authority)
    with server:
        yield server


def client_context(authority: trustme.CA, alpn: list[str] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    authority.configure_trust(context)
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def test_http_speaks_tls_and_says_so_with_hsts(tls_server: ServerProcess, authority: trustme.CA) -> None:
    response = httpx.post(
        tls_server.base_url + "/api/v1/generate", json={"prompt": "over tls"}, verify=client_context(authority)
    )
    assert response.status_code == 200
    assert "max-age" in response.headers["strict-transport-security"]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{tls_server.http_port}/healthz", timeout=2)


async def test_the_websocket_port_speaks_tls(tls_server: ServerProcess, authority: trustme.CA) -> None:
    url = f"wss://127.0.0.1:{tls_server.ws_port}/ws"
    async with websockets.connect(url, ssl=client_context(authority)) as socket:
        await socket.send(json.dumps({"prompt": "wss"}))
        while not (frame := json.loads(await socket.recv())).get("finished"):
            pass
        assert "error" not in frame


async def test_the_grpc_port_speaks_tls(tls_server: ServerProcess, authority: trustme.CA) -> None:
    channel = Channel("127.0.0.1", tls_server.grpc_port, ssl=client_context(authority, ["h2"]))
    try:
        outcome = await call(channel, "Generate", pb.GenerateRequest(prompt="grpc over tls"))
    finally:
        channel.close()
    assert outcome.error is None and outcome.reply.content
