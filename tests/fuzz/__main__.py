"""The long run of the parser fuzzing: every property of ``tests/fuzz`` under atheris, for a stated time each.

    python -m tests.fuzz --seconds 60                  # every target, 60 s each
    python -m tests.fuzz --seconds 600 --target grpc   # the targets whose name contains "grpc"
    python -m tests.fuzz --replay grpc_messages.test_any_grpc_message_is_a_request_or_a_grpc_error CRASH_FILE

Each target runs in its own process (libFuzzer runs once per process) through
Hypothesis's ``fuzz_one_input``, so atheris's coverage feedback steers the
same strategies the short pytest form draws from. A failing input is saved
as ``<artifacts>/crash-*`` (``--artifacts``, default ``bench/out/fuzz``);
``--replay`` runs one again and shows the failure. The table at the end gives
the examples run, the time and the result of each target; the exit status is
1 when any target failed.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PACKAGE = "tests.fuzz"
PRODUCT = ("domain", "application", "adapters", "entrypoints")
_EXECUTED = re.compile(rb"stat::number_of_executed_units:\s*(\d+)")


def targets() -> dict[str, Callable[..., Any]]:
    """Every Hypothesis property in the package, named ``<module without test_>.<function>``."""
    found: dict[str, Callable[..., Any]] = {}
    package = importlib.import_module(PACKAGE)
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"{PACKAGE}.{info.name}")
        for name, value in vars(module).items():
            if name.startswith("test_") and hasattr(value, "hypothesis"):
                found[f"{info.name.removeprefix('test_')}.{name}"] = value
    return found


def run_one(name: str, seconds: int, artifacts: Path) -> None:
    """In a child process: fuzz one target with atheris until ``seconds`` pass or it fails."""
    import atheris

    # Coverage feedback from the gateway's own code only: instrumenting every loaded library takes minutes.
    with atheris.instrument_imports(include=list(PRODUCT)):
        target = targets()[name]
    artifacts.mkdir(parents=True, exist_ok=True)
    flags = [f"-max_total_time={seconds}", "-print_final_stats=1", "-timeout=30", f"-artifact_prefix={artifacts}/"]
    atheris.Setup([sys.argv[0], *flags], target.hypothesis.fuzz_one_input)
    atheris.Fuzz()


def replay(name: str, crash: Path) -> None:
    targets()[name].hypothesis.fuzz_one_input(crash.read_bytes())
    print("no failure: the input passes now")


def run_all(pattern: str, seconds: int, artifacts: Path) -> int:
    rows = []
    for name in sorted(targets()):
        if pattern not in name:
            continue
        started = time.monotonic()
        child = subprocess.run(
            [sys.executable, "-m", PACKAGE, "--child", name, "--seconds", str(seconds), "--artifacts", str(artifacts)],
            capture_output=True,
            check=False,
        )
        executed = _EXECUTED.findall(child.stderr)
        result = "ok" if child.returncode == 0 else f"FAILED (exit {child.returncode})"
        if child.returncode != 0:
            sys.stderr.write(child.stderr.decode("utf-8", "replace")[-4000:])
        rows.append((name, int(executed[-1]) if executed else 0, time.monotonic() - started, result))
        print(f"{name}: {rows[-1][1]} examples in {rows[-1][2]:.0f} s, {result}", flush=True)
    print(f"\n{'target':<80} {'examples':>10} {'seconds':>8}  result")
    for name, count, elapsed, result in rows:
        print(f"{name:<80} {count:>10} {elapsed:>8.0f}  {result}")
    print(f"\n{len(rows)} targets, {sum(r[1] for r in rows)} examples, {sum(r[3] != 'ok' for r in rows)} failed")
    return 1 if any(r[3] != "ok" for r in rows) else 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="time per target (default 60)")
    parser.add_argument("--target", default="", help="only the targets whose name contains this")
    parser.add_argument("--artifacts", type=Path, default=Path("bench/out/fuzz"), help="where failing inputs go")
    parser.add_argument("--replay", nargs=2, metavar=("TARGET", "FILE"), help="run one saved input again")
    parser.add_argument("--list", action="store_true", help="print the target names")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.list:
        print("\n".join(sorted(targets())))
        return 0
    if args.replay:
        replay(args.replay[0], Path(args.replay[1]))
        return 0
    if args.child:
        run_one(args.child, args.seconds, args.artifacts)
        return 0
    return run_all(args.target, args.seconds, args.artifacts)


if __name__ == "__main__":
    sys.exit(main())
