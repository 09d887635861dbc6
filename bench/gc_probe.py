"""What the cyclic garbage collector costs on the hot path, and what makes the cycles (issue 18, item 1).

    .venv/bin/python -m bench.gc_probe cycles                  # classify the cyclic garbage of a burst
    .venv/bin/python -m bench.gc_probe pauses --rounds 3       # collections and pauses per 10k requests, A/B
    .venv/bin/python -m bench.gc_probe pauses --variant off=GC_TUNING=false --variant on=GC_TUNING=true

Both modes run the gateway (``python -m bench.gc_probe serve``: the real ``entrypoints.cli`` with
``gc.callbacks`` instruments added) in front of the OpenAI-compatible fake, cache off, and drive it with the
closed-loop load generator at concurrency 64 (``POST /api/v1/generate``), as in the issue's set-up.

- ``cycles``: after a warm-up the gateway collects, sets ``gc.DEBUG_SAVEALL`` and disables automatic
  collection; after the burst it collects once and counts ``gc.garbage`` by type (and, for frames, by code
  object; for functions, by qualified name): what is left only by a reference cycle, per request.
- ``pauses``: every collection's generation and duration over the measured window, per 10k requests, and
  the load generator's p50/p99 and req/s; variants alternate within each round. Counts and pauses do not
  depend on a neighbour's load as much as latency does (a pause is CPU time of this process, though a busy
  machine stretches it too).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import loadgen
from bench.procs import MODEL, Proc, free_port, gateway_env, start, start_fake, wait_listening, wait_ready

REPORT_ENV = "GC_PROBE_REPORT"


# ---- in the gateway process -------------------------------------------------------------------------


class _Pauses:
    def __init__(self) -> None:
        self.started = 0.0
        self.records: list[tuple[int, float, int]] = []  # generation, seconds, collected
        self.recording = False

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        elif self.recording:
            self.records.append((info["generation"], time.perf_counter() - self.started, info["collected"]))


def _serve() -> int:
    report = Path(os.environ[REPORT_ENV])
    pauses = _Pauses()
    gc.callbacks.append(pauses)

    def begin(_signum: int, _frame: object) -> None:
        if os.environ.get("GC_PROBE_SAVEALL") == "1":
            gc.collect()
            gc.garbage.clear()
            gc.disable()
            gc.set_debug(gc.DEBUG_SAVEALL)
        pauses.records.clear()
        pauses.recording = True

    def finish(_signum: int, _frame: object) -> None:
        pauses.recording = False
        result: dict[str, Any] = {
            "pauses": pauses.records,
            "threshold": gc.get_threshold(),
            "frozen": gc.get_freeze_count(),
        }
        if os.environ.get("GC_PROBE_SAVEALL") == "1":
            gc.collect()
            result["garbage"] = _classify(gc.garbage)
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
        report.write_text(json.dumps(result))

    signal.signal(signal.SIGUSR1, begin)
    signal.signal(signal.SIGUSR2, finish)
    from entrypoints.cli import main

    return main(["serve"])


def _classify(garbage: list[Any]) -> dict[str, Any]:
    types = collections.Counter(type(item).__qualname__ for item in garbage)
    frames = collections.Counter(
        f"{item.f_code.co_qualname} ({Path(item.f_code.co_filename).name}:{item.f_code.co_firstlineno})"
        for item in garbage
        if type(item).__name__ == "frame"
    )
    functions = collections.Counter(
        f"{item.__qualname__} ({getattr(item, '__module__', '?')})"
        for item in garbage
        if type(item).__name__ == "function"
    )
    exceptions = collections.Counter(type(item).__qualname__ for item in garbage if isinstance(item, BaseException))
    cells = collections.Counter(
        type(item.cell_contents).__qualname__
        for item in garbage
        if type(item).__name__ == "cell" and _has_contents(item)
    )
    return {
        "objects": len(garbage),
        "types": types.most_common(40),
        "frames": frames.most_common(30),
        "functions": functions.most_common(30),
        "exceptions": exceptions.most_common(10),
        "cells_holding": cells.most_common(15),
    }


def _has_contents(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


# ---- the driver -------------------------------------------------------------------------------------


def _target(port: int) -> loadgen.Target:
    body = json.dumps({"prompt": "hello from the benchmark", "model": MODEL, "useCache": False}).encode()
    return loadgen.Target("127.0.0.1", port, "/api/v1/generate", lambda _n: body)


async def _one_run(
    logdir: Path, fake: Proc, env_extra: dict[str, str], seconds: float, saveall: bool
) -> dict[str, Any]:
    port = free_port()
    report = logdir / f"gc-report-{port}.json"
    env = gateway_env(fake.port, **env_extra)
    env.update({REPORT_ENV: str(report), "HTTP_PORT": str(port), "WS_PORT": "0", "GRPC_PORT": "0"})
    if saveall:
        env["GC_PROBE_SAVEALL"] = "1"
    scratch = Path(tempfile.mkdtemp(prefix="gc-probe-", dir=logdir))  # no developer's .env is read
    gateway = start("gateway", [sys.executable, "-m", "bench.gc_probe", "serve"], env, port, scratch, logdir)
    try:
        await wait_ready(gateway)
        target = _target(port)
        await loadgen.closed_loop(target, concurrency=64, seconds=2.0, warmup=0.5)  # warm-up
        os.kill(gateway.pid, signal.SIGUSR1)
        await asyncio.sleep(0.2)
        run = await loadgen.closed_loop(target, concurrency=64, seconds=seconds, warmup=0.0)
        os.kill(gateway.pid, signal.SIGUSR2)
        for _ in range(200):
            if report.exists():
                break
            await asyncio.sleep(0.1)
        result: dict[str, Any] = json.loads(report.read_text())
        latencies = [r.latency for r in run.ok()]
        result.update(
            requests=len(run.results),
            failed=run.failed,
            rps=run.rps,
            p50_ms=loadgen.percentile(latencies, 50) * 1000,
            p99_ms=loadgen.percentile(latencies, 99) * 1000,
            rss_mb=gateway.rss_mb(),
        )
        return result
    finally:
        gateway.stop()


def _per_10k(result: dict[str, Any]) -> dict[str, float]:
    scale = 10_000 / max(1, result["requests"])
    pauses = result["pauses"]
    by_gen = collections.Counter(g for g, _, _ in pauses)
    durations = sorted(d for _, d, _ in pauses)
    return {
        "gen0": by_gen[0] * scale,
        "gen1": by_gen[1] * scale,
        "gen2": by_gen[2] * scale,
        "pause_total_ms": sum(durations) * 1000 * scale,
        "pause_max_ms": (durations[-1] * 1000) if durations else 0.0,
        "gen2_mean_ms": statistics.mean([d for g, d, _ in pauses if g == 2] or [0.0]) * 1000,
    }


async def _cycles(args: argparse.Namespace, logdir: Path) -> None:
    fake = start_fake(logdir)
    try:
        await wait_listening(fake.port)
        result = await _one_run(logdir, fake, dict(v.split("=", 1) for v in args.env), args.seconds, saveall=True)
    finally:
        fake.stop()
    garbage = result["garbage"]
    per_request = garbage["objects"] / max(1, result["requests"])
    print(f"{result['requests']} requests, {garbage['objects']} objects left in cycles ({per_request:.1f} per request)")
    for key in ("types", "frames", "functions", "exceptions", "cells_holding"):
        print(f"\n{key}:")
        for name, count in garbage[key]:
            print(f"  {count / max(1, result['requests']):8.3f}/request  {name}")


async def _pauses(args: argparse.Namespace, logdir: Path) -> None:
    variants: list[tuple[str, dict[str, str]]] = []
    for spec in args.variant or ["default="]:
        name, _, settings = spec.partition("=")
        env = dict(item.split("=", 1) for item in settings.split(",") if item)
        variants.append((name, env))
    fake = start_fake(logdir)
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in variants}
    try:
        await wait_listening(fake.port)
        for round_no in range(args.rounds):
            order = variants if round_no % 2 == 0 else list(reversed(variants))
            for name, env in order:
                result = await _one_run(logdir, fake, env, args.seconds, saveall=False)
                result.update(_per_10k(result))
                rows[name].append(result)
                print(
                    f"round {round_no + 1}/{args.rounds} {name}: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.1f} "
                    f"ms, p99 {result['p99_ms']:.1f} ms; per 10k requests gen0/1/2 {result['gen0']:.0f}/"
                    f"{result['gen1']:.1f}/{result['gen2']:.2f}, GC pause total {result['pause_total_ms']:.1f} ms, "
                    f"longest {result['pause_max_ms']:.1f} ms; RSS {result['rss_mb']:.0f} MiB; "
                    f"failed {result['failed']}",
                    flush=True,
                )
    finally:
        fake.stop()
    print(
        "\n| variant | req/s | p50 ms | p99 ms | gen0 / gen1 / gen2 per 10k | GC pause ms per 10k | longest pause ms |"
        " RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, results in rows.items():

        def cell(key: str, fmt: str = "{:.1f}", results: list[dict[str, Any]] = results) -> str:
            values = [r[key] for r in results]
            return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"

        gens = f"{cell('gen0', '{:.0f}')} / {cell('gen1')} / {cell('gen2', '{:.2f}')}"
        print(
            f"| {name} | {cell('rps', '{:.0f}')} | {cell('p50_ms')} | {cell('p99_ms')} | {gens} | "
            f"{cell('pause_total_ms')} | {cell('pause_max_ms')} | {cell('rss_mb', '{:.0f}')} |"
        )
    print(f"\nmedian (min-max) of {args.rounds} rounds of {args.seconds:g} s at concurrency 64; variants alternate")


def main() -> int:
    if sys.argv[1:2] == ["serve"]:
        return _serve()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["cycles", "pauses"])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--env", action="append", default=[], help="NAME=value for the gateway (cycles)")
    parser.add_argument("--variant", action="append", default=[], help="name=SETTING=v,SETTING=v (pauses)")
    args = parser.parse_args()
    logdir = Path(__file__).resolve().parent / "out" / time.strftime("gc-%Y%m%d-%H%M%S")
    logdir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_cycles(args, logdir) if args.mode == "cycles" else _pauses(args, logdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
