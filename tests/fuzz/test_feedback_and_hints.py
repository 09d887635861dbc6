"""The feedback detector and the upstream Retry-After reader, fed any text.

The detector gives a verdict for any prompt and previous answer, and reads
only its window: the first ``PROMPT_HEAD`` and last ``PROMPT_TAIL``
characters of a long prompt, the first ``ANSWER_WINDOW`` of the answer.
That bound is shown by behaviour: whatever lies outside the window changes
nothing. ``retry_after_seconds`` gives ``None`` or a finite number of
seconds within its bounds for any header text.
"""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from adapters.providers.retry_after import MAX_RETRY_AFTER_SECONDS, retry_after_seconds
from domain.feedback import ANSWER_WINDOW, PROMPT_HEAD, PROMPT_TAIL, KeywordFeedbackDetector
from domain.models import FeedbackVerdict
from tests.fuzz import short

DETECTOR = KeywordFeedbackDetector()
_words = st.sampled_from(
    ["wrong", "doesn't", "work", "thanks", "now", "how", "error", "fix", "no funciona", "inútil", "```", "this code",
     "can you", "?", "!", " ", "\n", "\u2019", "e\u0301", "bad", "badge", "crash"]
)  # fmt: skip
_texts = st.lists(_words | st.text(max_size=8), max_size=30).map(" ".join) | st.text(max_size=200)


def check_verdict(prompt: str, answer: str) -> FeedbackVerdict:
    verdict = DETECTOR.analyze(prompt, answer)
    assert isinstance(verdict, FeedbackVerdict)
    assert 0.0 <= verdict.confidence <= 1.0
    assert verdict.has_problem == bool(verdict.keywords)
    return verdict


@short(300)
@given(prompt=_texts, answer=_texts)
def test_any_prompt_and_answer_give_a_verdict(prompt: str, answer: str) -> None:
    check_verdict(prompt, answer)


@short(100)
@given(head=_texts, tail=_texts, middle=st.tuples(_texts, _texts), answer=_texts, beyond=st.tuples(_texts, _texts))
def test_nothing_outside_the_window_changes_the_verdict(
    head: str, tail: str, middle: tuple[str, str], answer: str, beyond: tuple[str, str]
) -> None:
    # Two prompts that share their first PROMPT_HEAD and last PROMPT_TAIL characters but not their middle,
    # and two answers that share their first ANSWER_WINDOW characters: the detector cannot tell them apart.
    head, tail = head.ljust(PROMPT_HEAD, "x")[:PROMPT_HEAD], tail.rjust(PROMPT_TAIL, "y")[-PROMPT_TAIL:]
    first, second = (head + m.ljust(1, "z") + tail for m in middle)
    answer = answer.ljust(ANSWER_WINDOW, "a")[:ANSWER_WINDOW]
    assert check_verdict(first, answer + beyond[0]) == check_verdict(second, answer + beyond[1])


_header_text = st.text(max_size=40) | st.sampled_from(
    ["1e309", "-1e309", "nan", "inf", "-5", "0", "3600.5", "1e-400", "Wed, 21 Oct 2015 07:28:00 GMT",
     "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT", "Thu, 01 Jan 1970 00:00:00 -9999", "  7  "]
)  # fmt: skip


@short(300)
@given(
    headers=st.dictionaries(st.sampled_from(["retry-after", "retry-after-ms", "x-other"]), _header_text, max_size=3),
    now=st.none() | st.floats(min_value=-1e12, max_value=1e12),
)
def test_any_retry_after_is_none_or_finite_seconds_within_bounds(headers: dict[str, str], now: float | None) -> None:
    seconds = retry_after_seconds(headers, now=now)
    assert seconds is None or (math.isfinite(seconds) and 0.0 <= seconds <= MAX_RETRY_AFTER_SECONDS)
