"""The fake OpenAI upstream of ``bench.chaos`` in a process of its own, steered through a pipe.

In the load generator's process it would share one event loop (and one core) with
the load: under a few hundred requests per second it then answers late, and the
gateway's first-byte timeout reports the generator's own slowness as an upstream
fault. A process of its own keeps the two apart; the faults still reach it at once.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

from bench.procs import event_loop_runner
from tests.vendors.openai_script import Failure, FailureKind, Script

MODEL = "bench-model"


class UpstreamProcess:
    """``tests.vendors.azure_openai.FakeAzureOpenAI`` on ``port``, answering ``chunks`` chunks per stream."""

    def __init__(self, port: int, api_key: str, *, chunks: int = 8) -> None:
        self.port = port
        self.openai_base_url = f"http://127.0.0.1:{port}/v1"
        context = multiprocessing.get_context("spawn")
        self._commands, child_end = context.Pipe()
        self._ready, ready_child = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_serve, args=(port, api_key, chunks, child_end, ready_child), name="chaos-upstream", daemon=True
        )

    def start(self) -> UpstreamProcess:
        self._process.start()
        if not self._ready.poll(30):
            raise RuntimeError("the fake upstream did not start within 30 s")
        self._ready.recv()
        return self

    def fail(self, kind: FailureKind, *, every: int, retry_after: float = 2.0) -> None:
        self._send(("fail", kind, every, retry_after))

    def heal(self) -> None:
        self._send(("heal",))

    def chunk_delay(self, milliseconds: float) -> None:
        self._send(("chunk_delay", milliseconds))

    def _send(self, command: tuple[Any, ...]) -> None:
        self._commands.send(command)
        self._commands.recv()  # applied

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(10)


def _serve(port: int, api_key: str, chunks: int, commands: Connection, ready: Connection) -> None:
    runner = event_loop_runner()
    with runner:
        runner.run(_run(port, api_key, chunks, commands, ready))


async def _run(port: int, api_key: str, chunks: int, commands: Connection, ready: Connection) -> None:
    from tests.vendors.azure_openai import FakeAzureOpenAI

    script = Script(chunks=chunks)
    fake = FakeAzureOpenAI(api_key=api_key, openai_models=frozenset({MODEL}), port=port, script=script)
    fake.record = False  # a long run must not keep every request
    await fake.start()

    def apply() -> None:
        command = commands.recv()
        if command[0] == "fail":
            script.failure = Failure(command[1], every=command[2], retry_after=command[3])
        elif command[0] == "heal":
            script.failure = None
        elif command[0] == "chunk_delay":
            script.chunk_delay_ms = command[1]
        commands.send("ok")

    asyncio.get_running_loop().add_reader(commands.fileno(), apply)
    ready.send("ready")
    await asyncio.Event().wait()
