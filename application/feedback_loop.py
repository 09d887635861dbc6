"""The cache feedback loop (docs/api.md#feedback, docs/security.md).

When a session's new prompt complains about the previous answer, the complaint
is recorded against the cache key that answer was stored under, for its
reporter: the API key, else the client's network (``domain.feedback_reporters``).
A cached answer is shared by everyone who asks the same thing, so one client
alone may not retire it. The key is retired (deleted from the cache and
blacklisted until an admin clears it) when

* ``min_reporters`` distinct reporters have complained about it, or
* a reporter trusted for it (an admin key, or a key marked ``+feedback``)
  complains with severity >= 4.

A reporter counts once per key however often it complains, and at most
``reports_per_hour`` of its complaints are recorded in any hour: the rest are
dropped and logged. Every retirement is logged with the reporters behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from domain.feedback_reporters import reporter_of
from domain.models import FeedbackReport, FeedbackVerdict, GenerationRequest, Session
from domain.ports import Cache, Clock, FeedbackDetector, FeedbackRepo

log = logging.getLogger("mcp.feedback")

RETIRE_AT_SEVERITY = 4
DEFAULT_MIN_REPORTERS = 3
DEFAULT_REPORTS_PER_HOUR = 20
HOUR_SECONDS = 3600.0
# A retirement's log line names at most this many reporters (the earliest).
LOGGED_REPORTERS = 20


class FeedbackLoop:
    def __init__(
        self,
        *,
        detector: FeedbackDetector,
        repo: FeedbackRepo,
        cache: Cache,
        clock: Clock,
        enabled: bool,
        min_reporters: int = DEFAULT_MIN_REPORTERS,
        reports_per_hour: int = DEFAULT_REPORTS_PER_HOUR,
    ) -> None:
        self._detector = detector
        self._repo = repo
        self._cache = cache
        self._clock = clock
        self.enabled = enabled
        self._min_reporters = min_reporters
        self._reports_per_hour = reports_per_hour
        self.reports = 0
        self.retired = 0
        self.dropped = 0

    async def review(self, request: GenerationRequest, session: Session | None) -> None:
        """Read the follow-up prompt (the request's last user text) for a complaint about the session's last answer."""
        if not self.enabled or session is None:
            return
        previous = session.last_assistant()
        if previous is None or not previous.cache_key:
            return
        verdict = self._detector.analyze(request.user_text, previous.text)
        if verdict.has_problem:
            await self._report(request, session, previous.cache_key, verdict)

    async def retire(self, cache_key: str, *, reason: str, rule: str, reporters: Sequence[str]) -> None:
        """Delete the cached answer and blacklist its key; ``rule`` and ``reporters`` say why, in the log."""
        await self._cache.delete(cache_key)
        await self._repo.blacklist(cache_key, reason=reason, now=self._clock.now())
        self.retired += 1
        log.warning(
            "cached answer retired",
            extra={"cache_key": cache_key, "rule": rule, "reporters": list(reporters), "reason": reason},
        )

    async def _report(self, request: GenerationRequest, session: Session, key: str, verdict: FeedbackVerdict) -> None:
        reporter = reporter_of(request.caller)
        now = self._clock.now()
        if not await self._within_hourly_limit(reporter, key, now):
            return
        report = FeedbackReport(
            cache_key=key,
            reporter=reporter,
            user_id=request.user_id,
            session_id=request.session_id,
            verdict=verdict,
            original_prompt=_prompt_of_last_answer(session),
            problem_prompt=request.user_text,
        )
        quality = await self._repo.record(report, now=now)
        if quality is not None:
            self.reports += 1
        reason = f"feedback: {', '.join(verdict.keywords)}"
        if request.caller.trusted_feedback and verdict.severity >= RETIRE_AT_SEVERITY:
            await self.retire(key, reason=reason, rule="trusted_reporter", reporters=[reporter])
        elif quality is not None and quality.problem_reports >= self._min_reporters:
            reporters = await self._repo.reporters(key, LOGGED_REPORTERS)
            await self.retire(key, reason=reason, rule="distinct_reporters", reporters=reporters)

    async def _within_hourly_limit(self, reporter: str, key: str, now: float) -> bool:
        if await self._repo.reports_since(reporter, now - HOUR_SECONDS) < self._reports_per_hour:
            return True
        self.dropped += 1
        log.warning(
            "feedback report dropped: the reporter is over its hourly limit",
            extra={"cache_key": key, "reporter": reporter, "limit": self._reports_per_hour},
        )
        return False


def _prompt_of_last_answer(session: Session) -> str:
    """What the user said before the last answer (tool messages in between are not the user speaking)."""
    answered = False
    for message in reversed(session.messages):
        if message.role == "assistant":
            answered = True
        elif answered and message.role == "user":
            return message.text
    return ""
