"""The long schema fuzzing run: ``python -m tests.schema_fuzz --max-examples 500``.

Starts the gateway twice on embedded defaults (open; API keys and rate limits
on) and runs schemathesis over every operation of ``/schema/openapi.json`` with
every check (``runner``): with the admin key, and with a user key over the
admin routes. Prints the cases generated and the failures of each run, and
exits 1 if any failed. Figures of a run are in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import sys
import time

from tests.schema_fuzz.runner import ADMIN_KEY, KEYED_ENV, NO_STATEFUL, USER_KEY, run_schemathesis
from tests.support.server import ServerProcess


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.schema_fuzz", description=__doc__)
    parser.add_argument("--max-examples", type=int, default=500, help="test cases per operation and phase")
    parser.add_argument("--max-response-time", type=float, default=5.0, help="seconds an answer may take")
    parser.add_argument("--seed", type=int, default=None, help="schemathesis's seed (default: random)")
    parser.add_argument("--verbose", action="store_true", help="print schemathesis's whole output")
    args = parser.parse_args(argv)
    runs: tuple[tuple[str, dict[str, str], dict[str, str], tuple[str, ...]], ...] = (
        ("open (no keys)", {}, {}, ()),
        ("keys and rate limits, admin key", KEYED_ENV, {"Authorization": f"Bearer {ADMIN_KEY}"}, ()),
        (
            "keys and rate limits, user key on the admin routes",
            KEYED_ENV,
            {"X-API-Key": USER_KEY},
            ("--include-path-regex", "^/api/v1/cache/(invalidate|blacklist)", *NO_STATEFUL),
        ),
    )
    failed = 0
    for name, env, headers, extra in runs:
        started = time.monotonic()
        with ServerProcess(env) as server:
            result = run_schemathesis(
                server.base_url,
                max_examples=args.max_examples,
                max_response_time=args.max_response_time,
                headers=headers,
                seed=args.seed,
                extra=extra,
                timeout=6 * 3600,
            )
        seconds = time.monotonic() - started
        if args.verbose or not result.passed:
            print(result.output)
        verdict = "ok" if result.passed else f"FAILED (exit {result.returncode})"
        print(f"{name}: {result.cases} cases, {result.unique_failures} unique failures, {seconds:.0f} s: {verdict}")
        failed += not result.passed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
