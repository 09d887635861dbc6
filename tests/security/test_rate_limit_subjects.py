"""Issue 11 items 7 and 14 (Redis subjects): a rate limit is keyed on who the caller is, not on what it says.

Before: without keys the bucket was the client's ``X-User-ID``, so rotating it
escaped the limit and sending someone else's drained theirs; uvicorn believed
``X-Forwarded-For`` from any local peer; and Redis cut subjects at 200
characters, so long ids sharing a prefix shared a bucket. Now the subject is
the API key when keys are on, else the client address, with
``X-Forwarded-For`` read only from ``TRUSTED_PROXIES`` (its right-most
untrusted hop); Redis keys a subject by its hash.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import httpx
import pytest
import websockets

from adapters.clock.system import SystemClock
from adapters.rate_limit.memory import MemoryRateLimiter
from adapters.rate_limit.redis import RedisRateLimiter
from domain.api_keys import hash_api_key
from domain.rate_limit import Bucket
from entrypoints.config import ConfigError, load_settings
from entrypoints.http.shared.client_address import TrustedProxies, client_address
from tests.conftest import open_redis_client
from tests.support.server import ServerProcess

LIMITS = {"RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_RPS": "0.01", "RATE_LIMIT_BURST": "2", "ACCESS_LOG": "false"}


def models(server: ServerProcess, headers: dict[str, str]) -> int:
    return httpx.get(server.base_url + "/api/v1/models", headers=headers).status_code


# --- without keys, behind no proxy: the TCP peer is the subject ---------------------------------
@pytest.fixture(scope="module")
def direct() -> Iterator[ServerProcess]:
    with ServerProcess(LIMITS) as running:
        yield running


def test_rotating_x_user_id_or_x_forwarded_for_does_not_escape_the_limit(direct: ServerProcess) -> None:
    statuses = [models(direct, {"X-User-ID": f"user-{n}", "X-Forwarded-For": f"203.0.113.{n}"}) for n in range(4)]
    assert statuses == [200, 200, 429, 429]


# --- without keys, behind a trusted proxy: its X-Forwarded-For names the client ------------------
@pytest.fixture(scope="module")
def proxied() -> Iterator[ServerProcess]:
    with ServerProcess({**LIMITS, "TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/8"}, ws=True) as running:
        yield running


def test_someone_elses_user_id_does_not_drain_their_bucket(proxied: ServerProcess) -> None:
    attacker = {"X-User-ID": "alice", "X-Forwarded-For": "203.0.113.66"}
    assert [models(proxied, attacker) for _ in range(3)] == [200, 200, 429]
    assert models(proxied, {"X-User-ID": "alice", "X-Forwarded-For": "198.51.100.7"}) == 200


def test_addresses_the_client_wrote_left_of_the_proxies_are_ignored(proxied: ServerProcess) -> None:
    # The client sends a made-up X-Forwarded-For; the proxy (10.1.2.3, trusted) appends the real client.
    statuses = [models(proxied, {"X-Forwarded-For": f"192.0.2.{n}, 203.0.113.80, 10.1.2.3"}) for n in range(3)]
    assert statuses == [200, 200, 429]


async def test_a_websocket_on_the_http_port_is_limited_by_the_same_forwarded_address(
    proxied: ServerProcess,
) -> None:
    client = {"X-Forwarded-For": "203.0.113.90"}
    assert [models(proxied, client) for _ in range(2)] == [200, 200]  # the bucket of 203.0.113.90 is spent
    url = f"ws://127.0.0.1:{proxied.http_port}/ws"
    for headers, expected in ((client, "rate_limited"), ({"X-Forwarded-For": "203.0.113.91"}, None)):
        async with websockets.connect(url, additional_headers=headers) as socket:
            await socket.send(json.dumps({"prompt": "limited by address"}))
            while not (frame := json.loads(await socket.recv())).get("finished"):
                pass
        assert frame.get("code") == expected


# --- with keys: the key's bucket is charged, whatever the caller says -------------------------------
KEY = "mcp_subjects_" + secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def keyed() -> Iterator[ServerProcess]:
    entry = hash_api_key(KEY, role="user", salt=secrets.token_bytes(16))
    with ServerProcess({**LIMITS, "API_KEYS": entry}) as running:
        yield running


def test_with_a_key_no_x_user_id_widens_the_keys_bucket(keyed: ServerProcess) -> None:
    statuses = [models(keyed, {"X-API-Key": KEY, "X-User-ID": f"end-user-{n}"}) for n in range(3)]
    assert statuses == [200, 200, 429]


# --- the address rule itself ---------------------------------------------------------------------
PROXIES = TrustedProxies.parse("10.0.0.0/8, 192.168.1.10, fd00::/8")


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("198.51.100.1", ["203.0.113.5"], "198.51.100.1"),  # an untrusted peer's header is never read
        ("10.0.0.1", ["203.0.113.5"], "203.0.113.5"),
        ("10.0.0.1", ["6.6.6.6, 203.0.113.5, 10.0.0.2"], "203.0.113.5"),  # right-most untrusted hop
        ("10.0.0.1", ["6.6.6.6", "203.0.113.5"], "203.0.113.5"),  # several headers, in order
        ("10.0.0.1", ["203.0.113.5:4711"], "203.0.113.5"),
        ("fd00::1", ["[2001:db8::7]:443"], "2001:db8::7"),
        ("10.0.0.1", ["10.0.0.3, 10.0.0.2"], "10.0.0.3"),  # every hop trusted: the farthest one
        ("10.0.0.1", ["203.0.113.5, not-an-address"], "10.0.0.1"),  # garbage: stop at the trusted hop
        ("::ffff:10.0.0.1", ["203.0.113.5"], "203.0.113.5"),  # an IPv4 proxy seen on a dual-stack socket
    ],
)
def test_the_client_is_the_right_most_address_a_trusted_proxy_did_not_write(
    peer: str, forwarded: list[str], client: str
) -> None:
    assert PROXIES.client(peer, forwarded) == client


def test_without_trusted_proxies_the_header_is_not_even_read() -> None:
    scope = {"client": ("127.0.0.1", 5000), "headers": [(b"x-forwarded-for", b"203.0.113.5")]}
    assert client_address(scope) == "127.0.0.1"
    assert client_address(scope, TrustedProxies.parse("127.0.0.1")) == "203.0.113.5"


def test_a_bad_trusted_proxies_value_is_a_configuration_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES") as caught:
        load_settings(environ={"TRUSTED_PROXIES": "10.0.0.0/8,proxy.internal"}, dotenv=None)
    assert "proxy.internal" in str(caught.value)


# --- Redis: long subjects sharing a prefix ---------------------------------------------------------
async def test_long_ids_sharing_a_prefix_do_not_share_a_redis_bucket(redis_url: str, redis_prefix: str) -> None:
    bucket = Bucket(rate=0.001, burst=1)
    async with open_redis_client(redis_url) as client:
        limiter = RedisRateLimiter(
            client,
            per_subject=bucket,
            overall=None,
            fallback=MemoryRateLimiter(per_subject=bucket, overall=None, clock=SystemClock()),
            clock=SystemClock(),
            key_prefix=redis_prefix,
        )
        shared = "key:" + "k" * 250
        assert (await limiter.acquire(shared + "-first")).allowed
        assert (await limiter.acquire(shared + "-second")).allowed
        assert not (await limiter.acquire(shared + "-first")).allowed
        assert limiter.errors == 0  # answered by Redis, not by the in-process fallback
