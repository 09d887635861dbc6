"""API keys with roles (SPEC §13): the stored form, and verification of a presented key.

``API_KEYS`` is a comma-separated list of entries ``<role>:<hash>``, ``role``
being ``user`` or ``admin``, optionally marked ``+feedback`` (``user+feedback``:
a complaint from this key retires a cached answer on its own, see
``application.feedback_loop``), and ``<hash>`` one of:

    sha256$<salt hex>$<HMAC-SHA256(salt, key) hex>
    pbkdf2_sha256$<iterations>$<salt hex>$<PBKDF2-HMAC-SHA256(key, salt, iterations) hex>

Why ``sha256`` is the default: the keys ``mcp-server-ai hash-key`` generates
carry 256 random bits, so guessing one from its entry is as hopeless with one
hash as with a million; a slow KDF only protects *low-entropy* secrets, and on
an API gateway it would cost CPU on every request and let a flood of bad keys
burn it. The per-entry random salt keeps identical keys from giving identical
entries and rules out precomputed tables. ``pbkdf2_sha256`` is accepted for
operators who must use human-chosen keys; with it, only the first use of each
valid key pays the KDF (see ``KeyRing``).

Nothing here stores or returns a presented key: a principal is identified by
``key_id``, a short digest of the stored entry, safe to log and to use as a
rate-limit subject. Digests are compared with ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Literal

import msgspec

Role = Literal["anonymous", "user", "admin"]
ROLES: tuple[Role, ...] = ("user", "admin")
FEEDBACK_MARK = "feedback"
PBKDF2_DEFAULT_ITERATIONS = 600_000
MIN_SALT_BYTES = 16
_CACHE_LIMIT = 4096  # verified and refused keys remembered, each as a 32-byte digest


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling: a role, the id of the key that proved it (empty when anonymous), its feedback mark."""

    role: Role
    key_id: str = ""
    feedback: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


ANONYMOUS = Principal(role="anonymous")


class KeyEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One parsed ``API_KEYS`` entry."""

    role: Role
    scheme: Literal["sha256", "pbkdf2_sha256"]
    salt: bytes
    digest: bytes
    iterations: int = 0
    feedback: bool = False

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.salt + self.digest).hexdigest()[:12]

    def matches(self, key: bytes) -> bool:
        return hmac.compare_digest(_digest(self.scheme, key, self.salt, self.iterations), self.digest)


def _digest(scheme: str, key: bytes, salt: bytes, iterations: int) -> bytes:
    if scheme == "sha256":
        return hmac.digest(salt, key, "sha256")
    return hashlib.pbkdf2_hmac("sha256", key, salt, iterations)


def hash_api_key(key: str, *, role: Role, salt: bytes, scheme: str = "sha256", iterations: int = 0) -> str:
    """The ``API_KEYS`` entry for ``key``; ``salt`` comes from the caller's random source."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if len(salt) < MIN_SALT_BYTES:
        raise ValueError(f"salt must have at least {MIN_SALT_BYTES} bytes")
    if scheme == "sha256":
        return f"{role}:sha256${salt.hex()}${_digest(scheme, key.encode(), salt, 0).hex()}"
    if scheme == "pbkdf2_sha256":
        rounds = iterations or PBKDF2_DEFAULT_ITERATIONS
        digest = _digest(scheme, key.encode(), salt, rounds).hex()
        return f"{role}:pbkdf2_sha256${rounds}${salt.hex()}${digest}"
    raise ValueError(f"unknown scheme {scheme!r}; use sha256 or pbkdf2_sha256")


def parse_key_entries(text: str) -> tuple[KeyEntry, ...]:
    """Parse ``API_KEYS``; ``ValueError`` names the faulty entry by position, never echoing it."""
    entries = []
    for position, raw in enumerate((part.strip() for part in text.split(",")), start=1):
        if raw:
            try:
                entries.append(_parse_entry(raw))
            except (ValueError, IndexError) as exc:
                raise ValueError(f"entry {position} is not '<user|admin>[+feedback]:<hash>' ({exc})") from None
    return tuple(entries)


def _parse_entry(raw: str) -> KeyEntry:
    role_part, _, stored = raw.partition(":")
    role, *marks = role_part.split("+")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if any(mark != FEEDBACK_MARK for mark in marks):
        raise ValueError(f"unknown mark in {role_part!r}; the only one is +{FEEDBACK_MARK}")
    scheme, *fields = stored.split("$")
    if scheme == "sha256" and len(fields) == 2:
        salt, digest = bytes.fromhex(fields[0]), bytes.fromhex(fields[1])
        entry = KeyEntry(role=role, scheme="sha256", salt=salt, digest=digest)
    elif scheme == "pbkdf2_sha256" and len(fields) == 3:
        iterations = int(fields[0])
        if iterations < 1:
            raise ValueError("iterations must be positive")
        salt, digest = bytes.fromhex(fields[1]), bytes.fromhex(fields[2])
        entry = KeyEntry(role=role, scheme="pbkdf2_sha256", salt=salt, digest=digest, iterations=iterations)
    else:
        raise ValueError("the hash must be sha256$<salt>$<digest> or pbkdf2_sha256$<iterations>$<salt>$<digest>")
    if len(entry.salt) < MIN_SALT_BYTES or len(entry.digest) != 32:
        raise ValueError(f"the salt needs at least {MIN_SALT_BYTES} bytes and the digest 32")
    return msgspec.structs.replace(entry, feedback=bool(marks))


def credential_from(authorization: str | None, api_key: str | None) -> str | None:
    """The key a caller presented: ``X-API-Key``, else an ``Authorization: Bearer`` token."""
    if api_key:
        return api_key.strip() or None
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


def credential_from_headers(headers: Mapping[str, str]) -> str | None:
    """``credential_from`` over lower-case header names (gRPC metadata, WebSocket handshake)."""
    return credential_from(headers.get("authorization"), headers.get("x-api-key"))


class KeyRing:
    """The configured keys, and verification that stays cheap on the hot path.

    A presented key is first looked up by its SHA-256 in two small in-memory
    maps (keys already verified, keys already refused), so each distinct key
    pays the entry comparisons (and a PBKDF2) once. The maps hold digests only
    and are cleared when they reach their limit.
    """

    def __init__(self, entries: Iterable[KeyEntry]) -> None:
        self._entries = tuple(entries)
        self._known: dict[bytes, Principal] = {}
        self._refused: set[bytes] = set()

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    def verify(self, presented: str) -> Principal | None:
        """The principal the key proves, or ``None`` when it matches no entry."""
        raw = presented.encode()
        fingerprint = hashlib.sha256(raw).digest()
        principal = self._known.get(fingerprint)
        if principal is not None or fingerprint in self._refused:
            return principal
        principal = self._match(raw)
        if principal is None:
            _remember(self._refused, fingerprint)
        else:
            if len(self._known) >= _CACHE_LIMIT:
                self._known.clear()
            self._known[fingerprint] = principal
        return principal

    def _match(self, raw: bytes) -> Principal | None:
        found = None
        for entry in self._entries:  # no early exit: every entry is compared, whatever matches
            if entry.matches(raw) and found is None:
                found = Principal(role=entry.role, key_id=entry.key_id, feedback=entry.feedback)
        return found


def _remember(refused: set[bytes], fingerprint: bytes) -> None:
    if len(refused) >= _CACHE_LIMIT:
        refused.clear()
    refused.add(fingerprint)
