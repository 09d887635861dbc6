"""Feedback detection: does a follow-up prompt complain about the previous answer? (docs/api.md#feedback)

Three steps, with one deliberate rule:
every keyword, correction pattern and code phrase matches only as whole words,
so ``change`` is not ``hang``, ``prefix`` is not ``fix``, ``helpful`` is not
``help`` and ``badge`` is not ``bad``.

1. Keywords: each keyword found in the lower-cased, trimmed prompt is kept; the
   severity is the highest of theirs.
2. Correction patterns: the first one that matches adds ``pattern_match`` and
   raises the severity to at least 3.
3. Code problems, only when the previous answer holds a code fence: each code
   phrase found is kept and may raise the severity.
4. Any match is a problem. ``confidence = min(1, n * 0.3 + severity * 0.1)``;
   severity >= 4 invalidates at once, >= 2 marks for review, else it is logged.

Word boundaries are ``(?<!\\w)`` / ``(?!\\w)`` rather than ``\\b``, so phrases
that start or end with a non-word character still work, and ``\\w`` is Unicode
so that ``inútil`` and ``dañado`` are single words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Literal

from domain.feedback_data import CODE_ISSUES, CORRECTION_PATTERNS, KEYWORDS
from domain.models import NO_PROBLEM, FeedbackVerdict

PATTERN_MATCH = "pattern_match"
CODE_FENCE = "```"
PATTERN_SEVERITY = 3

# Typographic apostrophes would otherwise hide "doesn't work" typed on a phone.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
# RE2's \s, which these patterns were first written for (no vertical tab, no Unicode spaces).
_RE2_SPACE = "[\\t\\n\\f\\r ]"

Action = Literal["log_feedback", "mark_for_review", "invalidate_immediately"]
_Phrases = tuple[tuple[re.Pattern[str], str, int], ...]


def _whole_words(body: str) -> str:
    return rf"(?<!\w)(?:{body})(?!\w)"


def _compile_phrases(phrases: Iterable[tuple[str, int]]) -> _Phrases:
    return tuple((re.compile(_whole_words(re.escape(text))), text, severity) for text, severity in phrases)


def _compile_patterns(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(_whole_words(pattern.replace("\\s", _RE2_SPACE)), re.IGNORECASE) for pattern in patterns)


class KeywordFeedbackDetector:
    """``FeedbackDetector`` over the word lists of ``domain.feedback_data``, matched on word boundaries.

    The lists default to the data of ``domain.feedback_data``; tests
    may pass smaller ones. ``method`` is ``keywords`` when a keyword or code
    phrase matched and ``pattern`` when only a correction pattern did.
    """

    def __init__(
        self,
        *,
        keywords: Sequence[tuple[str, int]] = KEYWORDS,
        patterns: Sequence[str] = CORRECTION_PATTERNS,
        code_issues: Sequence[tuple[str, int]] = CODE_ISSUES,
    ) -> None:
        self._keywords = _compile_phrases(keywords)
        self._patterns = _compile_patterns(patterns)
        self._code_issues = _compile_phrases(code_issues)

    def analyze(self, prompt: str, previous_answer: str) -> FeedbackVerdict:
        raw = _normalise(prompt)
        text = raw.strip().lower()
        found, severity = _scan(self._keywords, text)
        pattern_hit = any(pattern.search(raw) for pattern in self._patterns)
        if pattern_hit:
            found.append(PATTERN_MATCH)
            severity = max(severity, PATTERN_SEVERITY)
        if CODE_FENCE in previous_answer:
            code_found, code_severity = _scan(self._code_issues, text)
            found.extend(code_found)
            severity = max(severity, code_severity)
        if not found:
            return NO_PROBLEM
        return FeedbackVerdict(
            has_problem=True,
            keywords=tuple(found),
            severity=severity,
            confidence=min(1.0, len(found) * 0.3 + severity * 0.1),
            action=_action(severity),
            method="keywords" if len(found) > pattern_hit else "pattern",
        )


def _normalise(prompt: str) -> str:
    # NFC so that an accent typed as a combining mark still matches "está".
    return unicodedata.normalize("NFC", prompt).translate(_APOSTROPHES)


def _scan(phrases: _Phrases, text: str) -> tuple[list[str], int]:
    hits = [(phrase, severity) for pattern, phrase, severity in phrases if pattern.search(text)]
    return [phrase for phrase, _ in hits], max((severity for _, severity in hits), default=0)


def _action(severity: int) -> Action:
    if severity >= 4:
        return "invalidate_immediately"
    if severity >= 2:
        return "mark_for_review"
    return "log_feedback"
