"""``python -m bench.feedback_detector``: CPU time of one complaint check on hostile and ordinary follow-ups.

Issue 11 item 4: the detector runs on the event loop for every session turn, so
its cost must not grow with the prompt. Each line is the mean wall time of
``KeywordFeedbackDetector.analyze`` after an answer with a code fence. To
compare with another revision, run it from that revision's tree (for example
``git archive <rev> domain | tar -x -C /tmp/old`` and run from ``/tmp/old``
with ``PYTHONPATH=/tmp/old``).
"""

from __future__ import annotations

import time

from domain.feedback import KeywordFeedbackDetector

FENCED_ANSWER = "Here it is:\n```python\nprint(1)\n```"
PROMPTS = {
    '"no " * 33333': "no " * 33333,
    '"a" * 100_000': "a" * 100_000,
    '"help me " * 12500': "help me " * 12500,
    '"review" + " " * 99_990 + "code"': "review" + " " * 99_990 + "code",
    "a short complaint": "that code has a bug, no funciona",
}


def main() -> None:
    detector = KeywordFeedbackDetector()
    for name, prompt in PROMPTS.items():
        detector.analyze(prompt, FENCED_ANSWER)
        rounds = 20 if len(prompt) < 1000 else 3
        started = time.perf_counter()
        for _ in range(rounds):
            detector.analyze(prompt, FENCED_ANSWER)
        print(f"{name:36s} {(time.perf_counter() - started) / rounds * 1000:10.3f} ms")


if __name__ == "__main__":
    main()
