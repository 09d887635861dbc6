"""Number settings that are not numbers one can use (issue 11, item 14).

``SHUTDOWN_GRACE_SECONDS=inf`` passed the ``> 0`` bound and the process then
crashed with an ``OverflowError`` traceback. Every float setting must refuse
``inf``, ``-inf`` and ``nan`` with a configuration error naming the variable.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from entrypoints.config import ConfigError, Settings, load_settings
from tests.support.server import REPO_ROOT

FLOAT_SETTINGS = sorted(
    name.upper() for name in Settings.__struct_fields__ if isinstance(getattr(Settings(), name), float)
)


def test_the_float_settings_are_found() -> None:
    assert {"SHUTDOWN_GRACE_SECONDS", "MOCK_LATENCY_MS", "RATE_LIMIT_RPS", "TEMPERATURE"} <= set(FLOAT_SETTINGS)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity", "+inf", "NaN"])
@pytest.mark.parametrize("variable", FLOAT_SETTINGS)
def test_a_non_finite_number_is_a_configuration_error_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings([], {variable: value}, None)


def test_a_duration_too_long_for_a_timer_is_refused() -> None:
    with pytest.raises(ConfigError, match="REDIS_TIMEOUT_SECONDS"):
        load_settings([], {"REDIS_TIMEOUT_SECONDS": "1e300"}, None)


def test_the_server_exits_with_a_configuration_error_not_a_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "serve"],
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT), "SHUTDOWN_GRACE_SECONDS": "inf", "HTTP_PORT": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "configuration error: SHUTDOWN_GRACE_SECONDS='inf'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HEADER_TIMEOUT_SECONDS", "0"),
        ("BODY_TIMEOUT_SECONDS", "-1"),
        ("MAX_HEADER_BYTES", "100"),
        ("MAX_CONNECTIONS", "0"),
        ("MAX_CONNECTIONS", "many"),
    ],
)
def test_a_connection_limit_that_cannot_work_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings([], {variable: value}, None)
