"""An upstream's "when to come back" hint, read once at the adapter boundary for every provider.

Upstreams say it as ``retry-after-ms`` (Azure, precise), or ``retry-after``
in seconds or as an HTTP date (RFC 9110 §10.2.3). Whatever arrives, the
domain only ever sees ``None`` (no usable hint) or a finite number of seconds
between 0 and ``MAX_RETRY_AFTER_SECONDS``: a hint of ``inf`` once overflowed
the error writers, and a hint of days tells a client nothing a shorter one
would not.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping

MAX_RETRY_AFTER_SECONDS = 3600.0


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """``retry-after-ms``, else ``retry-after``; header names as the client library gives them (lower case)."""
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return _bounded(millis / 1000)
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _number(value)
    if seconds is None:
        seconds = _until_date(value, time.time() if now is None else now)
    return None if seconds is None else _bounded(seconds)


def _number(value: str | None) -> float | None:
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return None if math.isnan(number) else number


def _until_date(value: str, now: float) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    try:
        return when.timestamp() - now
    except (OverflowError, ValueError, OSError):  # a date the platform cannot place in time
        return None


def _bounded(seconds: float) -> float:
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)
