"""``python -m bench.chaos``: faults under a steady mixed load, and a soak (issue 17; docs/reliability.md).

    .venv/bin/python -m bench.chaos                      # every fault, about 6 s of fault each
    .venv/bin/python -m bench.chaos --short              # the CI form: shorter phases, a lower rate
    .venv/bin/python -m bench.chaos --only redis,sigterm # some faults (names: --list)
    .venv/bin/python -m bench.chaos --soak 600           # no faults: 600 s of load, sampled every 10 s

Everything runs on loopback: a ``redis-server`` and a throwaway PostgreSQL
cluster of its own (never the machine's shared ones), the fake OpenAI upstream
(``tests.vendors.azure_openai``) in this process, where each fault steers it, and
the real gateway with two worker processes behind one port (``WORKERS=2``).
The load (``bench.chaos_load``) sends generate, stream, batch, OpenAI-door,
WebSocket, gRPC and session requests. For each fault the table gives the
stateless requests failed, session turns acknowledged then missing when read back,
streams truncated without an error event (the three goal figures, each 0), the
streams that ended with an error event, the time to recover and the RSS.

Exit status 1 when a goal figure is missed (timing never fails the run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import platform
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.chaos_load import STATELESS, MixedLoad, Tally, tally
from bench.chaos_upstream import UpstreamProcess
from bench.procs import REPO, _rss_kb, _tree, event_loop_runner, free_port
from tests.support.services import PostgresCluster, RedisServer
from tests.vendors.openai_script import FailureKind

FAKE_KEY = "chaos-key"


@dataclass
class Stack:
    """The gateway and what it depends on; the faults act on these."""

    redis: RedisServer
    postgres: PostgresCluster
    fake: UpstreamProcess
    gateway: subprocess.Popen[bytes]
    http_port: int
    ws_port: int
    grpc_port: int
    log: Path

    def workers(self) -> list[int]:
        return [pid for pid in _tree(self.gateway.pid) if pid != self.gateway.pid] or [self.gateway.pid]

    def rss_mb(self) -> float:
        return sum(_rss_kb(pid) for pid in _tree(self.gateway.pid)) / 1024

    def open_fds(self) -> int:
        total = 0
        for pid in _tree(self.gateway.pid):
            with contextlib.suppress(OSError):
                total += len(os.listdir(f"/proc/{pid}/fd"))
        return total


@dataclass
class Fault:
    name: str
    what: str
    inject: Callable[[Stack, MixedLoad], Awaitable[None]]
    heal: Callable[[Stack, MixedLoad], Awaitable[None]]
    errors_allowed: bool = False  # the upstream broke a stream after it began: an error event is the right end
    turns_may_be_refused: bool = False


@dataclass
class Row:
    fault: str
    sent: int
    result: Tally
    missing_turns: int
    recovered_s: float
    rss_before: float
    rss_peak: float
    rss_after: float
    notes: list[str] = field(default_factory=list)

    def goals_met(self) -> bool:
        return self.result.failed == 0 and self.result.truncated == 0 and self.missing_turns == 0


# ---- the faults ---------------------------------------------------------------------------------


def _upstream(
    name: str, what: str, kind: FailureKind, *, every: int = 3, errors_allowed: bool = False, retry_after: float = 2.0
) -> Fault:
    """The fake upstream fails one request in ``every``, once (``Failure.every``): a retry gets through."""

    async def inject(stack: Stack, _load: MixedLoad) -> None:
        stack.fake.fail(kind, every=every, retry_after=retry_after)

    async def heal(stack: Stack, _load: MixedLoad) -> None:
        stack.fake.heal()

    return Fault(name, what, inject, heal, errors_allowed=errors_allowed)


async def _kill_redis(stack: Stack, _load: MixedLoad) -> None:
    stack.redis.kill()


async def _start_redis(stack: Stack, _load: MixedLoad) -> None:
    await asyncio.to_thread(stack.redis.start)


async def _stop_postgres(stack: Stack, _load: MixedLoad) -> None:
    await asyncio.to_thread(stack.postgres.stop)


async def _start_postgres(stack: Stack, _load: MixedLoad) -> None:
    await asyncio.to_thread(stack.postgres.start)


_SLOW: list[asyncio.StreamWriter] = []


async def _open_slowloris(stack: Stack, _load: MixedLoad, count: int = 500) -> None:
    """``count`` connections that send a request head one header line at a time, slowly, and never finish it."""

    async def one() -> None:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", stack.http_port)
            writer.write(b"POST /api/v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            _SLOW.append(writer)

    await asyncio.gather(*(one() for _ in range(count)))

    async def drip() -> None:
        for n in range(60):
            await asyncio.sleep(1.0)
            for writer in list(_SLOW):
                with contextlib.suppress(OSError, RuntimeError):
                    writer.write(f"X-Slow-{n}: a\r\n".encode())

    _DRIP.append(asyncio.get_running_loop().create_task(drip()))


_DRIP: list[asyncio.Task[None]] = []


async def _close_slowloris(_stack: Stack, _load: MixedLoad) -> None:
    for task in _DRIP:
        task.cancel()
    for writer in _SLOW:
        writer.close()
    _SLOW.clear()
    _DRIP.clear()


async def _sigterm_one_worker(stack: Stack, load: MixedLoad) -> None:
    """200 slow streams (about 4 s each) on top of the load; once they are open, SIGTERM to one of the two workers.

    The streams spread over both workers; those on the one stopping must still end with their final event
    (its drain), and requests that arrive meanwhile must be answered (by the other worker, or by the stopping
    one before it stops accepting).
    """
    stack.fake.chunk_delay(500)
    load.burst("stream", 200)
    await asyncio.sleep(1.5)  # every stream has its first chunk by now
    os.kill(stack.workers()[-1], signal.SIGTERM)


async def _after_sigterm(stack: Stack, _load: MixedLoad) -> None:
    stack.fake.chunk_delay(0)


FAULTS: dict[str, Fault] = {
    "redis": Fault("redis", "Redis killed (SIGKILL), started again on its port", _kill_redis, _start_redis),
    "postgres": Fault(
        "postgres",
        "PostgreSQL stopped (immediate), started again",
        _stop_postgres,
        _start_postgres,
        turns_may_be_refused=True,
    ),
    "reset": _upstream("reset", "upstream resets 1 stream in 3 mid-stream", "reset_mid_stream", errors_allowed=True),
    "429": _upstream("429", "upstream answers 1 call in 3 with 429 (Retry-After 0.1 s)", "rate_limit", retry_after=0.1),
    "500": _upstream("500", "upstream answers 1 call in 3 with 500", "server_error"),
    "stall": _upstream("stall", "upstream stalls 1 call in 5 before its first byte", "hang", every=5),
    "stall-mid": _upstream(
        "stall-mid",
        "upstream stalls 1 stream in 5 after its first chunk",
        "stall_mid_stream",
        every=5,
        errors_allowed=True,
    ),
    "slowloris": Fault("slowloris", "500 slowloris connections", _open_slowloris, _close_slowloris),
    "sigterm": Fault(
        "sigterm",
        "SIGTERM to one of two workers with 200 streams open",
        _sigterm_one_worker,
        _after_sigterm,
    ),
}


# ---- the stack ----------------------------------------------------------------------------------


def gateway_env(redis: RedisServer, postgres: PostgresCluster, fake: UpstreamProcess, workers: int) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "HOST": "127.0.0.1",
        "WORKERS": str(workers),
        "LOG_LEVEL": "warning",
        "ACCESS_LOG": "false",
        "MOCK_PROVIDER_ENABLED": "false",
        "OPENAI_BASE_URL": fake.openai_base_url,
        "OPENAI_API_KEY": FAKE_KEY,
        "OPENAI_MODELS": "bench-model",
        "CACHE_ENABLED": "true",
        "CACHE_BACKEND": "redis",
        "REDIS_URL": redis.url,
        "REDIS_KEY_PREFIX": "chaos:",
        "SESSION_BACKEND": "postgres",
        "USE_REDIS_CACHE": "true",
        "POSTGRES_URL": postgres.url,
        "SESSION_MAX_MESSAGES": "1000",
        "PROVIDER_MAX_RETRIES": "2",
        "PROVIDER_FIRST_BYTE_TIMEOUT": "5",
        "PROVIDER_IDLE_TIMEOUT": "5",
        "CIRCUIT_FAILURE_THRESHOLD": "50",
        "HEADER_TIMEOUT_SECONDS": "10",
        "SHUTDOWN_GRACE_SECONDS": "20",
    }


async def start_stack(logdir: Path, workers: int) -> Stack:
    redis = await asyncio.to_thread(lambda: RedisServer().start())
    postgres = await asyncio.to_thread(lambda: PostgresCluster().start())
    fake = await asyncio.to_thread(lambda: UpstreamProcess(free_port(), FAKE_KEY).start())
    http_port, ws_port, grpc_port = free_port(), free_port(), free_port()
    log = logdir / "gateway.log"
    env = gateway_env(redis, postgres, fake, workers)
    env.update(HTTP_PORT=str(http_port), WS_PORT=str(ws_port), GRPC_PORT=str(grpc_port))
    with log.open("wb") as out:
        gateway = subprocess.Popen(  # noqa: ASYNC220 (started once, before the load)
            [sys.executable, "-m", "entrypoints.cli", "serve"],
            env=env,
            cwd=logdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = Stack(redis, postgres, fake, gateway, http_port, ws_port, grpc_port, log)
    await wait_ready(stack, 60)
    return stack


async def wait_ready(stack: Stack, within: float) -> float:
    """Seconds until ``/readyz`` answers 200 on every worker (probed over fresh connections)."""
    started = time.monotonic()
    deadline = started + within
    async with httpx.AsyncClient(timeout=2) as client:
        streak = 0
        while time.monotonic() < deadline:
            if stack.gateway.poll() is not None:
                raise RuntimeError(f"the gateway exited with {stack.gateway.returncode}; see {stack.log}")
            try:
                ready = (
                    await client.get(f"http://127.0.0.1:{stack.http_port}/readyz", headers={"Connection": "close"})
                ).status_code == 200
            except httpx.HTTPError:
                ready = False
            streak = streak + 1 if ready else 0
            if streak >= 6:  # several fresh connections in a row: SO_REUSEPORT spread them over the workers
                return time.monotonic() - started
            await asyncio.sleep(0.05)
    return float("nan")


async def stop_stack(stack: Stack) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(stack.gateway.pid, signal.SIGTERM)
    try:
        await asyncio.to_thread(stack.gateway.wait, 30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(stack.gateway.pid, signal.SIGKILL)
    stack.fake.stop()
    stack.redis.kill()
    await asyncio.to_thread(stack.postgres.remove)


# ---- one fault ----------------------------------------------------------------------------------


async def run_fault(stack: Stack, load: MixedLoad, fault: Fault, *, before: float, during: float, after: float) -> Row:
    rss_before = stack.rss_mb()
    peak = rss_before
    load.outcomes.clear()
    load.acknowledged.clear()
    load.start()
    await asyncio.sleep(before)
    window_start = time.monotonic()
    await fault.inject(stack, load)
    end = time.monotonic() + during
    while time.monotonic() < end:
        peak = max(peak, stack.rss_mb())
        await asyncio.sleep(0.2)
    healed = time.monotonic()
    await fault.heal(stack, load)
    ready_s = await wait_ready(stack, 30)
    end = time.monotonic() + after
    while time.monotonic() < end:
        peak = max(peak, stack.rss_mb())
        await asyncio.sleep(0.2)
    await load.stop()
    whole = tally(load.outcomes, 0, float("inf"))
    acknowledged, missing, examples = await load.missing_turns()
    bad = [o.started for o in load.outcomes if not o.ok and not (o.kind == "session" and fault.turns_may_be_refused)]
    last_bad = max(bad, default=window_start)
    recovered = max(ready_s, last_bad - healed, 0.0) if bad else ready_s
    row = Row(fault.name, whole.sent, whole, missing, recovered, rss_before, peak, stack.rss_mb())
    if fault.errors_allowed:
        row.notes.append("error events expected (the upstream broke the stream after it began)")
    elif whole.errored:
        whole.failed += whole.errored  # an error event where the gateway could have answered is a failure
    if not fault.turns_may_be_refused:
        whole.failed += whole.turns_refused  # a refused turn, when the session store is up, is a failed request
    row.notes += [f"{n}× {d}" for d, n in whole.details.most_common(4)]
    row.notes += [f"missing: {e}" for e in examples]
    row.notes.append(f"{acknowledged} turns acknowledged")
    _ = window_start
    return row


# ---- the soak -----------------------------------------------------------------------------------


async def soak(stack: Stack, load: MixedLoad, seconds: float, every: float) -> list[dict[str, float]]:
    samples: list[dict[str, float]] = []
    load.start()
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.http_port}", timeout=10) as client:
        while time.monotonic() - started < seconds:
            await asyncio.sleep(every)
            samples.append({"t": round(time.monotonic() - started), **await _sample(stack, load, client)})
            print("  " + _sample_line(samples[-1]), flush=True)
        await load.stop()
        await asyncio.sleep(3)  # let keep-alive connections and pooled upstream calls go idle
        samples.append({"t": round(time.monotonic() - started), **await _sample(stack, load, client), "idle": 1})
    return samples


async def _sample(stack: Stack, load: MixedLoad, client: httpx.AsyncClient) -> dict[str, float]:
    status = (await client.get("/api/v1/status")).json()
    runtime = status.get("runtime", {})
    pool = status.get("poolStats", {})
    return {
        "requests": len(load.outcomes),
        "failed": sum(not o.ok for o in load.outcomes),
        "rss_mb": round(stack.rss_mb(), 1),
        "fds": stack.open_fds(),
        "tasks": runtime.get("asyncioTasks", -1),
        "pool_active": pool.get("current_concurrent", -1),
        "pool_queue": pool.get("queue_size", -1),
    }


def _sample_line(sample: dict[str, float]) -> str:
    return "  ".join(f"{k}={v:g}" for k, v in sample.items())


# ---- report -------------------------------------------------------------------------------------


def fault_table(rows: list[Row], faults: dict[str, Fault]) -> str:
    lines = [
        "| fault | requests | stateless failed | turns missing | streams truncated | error events | recovered (s) "
        "| RSS MiB before / peak / after | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        r = row.result
        lines.append(
            f"| {faults[row.fault].what} | {row.sent} | {r.failed} | {row.missing_turns} | {r.truncated} | {r.errored} "
            f"| {row.recovered_s:.1f} | {row.rss_before:.0f} / {row.rss_peak:.0f} / {row.rss_after:.0f} "
            f"| {'; '.join(row.notes)} |"
        )
    return "\n".join(lines)


def header(args: argparse.Namespace, rate: float) -> str:
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return "\n".join(
        [
            f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}; commit {commit}",
            f"- machine: {os.cpu_count()} cores, Python {platform.python_version()}; "
            f"load average at start {' '.join(load)}",
            f"- command: python -m bench.chaos {' '.join(sys.argv[1:])}",
            f"- load: {rate:g} requests/s, mix {', '.join(sorted(STATELESS))} and session turns",
        ]
    )


async def main_async(args: argparse.Namespace) -> int:
    logdir = REPO / "bench" / "out" / ("chaos-" + time.strftime("%Y%m%d-%H%M%S"))
    logdir.mkdir(parents=True, exist_ok=True)
    rate = args.rate or (40.0 if args.short else 120.0)
    stack = await start_stack(logdir, workers=1 if args.soak else 2)
    load = MixedLoad(stack.http_port, stack.ws_port, stack.grpc_port, rate=rate)
    text = [header(args, rate)]
    print(text[0], flush=True)
    status = 0
    try:
        if args.soak:
            samples = await soak(stack, load, args.soak, args.every)
            text.append(soak_table(samples))
            failed = sum(not o.ok for o in load.outcomes)
            elapsed = samples[-2]["t"] if len(samples) > 1 else args.soak
            achieved = len(load.outcomes) / elapsed
            text.append(f"{len(load.outcomes)} requests in {elapsed:g} s ({achieved:.0f}/s achieved), {failed} failed")
            print(text[-1], flush=True)
            status = 1 if failed else 0
        else:
            chosen = [n.strip() for n in args.only.split(",") if n.strip()] or list(FAULTS)
            before, during, after = (1.0, 2.5, 1.5) if args.short else (3.0, 6.0, 4.0)
            rows = []
            for name in chosen:
                print(f"fault {name}: {FAULTS[name].what}", flush=True)
                row = await run_fault(stack, load, FAULTS[name], before=before, during=during, after=after)
                rows.append(row)
                print(fault_table([row], FAULTS).splitlines()[-1], flush=True)
            text.append(fault_table(rows, FAULTS))
            status = 0 if all(row.goals_met() for row in rows) else 1
    finally:
        await load.close()
        await stop_stack(stack)
        out = Path(args.out) if args.out else logdir / "results.md"
        out.write_text("\n\n".join(text) + "\n")
        print(f"\n{text[-1]}\n\nwritten to {out}; gateway log {stack.log}", flush=True)
    print("goals met" if status == 0 else "GOALS MISSED", flush=True)
    return status


def soak_table(samples: list[dict[str, float]]) -> str:
    keys = [k for k in samples[0] if k != "idle"]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---:|" * len(keys)]
    for sample in samples:
        cells = " | ".join(f"{sample.get(k, 0):g}" for k in keys)
        lines.append(f"| {cells} |" + (" (idle)" if sample.get("idle") else ""))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="the CI form: short phases, 40 requests/s")
    parser.add_argument("--only", default="", help=f"comma list of faults: {','.join(FAULTS)}")
    parser.add_argument("--list", action="store_true", help="print the faults and exit")
    parser.add_argument("--rate", type=float, default=0.0, help="requests per second (default 120; short 40)")
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of load without faults, one worker")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between soak samples")
    parser.add_argument("--out", default="", help="Markdown file for the table (default bench/out/chaos-<time>/)")
    args = parser.parse_args()
    if args.list:
        for fault in FAULTS.values():
            print(f"{fault.name:10} {fault.what}")
        return 0
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    runner = event_loop_runner()
    with runner:
        return runner.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
