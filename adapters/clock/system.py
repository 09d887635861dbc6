"""The real clock."""

from __future__ import annotations

import time


class SystemClock:
    """``Clock`` backed by the operating system."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()
