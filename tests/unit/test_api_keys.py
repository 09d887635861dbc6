"""API keys: the stored form, verification, and access control by role (docs/api.md#authentication)."""

from __future__ import annotations

import io

import pytest

from application.access import AccessControl
from domain.api_keys import (
    ANONYMOUS,
    KeyRing,
    credential_from,
    credential_from_headers,
    hash_api_key,
    key_header,
    parse_key_entries,
    presented_key,
)
from domain.errors import PermissionDenied, Unauthenticated
from entrypoints.hash_key import hash_key_command

SALT = bytes(range(16))
USER_KEY = "mcp_user-key-0123456789abcdef0123456789"
ADMIN_KEY = "mcp_admin-key-0123456789abcdef012345678"


def ring_entries() -> str:
    return ",".join(
        (
            hash_api_key(USER_KEY, role="user", salt=SALT),
            hash_api_key(ADMIN_KEY, role="admin", salt=bytes(reversed(SALT)), scheme="pbkdf2_sha256", iterations=1000),
        )
    )


def ring() -> KeyRing:
    return KeyRing(parse_key_entries(ring_entries()))


def test_a_key_proves_the_role_of_its_entry_and_nothing_else_does() -> None:
    keys = ring()
    user, admin = keys.verify(USER_KEY), keys.verify(ADMIN_KEY)
    assert user is not None and user.role == "user"
    assert admin is not None and admin.role == "admin"
    assert keys.verify(USER_KEY + "x") is None
    assert keys.verify("") is None


def test_verifying_the_same_key_twice_gives_the_same_principal() -> None:
    keys = ring()
    assert keys.verify(USER_KEY) == keys.verify(USER_KEY)
    assert keys.verify("wrong-key-wrong-key") is None
    assert keys.verify("wrong-key-wrong-key") is None


def test_an_entry_never_contains_the_key_and_two_salts_give_two_entries() -> None:
    first = hash_api_key(USER_KEY, role="user", salt=SALT)
    second = hash_api_key(USER_KEY, role="user", salt=bytes(16))
    assert USER_KEY not in first
    assert first != second
    assert first.startswith("user:sha256$")


def test_the_key_id_is_stable_and_reveals_nothing_of_the_key() -> None:
    principal = ring().verify(USER_KEY)
    assert principal is not None and len(principal.key_id) == 12
    assert principal.key_id not in USER_KEY


@pytest.mark.parametrize(
    "entry",
    ["root:sha256$00$11", "user:md5$aa$bb", "user:sha256$zz$zz", "user:sha256$" + "00" * 4 + "$" + "11" * 32, "user"],
)
def test_a_malformed_entry_is_refused_with_its_position_and_without_its_text(entry: str) -> None:
    valid = hash_api_key(USER_KEY, role="user", salt=SALT)
    with pytest.raises(ValueError, match="entry 2") as caught:
        parse_key_entries(f"{valid},{entry}")
    stored = entry.partition(":")[2]
    assert not stored or stored not in str(caught.value)


def test_the_credential_comes_from_x_api_key_or_a_bearer_token() -> None:
    assert credential_from(None, "k1") == "k1"
    assert credential_from("Bearer k2", None) == "k2"
    assert credential_from("bearer   k3 ", None) == "k3"
    assert credential_from("Basic abc", None) is None
    assert credential_from(None, None) is None


def test_azure_clients_api_key_header_is_a_credential_too() -> None:
    assert credential_from_headers({"api-key": " azure-key "}) == "azure-key"
    assert key_header({"api-key": "azure-key"}) == "azure-key"


def test_x_api_key_wins_over_api_key_which_wins_over_bearer() -> None:
    every = {"authorization": "Bearer from-bearer", "x-api-key": "from-x", "api-key": "from-azure"}
    assert credential_from_headers(every) == "from-x"
    assert credential_from_headers({**every, "x-api-key": ""}) == "from-azure"
    assert credential_from_headers({"authorization": "Bearer from-bearer", "api-key": "   "}) == "from-bearer"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-api-key": ""},
        {"x-api-key": " \t "},
        {"api-key": ""},
        {"authorization": ""},
        {"authorization": "Bearer"},
        {"authorization": "Bearer    "},
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"authorization": "garbage"},
        {"authorization": " ", "x-api-key": " ", "api-key": " "},
    ],
)
def test_a_blank_or_foreign_header_is_no_key_at_all(headers: dict[str, str]) -> None:
    assert credential_from_headers(headers) is None
    assert key_header(headers) == ""


@pytest.mark.parametrize(
    "garbage", ["\x00\xff", "mcp_", "mcp__", "mcp_x_", "Bearer Bearer", "\u00e9" * 5000, "mcp_a b c"]
)
async def test_a_garbage_key_is_refused_as_invalid_and_never_crashes(garbage: str) -> None:
    access = AccessControl(keys=ring(), limiter=None)
    for presented in ({"x-api-key": garbage}, {"api-key": garbage}, {"authorization": f"Bearer {garbage}"}):
        with pytest.raises(Unauthenticated):
            await access.authenticate_headers(presented)


async def test_a_blank_key_header_beside_a_valid_bearer_token_lets_the_token_through() -> None:
    access = AccessControl(keys=ring(), limiter=None)
    principal = await access.authenticate(f"Bearer {USER_KEY}", "", "  ")
    assert principal.role == "user"


async def test_without_keys_everyone_may_do_everything() -> None:
    access = AccessControl(keys=KeyRing(()), limiter=None)
    principal = await access.authenticate(None, None)
    assert principal == ANONYMOUS
    access.authorize(principal, admin_required=True)


async def test_with_keys_a_missing_or_wrong_key_is_unauthenticated() -> None:
    access = AccessControl(keys=ring(), limiter=None)
    with pytest.raises(Unauthenticated):
        await access.authenticate(None, None)
    with pytest.raises(Unauthenticated):
        await access.authenticate("Bearer not-a-key-at-all", None)


async def test_an_admin_operation_needs_an_admin_key() -> None:
    access = AccessControl(keys=ring(), limiter=None)
    user = await access.authenticate(f"Bearer {USER_KEY}")
    admin = await access.authenticate_headers({"x-api-key": ADMIN_KEY})
    access.authorize(user, admin_required=False)
    access.authorize(admin, admin_required=True)
    with pytest.raises(PermissionDenied):
        access.authorize(user, admin_required=True)


def hash_key_output(args: list[str], stdin: str = "") -> dict[str, str]:
    out = io.StringIO()
    assert hash_key_command(args, stdin=io.StringIO(stdin), stdout=out) == 0
    return dict(line.split(": ", 1) for line in out.getvalue().splitlines() if ": " in line)


def test_hash_key_makes_a_new_key_with_a_lookup_id_and_an_entry_that_verifies_it() -> None:
    lines = hash_key_output(["--role", "admin"])
    key = next(value for name, value in lines.items() if name.startswith("API key"))
    entry = lines["API_KEYS entry"]
    lookup_id = entry.rpartition("$id=")[2]
    assert key.startswith(f"mcp_{lookup_id}_") and len(lookup_id) == 12
    principal = KeyRing(parse_key_entries(entry)).verify(key)
    assert principal is not None and principal.role == "admin"


def test_hash_key_reads_a_chosen_key_from_stdin_and_does_not_print_it() -> None:
    chosen = "a-human-chosen-passphrase"
    lines = hash_key_output(["--key", "-", "--scheme", "pbkdf2_sha256", "--iterations", "1000"], chosen + "\n")
    assert all(chosen not in value for value in lines.values())
    prefix = next(value for name, value in lines.items() if "prefix" in name).removesuffix("<the key>")
    keys = KeyRing(parse_key_entries(lines["API_KEYS entry"]))
    assert keys.verify(prefix + chosen) is not None
    assert keys.verify(chosen) is None  # an entry with an id is proved only by the key that names it


def test_hash_key_refuses_a_short_key() -> None:
    assert hash_key_command(["--key", "short"], stdout=io.StringIO()) == 2


def test_an_entry_with_a_lookup_id_is_proved_by_mcp_id_secret_and_keeps_a_stable_key_id() -> None:
    entry = hash_api_key("the-secret-part-0123456789", role="user", salt=SALT, lookup_id="ab12cd34ef56")
    keys = KeyRing(parse_key_entries(entry))
    principal = keys.verify(presented_key("ab12cd34ef56", "the-secret-part-0123456789"))
    assert principal is not None and principal.role == "user"
    assert principal.key_id == parse_key_entries(entry)[0].key_id != "ab12cd34ef56"
    assert keys.verify(presented_key("ab12cd34ef56", "another-secret-0123456789")) is None


def test_old_entries_without_an_id_still_verify_next_to_entries_with_one() -> None:
    entries = ",".join(
        (ring_entries(), hash_api_key("secret-part-0123456789", role="user", salt=SALT, lookup_id="k1k1k1"))
    )
    keys = KeyRing(parse_key_entries(entries))
    assert keys.verify(USER_KEY) is not None and keys.verify(ADMIN_KEY) is not None
    assert keys.verify(presented_key("k1k1k1", "secret-part-0123456789")) is not None


@pytest.mark.parametrize("suffix", ["$id=", "$id=UPPER1", "$id=ab", "$id=has_underscore"])
def test_a_malformed_lookup_id_is_refused(suffix: str) -> None:
    with pytest.raises(ValueError, match="entry 1"):
        parse_key_entries(hash_api_key(USER_KEY, role="user", salt=SALT) + suffix)


def test_two_entries_may_not_share_a_lookup_id() -> None:
    first = hash_api_key("first-secret-0123456789", role="user", salt=SALT, lookup_id="same00")
    second = hash_api_key("second-secret-0123456789", role="admin", salt=SALT, lookup_id="same00")
    with pytest.raises(ValueError, match="same"):
        parse_key_entries(f"{first},{second}")
