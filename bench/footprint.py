"""Idle memory and start-up time of the gateway, per configuration (issue 18, item 3).

    .venv/bin/python -m bench.footprint                      # this tree, 3 rounds
    .venv/bin/python -m bench.footprint --tree /other/tree   # A/B: each round starts every tree in turn

For each configuration and tree it starts ``python -m entrypoints.cli serve`` in an empty directory and
reports: the seconds from ``Popen`` to the first ``GET /health`` answered 200, the seconds to the first
``POST /api/v1/generate`` answered 200 (one per configured provider), and the resident memory (VmRSS)
after those requests and a short idle pause. Rounds alternate the trees so that a neighbour's load
falls on both alike; medians and the spread (min-max) are printed. RSS does not depend on the load;
start-up time does (the machine's other users slow the imports down).

Configurations: ``embedded`` (no settings: the mock provider, memory backends) and ``everything``
(Bedrock, Azure OpenAI and an OpenAI-compatible upstream through the vendor fakes of tests/vendors,
Redis, PostgreSQL in a scratch database, OTLP tracing to a local receiver).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import REPO, free_port

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_MAINTENANCE_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass
class Sample:
    health_s: float
    generate_s: float
    rss_mb: float


@dataclass
class Cell:
    samples: list[Sample] = field(default_factory=list)

    def summary(self, pick: str) -> str:
        values = [getattr(s, pick) for s in self.samples]
        if not values:
            return "-"
        fmt = "{:.1f}" if pick == "rss_mb" else "{:.2f}"
        return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def _request(url: str, body: dict[str, object] | None = None, timeout: float = 5.0) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(tree: Path, env: dict[str, str], prompts: list[dict[str, object]], idle_s: float) -> Sample:
    port = free_port()
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(tree),
        "HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "WS_PORT": "0",
        "GRPC_PORT": "0",
        "LOG_LEVEL": "warning",
        "MOCK_LATENCY_MS": "0",
        **env,
    }
    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as scratch:
        log = Path(scratch) / "gateway.log"
        with log.open("wb") as out:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "entrypoints.cli", "serve"],
                cwd=scratch,
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = started + 90
            while _request(base + "/health", timeout=1) != 200:
                if proc.poll() is not None or time.perf_counter() > deadline:
                    raise RuntimeError(f"gateway did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.02)
            health_s = time.perf_counter() - started
            for prompt in prompts:
                status = _request(base + "/api/v1/generate", prompt, timeout=30)
                if status != 200:
                    raise RuntimeError(f"generate {prompt} answered {status}:\n{log.read_text()[-3000:]}")
            generate_s = time.perf_counter() - started
            time.sleep(idle_s)
            return Sample(health_s, generate_s, _rss_mb(proc.pid))
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@contextlib.contextmanager
def everything() -> Iterator[tuple[dict[str, str], list[dict[str, object]]]]:
    """Every provider and backend configured, in front of the fakes, a scratch database and an OTLP receiver."""
    sys.path.insert(0, str(REPO))
    import psycopg
    from psycopg import sql

    from tests.support.otlp_receiver import OtlpReceiver
    from tests.support.upstreams import ThreadedFake
    from tests.vendors.azure_openai import FakeAzureOpenAI
    from tests.vendors.bedrock import FakeBedrock

    database = f"bench_footprint_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_MAINTENANCE_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        with (
            OtlpReceiver() as receiver,
            ThreadedFake(FakeBedrock) as bedrock,
            ThreadedFake(lambda: FakeAzureOpenAI(openai_models=frozenset({"gpt-4o-mini"}))) as upstream,
        ):
            upstream.fake.record = False
            env = {
                "AWS_BEDROCK_ENDPOINT_URL": bedrock.fake.url,
                "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                "AWS_SECRET_ACCESS_KEY": "fake-secret",
                "AZURE_ENDPOINT": upstream.fake.url,
                "AZURE_API_KEY": upstream.fake.api_key,
                "OPENAI_BASE_URL": upstream.fake.openai_base_url,
                "OPENAI_API_KEY": upstream.fake.api_key,
                "OPENAI_MODELS": "gpt-4o-mini",
                "REDIS_URL": REDIS_URL,
                "REDIS_KEY_PREFIX": f"bench-footprint-{uuid.uuid4().hex[:8]}:",
                "POSTGRES_URL": POSTGRES_MAINTENANCE_URL.rsplit("/", 1)[0] + "/" + database,
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
                "CACHE_ENABLED": "false",
            }
            prompts: list[dict[str, object]] = [
                {"prompt": "hello", "provider": "aws"},
                {"prompt": "hello", "provider": "azure"},
                {"prompt": "hello", "model": "gpt-4o-mini"},
            ]
            yield env, prompts
    finally:
        with psycopg.connect(POSTGRES_MAINTENANCE_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", default=[], help="another source tree to compare (repeatable)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=float, default=2.0, help="seconds idle before reading RSS")
    parser.add_argument("--only", default="embedded,everything")
    args = parser.parse_args()
    trees = [REPO, *(Path(t).resolve() for t in args.tree)]
    chosen = args.only.split(",")
    cells: dict[tuple[str, Path], Cell] = {}
    with everything() as (full_env, full_prompts):
        configs: dict[str, tuple[dict[str, str], list[dict[str, object]]]] = {
            "embedded": ({}, [{"prompt": "hello"}]),
            "everything": (full_env, full_prompts),
        }
        for tree in trees:  # untimed: compiles the tree's bytecode and warms the page cache for every round
            measure(tree, *configs["embedded"], 0)
        for round_no in range(args.rounds):
            for name in chosen:
                env, prompts = configs[name]
                for tree in trees if round_no % 2 == 0 else list(reversed(trees)):
                    sample = measure(tree, env, prompts, args.idle)
                    cells.setdefault((name, tree), Cell()).samples.append(sample)
                    print(
                        f"round {round_no + 1}/{args.rounds} {name:10s} {tree}: health {sample.health_s:.2f} s, "
                        f"generate {sample.generate_s:.2f} s, RSS {sample.rss_mb:.1f} MiB",
                        flush=True,
                    )
    print("\n| configuration | tree | first /health (s) | first generate (s) | idle RSS (MiB) |")
    print("|---|---|---|---|---|")
    for (name, tree), cell in cells.items():
        figures = " | ".join(cell.summary(pick) for pick in ("health_s", "generate_s", "rss_mb"))
        print(f"| {name} | {tree} | {figures} |")
    print("\nmedian (min-max) of", args.rounds, "rounds; trees alternate within each round")
    return 0


if __name__ == "__main__":
    sys.exit(main())
