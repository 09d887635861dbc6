"""Which browser origins may open a WebSocket (docs/api.md#websocket, #cors), from the CORS settings.

A request without ``Origin`` is not from a browser (curl, websocat, a back end)
and is allowed: the origin check protects browsers' users, not the server. A
page served by the gateway itself (same host) is allowed. Otherwise the origin
must be allowed by ``CORS_ALLOW_ALL_ORIGINS`` or listed in
``CORS_ALLOWED_ORIGINS`` (``*`` wildcards allowed), or be a localhost page in
``IN_MODE=development``. Matching "contains localhost" would let
``http://localhost.evil.example`` in; here the host must be exactly local.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from entrypoints.config import Settings, split_list

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True)
class OriginPolicy:
    allow_all: bool = False
    allowed: tuple[str, ...] = ()
    development: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> OriginPolicy:
        allowed = tuple(origin.rstrip("/").lower() for origin in split_list(settings.cors_allowed_origins))
        return cls(allow_all=settings.cors_allow_all_origins, allowed=allowed, development=settings.development)

    def allows(self, origin: str | None, host: str | None) -> bool:
        if not origin or self.allow_all:
            return True
        origin = origin.rstrip("/").lower()
        parts = urlsplit(origin)
        if host and parts.netloc == host.lower():
            return True
        if any(origin == entry or ("*" in entry and fnmatchcase(origin, entry)) for entry in self.allowed):
            return True
        return self.development and parts.hostname in LOCAL_HOSTS
