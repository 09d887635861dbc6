"""Settings: flags over environment over .env over defaults, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.config import ConfigError, load_settings


def test_no_configuration_gives_the_embedded_defaults() -> None:
    settings = load_settings([], {}, None)
    assert (settings.http_port, settings.ws_port, settings.grpc_port) == (8090, 8091, 50051)
    assert (settings.cache_backend, settings.session_backend) == ("memory", "memory")
    assert settings.mock_provider_enabled and settings.temperature == 0.7


def test_flags_win_over_environment_which_wins_over_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("HTTP_PORT=7000\nWS_PORT=7001\nGRPC_PORT=7002  # a comment\n")
    settings = load_settings(["--grpc", "9002"], {"WS_PORT": "8001"}, dotenv)
    assert (settings.http_port, settings.ws_port, settings.grpc_port) == (7000, 8001, 9002)


def test_the_originals_single_dash_flags_work() -> None:
    settings = load_settings(["-http=8111", "-ws=8112", "-grpc=8113", "-debug"], {}, None)
    assert (settings.http_port, settings.ws_port, settings.grpc_port) == (8111, 8112, 8113)
    assert settings.log_level == "debug"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"HTTP_PORT": "abc"}, "HTTP_PORT"),
        ({"HTTP_PORT": "70000"}, "HTTP_PORT"),
        ({"TEMPERATURE": "2.5"}, "TEMPERATURE"),
        ({"CACHE_ENABLED": "maybe"}, "CACHE_ENABLED"),
        ({"CACHE_BACKEND": "memcached"}, "CACHE_BACKEND"),
        ({"CACHE_BACKEND": "redis"}, "REDIS_URL"),
        ({"SESSION_BACKEND": "postgres"}, "POSTGRES_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"ENABLE_TLS": "true"}, "TLS_CERT_PATH"),
        ({"WS_PORT": "8090"}, "WS_PORT"),
    ],
)
def test_a_wrong_value_names_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings([], env, None)


def test_a_proxy_in_the_environment_selects_the_sdk_upstream_client() -> None:
    assert load_settings([], {}, None).upstream_client == "fast"
    assert load_settings([], {"HTTPS_PROXY": "http://proxy:3128"}, None).upstream_client == "sdk"
    explicit = {"HTTPS_PROXY": "http://proxy:3128", "UPSTREAM_CLIENT": "fast"}
    assert load_settings([], explicit, None).upstream_client == "fast"
