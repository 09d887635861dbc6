"""Feedback detection: does a follow-up prompt complain about the previous answer? (docs/api.md#feedback)

The first version's word lists and scoring (docs/api.md#feedback), read so that the cost
is bounded whatever the prompt, and so that a new question is not a complaint.

1. Only a window is read: the first ``PROMPT_HEAD`` and the last ``PROMPT_TAIL``
   characters of the prompt (a complaint opens or closes a follow-up; it is not
   buried in the middle of pasted code), and the first ``ANSWER_WINDOW``
   characters of the previous answer, for its code fence. The window is
   NFC-normalised, apostrophes are made plain, runs of whitespace become one
   space and it is lower-cased.
2. Keywords: each keyword found as whole words is kept; the severity is the
   highest of theirs. Phrases are found by cutting the window once into word and
   punctuation tokens and looking each run of tokens up in a dict, so the work
   is linear in the window whatever the number of phrases, and ``change`` is not
   ``hang``, ``prefix`` is not ``fix``, ``badge`` is not ``bad``.
3. Correction patterns: compiled once into two alternations (those that judge
   the previous answer and the others); a match adds ``pattern_match`` and raises
   the severity to at least 3. On single spaces no pattern can backtrack further
   than its own length.
4. Code problems, only when the previous answer holds a code fence: each code
   phrase found is kept and may raise the severity.
5. A follow-up that opens as a new question or request ("thanks! now how do I
   raise an exception?", "¿y cómo manejo un error?") is no complaint unless it
   also judges the previous answer (``wrong``, ``no funciona``, "this code
   doesn't", "can you fix"): asking about exceptions does not say the last
   answer threw one. When in doubt nothing is reported: a missed complaint
   leaves a cached answer in place, a false one counts against an answer
   that was fine.
6. ``confidence = min(1, n * 0.3 + severity * 0.1)``; severity >= 4 asks to
   invalidate at once, >= 2 to review, else it is logged.

Word boundaries follow Unicode ``\\w``, so ``inútil`` and ``dañado`` are single
words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from itertools import islice
from typing import Literal

from domain.feedback_data import (
    ACKNOWLEDGEMENTS,
    CODE_ISSUES,
    CONNECTIVES,
    CORRECTION_PATTERNS,
    JUDGEMENTS,
    JUDGING_PATTERNS,
    KEYWORDS,
    OPENERS,
)
from domain.models import NO_PROBLEM, FeedbackVerdict

PATTERN_MATCH = "pattern_match"
CODE_FENCE = "```"
PATTERN_SEVERITY = 3
PROMPT_HEAD = 512
PROMPT_TAIL = 256
ANSWER_WINDOW = 16_384
# How far into the prompt the opening (thanks, now, how ...) is looked for, in words.
OPENING_WORDS = 12

# Typographic apostrophes would otherwise hide "doesn't work" typed on a phone.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_SPACES = re.compile(r"\s+")
_TOKEN = re.compile(r"\w+|[^\w\s]")
# Words with their contractions, so that "can't" does not open like "can".
_WORD = re.compile(r"\w+(?:'\w+)*")
# Between the head and the tail of a long prompt: a token no phrase or pattern can run across.
_GAP = " \u2026 "

Action = Literal["log_feedback", "mark_for_review", "invalidate_immediately"]
# A text's tokens: their words, start and end offsets.
_Tokens = tuple[list[str], list[int], list[int]]


class _Phrases:
    """Whole-word phrases, each with its severity, found in one pass over a text's tokens."""

    def __init__(self, phrases: Iterable[tuple[str, int]]) -> None:
        # phrase -> (position in the list, severity) of each entry, duplicates included, as they always counted
        self._entries: dict[str, list[tuple[int, int]]] = {}
        # first token -> most tokens of a phrase starting with it
        self._reach: dict[str, int] = {}
        for position, (text, severity) in enumerate(phrases):
            phrase = _clean(text)
            tokens = _TOKEN.findall(phrase)
            if tokens:
                self._entries.setdefault(phrase, []).append((position, severity))
                self._reach[tokens[0]] = max(self._reach.get(tokens[0], 0), len(tokens))

    def find(self, text: str, tokens: _Tokens) -> list[tuple[str, int]]:
        """The phrases in ``text`` (cut into ``tokens``), in list order, with their severities."""
        words, starts, ends = tokens
        hits: dict[int, tuple[str, int]] = {}  # by list position: a phrase said twice is found once
        for first, word in enumerate(words):
            reach = self._reach.get(word, 0)
            for last in range(first, min(first + reach, len(words))):
                phrase = text[starts[first] : ends[last]]
                hits.update((position, (phrase, severity)) for position, severity in self._entries.get(phrase, ()))
        return [hits[position] for position in sorted(hits)]


class _Opening:
    """Whether a prompt opens as a new question: thanks and "now/and" first, then a question word or request."""

    def __init__(self, preamble: Iterable[str], openers: Iterable[str]) -> None:
        self._preamble = {tuple(phrase.split()) for phrase in preamble}
        self._openers = {tuple(phrase.split()) for phrase in openers}
        self._longest = max(len(words) for words in self._preamble | self._openers)

    def is_new_question(self, text: str) -> bool:
        words = [match.group() for match in islice(_WORD.finditer(text), OPENING_WORDS)]
        at = 0
        while (skip := self._match(self._preamble, words, at)) > 0:
            at += skip
        return self._match(self._openers, words, at) > 0

    def _match(self, phrases: set[tuple[str, ...]], words: list[str], at: int) -> int:
        for length in range(self._longest, 0, -1):
            if at + length <= len(words) and tuple(words[at : at + length]) in phrases:
                return length
        return 0


class KeywordFeedbackDetector:
    """``FeedbackDetector`` over the word lists of ``domain.feedback_data``, read in a bounded window.

    The lists default to ``domain.feedback_data``; tests may pass smaller ones.
    ``method`` is ``keywords`` when a keyword or code phrase matched and
    ``pattern`` when only a correction pattern did.
    """

    def __init__(
        self,
        *,
        keywords: Sequence[tuple[str, int]] = KEYWORDS,
        patterns: Sequence[str] = CORRECTION_PATTERNS,
        code_issues: Sequence[tuple[str, int]] = CODE_ISSUES,
        judgements: Collection[str] = JUDGEMENTS,
        judging_patterns: Collection[str] = JUDGING_PATTERNS,
    ) -> None:
        self._keywords = _Phrases(keywords)
        self._judgements = frozenset(_clean(text) for text in judgements)
        self._judging = _alternation(p for p in patterns if p in judging_patterns)
        self._other_patterns = _alternation(p for p in patterns if p not in judging_patterns)
        self._code_issues = _Phrases(code_issues)
        self._opening = _Opening((*ACKNOWLEDGEMENTS, *CONNECTIVES), OPENERS)

    def analyze(self, prompt: str, previous_answer: str) -> FeedbackVerdict:
        text = _clean(_window(prompt))
        tokens = _tokens(text)
        keywords = self._keywords.find(text, tokens)
        judged = _search(self._judging, text)
        pattern_hit = judged or _search(self._other_patterns, text)
        code = self._code_issues.find(text, tokens) if _has_code(previous_answer) else []
        if not (keywords or pattern_hit or code):
            return NO_PROBLEM
        judged = judged or any(phrase in self._judgements for phrase, _ in keywords)
        if not judged and self._opening.is_new_question(text):
            return NO_PROBLEM
        pattern = [(PATTERN_MATCH, PATTERN_SEVERITY)] if pattern_hit else []
        return _verdict([*keywords, *pattern, *code], pattern_hit)


def _verdict(hits: list[tuple[str, int]], pattern_hit: bool) -> FeedbackVerdict:
    severity = max(severity for _, severity in hits)
    return FeedbackVerdict(
        has_problem=True,
        keywords=tuple(phrase for phrase, _ in hits),
        severity=severity,
        confidence=min(1.0, len(hits) * 0.3 + severity * 0.1),
        action=_action(severity),
        method="keywords" if len(hits) > pattern_hit else "pattern",
    )


def _window(prompt: str) -> str:
    if len(prompt) <= PROMPT_HEAD + PROMPT_TAIL:
        return prompt
    return prompt[:PROMPT_HEAD] + _GAP + prompt[-PROMPT_TAIL:]


def _clean(text: str) -> str:
    # NFC so that an accent typed as a combining mark still matches "está".
    normalised = unicodedata.normalize("NFC", text).translate(_APOSTROPHES)
    return _SPACES.sub(" ", normalised).strip().lower()


def _tokens(text: str) -> _Tokens:
    matches = list(_TOKEN.finditer(text))
    return [m.group() for m in matches], [m.start() for m in matches], [m.end() for m in matches]


def _has_code(answer: str) -> bool:
    return answer.find(CODE_FENCE, 0, ANSWER_WINDOW) >= 0


def _alternation(patterns: Iterable[str]) -> re.Pattern[str] | None:
    bodies = [f"(?:{pattern})" for pattern in patterns]
    return re.compile(rf"(?<!\w)(?:{'|'.join(bodies)})(?!\w)", re.IGNORECASE) if bodies else None


def _search(pattern: re.Pattern[str] | None, text: str) -> bool:
    return pattern is not None and pattern.search(text) is not None


def _action(severity: int) -> Action:
    if severity >= 4:
        return "invalidate_immediately"
    if severity >= 2:
        return "mark_for_review"
    return "log_feedback"
