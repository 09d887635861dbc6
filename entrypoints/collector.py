"""How the cyclic garbage collector runs in a serving process (``GC_TUNING``, issue 18).

Measured in bench/RESULTS.md ("The tail"): the hot path leaves almost no cyclic garbage (under one
object per request), yet with Python's defaults the collector runs a young collection every 700 net
allocations and, every hundred or so, a full one that walks the whole heap: the modules, the Litestar
app, the container, tens of MB of objects that live as long as the process. Those full walks are most of
the tail at concurrency 64. After start-up the long-lived heap is frozen (``gc.freeze``: moved to a
permanent generation that no collection scans, the measure Python's documentation gives for this) and the
young threshold raised, so that collections are rarer and each one walks only what requests made.
"""

from __future__ import annotations

import gc
import logging

from entrypoints.config import Settings

log = logging.getLogger("mcp.server")

# The older generations' thresholds: a middle collection after 20 young ones, a full one after 100
# middle ones (still bounded by CPython's own rule: only when the survivors grew by a quarter).
MIDDLE_THRESHOLD = 20
OLD_THRESHOLD = 100


def tune_collector(settings: Settings) -> None:
    """Call once the listeners are built, before the first request: freeze what start-up made."""
    if not settings.gc_tuning:
        return
    gc.collect()  # what start-up left as garbage is freed now rather than frozen
    gc.freeze()
    gc.set_threshold(settings.gc_young_threshold, MIDDLE_THRESHOLD, OLD_THRESHOLD)
    log.debug("collector tuned", extra={"frozen_objects": gc.get_freeze_count(), "threshold": gc.get_threshold()})
