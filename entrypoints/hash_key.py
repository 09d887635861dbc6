"""``mcp-server-ai hash-key``: make an ``API_KEYS`` entry (docs/api.md#authentication).

    mcp-server-ai hash-key [--role user|admin]                 # a new random key and its entry
    mcp-server-ai hash-key --role admin --key -                # the entry of a key read from stdin
    mcp-server-ai hash-key --key - --scheme pbkdf2_sha256      # for a human-chosen key
    mcp-server-ai hash-key --tools 'time|files__read_*'        # the upstream MCP tools the key may use

The key is printed once and stored nowhere; only the entry goes into
``API_KEYS`` (entries are comma-separated). Every key made here carries a
random lookup id, ``mcp_<id>_<secret>``, which the entry records as
``$id=<id>``: the gateway finds the entry by it and verifies one entry per
request, never every PBKDF2 entry. A chosen key (``--key``) is the secret
part: the client sends ``mcp_<id>_<chosen key>``, the prefix printed here. See
``domain/api_keys.py`` for why ``sha256`` (salted HMAC) is the default for
generated keys.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Sequence
from typing import TextIO

from domain.api_keys import PBKDF2_DEFAULT_ITERATIONS, hash_api_key, parse_key_entries, presented_key

MIN_KEY_CHARS = 16
SALT_BYTES = 16
LOOKUP_ID_BYTES = 6  # 12 hex characters: ids never collide by chance, and they are not secret


def new_secret() -> str:
    """256 random bits, URL- and header-safe."""
    return secrets.token_urlsafe(32)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-server-ai hash-key", description="Make an API_KEYS entry.")
    parser.add_argument("--role", choices=("user", "admin"), default="user")
    parser.add_argument("--key", help="the key to hash ('-' reads it from stdin); default: generate one")
    parser.add_argument("--scheme", choices=("sha256", "pbkdf2_sha256"), default="sha256")
    parser.add_argument("--iterations", type=int, default=PBKDF2_DEFAULT_ITERATIONS, help="for pbkdf2_sha256")
    parser.add_argument("--tools", default="", help="upstream MCP tools the key may use: patterns joined by '|'")
    return parser


def hash_key_command(args: Sequence[str], stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    options = _parser().parse_args(list(args))
    out = stdout or sys.stdout
    generated = options.key is None
    secret = new_secret() if generated else options.key
    if secret == "-":
        secret = (stdin or sys.stdin).readline().strip()
    if len(secret) < MIN_KEY_CHARS:
        print(f"hash-key: a key needs at least {MIN_KEY_CHARS} characters", file=sys.stderr)
        return 2
    lookup_id = secrets.token_hex(LOOKUP_ID_BYTES)
    iterations = options.iterations if options.scheme == "pbkdf2_sha256" else 0
    entry = hash_api_key(
        secret,
        role=options.role,
        salt=secrets.token_bytes(SALT_BYTES),
        scheme=options.scheme,
        iterations=iterations,
        lookup_id=lookup_id,
    )
    if options.tools:
        entry += f";tools={options.tools}"
        try:
            parse_key_entries(entry)
        except ValueError as exc:
            print(f"hash-key: --tools: {exc}", file=sys.stderr)
            return 2
    if generated:
        print(f"API key (give it to the client; it is shown only now): {presented_key(lookup_id, secret)}", file=out)
    else:
        print(f"The client sends its key with this prefix: {presented_key(lookup_id, '')}<the key>", file=out)
    print(f"API_KEYS entry: {entry}", file=out)
    return 0
