"""Schemathesis over the gateway's own OpenAPI document, against a real server process.

Both forms use this: the bounded run of the test suite (``test_schema_fuzz``)
and the long run (``python -m tests.schema_fuzz``). Every check schemathesis
has runs (``--checks all``: no 5xx, status codes, content types, headers and
bodies as documented, schema-valid requests taken, schema-invalid ones refused,
``Allow`` on 405 and ``OPTIONS``, auth not ignored), in every phase (examples,
coverage, fuzzing, stateful), with a bound on each answer's time. The one
exception to the checks is in ``schemathesis.toml``, with its reason.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from domain.api_keys import hash_api_key

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMA_PATH = "/schema/openapi.json"
ADMIN_KEY = "mcp_admin_" + secrets.token_urlsafe(24)
USER_KEY = "mcp_user_" + secrets.token_urlsafe(24)
# Keys on (an admin key and a user key, docs/security.md) and rate limits on, high enough that the fuzzing
# is rarely refused: the document then has the security schemes, 401/403/429 and the RateLimit-* fields.
KEYED_ENV = {
    "API_KEYS": ",".join(
        (
            hash_api_key(USER_KEY, role="user", salt=secrets.token_bytes(16)),
            hash_api_key(ADMIN_KEY, role="admin", salt=secrets.token_bytes(16)),
        )
    ),
    "RATE_LIMIT_ENABLED": "true",
    "RATE_LIMIT_RPS": "500",
    "RATE_LIMIT_BURST": "500",
}

# For a run over some operations only: the links between them and the others are then left out.
NO_STATEFUL = ("--phases", "examples,coverage,fuzzing")

_CASES = re.compile(r"(\d+) generated(?:, (\d+) found (\d+) unique failures?)?")


@dataclass(frozen=True, slots=True)
class FuzzResult:
    returncode: int
    cases: int
    failing_cases: int
    unique_failures: int
    output: str

    @property
    def passed(self) -> bool:
        return self.returncode == 0 and self.unique_failures == 0


def run_schemathesis(
    base_url: str,
    *,
    max_examples: int,
    max_response_time: float,
    headers: Mapping[str, str] | None = None,
    seed: int | None = None,
    extra: Sequence[str] = (),
    timeout: float = 600.0,
) -> FuzzResult:
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run", base_url + SCHEMA_PATH,
        "--checks", "all",
        "--max-examples", str(max_examples),
        "--max-response-time", str(max_response_time),
        "--workers", "1",
        "--generation-database", "none",
        "--no-color",
        "--request-timeout", str(max(max_response_time * 2, 10.0)),
    ]  # fmt: skip
    if seed is not None:
        command += ["--seed", str(seed)]
    for name, value in (headers or {}).items():
        command += ["--header", f"{name}: {value}"]
    command += list(extra)
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    output = done.stdout + done.stderr
    matches = list(_CASES.finditer(output))
    match = matches[-1] if matches else None  # the summary's line is the last
    cases = int(match.group(1)) if match else 0
    failing = int(match.group(2) or 0) if match else 0
    unique = int(match.group(3) or 0) if match else 0
    return FuzzResult(done.returncode, cases, failing, unique, output)
