"""Inputs the parser fuzzing found to fail, kept as plain tests (docs/reliability.md#parser-fuzzing)."""

from __future__ import annotations

import pytest

from domain.api_keys import MAX_PBKDF2_ITERATIONS, parse_key_entries

SALT, DIGEST = "00" * 16, "00" * 32


def test_a_pbkdf2_entry_with_more_iterations_than_hashlib_takes_is_refused_when_parsed() -> None:
    # Before: the entry parsed, and every request presenting a key then failed with OverflowError.
    with pytest.raises(ValueError, match="iterations must be between 1 and"):
        parse_key_entries(f"user:pbkdf2_sha256${MAX_PBKDF2_ITERATIONS + 1}${SALT}${DIGEST}")


def test_a_pbkdf2_entry_at_the_iteration_limit_still_parses() -> None:
    (entry,) = parse_key_entries(f"user:pbkdf2_sha256${MAX_PBKDF2_ITERATIONS}${SALT}${DIGEST}")
    assert entry.iterations == MAX_PBKDF2_ITERATIONS
