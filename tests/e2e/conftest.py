from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    """A gateway on its embedded defaults, shared by the tests of one module."""
    with ServerProcess() as running:
        yield running
