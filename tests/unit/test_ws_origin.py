"""The WebSocket origin check follows the CORS settings (docs/api.md#websocket, #cors)."""

from __future__ import annotations

import pytest

from entrypoints.config import Settings
from entrypoints.ws.origin import OriginPolicy

HOST = "gateway.example:8091"


def policy(**settings: object) -> OriginPolicy:
    return OriginPolicy.from_settings(Settings(**settings))  # type: ignore[arg-type]


def test_a_client_without_origin_is_not_a_browser_and_may_connect() -> None:
    assert policy().allows(None, HOST)
    assert policy().allows("", HOST)


def test_a_page_of_the_same_host_may_connect() -> None:
    assert policy().allows("https://gateway.example:8091", HOST)
    assert not policy().allows("https://gateway.example:8090", HOST)


def test_allow_all_lets_any_origin_in() -> None:
    assert policy(cors_allow_all_origins=True).allows("https://anywhere.example", HOST)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://app.example", True),
        ("https://APP.example/", True),
        ("https://app.example:444", False),
        ("http://app.example", False),
        ("https://eu.tenant.example", True),
        ("https://tenant.example", False),
        ("https://evil.example", False),
    ],
)
def test_listed_origins_match_exactly_or_by_wildcard(origin: str, allowed: bool) -> None:
    listed = policy(cors_allowed_origins="https://app.example, https://*.tenant.example")

    assert listed.allows(origin, HOST) is allowed


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://localhost:3000", True),
        ("http://127.0.0.1:5173", True),
        ("http://[::1]:8080", True),
        ("http://localhost.evil.example", False),
        ("http://evil.example/localhost", False),
    ],
)
def test_development_mode_admits_exactly_local_pages(origin: str, allowed: bool) -> None:
    assert policy(in_mode="development").allows(origin, HOST) is allowed
    assert not policy().allows(origin, HOST)
