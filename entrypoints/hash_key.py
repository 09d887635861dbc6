"""``mcp-server-ai hash-key``: make an ``API_KEYS`` entry (docs/api.md#authentication).

    mcp-server-ai hash-key [--role user|admin]                 # a new random key and its entry
    mcp-server-ai hash-key --role admin --key -                # the entry of a key read from stdin
    mcp-server-ai hash-key --key - --scheme pbkdf2_sha256      # for a human-chosen key

The key is printed once and stored nowhere; only the entry goes into
``API_KEYS`` (entries are comma-separated). See ``domain/api_keys.py`` for
why ``sha256`` (salted HMAC) is the default for generated keys.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Sequence
from typing import TextIO

from domain.api_keys import PBKDF2_DEFAULT_ITERATIONS, hash_api_key

KEY_PREFIX = "mcp_"
MIN_KEY_CHARS = 16
SALT_BYTES = 16


def new_api_key() -> str:
    """A key with 256 random bits, URL- and header-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-server-ai hash-key", description="Make an API_KEYS entry.")
    parser.add_argument("--role", choices=("user", "admin"), default="user")
    parser.add_argument("--key", help="the key to hash ('-' reads it from stdin); default: generate one")
    parser.add_argument("--scheme", choices=("sha256", "pbkdf2_sha256"), default="sha256")
    parser.add_argument("--iterations", type=int, default=PBKDF2_DEFAULT_ITERATIONS, help="for pbkdf2_sha256")
    return parser


def hash_key_command(args: Sequence[str], stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    options = _parser().parse_args(list(args))
    out = stdout or sys.stdout
    generated = options.key is None
    key = new_api_key() if generated else options.key
    if key == "-":
        key = (stdin or sys.stdin).readline().strip()
    if len(key) < MIN_KEY_CHARS:
        print(f"hash-key: a key needs at least {MIN_KEY_CHARS} characters", file=sys.stderr)
        return 2
    iterations = options.iterations if options.scheme == "pbkdf2_sha256" else 0
    entry = hash_api_key(
        key, role=options.role, salt=secrets.token_bytes(SALT_BYTES), scheme=options.scheme, iterations=iterations
    )
    if generated:
        print(f"API key (give it to the client; it is shown only now): {key}", file=out)
    print(f"API_KEYS entry: {entry}", file=out)
    return 0
