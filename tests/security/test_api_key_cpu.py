"""Issue 11 item 5: wrong API keys against PBKDF2 entries cannot burn the event loop's CPU.

Before: every wrong key ran a PBKDF2 against every entry, on the event loop,
so eight random keys in parallel stalled every request. Now a key is found by
the lookup id it carries (``mcp_<id>_<secret>``): a key naming no entry costs
no KDF, a key naming one costs one, in a worker thread, at most a few at a
time, and a verified key is remembered. Entries without an id still work, with
their slow checks off the loop and bounded too.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from application.access import AccessControl
from application.key_verifier import SLOW_CHECKS_AT_ONCE, SLOW_CHECKS_PENDING
from domain.api_keys import KeyRing, Principal, hash_api_key, parse_key_entries, presented_key
from domain.errors import Overloaded, Unauthenticated
from tests.support.server import ServerProcess

SALT = bytes(range(16))
SLOW_ID = "slow0000id00"
SLOW_SECRET = "the-pbkdf2-secret-0123456789"
FAST_ID = "fast0000id00"
FAST_SECRET = "the-hmac-secret-0123456789"
OLD_KEY = "mcp_an-old-pbkdf2-key-without-an-id"


def entries(*, old_slow_entry: bool = False) -> str:
    made = [
        hash_api_key(SLOW_SECRET, role="user", salt=SALT, scheme="pbkdf2_sha256", iterations=1000, lookup_id=SLOW_ID),
        hash_api_key(FAST_SECRET, role="admin", salt=SALT, lookup_id=FAST_ID),
    ]
    if old_slow_entry:
        made.append(hash_api_key(OLD_KEY, role="user", salt=SALT, scheme="pbkdf2_sha256", iterations=1000))
    return ",".join(made)


class CountingOffload:
    """Runs each slow check in a thread, as the real one does, and records how many ran and where."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.calls = 0
        self.threads: set[int] = set()

    async def __call__(self, work: Callable[[], Principal | None]) -> Principal | None:
        self.calls += 1

        def run() -> Principal | None:
            self.threads.add(threading.get_ident())
            if self.gate is not None:
                self.gate.wait(timeout=10)
            return work()

        return await asyncio.to_thread(run)


def access_with(offload: CountingOffload, *, old_slow_entry: bool = False) -> AccessControl:
    return AccessControl(
        keys=KeyRing(parse_key_entries(entries(old_slow_entry=old_slow_entry))), limiter=None, offload=offload
    )


def random_key(lookup_id: str | None = None) -> str:
    return presented_key(lookup_id or secrets.token_hex(6), secrets.token_urlsafe(24))


async def refused(access: AccessControl, key: str) -> BaseException | None:
    try:
        await access.authenticate(None, key)
    except (Unauthenticated, Overloaded) as exc:
        return exc
    return None


async def test_keys_that_name_no_entry_cost_no_slow_verification() -> None:
    offload = CountingOffload()
    access = access_with(offload)
    keys = [random_key() for _ in range(8)] + ["no-prefix-at-all-" + secrets.token_urlsafe(8)]
    outcomes = await asyncio.gather(*(refused(access, key) for key in keys))
    assert all(isinstance(outcome, Unauthenticated) for outcome in outcomes)
    assert offload.calls == 0


async def test_a_key_naming_a_pbkdf2_entry_costs_one_verification_off_the_loop_then_none() -> None:
    offload = CountingOffload()
    access = access_with(offload)
    key = presented_key(SLOW_ID, SLOW_SECRET)
    for _ in range(5):
        principal = await access.authenticate(f"Bearer {key}")
        assert principal.role == "user"
    assert offload.calls == 1  # verified once, remembered after
    assert threading.get_ident() not in offload.threads  # and not on the event loop's thread


async def test_a_new_key_on_many_concurrent_requests_is_verified_once() -> None:
    offload = CountingOffload()
    access = access_with(offload)
    key = presented_key(SLOW_ID, SLOW_SECRET)
    principals = await asyncio.gather(*(access.authenticate(None, key) for _ in range(20)))
    assert {principal.role for principal in principals} == {"user"}
    assert offload.calls == 1


async def test_each_wrong_secret_under_a_known_id_costs_at_most_one_verification() -> None:
    offload = CountingOffload()
    access = access_with(offload, old_slow_entry=True)  # the old entry is not tried for a key that names one
    wrong = [random_key(SLOW_ID) for _ in range(6)]
    outcomes = [await refused(access, key) for key in wrong]
    assert all(isinstance(outcome, Unauthenticated) for outcome in outcomes)
    assert offload.calls == len(wrong)


async def test_a_valid_key_answers_while_eight_bad_key_verifications_are_in_flight() -> None:
    gate = threading.Event()  # holds every slow verification until the valid keys have answered
    offload = CountingOffload(gate)
    access = access_with(offload)
    cached = presented_key(SLOW_ID, SLOW_SECRET)
    gate.set()
    await access.authenticate(None, cached)  # verified once, before the attack
    gate.clear()
    before = access.verifier.slow_checks
    attack = [asyncio.create_task(refused(access, random_key(SLOW_ID))) for _ in range(8)]
    await asyncio.sleep(0.05)
    try:
        assert not any(task.done() for task in attack)  # the bad keys are still being verified
        assert (await asyncio.wait_for(access.authenticate(None, presented_key(FAST_ID, FAST_SECRET)), 5)).is_admin
        assert (await asyncio.wait_for(access.authenticate(None, cached), 5)).role == "user"
        assert (
            access.verifier.slow_checks - before <= SLOW_CHECKS_AT_ONCE
        )  # the rest wait their turn, costing nothing yet
    finally:
        gate.set()
    outcomes = await asyncio.gather(*attack)
    assert all(isinstance(outcome, Unauthenticated) for outcome in outcomes)


async def test_past_the_bound_a_new_slow_key_is_refused_at_once_and_counted() -> None:
    gate = threading.Event()
    offload = CountingOffload(gate)
    access = access_with(offload, old_slow_entry=True)
    pending = [asyncio.create_task(refused(access, random_key(SLOW_ID))) for _ in range(SLOW_CHECKS_PENDING)]
    await asyncio.sleep(0.05)
    try:
        extra = await refused(access, "mcp_" + secrets.token_urlsafe(24))  # an unindexed key: the old entry's check
        assert isinstance(extra, Overloaded) and extra.retry_after
        assert access.verifier.refused == 1
    finally:
        gate.set()
    await asyncio.gather(*pending)
    assert offload.calls == SLOW_CHECKS_PENDING


async def test_an_old_pbkdf2_entry_without_an_id_still_works_with_its_check_off_the_loop() -> None:
    offload = CountingOffload()
    access = access_with(offload, old_slow_entry=True)
    assert (await access.authenticate(None, OLD_KEY)).role == "user"
    assert offload.calls == 1 and threading.get_ident() not in offload.threads


# --- on the real server ------------------------------------------------------------------------
ITERATIONS = 600_000  # the default; about a tenth of a second (or more on a busy machine) per check
FAST_KEY = presented_key(FAST_ID, FAST_SECRET)


@pytest.fixture(scope="module")
def slow_keyed() -> Iterator[ServerProcess]:
    api_keys = ",".join(
        (
            hash_api_key(OLD_KEY, role="user", salt=SALT, scheme="pbkdf2_sha256", iterations=ITERATIONS),
            hash_api_key(FAST_SECRET, role="user", salt=SALT, lookup_id=FAST_ID),
        )
    )
    with ServerProcess({"API_KEYS": api_keys, "ACCESS_LOG": "false"}) as running:
        yield running


async def test_eight_random_keys_against_an_old_pbkdf2_entry_do_not_stall_the_server(
    slow_keyed: ServerProcess,
) -> None:
    async with httpx.AsyncClient(base_url=slow_keyed.base_url, timeout=60) as attacker:
        attack = [
            asyncio.create_task(
                attacker.get("/api/v1/models", headers={"X-API-Key": "mcp_" + secrets.token_urlsafe(24)})
            )
            for _ in range(8)
        ]
        await asyncio.sleep(0.3)  # the eight are being verified (each a PBKDF2 of the old entry)
        async with httpx.AsyncClient(base_url=slow_keyed.base_url, timeout=5) as client:  # a bounded wait
            assert (await client.get("/healthz")).status_code == 200
            keyed = await client.get("/api/v1/models", headers={"X-API-Key": FAST_KEY})
            assert keyed.status_code == 200
        answers = await asyncio.gather(*attack)
    assert {answer.status_code for answer in answers} <= {401, 503}
