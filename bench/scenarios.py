"""Scenarios (a)-(f) of the benchmark (issue 7); each returns the tables it measured.

Every scenario starts the processes it needs and stops them, so scenarios can
be run alone (``--only``) and a failure in one does not skew the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import pinned, targets
from bench.loadgen import Run, Target, closed_loop, open_loop
from bench.procs import Proc, RssSampler, placed, start_fake, start_gateway, wait_listening, wait_ready
from bench.progress import step
from bench.report import Table, gaps, latencies, ms, ratio, ttfts


@dataclass(frozen=True)
class Plan:
    """How long and how big: ``quick`` runs every scenario in about two minutes; ``smoke`` (CI) in under one,
    to show that each still runs without an error, not to measure."""

    quick: bool
    logdir: Path
    litellm: LiteLLM | None = None
    repeats: int = 1  # throughput runs per system and concurrency (the median is reported)
    pin: bool = False  # system under test on CPU 0, load generator and fake upstream on CPU 1 (--pin)
    smoke: bool = False  # implies quick; windows of at most half a second, fewer and smaller steps

    def seconds(self, full: float, quick: float) -> float:
        if self.smoke:
            return min(quick, 0.5)
        return quick if self.quick else full

    def size(self, full: int, quick: int, smoke: int) -> int:
        return smoke if self.smoke else quick if self.quick else full


@dataclass(frozen=True)
class LiteLLM:
    """A way to start LiteLLM's proxy in front of a given upstream port (see ``bench/litellm.sh``)."""

    venv: Path
    key: str

    async def start(self, logdir: Path, upstream_port: int) -> Proc:
        from bench.litellm_proxy import start_litellm

        return await start_litellm(self.venv, self.key, logdir, upstream_port)


@contextlib.asynccontextmanager
async def running(*procs: Proc) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for proc in procs:
            proc.stop()


async def fake(plan: Plan, **script: float) -> Proc:
    proc = start_fake(plan.logdir, **script)  # type: ignore[arg-type]
    await wait_listening(proc.port)
    return proc


async def gateway(plan: Plan, upstream: Proc, *, workers: int = 1, **settings: str) -> Proc:
    proc = start_gateway(plan.logdir, upstream.port, workers=workers, **settings)
    await wait_ready(proc)
    if workers > 1:
        await asyncio.sleep(1.0)  # the health check answered from one worker; let the others bind too
    return proc


def _helpers(sut: Proc, upstream: Proc) -> tuple[Proc, ...]:
    """What runs beside the system under test on the load generator's CPU: the fake, unless it is the SUT."""
    return () if sut is upstream else (upstream,)


# ---- (a) added latency at concurrency 1 ------------------------------------------------------------------


async def added_latency(plan: Plan) -> list[Table]:
    upstream = await fake(plan)
    gw = await gateway(plan, upstream)
    systems: list[tuple[str, Target, Proc]] = [
        ("direct", targets.direct(upstream.port), upstream),
        ("gateway", targets.gateway(gw.port), gw),
    ]
    extra = [gw]
    if plan.litellm:
        proxy = await plan.litellm.start(plan.logdir, upstream.port)
        extra.append(proxy)
        systems.append(("litellm", targets.litellm(proxy.port, plan.litellm.key), proxy))
    table = Table(
        "(a) Added latency at concurrency 1, non-streaming (ms)",
        ["system", "requests", "p50", "p90", "p99", "p99.9", "added p50", "added p99"],
    )
    runs: dict[str, Run] = {}
    async with running(upstream, *extra):
        for name, target, sut in systems:
            step(f"concurrency 1, {name}")
            with placed(plan.pin, sut, *_helpers(sut, upstream)):
                runs[name] = await closed_loop(
                    target, concurrency=1, seconds=plan.seconds(10, 2), warmup=plan.seconds(1, 1)
                )
    base = latencies(runs["direct"])
    for name, run in runs.items():
        lat = latencies(run)
        table.add(
            name, len(lat), ms(lat, 50), ms(lat, 90), ms(lat, 99), ms(lat, 99.9),
            ms(lat, 50) - ms(base, 50) if name != "direct" else "-",
            ms(lat, 99) - ms(base, 99) if name != "direct" else "-",
        )  # fmt: skip
    if plan.litellm:
        g, lt = latencies(runs["gateway"]), latencies(runs["litellm"])
        table.notes.append(
            f"LiteLLM added p50 / gateway added p50: {ratio(ms(lt, 50) - ms(base, 50), ms(g, 50) - ms(base, 50))}x"
        )
    table.notes.append("Added = percentile through the system minus the same percentile direct to the fake.")
    return [table]


# ---- (b) throughput, and (f) peak RSS under it -----------------------------------------------------------


async def throughput(plan: Plan) -> list[Table]:
    upstream = await fake(plan)
    gw1 = await gateway(plan, upstream)
    gw2 = await gateway(plan, upstream, workers=2)
    procs = [gw1, gw2]
    systems: list[tuple[str, Target, Proc | None]] = [
        ("direct", targets.direct(upstream.port), None),
        ("gateway, 1 worker", targets.gateway(gw1.port), gw1),
        ("gateway, 2 workers", targets.gateway(gw2.port), gw2),
    ]
    if plan.litellm:
        proxy = await plan.litellm.start(plan.logdir, upstream.port)
        procs.append(proxy)
        systems.append(("litellm, 1 worker", targets.litellm(proxy.port, plan.litellm.key), proxy))
    table = Table(
        "(b) Throughput, non-streaming, closed loop",
        [
            "concurrency",
            "system",
            "req/s (median)",
            "req/s range",
            "p50 ms",
            "p99 ms",
            "errors",
            "vs direct",
            "CPU ms/req",
            "peak RSS MiB",
        ],
    )
    rss = {p.pid: p.rss_mb() for p in procs}
    async with running(upstream, *procs):
        for concurrency in (16, 64) if plan.smoke else (16, 64, 256):
            # Each system is measured ``repeats`` times, interleaved with the others, and the run with the
            # median rate is reported: the machine is shared, and a neighbour's burst should not decide a row.
            measured: dict[str, list[tuple[Run, float, float]]] = {name: [] for name, _, _ in systems}
            for repeat in range(plan.repeats):
                for name, target, proc in systems:
                    step(f"concurrency {concurrency}, {name}, run {repeat + 1}/{plan.repeats}")
                    # LiteLLM at high concurrency can leave a request hanging; bound it (the others need no guard).
                    deadline = 120.0 if name.startswith("litellm") else None
                    sut = proc or upstream
                    cpus = {0, 1} if proc is gw2 else None  # two workers get both CPUs
                    with placed(plan.pin, sut, *_helpers(sut, upstream), sut_cpus=cpus):
                        measured[name].append(await _measured(target, proc, concurrency, plan, deadline))
            direct_rps = 0.0
            for name, _, proc in systems:
                runs = sorted(measured[name], key=lambda m: m[0].rps)
                run, cpu, peak = runs[len(runs) // 2]
                peak = max(m[2] for m in runs)
                direct_rps = direct_rps or run.rps
                lat = latencies(run)
                spread = f"{runs[0][0].rps:,.0f}-{runs[-1][0].rps:,.0f}" if len(runs) > 1 else "-"
                table.add(
                    concurrency, name, run.rps, spread, ms(lat, 50), ms(lat, 99), run.failed,
                    ratio(run.rps, direct_rps), cpu * 1000 / max(1, len(run.results)) if proc else "-",
                    peak if proc else "-",
                )  # fmt: skip
        if plan.litellm:
            _litellm_ratio(table)
    table.notes.append(
        f"Each row: the run with the median rate of {plan.repeats} runs of {plan.seconds(8, 2):g} s "
        f"(after {plan.seconds(2, 0.5):g} s of warm-up each), systems interleaved; peak RSS is over all runs."
    )
    table.notes.append(
        "Idle RSS before the runs (MiB): "
        + ", ".join(f"{name} {rss[p.pid]:.0f}" for name, _, p in systems if p is not None)
        + ". CPU ms/req: the system's own CPU (user+system, all its processes) per request measured."
    )
    return [table]


async def _measured(
    target: Target, proc: Proc | None, concurrency: int, plan: Plan, deadline: float | None = None
) -> tuple[Run, float, float]:
    seconds, warmup = plan.seconds(8, 2), plan.seconds(2, 0.5)
    if proc is None:
        return await closed_loop(target, concurrency=concurrency, seconds=seconds, warmup=warmup), 0.0, 0.0
    with RssSampler(proc) as sampler:
        await closed_loop(target, concurrency=concurrency, seconds=warmup, warmup=0, deadline=deadline)
        before = proc.cpu_seconds()
        run = await closed_loop(target, concurrency=concurrency, seconds=seconds, warmup=0, deadline=deadline)
        cpu = proc.cpu_seconds() - before
    return run, cpu, sampler.peak


def _litellm_ratio(table: Table) -> None:
    by = {(r[0], r[1]): float(r[2].replace(",", "")) for r in table.rows}
    for concurrency in ("16", "64", "256"):
        ours, theirs = by.get((concurrency, "gateway, 1 worker")), by.get((concurrency, "litellm, 1 worker"))
        if ours and theirs:
            table.notes.append(
                f"concurrency {concurrency}: gateway (1 worker) / LiteLLM (1 worker) = {ours / theirs:.1f}x"
            )


# ---- (c) streaming --------------------------------------------------------------------------------------


async def streaming(plan: Plan) -> list[Table]:
    return [await _stream_latency(plan), await _stream_hold(plan)]


async def _stream_latency(plan: Plan) -> Table:
    upstream = await fake(plan, chunks=20, chunk_delay_ms=5)
    gw = await gateway(plan, upstream)
    systems = [
        ("direct", targets.direct(upstream.port, stream=True), upstream),
        ("gateway", targets.gateway(gw.port, stream=True), gw),
    ]
    extra = [gw]
    if plan.litellm:
        proxy = await plan.litellm.start(plan.logdir, upstream.port)
        extra.append(proxy)
        systems.append(("litellm", targets.litellm(proxy.port, plan.litellm.key, stream=True), proxy))
    table = Table(
        "(c1) Streaming at concurrency 1: time to first token and gaps between chunks (ms); "
        "upstream sends 20 chunks 5 ms apart",
        ["system", "streams", "TTFT p50", "TTFT p99", "added TTFT p50", "added TTFT p99", "gap p50", "gap p99",
         "chunks/stream"],
    )  # fmt: skip
    count = plan.size(300, 30, 10)
    runs: dict[str, Run] = {}
    async with running(upstream, *extra):
        for name, target, sut in systems:
            step(f"{count} streams one after another, {name}")
            with placed(plan.pin, sut, *_helpers(sut, upstream)):
                runs[name] = await closed_loop(
                    target, concurrency=1, seconds=600, warmup=0.5, requests=count, deadline=30
                )
    base = ttfts(runs["direct"])
    for name, run in runs.items():
        first, between = ttfts(run), gaps(run)
        events = sum(r.text_events for r in run.ok()) / max(1, len(run.ok()))
        table.add(
            name, len(run.ok()), ms(first, 50), ms(first, 99),
            ms(first, 50) - ms(base, 50) if name != "direct" else "-",
            ms(first, 99) - ms(base, 99) if name != "direct" else "-",
            ms(between, 50), ms(between, 99), events,
        )  # fmt: skip
    return table


async def _stream_hold(plan: Plan) -> Table:
    counts = (50,) if plan.smoke else (200,) if plan.quick else (1000, 5000)
    chunk_delay_ms = 50 if plan.smoke else 500
    table = Table(
        "(c2) Concurrent SSE streams held by one gateway process (upstream: 20 chunks 500 ms apart, ~10 s a stream)",
        ["streams", "completed", "stalled or failed", "TTFT p99 ms", "max gap p99 ms", "RSS idle MiB",
         "RSS peak MiB", "wall s"],
    )  # fmt: skip
    upstream = await fake(plan, chunks=20, chunk_delay_ms=chunk_delay_ms)
    # Enough pool for every stream at once; the default (512 in flight + 2048 queued) would queue the rest.
    # MAX_CONNECTIONS (4,096 by default) would answer the streams past it with 503, as it should.
    gw = await gateway(
        plan, upstream, POOL_MAX_CONCURRENT="20000", POOL_QUEUE_SIZE="20000", MAX_CONNECTIONS=str(max(counts) + 100)
    )
    async with running(upstream, gw):
        for count in counts:
            step(f"{count} concurrent streams")
            idle = gw.rss_mb()
            target = targets.gateway(gw.port, stream=True)
            began = time.perf_counter()
            with placed(plan.pin, gw, upstream), RssSampler(gw, every=0.25) as sampler:
                run = await closed_loop(target, concurrency=count, seconds=600, warmup=0, requests=count, deadline=60)
            wall = time.perf_counter() - began
            complete = [r for r in run.ok() if r.text_events >= 20]
            worst_gaps = [max(r.gaps) for r in complete if r.gaps]
            table.add(
                count, len(complete), count - len(complete), ms(ttfts(run), 99), ms(worst_gaps, 99), idle,
                sampler.peak, wall,
            )  # fmt: skip
            await asyncio.sleep(1)
    table.notes.append(
        "A stream is complete when all 20 text chunks arrived; stalled = not complete within 60 s. "
        "Gateway run with POOL_MAX_CONCURRENT=20000 so that no stream waits for a pool slot, and MAX_CONNECTIONS"
        " above the number of streams." + (" Smoke run: chunks 50 ms apart." if plan.smoke else "")
    )
    return table


# ---- (d) cache hits --------------------------------------------------------------------------------------


async def cache_hits(plan: Plan) -> list[Table]:
    upstream = await fake(plan)
    prefix = f"bench:{uuid.uuid4().hex}:"
    backends = {
        "memory": {"CACHE_ENABLED": "true"},
        "redis": {
            "CACHE_ENABLED": "true",
            "CACHE_BACKEND": "redis",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "REDIS_KEY_PREFIX": prefix,
        },
    }
    table = Table(
        "(d) Cache hits at concurrency 64 (100 distinct prompts, primed)",
        ["backend", "req/s", "p50 ms", "p99 ms", "errors", "hit rate", "upstream calls during run"],
    )
    async with running(upstream):
        for backend, settings in backends.items():
            step(f"{backend} backend")
            gw = await gateway(plan, upstream, **settings)
            async with running(gw):
                target = targets.gateway(gw.port, distinct=100)
                await closed_loop(target, concurrency=1, seconds=60, warmup=0, requests=100)  # prime
                before = await _cache_stats(gw.port)
                with placed(plan.pin, gw, upstream):
                    run = await closed_loop(
                        target, concurrency=64, seconds=plan.seconds(8, 2), warmup=plan.seconds(1, 0.5)
                    )
                after = await _cache_stats(gw.port)
            hits, misses = after[0] - before[0], after[1] - before[1]
            lat = latencies(run)
            table.add(backend, run.rps, ms(lat, 50), ms(lat, 99), run.failed, ratio(hits, hits + misses), misses)
    await _drop_redis_keys(prefix)
    table.notes.append(f"Redis keys under a throwaway prefix ({prefix}...), deleted afterwards.")
    return [table]


async def _cache_stats(port: int) -> tuple[int, int]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        body = (await client.get("/api/v1/cache/stats")).json()
    stats = body.get("cache", body)
    return int(stats.get("hits", 0)), int(stats.get("misses", 0))


async def _drop_redis_keys(prefix: str) -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


# ---- (e) batch -------------------------------------------------------------------------------------------


async def batch(plan: Plan) -> list[Table]:
    upstream = await fake(plan, latency_ms=50)
    gw = await gateway(plan, upstream)
    table = Table(
        "(e) One batch of 1,000 items, upstream answering each after 50 ms",
        ["run", "wall s", "succeeded", "failed", "items/s"],
    )
    body = targets.batch_body(1000)
    async with running(upstream, gw), httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}", timeout=120) as client:
        for attempt in range(1 if plan.quick else 3):
            step(f"batch {attempt + 1}")
            began = time.perf_counter()
            response = await client.post("/api/v1/generate/batch", content=body)
            wall = time.perf_counter() - began
            result = response.json()
            table.add(attempt + 1, wall, result.get("succeeded"), result.get("failed"), 1000 / wall)
    table.notes.append(
        "Floor: with POOL_MAX_CONCURRENT=512 (default) the 1,000 calls go in two waves of 50 ms, so >= 0.1 s."
    )
    return [table]


# ---- (f) memory: idle, and a soak ------------------------------------------------------------------------


async def soak(plan: Plan) -> list[Table]:
    total = plan.size(100_000, 5_000, 500)
    warmup = plan.size(2_000, 2_000, 200)
    upstream = await fake(plan)
    gw = await gateway(plan, upstream)
    table = Table(
        f"(f) Memory of one worker: idle, after warm-up, after a {total:,}-request soak (concurrency 64)",
        ["idle MiB", f"after {warmup:,}-request warm-up MiB", "after soak MiB", "change vs warm-up", "soak req/s",
         "soak errors", "soak s"],
    )  # fmt: skip
    target = targets.gateway(gw.port)
    async with running(upstream, gw):
        idle = gw.rss_mb()
        step(f"warm-up, {warmup:,} requests")
        await closed_loop(target, concurrency=64, seconds=120, warmup=0, requests=warmup)
        await asyncio.sleep(1)
        warm = gw.rss_mb()
        step(f"soak, {total:,} requests")
        with placed(plan.pin, gw, upstream), RssSampler(gw, every=0.5) as sampler:
            run = await closed_loop(target, concurrency=64, seconds=300, warmup=0, requests=total)
        await asyncio.sleep(2)
        after = gw.rss_mb()
    table.series = {"RSS along the soak (MiB)": sampler.samples}
    table.add(idle, warm, after, f"{(after - warm) / warm * 100:+.1f}%", run.rps, run.failed, run.seconds)
    return [table]


# ---- fixed rate (open loop) ------------------------------------------------------------------------------


async def fixed_rate(plan: Plan) -> list[Table]:
    """Latency at fixed offered rates (coordinated-omission free), direct and through one gateway worker."""
    upstream = await fake(plan)
    gw = await gateway(plan, upstream)
    table = Table(
        "(b2) Fixed offered rate, non-streaming, one gateway worker: latency from when each request was due",
        ["rate req/s", "system", "achieved req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors"],
    )
    async with running(upstream, gw):
        for rate in (500,) if plan.smoke else (500, 1000, 2000):
            for name, target, sut in (
                ("direct", targets.direct(upstream.port), upstream),
                ("gateway", targets.gateway(gw.port), gw),
            ):
                step(f"{rate} req/s offered, {name}")
                with placed(plan.pin, sut, *_helpers(sut, upstream)):
                    run = await open_loop(target, rate=rate, seconds=plan.seconds(8, 2), connections=256, warmup=1)
                lat = latencies(run)
                table.add(rate, name, run.rps, ms(lat, 50), ms(lat, 99), ms(lat, 99.9), run.failed)
    return [table]


async def openai_door(plan: Plan) -> list[Table]:
    """(o) the OpenAI and Anthropic doors beside the native route (``bench/openai_door.py``)."""
    from bench.openai_door import openai_door as door_beside_native

    return await door_beside_native(plan)


SCENARIOS = {
    "a": added_latency,
    "b": throughput,
    "r": fixed_rate,
    "c": streaming,
    "d": cache_hits,
    "e": batch,
    "f": soak,
    "o": openai_door,
    "p": pinned.scenario,
}
