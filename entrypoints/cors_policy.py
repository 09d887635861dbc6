"""CORS from the ``CORS_*`` variables (docs/api.md#cors), parsed and checked once at startup.

    CORS_ALLOW_ALL_ORIGINS   true → any origin
    CORS_ALLOWED_ORIGINS     comma list of scheme://host[:port], ``*`` wildcards in the host
    CORS_ALLOW_METHODS, CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, CORS_ALLOW_CREDENTIALS, CORS_MAX_AGE

A listener must not crash on an empty list or an origin without
``http(s)://``; here a bad value is a ``ConfigError`` naming the variable, and
with neither allow-all nor a list CORS is simply off (same-origin pages and
non-browser clients work; browsers refuse cross-origin reads on their own).
Allow-all with credentials echoes the caller's origin instead of ``*``, which
browsers reject next to ``Allow-Credentials: true``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Protocol

from entrypoints.setting_values import ConfigError, split_list

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9*.\-\[\]:]+$")
_METHOD = re.compile(r"^[A-Z]+$")
_HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~\-]+$")


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    allow_all: bool
    origins: frozenset[str]
    patterns: tuple[str, ...]
    allow_methods: str
    allow_headers: str
    expose_headers: str
    credentials: bool
    max_age: int

    def allows(self, origin: str) -> bool:
        if self.allow_all:
            return True
        origin = origin.lower()
        return origin in self.origins or any(fnmatchcase(origin, pattern) for pattern in self.patterns)

    def allow_origin_value(self, origin: str) -> str:
        return "*" if self.allow_all and not self.credentials else origin


class CorsSettings(Protocol):
    """The settings CORS is read from (``entrypoints.config.Settings`` has them)."""

    @property
    def cors_allowed_origins(self) -> str: ...
    @property
    def cors_allow_all_origins(self) -> bool: ...
    @property
    def cors_allow_methods(self) -> str: ...
    @property
    def cors_allow_headers(self) -> str: ...
    @property
    def cors_expose_headers(self) -> str: ...
    @property
    def cors_allow_credentials(self) -> bool: ...
    @property
    def cors_max_age(self) -> int: ...


def parse_cors(settings: CorsSettings) -> CorsPolicy | None:
    """The policy, ``None`` when CORS is off; ``ConfigError`` names the variable of a bad value."""
    origins = [origin.rstrip("/").lower() for origin in split_list(settings.cors_allowed_origins)]
    allow_all = settings.cors_allow_all_origins or "*" in origins
    for origin in origins:
        if origin != "*" and not _ORIGIN.match(origin):
            raise ConfigError(
                f"CORS_ALLOWED_ORIGINS: {origin!r} is not an origin; write scheme://host[:port], "
                "e.g. https://app.example.com (a '*' may stand for part of the host)"
            )
    methods = [method.upper() for method in split_list(settings.cors_allow_methods)]
    _check_tokens("CORS_ALLOW_METHODS", methods, _METHOD)
    allow_headers = split_list(settings.cors_allow_headers)
    _check_tokens("CORS_ALLOW_HEADERS", allow_headers, _HEADER)
    expose_headers = split_list(settings.cors_expose_headers)
    _check_tokens("CORS_EXPOSE_HEADERS", expose_headers, _HEADER)
    if not allow_all and not origins:
        return None
    return CorsPolicy(
        allow_all=allow_all,
        origins=frozenset(o for o in origins if "*" not in o),
        patterns=tuple(o for o in origins if "*" in o and o != "*"),
        allow_methods=",".join(methods),
        allow_headers=",".join(allow_headers),
        expose_headers=",".join(expose_headers),
        credentials=settings.cors_allow_credentials,
        max_age=settings.cors_max_age,
    )


def _check_tokens(variable: str, values: list[str], pattern: re.Pattern[str]) -> None:
    for value in values:
        if not pattern.match(value):
            raise ConfigError(f"{variable}: {value!r} is not a valid name")
