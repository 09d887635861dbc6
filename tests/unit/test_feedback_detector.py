"""The feedback detector: the worked examples of its word lists, corrected for word boundaries."""

from __future__ import annotations

import pytest

from domain.feedback import KeywordFeedbackDetector
from domain.feedback_data import CODE_ISSUES, CORRECTION_PATTERNS, KEYWORDS
from domain.models import NO_PROBLEM

FENCED = "Here it is:\n```python\nprint('hi')\n```"
PLAIN = "Paris is the capital of France."

detector = KeywordFeedbackDetector()

# (prompt, previous answer, keywords, severity, confidence, action)
EXAMPLES = [
    (
        "Este código no funciona, hay un error de sintaxis",
        FENCED,
        ("error", "no funciona", "pattern_match", "error de sintaxis"),
        5,
        1.0,
        "invalidate_immediately",
    ),
    (
        "Este código no funciona, hay un error de sintaxis",
        PLAIN,
        ("error", "no funciona", "pattern_match"),
        5,
        1.0,
        "invalidate_immediately",
    ),
    ("Corrige este código por favor", FENCED, ("corrige",), 2, 0.5, "mark_for_review"),
    ("The output is wrong", PLAIN, ("wrong", "pattern_match"), 3, 0.9, "mark_for_review"),
    ("no entiendo", PLAIN, ("no entiendo",), 1, 0.4, "log_feedback"),
    ("I get a timeout", FENCED, ("timeout", "timeout"), 4, 1.0, "invalidate_immediately"),
    (
        "that code has a bug, no funciona",
        PLAIN,
        ("bug", "no funciona", "pattern_match"),
        4,
        1.0,
        "invalidate_immediately",
    ),
    ("It CRASHED again.", PLAIN, ("crashed",), 5, 0.8, "invalidate_immediately"),
    ("Esto es inútil", PLAIN, ("inútil",), 3, 0.6, "mark_for_review"),
    ("La respuesta está mal", PLAIN, ("está mal",), 3, 0.6, "mark_for_review"),
    ("It doesn\u2019t work", PLAIN, ("doesn't work", "pattern_match"), 4, 1.0, "invalidate_immediately"),
    ("Please fix the loop", PLAIN, ("fix", "please fix", "pattern_match"), 3, 1.0, "mark_for_review"),
    ("help", PLAIN, ("help",), 2, 0.5, "mark_for_review"),
    ("Why does the app hang on start?", PLAIN, ("hang", "pattern_match"), 5, 1.0, "invalidate_immediately"),
    ("It is not working", PLAIN, ("not working", "pattern_match"), 4, 1.0, "invalidate_immediately"),
    ("I'm getting a type error", FENCED, ("error", "type error"), 5, 1.0, "invalidate_immediately"),
    ("I'm getting a type error", PLAIN, ("error",), 5, 0.8, "invalidate_immediately"),
    ("I'm getting an error", PLAIN, ("error", "pattern_match"), 5, 1.0, "invalidate_immediately"),
]

NOTHING = [
    ("Can you change the button color to blue?", PLAIN),
    ("Add a prefix to each line", FENCED),
    ("That was helpful, thanks", PLAIN),
    ("Give every user a badge", PLAIN),
    ("What a terror that movie was", PLAIN),
    ("I'm hungry, suggest a recipe", PLAIN),
    ("Gracias, ahora explícame los closures", PLAIN),
    ("Explain the changelog format", FENCED),
    ("Add a hacker emoji", PLAIN),
]


@pytest.mark.parametrize(("prompt", "previous", "keywords", "severity", "confidence", "action"), EXAMPLES)
def test_a_complaint_gives_its_keywords_severity_confidence_and_action(
    prompt: str, previous: str, keywords: tuple[str, ...], severity: int, confidence: float, action: str
) -> None:
    verdict = detector.analyze(prompt, previous)

    assert verdict.has_problem
    assert verdict.keywords == keywords
    assert verdict.severity == severity
    assert verdict.confidence == pytest.approx(confidence)
    assert verdict.action == action


@pytest.mark.parametrize(("prompt", "previous"), NOTHING)
def test_words_that_only_contain_a_keyword_detect_nothing(prompt: str, previous: str) -> None:
    assert detector.analyze(prompt, previous) == NO_PROBLEM


def test_code_problems_count_only_after_an_answer_with_a_code_fence() -> None:
    assert detector.analyze("segfault", PLAIN) == NO_PROBLEM
    assert detector.analyze("segfault", FENCED).keywords == ("segfault",)


def test_a_match_found_only_by_a_correction_pattern_is_reported_as_a_pattern() -> None:
    verdict = detector.analyze("The algorithm fails", PLAIN)

    assert verdict.keywords == ("pattern_match",)
    assert verdict.method == "pattern"
    assert verdict.severity == 3


def test_a_keyword_match_is_reported_as_keywords() -> None:
    assert detector.analyze("this is garbage", PLAIN).method == "keywords"


def test_only_the_first_correction_pattern_counts() -> None:
    verdict = detector.analyze("this code doesn't work, the logic is wrong", PLAIN)

    assert verdict.keywords.count("pattern_match") == 1


def test_the_original_lists_are_complete() -> None:
    assert len(KEYWORDS) == 127
    assert len(CORRECTION_PATTERNS) == 30
    assert len(CODE_ISSUES) == 199
    assert all(1 <= severity <= 5 for _, severity in (*KEYWORDS, *CODE_ISSUES))


def test_every_keyword_detects_itself_as_a_whole_word() -> None:
    for keyword, severity in KEYWORDS:
        verdict = detector.analyze(f"well, {keyword.upper()}!", PLAIN)
        assert keyword in verdict.keywords, keyword
        assert verdict.severity >= severity


def test_every_code_issue_detects_itself_after_a_code_answer() -> None:
    for phrase, severity in CODE_ISSUES:
        verdict = detector.analyze(f"I see: {phrase}.", FENCED)
        assert phrase in verdict.keywords, phrase
        assert verdict.severity >= severity


def test_a_smaller_word_list_can_be_injected() -> None:
    small = KeywordFeedbackDetector(keywords=[("meh", 1)], patterns=[], code_issues=[])

    assert small.analyze("meh", PLAIN).keywords == ("meh",)
    assert small.analyze("error", PLAIN) == NO_PROBLEM
