"""The lock files are complete for every Python the package accepts, not only the one that wrote them.

A dependency that applies only to some 3.11 releases (redis needs async-timeout before 3.11.3) is missing
from a lock made on a later 3.11; pip then fetches it unpinned, or fails where no index is reachable, as
the image build on Debian bookworm's Python 3.11.2 did (deploy/test-image.sh).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# The oldest and the newest patch release of the lowest Python that pyproject.toml accepts (>=3.11).
PYTHONS = ["3.11.0", "3.11.2", "3.11.99"]


def locked(lock: str) -> dict[str, Requirement]:
    lines = (ROOT / lock).read_text(encoding="utf-8").splitlines()
    requirements = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {canonicalize_name(r.name): r for r in requirements}


def requires(pin: Requirement) -> list[Requirement]:
    """What the installed distribution asks for; a pin the running Python skips is not installed to ask."""
    if pin.marker is not None and not pin.marker.evaluate():
        return []
    return [Requirement(text) for text in metadata.requires(pin.name) or []]


def applies(requirement: Requirement, python: str) -> bool:
    if requirement.marker is None:
        return True
    environment = {**default_environment(), "python_full_version": python, "python_version": "3.11", "extra": ""}
    return requirement.marker.evaluate(environment)  # type: ignore[arg-type]


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
@pytest.mark.parametrize("python", PYTHONS)
def test_every_dependency_of_a_locked_package_is_locked_too(lock: str, python: str) -> None:
    pins = locked(lock)
    missing = {
        f"{name} needs {needed}"
        for name, pin in pins.items()
        if applies(pin, python)
        for needed in requires(pin)
        if applies(needed, python) and canonicalize_name(needed.name) not in pins
    }
    assert not missing, f"{lock} on Python {python}: {sorted(missing)}"
