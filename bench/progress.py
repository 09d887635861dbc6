"""Progress lines while a benchmark runs: scenario, step, time spent and an estimate of the time left.

``start`` is called once with the chosen scenarios; each scenario calls ``step`` as it goes. The time
left is the current scenario's expected length minus what it has used (never below zero) plus the
expected lengths of those still to come, from ``EXPECTED_SECONDS`` (measured on this project's machine;
a loaded machine takes longer, and the estimate then catches up scenario by scenario).
"""

from __future__ import annotations

import sys
import time

# Seconds each scenario took in a full run (bash bench/run.sh --litellm --pin, 2026-12-02, the 2-vCPU
# machine of bench/RESULTS.md, (o) with its LiteLLM rows), a quick run and a smoke run.
EXPECTED_SECONDS: dict[str, tuple[float, float, float]] = {
    "a": (45, 12, 6),
    "b": (390, 60, 14),
    "r": (60, 25, 8),
    "c": (150, 30, 8),
    "d": (25, 20, 8),
    "e": (5, 8, 4),
    "f": (40, 15, 6),
    "o": (1320, 40, 12),
    "p": (250, 60, 20),
}


class Progress:
    def __init__(self) -> None:
        self._began = time.monotonic()
        self._remaining: list[str] = []
        self._current = ""
        self._current_began = self._began
        self._mode = 0

    def start(self, scenarios: list[str], mode: int) -> None:
        """``mode``: 0 full, 1 quick, 2 smoke (the column of ``EXPECTED_SECONDS``)."""
        self._began = time.monotonic()
        self._remaining = list(scenarios)
        self._mode = mode

    def scenario(self, name: str) -> None:
        self._current = name
        self._current_began = time.monotonic()
        if name in self._remaining:
            self._remaining.remove(name)
        self.step("started")

    def step(self, text: str) -> None:
        now = time.monotonic()
        current = self._expected(self._current) - (now - self._current_began) if self._current else 0.0
        left = max(0.0, current) + sum(self._expected(name) for name in self._remaining)
        print(
            f"[{_clock(now - self._began)} elapsed, ~{_clock(left)} left] ({self._current}) {text}",
            file=sys.stderr,
            flush=True,
        )

    def _expected(self, name: str) -> float:
        return EXPECTED_SECONDS.get(name, (60.0, 20.0, 8.0))[self._mode]


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


PROGRESS = Progress()


def step(text: str) -> None:
    PROGRESS.step(text)
