"""``python -m bench``: every benchmark table of the gateway (issue 7), printed and written to bench/out/.

    .venv/bin/python -m bench               # all scenarios, full length (about 15 minutes)
    .venv/bin/python -m bench --quick       # a smoke run of every scenario (about 2 minutes)
    .venv/bin/python -m bench --only a,b    # some scenarios: a b r c d e f o p (r fixed rate, o doors, p pinned)
    .venv/bin/python -m bench --smoke       # CI: every scenario, tiny; exit 1 if one fails or reports errors
    bash bench/litellm.sh                   # (a), (b), (c) side by side with LiteLLM (makes its venv)

The fake upstream, the gateway and the load generator share this machine's
cores: figures are relative (gateway vs direct vs LiteLLM in the same run).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import secrets
import subprocess
import sys
import time
from pathlib import Path

from bench.procs import REPO, event_loop_runner
from bench.progress import PROGRESS
from bench.report import Table
from bench.scenarios import SCENARIOS, LiteLLM, Plan


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short run of each scenario (about two minutes)")
    parser.add_argument(
        "--smoke", action="store_true", help="CI check: each scenario tiny; exit 1 on a failed scenario or errors"
    )
    parser.add_argument("--only", default="", help="comma list of scenarios (a,b,r,c,d,e,f,o,p); default all")
    parser.add_argument("--litellm-venv", default="", help="LiteLLM venv: adds LiteLLM's column to (a), (b), (c)")
    parser.add_argument("--repeats", type=int, default=0, help="throughput runs per cell, median kept (3; quick 1)")
    parser.add_argument(
        "--pin", action="store_true", help="system under test on CPU 0, load generator and fake on CPU 1 (p always)"
    )
    parser.add_argument("--out", default="", help="Markdown file for the tables (default bench/out/<time>.md)")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()] or list(SCENARIOS)
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; choose from {','.join(SCENARIOS)}")
    _raise_open_files()
    logdir = REPO / "bench" / "out" / time.strftime("%Y%m%d-%H%M%S")
    logdir.mkdir(parents=True, exist_ok=True)
    litellm = None
    if args.litellm_venv:
        key = os.environ.get("LITELLM_MASTER_KEY") or f"sk-bench-{secrets.token_hex(12)}"
        litellm = LiteLLM(venv=Path(args.litellm_venv).resolve(), key=key)
    quick = args.quick or args.smoke
    repeats = args.repeats or (1 if quick else 3)
    plan = Plan(quick=quick, logdir=logdir, litellm=litellm, repeats=repeats, pin=args.pin, smoke=args.smoke)
    out = Path(args.out) if args.out else logdir / "results.md"
    header = _header(plan, chosen)
    print(header, flush=True)
    sections = [header]
    runner = event_loop_runner()
    tables: list[Table] = []
    failures: list[str] = []
    PROGRESS.start(chosen, 2 if plan.smoke else 1 if plan.quick else 0)
    with runner:
        for name in chosen:
            PROGRESS.scenario(name)
            try:
                produced = runner.run(SCENARIOS[name](plan))
            except Exception as exc:  # a scenario that fails is reported and the others still run
                failures.append(f"scenario {name} failed: {exc!r}")
                print(f"\nscenario {name} FAILED: {exc!r} (process logs in {logdir})", flush=True)
                continue
            for table in produced:
                text = table.markdown()
                print("\n" + text, flush=True)
                sections.append(text)
                tables.append(table)
                out.write_text("\n\n".join(sections) + "\n")
                if table.errors():
                    failures.append(f"{table.title}: {table.errors()} errors")
    (logdir / "tables.json").write_text(json.dumps([t.as_json() for t in tables]))
    print(f"\nwritten to {out} and {logdir / 'tables.json'} (process logs in {logdir})")
    if failures:
        print("\n" + "\n".join(failures), flush=True)
    # A smoke run fails on any failure; a measuring run reports them and still exits 0 (its tables stand).
    return 1 if failures and (plan.smoke or len(failures) == len(chosen)) else 0


def _raise_open_files() -> None:
    # 5,000 streams need 5,000 sockets here, 10,000 in the gateway (client and upstream side) and 5,000
    # in the fake; children inherit the limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _header(plan: Plan, chosen: list[str]) -> str:
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = " (plus uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    lines = [
        "## Benchmark run",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- git commit: {commit}{dirty}",
        f"- machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), Python "
        f"{platform.python_version()}; load average at start {' '.join(load)}",
        f"- mode: {'quick' if plan.quick else 'full'}; scenarios {','.join(chosen)}"
        + (f"; LiteLLM from {plan.litellm.venv}" if plan.litellm else ""),
        f"- command: {' '.join([Path(sys.executable).name, '-m', 'bench', *sys.argv[1:]])}",
        "- the load generator, the fake upstream and the system under test share the same cores"
        + (
            ": the system under test is pinned to CPU 0, the load generator and the fake upstream (when it is not"
            " the system under test) to CPU 1; a two-worker gateway gets both CPUs"
            if plan.pin
            else " (not pinned)"
        ),
    ]
    return "\n".join(lines)


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
