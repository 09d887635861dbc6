"""API keys with roles (docs/api.md#authentication): the stored form, and verification of a presented key.

``API_KEYS`` is a comma-separated list of entries ``<role>:<hash>``, ``role``
being ``user`` or ``admin``, optionally marked ``+feedback`` (``user+feedback``:
a complaint from this key retires a cached answer on its own, see
``application.feedback_loop``), and ``<hash>`` one of:

    sha256$<salt hex>$<HMAC-SHA256(salt, key) hex>[$id=<lookup id>]
    pbkdf2_sha256$<iterations>$<salt hex>$<PBKDF2-HMAC-SHA256(key, salt, iterations) hex>[$id=<lookup id>]

An entry may end with options after a ``;``: ``;tools=<pattern>[|<pattern>...]``
names the upstream MCP tools the key may list and call (``domain.tool_access``):
glob patterns over ``<server>__<tool>``, a bare server name standing for all of
its tools, ``*`` for every tool. A ``user`` entry without it reaches the
gateway's own MCP tools only; ``admin`` entries reach everything.

The lookup id is a short, non-secret name (``LOOKUP_ID``: 6 to 32 lower-case
letters and digits) that the key itself carries: an entry with ``$id=<id>`` is
proved by the key ``mcp_<id>_<secret>``, and its digest is of ``<secret>``.
The gateway finds the one entry to check by the id, so a presented key costs
at most one verification, and a key whose id names no entry costs none; an
entry without an id (made before ids existed) is tried against every key that
names no entry, as before. ``mcp-server-ai hash-key`` makes keys with an id;
an old entry gains one by appending ``$id=<id>`` and having its client send
``mcp_<id>_<old key>``.

Why ``sha256`` is the default: the keys ``mcp-server-ai hash-key`` generates
carry 256 random bits, so guessing one from its entry is as hopeless with one
hash as with a million; a slow KDF only protects *low-entropy* secrets, and on
an API gateway it would cost CPU on every request and let a flood of bad keys
burn it. The per-entry random salt keeps identical keys from giving identical
entries and rules out precomputed tables. ``pbkdf2_sha256`` is accepted for
operators who must use human-chosen keys; with it, only the first use of each
valid key pays the KDF (see ``KeyRing``), and ``application.key_verifier``
runs that KDF in a worker thread, a bounded number at a time.

Nothing here stores or returns a presented key: a principal is identified by
``key_id``, a short digest of the stored entry (not the lookup id, so that
giving an old entry an id keeps its identity), safe to log and to use as a
rate-limit subject. Digests are compared with ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Literal

import msgspec

Role = Literal["anonymous", "user", "admin"]
ROLES: tuple[Role, ...] = ("user", "admin")
FEEDBACK_MARK = "feedback"
PBKDF2_DEFAULT_ITERATIONS = 600_000
# The most ``hashlib.pbkdf2_hmac`` accepts (a C int): a larger count parsed, then every use raised OverflowError.
MAX_PBKDF2_ITERATIONS = 2**31 - 1
MIN_SALT_BYTES = 16
KEY_PREFIX = "mcp_"
LOOKUP_ID = re.compile(r"[0-9a-z]{6,32}")
TOOL_PATTERN = re.compile(r"[A-Za-z0-9_*?.\-]{1,160}")
_CACHE_LIMIT = 4096  # verified and refused keys remembered, each as a 32-byte digest


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling: a role, the id of the key that proved it (empty when anonymous), its feedback mark."""

    role: Role
    key_id: str = ""
    feedback: bool = False
    tool_patterns: tuple[str, ...] = ()  # the ``;tools=`` of its entry

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
    lookup_id: str = ""
    tool_patterns: tuple[str, ...] = ()

    @property
    def slow(self) -> bool:
        return self.scheme == "pbkdf2_sha256"

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


def hash_api_key(
    key: str, *, role: Role, salt: bytes, scheme: str = "sha256", iterations: int = 0, lookup_id: str = ""
) -> str:
    """The ``API_KEYS`` entry for ``key``; ``salt`` comes from the caller's random source.

    With ``lookup_id``, ``key`` is the secret part: the client sends ``mcp_<lookup_id>_<key>``.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if len(salt) < MIN_SALT_BYTES:
        raise ValueError(f"salt must have at least {MIN_SALT_BYTES} bytes")
    if lookup_id and not LOOKUP_ID.fullmatch(lookup_id):
        raise ValueError(f"a lookup id is {LOOKUP_ID.pattern}, got {lookup_id!r}")
    suffix = f"$id={lookup_id}" if lookup_id else ""
    if scheme == "sha256":
        return f"{role}:sha256${salt.hex()}${_digest(scheme, key.encode(), salt, 0).hex()}{suffix}"
    if scheme == "pbkdf2_sha256":
        rounds = iterations or PBKDF2_DEFAULT_ITERATIONS
        digest = _digest(scheme, key.encode(), salt, rounds).hex()
        return f"{role}:pbkdf2_sha256${rounds}${salt.hex()}${digest}{suffix}"
    raise ValueError(f"unknown scheme {scheme!r}; use sha256 or pbkdf2_sha256")


def presented_key(lookup_id: str, secret: str) -> str:
    """The key a client sends for an entry with ``lookup_id``."""
    return f"{KEY_PREFIX}{lookup_id}_{secret}"


def parse_key_entries(text: str) -> tuple[KeyEntry, ...]:
    """Parse ``API_KEYS``; ``ValueError`` names the faulty entry by position, never echoing it."""
    entries = []
    for position, raw in enumerate((part.strip() for part in text.split(",")), start=1):
        if raw:
            try:
                entries.append(_parse_entry(raw))
            except (ValueError, IndexError) as exc:
                raise ValueError(
                    f"entry {position} is not '<user|admin>[+feedback]:<hash>[;tools=<patterns>]' ({exc})"
                ) from None
    ids = [entry.lookup_id for entry in entries if entry.lookup_id]
    if len(ids) != len(set(ids)):
        raise ValueError("two entries have the same $id=: each lookup id must name one entry")
    return tuple(entries)


def _parse_entry(raw: str) -> KeyEntry:
    raw, _, options = raw.partition(";")
    tool_patterns = _parse_options(options)
    role_part, _, stored = raw.partition(":")
    role, *marks = role_part.split("+")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if any(mark != FEEDBACK_MARK for mark in marks):
        raise ValueError(f"unknown mark in {role_part!r}; the only one is +{FEEDBACK_MARK}")
    stored, lookup_id = _split_lookup_id(stored)
    scheme, *fields = stored.split("$")
    if scheme == "sha256" and len(fields) == 2:
        salt, digest = bytes.fromhex(fields[0]), bytes.fromhex(fields[1])
        entry = KeyEntry(role=role, scheme="sha256", salt=salt, digest=digest, lookup_id=lookup_id)
    elif scheme == "pbkdf2_sha256" and len(fields) == 3:
        iterations = int(fields[0])
        if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
            raise ValueError(f"iterations must be between 1 and {MAX_PBKDF2_ITERATIONS}")
        salt, digest = bytes.fromhex(fields[1]), bytes.fromhex(fields[2])
        entry = KeyEntry(
            role=role, scheme="pbkdf2_sha256", salt=salt, digest=digest, iterations=iterations, lookup_id=lookup_id
        )
    else:
        raise ValueError("the hash must be sha256$<salt>$<digest> or pbkdf2_sha256$<iterations>$<salt>$<digest>")
    if len(entry.salt) < MIN_SALT_BYTES or len(entry.digest) != 32:
        raise ValueError(f"the salt needs at least {MIN_SALT_BYTES} bytes and the digest 32")
    return msgspec.structs.replace(entry, feedback=bool(marks), tool_patterns=tool_patterns)


def _parse_options(options: str) -> tuple[str, ...]:
    """``tools=<pattern>|<pattern>`` (the one option) → the patterns; nothing → ``()``."""
    if not options.strip():
        return ()
    name, separator, value = options.strip().partition("=")
    if name != "tools" or not separator:
        raise ValueError("the only option after ';' is tools=<pattern>[|<pattern>...]")
    patterns = tuple(pattern.strip() for pattern in value.split("|") if pattern.strip())
    for pattern in patterns:
        if not TOOL_PATTERN.fullmatch(pattern):
            raise ValueError(f"a tool pattern is {TOOL_PATTERN.pattern}, got {pattern!r}")
    return patterns


def _split_lookup_id(stored: str) -> tuple[str, str]:
    """``<hash>$id=<lookup id>`` → ``(<hash>, <lookup id>)``; no id → ``(stored, "")``."""
    head, marker, lookup_id = stored.rpartition("$id=")
    if not marker:
        return stored, ""
    if not LOOKUP_ID.fullmatch(lookup_id):
        raise ValueError(f"the lookup id after $id= must be {LOOKUP_ID.pattern}")
    return head, lookup_id


# Headers that carry a key as it is, in order of precedence: the gateway's own, then Azure OpenAI's (its SDK
# sends ``api-key``). ``Authorization: Bearer <key>`` (OpenAI's and Anthropic's SDKs) comes after both.
KEY_HEADERS = ("x-api-key", "api-key")


def credential_from(authorization: str | None, *api_keys: str | None) -> str | None:
    """The key a caller presented: the first non-blank of ``api_keys`` (the ``KEY_HEADERS`` in order), else an
    ``Authorization: Bearer`` token. A blank header, or an ``Authorization`` of another scheme, is no key."""
    for candidate in api_keys:
        if candidate and candidate.strip():
            return candidate.strip()
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


def key_header(headers: Mapping[str, str]) -> str:
    """The first non-blank of the ``KEY_HEADERS`` (lower-case names), stripped; ``""`` when none is."""
    for name in KEY_HEADERS:
        value = headers.get(name, "").strip()
        if value:
            return value
    return ""


def credential_from_headers(headers: Mapping[str, str]) -> str | None:
    """``credential_from`` over lower-case header names (gRPC metadata, WebSocket handshake, HTTP)."""
    return credential_from(headers.get("authorization"), *(headers.get(name) for name in KEY_HEADERS))


class KeyCheck:
    """One presented key on its way to a verdict.

    ``settled`` when the caches (or the absence of any entry it could match)
    already decide; otherwise ``run`` compares it with its ``candidates``, which
    is slow when one of them is PBKDF2 (``slow``): callers on an event loop run
    it in a thread, and hand the verdict back to ``KeyRing.record``.
    """

    __slots__ = ("candidates", "fingerprint", "principal", "settled")

    def __init__(
        self,
        fingerprint: bytes,
        *,
        candidates: tuple[tuple[KeyEntry, bytes], ...] = (),
        settled: bool = False,
        principal: Principal | None = None,
    ) -> None:
        self.fingerprint = fingerprint
        self.candidates = candidates
        self.settled = settled or not candidates
        self.principal = principal

    @property
    def slow(self) -> bool:
        return any(entry.slow for entry, _ in self.candidates)

    def run(self) -> Principal | None:
        found = None
        for entry, secret in self.candidates:  # no early exit: every candidate is compared, whatever matches
            if entry.matches(secret) and found is None:
                found = Principal(
                    role=entry.role, key_id=entry.key_id, feedback=entry.feedback, tool_patterns=entry.tool_patterns
                )
        return found


class KeyRing:
    """The configured keys, and verification that stays cheap on the hot path.

    A key ``mcp_<id>_<secret>`` whose id names an entry is checked against that
    entry only; any other key against the entries without an id. Before that,
    a key is looked up by its SHA-256 in two small in-memory maps (keys already
    verified, keys already refused), so each distinct key pays its comparisons
    (and a PBKDF2) once. The maps hold digests only and are cleared when they
    reach their limit.
    """

    def __init__(self, entries: Iterable[KeyEntry]) -> None:
        self._entries = tuple(entries)
        self._by_id = {entry.lookup_id: entry for entry in self._entries if entry.lookup_id}
        self._unindexed = tuple(entry for entry in self._entries if not entry.lookup_id)
        self._known: dict[bytes, Principal] = {}
        self._refused: set[bytes] = set()

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    @property
    def slow_without_id(self) -> int:
        """How many PBKDF2 entries have no lookup id (each costs a KDF for every unknown key)."""
        return sum(entry.slow for entry in self._unindexed)

    def check(self, presented: str) -> KeyCheck:
        """What it takes to verify ``presented``: nothing more when settled, else ``KeyCheck.run``."""
        raw = presented.encode()
        fingerprint = hashlib.sha256(raw).digest()
        principal = self._known.get(fingerprint)
        if principal is not None or fingerprint in self._refused:
            return KeyCheck(fingerprint, settled=True, principal=principal)
        entry = self._indexed_entry(presented)
        if entry is not None:
            return KeyCheck(fingerprint, candidates=((entry, raw[len(KEY_PREFIX) + len(entry.lookup_id) + 1 :]),))
        return KeyCheck(fingerprint, candidates=tuple((candidate, raw) for candidate in self._unindexed))

    def record(self, check: KeyCheck, principal: Principal | None) -> None:
        """Remember the verdict of ``check.run()`` so that the same key is not verified again."""
        if principal is None:
            if len(self._refused) >= _CACHE_LIMIT:
                self._refused.clear()
            self._refused.add(check.fingerprint)
            return
        if len(self._known) >= _CACHE_LIMIT:
            self._known.clear()
        self._known[check.fingerprint] = principal

    def verify(self, presented: str) -> Principal | None:
        """The principal the key proves, or ``None`` when it matches no entry (slow work done inline)."""
        check = self.check(presented)
        if check.settled:
            return check.principal
        principal = check.run()
        self.record(check, principal)
        return principal

    def _indexed_entry(self, presented: str) -> KeyEntry | None:
        if not self._by_id or not presented.startswith(KEY_PREFIX):
            return None
        lookup_id, separator, _ = presented[len(KEY_PREFIX) :].partition("_")
        return self._by_id.get(lookup_id) if separator else None
