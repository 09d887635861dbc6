"""The bounded schema fuzzing of CI: schemathesis over ``/schema/openapi.json``, every operation, every check.

Two real servers on embedded defaults: one open (no keys), one with API keys
and rate limits, fuzzed with the admin key (schemathesis also drops it, for
the 401s) and then with a user key over the admin routes (the 403s). A few
examples per operation and a fixed seed keep it within about a minute on two
busy cores; ``python -m tests.schema_fuzz`` is the long form.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.schema_fuzz.runner import ADMIN_KEY, KEYED_ENV, USER_KEY, FuzzResult, run_schemathesis
from tests.support.server import ServerProcess

SEED = 20261202
EXAMPLES = 6
# An answer slower than this fails (max_response_time): the mock answers in microseconds, so only a stall
# (a blocked event loop, a lost wake-up) or a very busy machine comes near it.
MAX_RESPONSE_SECONDS = 5.0


@pytest.fixture(scope="module")
def open_server() -> Iterator[ServerProcess]:
    with ServerProcess() as server:
        yield server


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[ServerProcess]:
    with ServerProcess(KEYED_ENV) as server:
        yield server


def _explain(result: FuzzResult) -> str:
    return (
        f"{result.cases} cases, {result.unique_failures} failures (exit {result.returncode}):\n{result.output[-20000:]}"
    )


def test_every_operation_conforms_without_keys(open_server: ServerProcess) -> None:
    result = run_schemathesis(
        open_server.base_url, max_examples=EXAMPLES, max_response_time=MAX_RESPONSE_SECONDS, seed=SEED
    )
    assert result.passed, _explain(result)
    assert result.cases > 100  # every operation was fuzzed, not a document that failed to load


def test_every_operation_conforms_with_keys_and_limits(keyed_server: ServerProcess) -> None:
    result = run_schemathesis(
        keyed_server.base_url,
        max_examples=EXAMPLES,
        max_response_time=MAX_RESPONSE_SECONDS,
        seed=SEED,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert result.passed, _explain(result)
    assert result.cases > 100


def test_admin_routes_conform_for_a_user_key(keyed_server: ServerProcess) -> None:
    result = run_schemathesis(
        keyed_server.base_url,
        max_examples=3,
        max_response_time=MAX_RESPONSE_SECONDS,
        seed=SEED,
        headers={"X-API-Key": USER_KEY},
        extra=["--include-path-regex", "^/api/v1/cache/(invalidate|blacklist)"],
    )
    assert result.passed, _explain(result)
    assert result.cases > 0
