"""Parser fuzzing: every parser of outside bytes, as Hypothesis properties (docs/reliability.md#parser-fuzzing).

Each ``test_*`` property states the only outcomes a parser may have (a value,
or its own domain error) and runs a fixed, derandomized number of examples in
the ordinary pytest run. ``python -m tests.fuzz --seconds 60`` runs the same
properties for a long time under atheris (coverage-guided libFuzzer), through
Hypothesis's ``fuzz_one_input``: one definition, two engines.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def short(examples: int) -> settings:
    """The bounded, reproducible form for the ordinary test run: same examples every time, nothing saved."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
