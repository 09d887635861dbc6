"""Scenario (o): the API doors beside the native route, and LiteLLM's own ``/v1/chat/completions``.

One gateway process (one worker) in front of the fake upstream answers
``POST /api/v1/generate`` (the native route), ``POST /v1/chat/completions``
(the OpenAI door) and ``POST /v1/messages`` (the Anthropic door) for the same
question, plain and streamed, so a door's own cost is the difference between
two routes of one process in one run (issues 14 and 15: within 10% of the
native route). Added latency at concurrency 1 (minus the same
percentile direct to the fake) and throughput at 16 and 64; the systems are
interleaved and each cell is the median of ``--repeats`` runs.
"""

from __future__ import annotations

from bench import targets
from bench.loadgen import Run, Target, closed_loop
from bench.progress import step
from bench.report import Table, latencies, ms, ratio, ttfts
from bench.scenarios import Plan, _helpers, _measured, fake, gateway, placed, running


async def openai_door(plan: Plan) -> list[Table]:
    tables = []
    for stream in (False, True):
        upstream = await (fake(plan, chunks=20, chunk_delay_ms=0) if stream else fake(plan))
        gw = await gateway(plan, upstream)
        systems: list[tuple[str, Target, object]] = [
            ("direct", targets.direct(upstream.port, stream=stream), upstream),
            ("native /api/v1/generate", targets.gateway(gw.port, stream=stream), gw),
            ("door /v1/chat/completions", targets.openai_door(gw.port, stream=stream), gw),
            ("door /v1/messages", targets.anthropic_door(gw.port, stream=stream), gw),
            ("door /v1/responses", targets.responses_door(gw.port, stream=stream), gw),
            ("native + new session", targets.gateway_session(gw.port, stream=stream), gw),
            ("door /v1/responses store", targets.responses_door(gw.port, stream=stream, store=True), gw),
        ]
        procs = [gw]
        if plan.litellm:
            proxy = await plan.litellm.start(plan.logdir, upstream.port)
            procs.append(proxy)
            systems.append(
                ("litellm /v1/chat/completions", targets.litellm(proxy.port, plan.litellm.key, stream=stream), proxy)
            )
        async with running(upstream, *procs):
            tables.append(await _latency(plan, systems, upstream, stream))
            tables.append(await _throughput(plan, systems, upstream, stream))
    return tables


async def _latency(plan: Plan, systems: list[tuple[str, Target, object]], upstream: object, stream: bool) -> Table:
    kind = "streamed (TTFT)" if stream else "non-streaming"
    table = Table(
        f"(o1) The door beside the native route at concurrency 1, {kind} (ms)",
        ["system", "requests", "p50", "p99", "added p50", "added p99", "door / native added p50"],
    )
    runs: dict[str, Run] = {}
    for _ in range(max(1, plan.repeats)):
        for name, target, sut in systems:
            step(f"concurrency 1, {'streamed' if stream else 'plain'}, {name}")
            with placed(plan.pin, sut, *_helpers(sut, upstream)):  # type: ignore[arg-type]
                run = await closed_loop(target, concurrency=1, seconds=plan.seconds(6, 2), warmup=0.5, deadline=30)
            runs[name] = _merged(runs.get(name), run)
    pick = ttfts if stream else latencies
    base = pick(runs["direct"])
    added: dict[str, float] = {}
    for name, run in runs.items():
        values = pick(run)
        added[name] = ms(values, 50) - ms(base, 50)
        native = added.get("native /api/v1/generate", float("nan"))
        table.add(
            name, len(values), ms(values, 50), ms(values, 99),
            added[name] if name != "direct" else "-", ms(values, 99) - ms(base, 99) if name != "direct" else "-",
            ratio(added[name], native) if name.startswith("door") else "-",
        )  # fmt: skip
    table.notes.append("Added = percentile through the system minus the same percentile direct to the fake.")
    return table


async def _throughput(plan: Plan, systems: list[tuple[str, Target, object]], upstream: object, stream: bool) -> Table:
    kind = "streamed (20 chunks)" if stream else "non-streaming"
    table = Table(
        f"(o2) Throughput, {kind}, closed loop, one gateway worker",
        ["concurrency", "system", "req/s (median)", "p50 ms", "p99 ms", "errors", "CPU ms/req", "door / native req/s"],
    )
    for concurrency in (16,) if plan.smoke else (16, 64):
        measured: dict[str, list[tuple[Run, float, float]]] = {name: [] for name, _, _ in systems}
        for _ in range(max(1, plan.repeats)):
            for name, target, sut in systems:
                step(f"concurrency {concurrency}, {'streamed' if stream else 'plain'}, {name}")
                proc = None if sut is upstream else sut
                with placed(plan.pin, sut, *_helpers(sut, upstream)):  # type: ignore[arg-type]
                    measured[name].append(await _measured(target, proc, concurrency, plan, 120.0))  # type: ignore[arg-type]
        native_rps = float("nan")
        for name, _, sut in systems:
            runs = sorted(measured[name], key=lambda m: m[0].rps)
            run, cpu, _ = runs[len(runs) // 2]
            if name == "native /api/v1/generate":
                native_rps = run.rps
            lat = latencies(run)
            table.add(
                concurrency, name, run.rps, ms(lat, 50), ms(lat, 99), run.failed,
                cpu * 1000 / max(1, len(run.results)) if sut is not upstream else "-",
                ratio(run.rps, native_rps) if name.startswith("door") else "-",
            )  # fmt: skip
    table.notes.append(f"Each row: the run with the median rate of {max(1, plan.repeats)} interleaved runs.")
    return table


def _merged(before: Run | None, run: Run) -> Run:
    if before is None:
        return run
    before.results.extend(run.results)
    return before
