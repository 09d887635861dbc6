"""Issue 11, item 14: with API keys on, gRPC server reflection needs a key like every RPC.

grpclib's reflection services answered anyone, so a caller without a key
could list and describe ``proto.AIService``. Now reflection (v1 and v1alpha)
runs through the service's own call runner: without a valid key it is
UNAUTHENTICATED, with one it works (an off-the-shelf grpcio-reflection client
with ``-H`` included). Without keys (the embedded default) it stays open:
``tests/e2e/test_grpc_reflection.py``.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpclib.reflection.v1 import reflection_pb2 as reflection_v1
from grpclib.reflection.v1alpha import reflection_pb2 as reflection_v1alpha

from domain.api_keys import hash_api_key
from tests.security.edge_support import raw_request, running_gateway
from tests.support.server import ServerProcess

GRPCURL = [sys.executable, str(Path(__file__).resolve().parents[1] / "support" / "grpcurl_like.py")]
USER_KEY = "mcp_user_" + secrets.token_urlsafe(24)
API_KEYS = hash_api_key(USER_KEY, role="user", salt=secrets.token_bytes(16))
VERSIONS = {"v1": reflection_v1, "v1alpha": reflection_v1alpha}


@pytest.fixture(scope="module")
def keyed() -> Iterator[ServerProcess]:
    with running_gateway({"API_KEYS": API_KEYS}, grpc=True) as running:
        yield running


def list_services(server: ServerProcess, version: str, metadata: tuple[tuple[str, str], ...]) -> list[str]:
    messages: Any = VERSIONS[version]
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        info = channel.stream_stream(
            f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
            request_serializer=messages.ServerReflectionRequest.SerializeToString,
            response_deserializer=messages.ServerReflectionResponse.FromString,
        )
        [listed] = info(iter([messages.ServerReflectionRequest(list_services="")]), metadata=metadata, timeout=10)
    return [service.name for service in listed.list_services_response.service]


@pytest.mark.parametrize("version", list(VERSIONS))
@pytest.mark.parametrize("metadata", [(), (("authorization", "Bearer mcp_not_a_key"),), (("x-api-key", "nope"),)])
def test_reflection_without_a_valid_key_is_unauthenticated(
    keyed: ServerProcess, version: str, metadata: tuple[tuple[str, str], ...]
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        list_services(keyed, version, metadata)

    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]


@pytest.mark.parametrize("version", list(VERSIONS))
@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
def test_reflection_with_a_key_lists_the_service(keyed: ServerProcess, version: str, header: str) -> None:
    value = f"Bearer {USER_KEY}" if header == "authorization" else USER_KEY

    assert "proto.AIService" in list_services(keyed, version, ((header, value),))


def grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GRPCURL, *args], capture_output=True, text=True, timeout=60, check=False)


def test_an_off_the_shelf_reflection_client_needs_the_key_too(keyed: ServerProcess) -> None:
    address = f"127.0.0.1:{keyed.grpc_port}"
    anonymous = grpcurl(address, "list")
    keyed_run = grpcurl(address, "list", "-H", f"authorization:Bearer {USER_KEY}")

    assert anonymous.returncode == 1 and json.loads(anonymous.stdout)["status"] == "UNAUTHENTICATED"
    assert keyed_run.returncode == 0, keyed_run.stderr
    assert "proto.AIService" in json.loads(keyed_run.stdout)


def test_reflection_calls_are_counted_under_their_own_label(keyed: ServerProcess) -> None:
    list_services(keyed, "v1", (("x-api-key", USER_KEY),))

    metrics = raw_request(keyed.http_port, "GET", "/metrics").body.decode()
    assert 'method="grpc_reflection"' in metrics
