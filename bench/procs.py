"""The processes a benchmark runs: the fake upstream, the gateway, LiteLLM's proxy; and their memory.

Every process starts in its own session so that stopping it also stops the
workers it forked (``--workers 2``), and runs with a clean environment holding
only what it is given: a developer's own ``API_KEYS`` or ``.env`` must not
change what is measured (the gateway runs in a scratch directory for that reason).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
FAKE_KEY = "test-key"
MODEL = "bench-model"


def event_loop_runner() -> asyncio.Runner:
    """A runner on uvloop, the gateway's own loop (``entrypoints/cli.py``), or plain asyncio without it."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log: Path
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def rss_mb(self) -> float:
        """Resident memory of the process and of the workers it forked, in MiB."""
        return sum(_rss_kb(pid) for pid in _tree(self.pid)) / 1024

    def worker_pids(self) -> list[int]:
        children = _children(self.pid)
        return children or [self.pid]

    def cpu_seconds(self) -> float:
        """User plus system CPU of the process tree so far."""
        return sum(_cpu_seconds(pid) for pid in _tree(self.pid))

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)


def start(name: str, argv: list[str], env: dict[str, str], port: int, cwd: Path, logdir: Path) -> Proc:
    log = logdir / f"{name}-{port}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return Proc(name, popen, port, log)


def start_fake(logdir: Path, *, latency_ms: float = 0, chunk_delay_ms: float = 0, chunks: int | None = None) -> Proc:
    port = free_port()
    argv = [sys.executable, "-m", "tests.vendors.azure_openai", "--port", str(port), "--api-key", FAKE_KEY]
    argv += ["--latency-ms", str(latency_ms), "--chunk-delay-ms", str(chunk_delay_ms)]
    if chunks:
        argv += ["--chunks", str(chunks)]
    env = {**base_env(), "PYTHONPATH": str(REPO)}
    return start("fake", argv, env, port, REPO, logdir)


def gateway_env(upstream_port: int, **settings: str) -> dict[str, str]:
    return {
        **base_env(),
        "PYTHONPATH": str(REPO),
        "OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
        "OPENAI_API_KEY": FAKE_KEY,
        "OPENAI_MODELS": MODEL,
        "CACHE_ENABLED": "false",
        "LOG_LEVEL": "warning",
        "MOCK_PROVIDER_ENABLED": "false",
        "PROVIDER_MAX_RETRIES": "0",
        "HOST": "127.0.0.1",
        **settings,
    }


def start_gateway(logdir: Path, upstream_port: int, *, workers: int = 1, **settings: str) -> Proc:
    port = free_port()
    argv = [str(VENV_BIN / "mcp-server-ai"), "--http", str(port), "--ws", "0", "--grpc", "0"]
    env = gateway_env(upstream_port, WORKERS=str(workers), **settings)
    scratch = Path(tempfile.mkdtemp(prefix="bench-gw-", dir=logdir))
    proc = start("gateway", argv, env, port, scratch, logdir)
    proc.notes = {k: v for k, v in settings.items()}
    return proc


async def wait_ready(proc: Proc, path: str = "/health", within: float = 60.0) -> None:
    """Until ``GET path`` answers 200 (every worker of a multi-process gateway has bound by then, or soon)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; see {proc.log}")
        with contextlib.suppress(OSError):
            if await _get_status(proc.port, path) == 200:
                return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{proc.name} not ready on port {proc.port} within {within:g} s; see {proc.log}")


async def wait_listening(port: int, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {within:g} s")


async def _get_status(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        line = await asyncio.wait_for(reader.readline(), 5)
        return int(line.split()[1]) if line else 0
    finally:
        writer.close()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(p) for p in handle.read().split()]
    return found


def _tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue += _children(current)
    return pids


def _rss_kb(pid: int) -> int:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


class RssSampler:
    """Samples a process tree's RSS in the background; ``peak`` is the highest seen."""

    def __init__(self, proc: Proc, every: float = 0.1) -> None:
        self._proc = proc
        self._every = every
        self.peak = 0.0
        self.samples: list[tuple[float, float]] = []  # (seconds since the start, MiB), for the charts
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        began = time.monotonic()
        while True:
            rss = self._proc.rss_mb()
            self.peak = max(self.peak, rss)
            self.samples.append((time.monotonic() - began, rss))
            await asyncio.sleep(self._every)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak = max(self.peak, self._proc.rss_mb())
        if self._task is not None:
            self._task.cancel()


def _threads(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def _pin_tree(pid: int, cpus: set[int]) -> None:
    for process in _tree(pid):
        _pin_threads(process, cpus)


def _pin_threads(pid: int, cpus: set[int]) -> None:
    for thread in _threads(pid):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(thread, cpus)


@contextlib.contextmanager
def placed(enabled: bool, sut: Proc | None, *helpers: Proc, sut_cpus: set[int] | None = None) -> Iterator[None]:
    """The system under test on CPU 0, the load generator (this process) and the helpers on CPU 1.

    On a 2-core machine this keeps the three from trading places run to run, which otherwise moves
    the figures by a third. ``sut_cpus`` overrides (a two-worker gateway gets both CPUs). Everything
    goes back to all CPUs afterwards.
    """
    everything = set(range(os.cpu_count() or 1))
    if not enabled or len(everything) < 2:
        yield
        return
    if sut is not None:
        _pin_tree(sut.pid, sut_cpus or {0})
    for helper in helpers:
        _pin_tree(helper.pid, {1})
    # This process's own threads only: its children include the system under test, pinned above.
    _pin_threads(os.getpid(), {1})
    try:
        yield
    finally:
        for proc in (*helpers, *((sut,) if sut is not None else ())):
            _pin_tree(proc.pid, everything)
        _pin_threads(os.getpid(), everything)
