"""(p) Issue 18's set-up: the gateway alone on CPU 0; the fake upstream and the load generator on CPU 1.

    .venv/bin/python -m bench --only p                       # the goals table, inside the benchmark
    .venv/bin/python -m bench.pinned --rounds 5 --seconds 8 \\
        --variant base= --variant nometrics=METRICS_ENABLED=false   # A/B: variants alternate in each round

The load generator is ``wrk`` (C, one thread, keep-alive connections; ``apt-get install wrk``) driven by
a Lua script that gives every request a prompt of its own (a cache that is on never hits unless a row
asks for hits) and prints its summary as JSON; where ``wrk`` is not installed the project's own load
generator runs in this process instead, on the same CPU, and the table says so (it costs more CPU per
request than ``wrk``, so the gateway's figures come out lower).

Each row is one configuration of the gateway, started fresh in each round (rows alternate within a
round, so a machine that slows down in the middle slows every row alike), warmed up, then measured at
concurrency 64 and at concurrency 1. The gateway's CPU time over the window divided by the requests
answered is its CPU per request: the figure that a neighbour's load distorts least.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench import loadgen, targets
from bench.procs import (
    FAKE_KEY,
    MODEL,
    REPO,
    Proc,
    event_loop_runner,
    placed,
    start_fake,
    start_gateway,
    wait_listening,
    wait_ready,
)
from bench.progress import step
from bench.report import Table, latencies, ms

if TYPE_CHECKING:
    from bench.scenarios import Plan

# The goals of issue 18 for this set-up.
TAIL_RATIO_GOAL = 3.0  # p99 at most 3 x p50 at concurrency 64
ADDED_P99_GOAL_MS = 1.0  # p99 added at concurrency 1, gateway minus direct
RPS_GOAL = 5000.0  # requests per second on one pinned core, default configuration

_LUA = """
local counter = 0
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(key)s"}
request = function()
  counter = counter + 1
  return wrk.format("POST", [[%(path)s]], headers, string.format([[%(body)s]], counter))
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %%d, "seconds": %%.6f, "p50": %%.1f, "p99": %%.1f, "errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


@dataclass(frozen=True)
class Config:
    """One row: a name, the gateway's settings, and whether every request asks the same question."""

    name: str
    settings: dict[str, str]
    hits: bool = False

    @property
    def workers(self) -> int:
        return int(self.settings.get("WORKERS", "1"))

    @property
    def gateway_settings(self) -> dict[str, str]:
        return {k: v for k, v in self.settings.items() if k != "WORKERS"}


# The scenario's rows. The default configuration is the one the issue sets the throughput goal for:
# cache on, metrics on, no tracing (the gateway's own defaults; gateway_env turns the cache off).
DEFAULT = Config("default: cache on (every prompt new), metrics on", {"CACHE_ENABLED": "true"})
ROWS = (
    DEFAULT,
    Config("cache off (the issue's first set-up)", {}),
    Config("default, every request a cache hit", {"CACHE_ENABLED": "true"}, hits=True),
    Config("cache off, Python's collector defaults (GC_TUNING=false)", {"GC_TUNING": "false"}),
)


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float  # the gateway's CPU per answered request; nan for the direct upstream
    errors: int


@dataclass
class Cells:
    c64: list[Sample] = field(default_factory=list)
    c1: list[Sample] = field(default_factory=list)


class Generator:
    """``wrk`` when it is installed, else the project's load generator (in this process)."""

    def __init__(self, workdir: Path) -> None:
        self.wrk = shutil.which("wrk")
        self._runs = 0  # each run's prompts differ from every earlier run's (wrk's counter starts at 1)
        self._workdir = workdir
        self.name = "wrk (1 thread)" if self.wrk else "bench.loadgen (wrk not installed)"

    async def run(self, port: int, *, direct: bool, hits: bool, concurrency: int, seconds: float) -> Sample:
        if self.wrk is not None:
            return await self._wrk(self.wrk, port, direct=direct, hits=hits, concurrency=concurrency, seconds=seconds)
        target = targets.direct(port) if direct else targets.gateway(port, distinct=1 if hits else None)
        run = await loadgen.closed_loop(target, concurrency=concurrency, seconds=seconds, warmup=0)
        values = latencies(run)
        return Sample(run.rps, ms(values, 50), ms(values, 99), float("nan"), run.failed)

    async def _wrk(self, wrk: str, port: int, *, direct: bool, hits: bool, concurrency: int, seconds: float) -> Sample:
        self._runs += 1
        tag = f"{targets.RUN_TAG}-{self._runs}"
        if direct:
            path = "/v1/chat/completions"
            body = (
                f'{{"model":"{MODEL}","messages":[{{"role":"user","content":"bench {tag} %d"}}],'
                '"max_tokens":4096,"temperature":0.7}'
            )
        else:
            path = "/api/v1/generate"
            body = (
                f'{{"prompt":"bench {targets.RUN_TAG} hit","model":"{MODEL}"}}'
                if hits
                else (f'{{"prompt":"bench {tag} %d","model":"{MODEL}"}}')
            )
        script = self._workdir / f"wrk-{'direct' if direct else 'gateway'}-{'hits' if hits else 'new'}.lua"
        script.write_text(_LUA % {"key": FAKE_KEY, "path": path, "body": body})
        argv = [wrk, "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "-s", str(script)]
        proc = await asyncio.create_subprocess_exec(
            *argv, f"http://127.0.0.1:{port}", stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        out, _ = await proc.communicate()
        lines = [line for line in out.decode(errors="replace").splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"wrk failed ({proc.returncode}): {out.decode(errors='replace')[-500:]}")
        got = json.loads(lines[-1])
        seconds_run = got["seconds"] or 1e-9
        return Sample(got["requests"] / seconds_run, got["p50"] / 1000, got["p99"] / 1000, float("nan"), got["errors"])


async def _measure(
    gen: Generator, proc: Proc, *, direct: bool, hits: bool, concurrency: int, seconds: float, warmup: float
) -> Sample:
    if warmup:
        await gen.run(proc.port, direct=direct, hits=hits, concurrency=concurrency, seconds=warmup)
    cpu_before = proc.cpu_seconds()
    sample = await gen.run(proc.port, direct=direct, hits=hits, concurrency=concurrency, seconds=seconds)
    if not direct:
        answered = sample.rps * seconds
        sample.cpu_us = (proc.cpu_seconds() - cpu_before) / answered * 1e6 if answered else float("nan")
    return sample


@dataclass(frozen=True)
class Lengths:
    rounds: int
    c64_seconds: float
    c1_seconds: float
    warmup: float


def lengths_for(quick: bool, smoke: bool) -> Lengths:
    if smoke:
        return Lengths(1, 1, 1, 0)  # wrk's shortest window is a second
    if quick:
        return Lengths(1, 3, 2, 1)
    return Lengths(3, 8, 4, 2)


async def measure_rows(
    logdir: Path, rows: tuple[Config, ...], lengths: Lengths, *, c1: bool = True
) -> tuple[Cells, dict[str, Cells], str]:
    """The direct upstream and each row, rows alternating within each round (every other round backwards,
    so that a machine getting faster or slower along a round favours no row)."""
    gen = Generator(logdir)
    direct = Cells()
    cells: dict[str, Cells] = {row.name: Cells() for row in rows}
    for round_no in range(1, lengths.rounds + 1):
        upstream = start_fake(logdir)
        try:
            await wait_listening(upstream.port)
            with placed(True, upstream):
                step(f"direct upstream, round {round_no}/{lengths.rounds}")
                direct.c64.append(await _run_pair(gen, upstream, direct=True, hits=False, lengths=lengths, c=64))
                if c1:
                    direct.c1.append(await _run_pair(gen, upstream, direct=True, hits=False, lengths=lengths, c=1))
            for row in rows if round_no % 2 else rows[::-1]:
                step(f"{row.name}, round {round_no}/{lengths.rounds}")
                gw = start_gateway(logdir, upstream.port, workers=row.workers, **row.gateway_settings)
                try:
                    await wait_ready(gw)
                    if row.workers > 1:
                        await asyncio.sleep(1.0)  # every worker bound
                    cpus = set(range(os.cpu_count() or 1)) if row.workers > 1 else None
                    with placed(True, gw, upstream, sut_cpus=cpus):
                        cells[row.name].c64.append(
                            await _run_pair(gen, gw, direct=False, hits=row.hits, lengths=lengths, c=64)
                        )
                        if c1:
                            cells[row.name].c1.append(
                                await _run_pair(gen, gw, direct=False, hits=row.hits, lengths=lengths, c=1)
                            )
                finally:
                    gw.stop()
        finally:
            upstream.stop()
    return direct, cells, gen.name


async def _run_pair(gen: Generator, proc: Proc, *, direct: bool, hits: bool, lengths: Lengths, c: int) -> Sample:
    seconds = lengths.c64_seconds if c == 64 else lengths.c1_seconds
    return await _measure(gen, proc, direct=direct, hits=hits, concurrency=c, seconds=seconds, warmup=lengths.warmup)


def _median(samples: list[Sample], attribute: str) -> float:
    values = [getattr(s, attribute) for s in samples]
    return statistics.median(values) if values else float("nan")


def _spread(samples: list[Sample], attribute: str) -> str:
    values = [getattr(s, attribute) for s in samples]
    if len(values) < 2:
        return f"{values[0]:,.0f}" if values else "-"
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def table(direct: Cells, cells: dict[str, Cells], generator: str, lengths: Lengths) -> Table:
    out = Table(
        "(p) One pinned core (issue 18's set-up): gateway on CPU 0, fake upstream and load generator on CPU 1",
        [
            "configuration",
            "c64 req/s",
            "c64 p50 ms",
            "c64 p99 ms",
            "p99/p50",
            "CPU us/request",
            "c1 p50 ms",
            "c1 p99 ms",
            "c1 p99 added ms",
            "errors",
        ],
    )
    direct_p99 = _median(direct.c1, "p99_ms")
    out.add(
        "direct (the fake alone)",
        _spread(direct.c64, "rps"),
        _median(direct.c64, "p50_ms"),
        _median(direct.c64, "p99_ms"),
        f"{_median(direct.c64, 'p99_ms') / _median(direct.c64, 'p50_ms'):.2f}",
        "-",
        _median(direct.c1, "p50_ms"),
        direct_p99,
        "-",
        sum(s.errors for s in direct.c64 + direct.c1),
    )
    for name, cell in cells.items():
        p50, p99 = _median(cell.c64, "p50_ms"), _median(cell.c64, "p99_ms")
        out.add(
            name,
            _spread(cell.c64, "rps"),
            p50,
            p99,
            f"{p99 / p50:.2f}" if p50 else "-",
            _median(cell.c64, "cpu_us"),
            _median(cell.c1, "p50_ms"),
            _median(cell.c1, "p99_ms"),
            f"{_median(cell.c1, 'p99_ms') - direct_p99:.3f}",
            sum(s.errors for s in cell.c64 + cell.c1),
        )
    out.notes.append(
        f"Load generator: {generator}. {lengths.rounds} round(s); in each, the direct upstream, then every row on a"
        f" freshly started gateway: {lengths.warmup:g} s of warm-up, {lengths.c64_seconds:g} s at concurrency 64,"
        f" {lengths.warmup:g} s of warm-up, {lengths.c1_seconds:g} s at concurrency 1. Req/s is the median (min-max)"
        " of the rounds, every other cell a median. CPU us/request is the gateway's user+system CPU over the window"
        " divided by the requests answered. \"c1 p99 added\" is the row's p99 minus the direct upstream's."
    )
    default = cells.get(DEFAULT.name)
    if default is not None and default.c64:
        p50, p99, rps = _median(default.c64, "p50_ms"), _median(default.c64, "p99_ms"), _median(default.c64, "rps")
        added = _median(default.c1, "p99_ms") - direct_p99
        out.notes.append(
            "Goals (default configuration): "
            f"p99/p50 at c64 {p99 / p50:.2f} (goal <= {TAIL_RATIO_GOAL:g}: {_verdict(p99 / p50 <= TAIL_RATIO_GOAL)}); "
            f"p99 added at c1 {added:.3f} ms (goal < {ADDED_P99_GOAL_MS:g} ms: {_verdict(added < ADDED_P99_GOAL_MS)}); "
            f"{rps:,.0f} req/s at c64 (goal {RPS_GOAL:,.0f}: {_verdict(rps >= RPS_GOAL)})."
        )
    return out


def paired(cells: dict[str, Cells]) -> Table:
    """Each variant against the first, round by round: the median of the per-round ratios (A/B mode)."""
    names = list(cells)
    base = cells[names[0]].c64
    out = Table(
        f"(p) A/B, concurrency 64: each variant against {names[0]!r}, median of the per-round ratios (min-max)",
        ["variant", "req/s ratio", "CPU/request ratio", "p99 ratio", "best req/s", "best CPU us/request", "rounds"],
    )
    out.add(names[0], "1", "1", "1", max(s.rps for s in base), min(s.cpu_us for s in base), len(base))
    for name in names[1:]:
        mine = cells[name].c64
        columns = []
        for attribute in ("rps", "cpu_us", "p99_ms"):
            ratios = [getattr(m, attribute) / getattr(b, attribute) for m, b in zip(mine, base, strict=True)]
            columns.append(f"{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})")
        out.add(name, *columns, max(s.rps for s in mine), min(s.cpu_us for s in mine), len(mine))
    out.notes.append(
        "A machine that slows down for a while (a neighbour on the host) only adds time: the best window of"
        " each variant is the figure least distorted by it, the ratios show how consistent the difference is."
    )
    return out


def _verdict(met: bool) -> str:
    return "met" if met else "not met"


async def scenario(plan: Plan) -> list[Table]:
    """``python -m bench --only p``."""
    lengths = lengths_for(plan.quick, plan.smoke)
    rows = ROWS[:2] if plan.smoke else ROWS
    direct, cells, generator = await measure_rows(plan.logdir, rows, lengths)
    return [table(direct, cells, generator, lengths)]


def _parse_variant(text: str) -> Config:
    name, _, rest = text.partition("=")
    settings = dict(item.split("=", 1) for item in rest.split(",") if item)
    hits = settings.pop("HITS", "") == "1"
    return Config(name, settings, hits=hits)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="name=SETTING=v,SETTING=v (HITS=1: one prompt for every request); default: the scenario's rows",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="window at concurrency 64")
    parser.add_argument("--ab", action="store_true", help="concurrency 64 only; add the paired ratios table")
    args = parser.parse_args()
    rows = tuple(_parse_variant(v) for v in args.variant) or ROWS
    logdir = REPO / "bench" / "out" / time.strftime("pinned-%Y%m%d-%H%M%S")
    logdir.mkdir(parents=True, exist_ok=True)
    lengths = Lengths(args.rounds, args.seconds, min(5.0, args.seconds), 2)
    runner = event_loop_runner()
    with runner:
        direct, cells, generator = runner.run(measure_rows(logdir, rows, lengths, c1=not args.ab))
    if args.ab:
        print(paired(cells).markdown())
    else:
        print(table(direct, cells, generator, lengths).markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
