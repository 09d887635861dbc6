"""Issue 11, items 4 and 13a: the complaint detector reads a bounded window, and a new question is no complaint."""

from __future__ import annotations

import pytest

from domain.feedback import ANSWER_WINDOW, PROMPT_HEAD, PROMPT_TAIL, KeywordFeedbackDetector
from domain.models import NO_PROBLEM

FENCED = "Here it is:\n```python\nprint('hi')\n```"
PLAIN = "Paris is the capital of France."

detector = KeywordFeedbackDetector()

# Real follow-ups that move on to a new question, though they name an error, an exception, a bug ...
NEW_QUESTIONS = [
    "thanks! now how do I raise an exception in python?",
    "Thanks. Now, how do I raise an exception?",
    "¿y cómo lanzo una excepción?",
    "¿Y cómo manejo un error en Go?",
    "vale, y como manejo un error?",
    "gracias! ahora, ¿qué es un segfault?",
    "Muchas gracias. ¿Cuál es la diferencia entre un error y una excepción?",
    "perfecto, ¿cómo evito un timeout?",
    "ok, what is a memory leak?",
    "Great. How do I add a timeout to the request?",
    "Could you explain how error handling works in Rust?",
    "What's the difference between a bug and a feature?",
    "Is there a security issue with eval in general?",
    "Thank you! And what about performance?",
    "Now write a function that logs every exception",
]

# Real complaints about the answer just given, in English and Spanish.
COMPLAINTS = [
    "that's wrong, it throws an exception",
    "no funciona, da error",
    "It throws an exception when I run it",
    "thanks, but it doesn't work",
    "ok, now it crashed",
    "how is this wrong? it fails on empty input",
    "¿por qué no funciona?",
    "gracias, pero sigue dando error",
    "Can you fix the bug in your code?",
    "what's wrong with this code?",
    "Tu código tiene un error",
    "I get a syntax error on line 3",
    "da error de sintaxis",
]


@pytest.mark.parametrize("prompt", NEW_QUESTIONS)
@pytest.mark.parametrize("previous", [FENCED, PLAIN], ids=["after-code", "after-prose"])
def test_a_follow_up_question_is_not_a_complaint(prompt: str, previous: str) -> None:
    assert detector.analyze(prompt, previous) == NO_PROBLEM


@pytest.mark.parametrize("prompt", COMPLAINTS)
def test_a_complaint_about_the_previous_answer_is_one(prompt: str) -> None:
    verdict = detector.analyze(prompt, FENCED)

    assert verdict.has_problem, prompt
    assert verdict.severity >= 3


def test_a_question_that_also_judges_the_answer_is_a_complaint() -> None:
    assert detector.analyze("thanks, now how do I fix it? it doesn't work", PLAIN).has_problem
    assert detector.analyze("¿y cómo lo arreglo? no funciona", PLAIN).has_problem


def test_a_contraction_does_not_open_a_question() -> None:
    # "can't" is not "can": this is a report, not a request.
    assert detector.analyze("can't run it, there is an error", PLAIN).has_problem


def test_a_complaint_in_the_middle_of_a_long_prompt_is_beyond_the_window() -> None:
    filler = "lorem ipsum " * 200
    prompt = filler + "that is wrong, it throws an exception " + filler

    assert len(filler) > PROMPT_HEAD + PROMPT_TAIL
    assert detector.analyze(prompt, FENCED) == NO_PROBLEM


def test_a_complaint_at_the_start_or_the_end_of_a_long_prompt_is_seen() -> None:
    pasted = "x = 1\n" * 5000

    assert detector.analyze("that's wrong, see:\n" + pasted, FENCED).has_problem
    assert detector.analyze(pasted + "\nand it throws an exception", FENCED).has_problem


def test_the_window_edges_are_where_the_constants_say() -> None:
    padding = "a" * PROMPT_HEAD
    just_inside = "wrong " + "a" * (PROMPT_HEAD - 6)
    assert detector.analyze(just_inside + " " + padding + padding, PLAIN).has_problem
    assert detector.analyze("a" * PROMPT_HEAD + " wrong " + padding + padding, PLAIN) == NO_PROBLEM
    assert detector.analyze(padding + padding + " wrong", PLAIN).has_problem
    assert detector.analyze(padding + padding + " wrong " + "a" * PROMPT_TAIL, PLAIN) == NO_PROBLEM


def test_a_phrase_cannot_run_across_the_gap_between_head_and_tail() -> None:
    prompt = "a" * PROMPT_HEAD + " no " + "b" * 1000 + " funciona"

    assert detector.analyze(prompt, PLAIN) == NO_PROBLEM


def test_a_code_fence_far_into_the_previous_answer_is_not_looked_for() -> None:
    late_fence = "word " * (ANSWER_WINDOW // 5 + 10) + FENCED

    assert detector.analyze("segfault", FENCED).keywords == ("segfault",)
    assert detector.analyze("segfault", late_fence) == NO_PROBLEM


def test_a_hundred_thousand_character_prompt_is_judged_on_its_window_only() -> None:
    # The prompt of the report: before the fix it cost about 0.75 s of event-loop time per request.
    assert detector.analyze("no " * 33333, FENCED) == NO_PROBLEM
    assert detector.analyze("no " * 33333 + "funciona", FENCED).keywords == ("no funciona",)


def test_runs_of_whitespace_are_read_as_one_space() -> None:
    assert detector.analyze("it   doesn't\n\twork", PLAIN).has_problem
    assert detector.analyze("review" + " " * 500 + "the code", FENCED).has_problem


def test_a_phrase_said_twice_is_counted_once() -> None:
    assert detector.analyze("error, error, error everywhere", PLAIN).keywords == ("error",)
