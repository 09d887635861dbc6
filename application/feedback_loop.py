"""The cache feedback loop (docs/api.md#feedback).

When a session's new prompt complains about the previous answer, the complaint
is recorded against the cache key that answer was stored under. A severe
complaint, or the third on one key, retires the key: deleted and blacklisted
until an admin clears it.
"""

from __future__ import annotations

from domain.models import FeedbackReport, GenerationRequest, Session
from domain.ports import Cache, Clock, FeedbackDetector, FeedbackRepo

RETIRE_AT_SEVERITY = 4


class FeedbackLoop:
    def __init__(
        self,
        *,
        detector: FeedbackDetector,
        repo: FeedbackRepo,
        cache: Cache,
        clock: Clock,
        enabled: bool,
    ) -> None:
        self._detector = detector
        self._repo = repo
        self._cache = cache
        self._clock = clock
        self.enabled = enabled
        self.reports = 0
        self.retired = 0

    async def review(self, request: GenerationRequest, session: Session | None) -> None:
        """Read the follow-up prompt for a complaint about the session's last answer."""
        if not self.enabled or session is None:
            return
        previous = session.last_assistant()
        if previous is None or not previous.cache_key:
            return
        verdict = self._detector.analyze(request.prompt, previous.content)
        if not verdict.has_problem:
            return
        report = FeedbackReport(
            cache_key=previous.cache_key,
            user_id=request.user_id,
            session_id=request.session_id,
            verdict=verdict,
            original_prompt=_prompt_of_last_answer(session),
            problem_prompt=request.prompt,
        )
        quality = await self._repo.record(report, now=self._clock.now())
        self.reports += 1
        if verdict.severity >= RETIRE_AT_SEVERITY or quality.is_blacklisted:
            await self.retire(previous.cache_key, reason=f"feedback: {', '.join(verdict.keywords)}")

    async def retire(self, cache_key: str, *, reason: str) -> None:
        """Delete the cached answer and blacklist its key."""
        await self._cache.delete(cache_key)
        await self._repo.blacklist(cache_key, reason=reason, now=self._clock.now())
        self.retired += 1


def _prompt_of_last_answer(session: Session) -> str:
    answered = False
    for message in reversed(session.messages):
        if message.role == "assistant":
            answered = True
        elif answered:
            return message.content
    return ""
