"""The configuration parsers: any environment gives ``Settings`` or a ``ConfigError`` naming the problem.

``load_settings`` with arbitrary values for any settings (the parsers behind
it included: ``API_KEYS`` entries, ``TRUSTED_PROXIES``, CORS), and the
``API_KEYS`` and ``TRUSTED_PROXIES`` parsers on their own with arbitrary text.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.api_keys import MAX_PBKDF2_ITERATIONS, parse_key_entries
from entrypoints.config import ConfigError, Settings, load_settings
from entrypoints.http.shared.client_address import TrustedProxies
from tests.fuzz import short

SETTINGS = sorted(name.upper() for name in Settings.__struct_fields__)
_no_nul = st.characters(exclude_characters="\x00")  # an environment value cannot hold NUL
_values = st.one_of(
    st.text(_no_nul, max_size=24),
    st.sampled_from(
        ["0", "1", "-1", "65536", "1e309", "inf", "-inf", "nan", "1e-320", "0x10", "1_000", "9" * 30, "true",
         "false", "on", "yes", "debug", "redis", "postgres", "memory", "redis://h", "http://h", "10.0.0.0/8",
         "::1", "user:sha256$00$00", " ", ","]
    ),
)  # fmt: skip
_hex = st.binary(min_size=0, max_size=40).map(bytes.hex) | st.text("0123456789abcdefg", max_size=8)
_entries = st.builds(
    lambda role, marks, scheme, iterations, salt, digest, ident: (
        f"{role}{marks}:{scheme}{iterations}${salt}${digest}{ident}"
    ),
    st.sampled_from(["user", "admin", "anonymous", "", "User"]),
    st.sampled_from(["", "+feedback", "+x", "+feedback+feedback"]),
    st.sampled_from(["sha256", "pbkdf2_sha256", "md5", ""]),
    st.sampled_from(["", "$"]).flatmap(
        lambda sep: st.just("") if not sep else (st.integers(-5, 2**40) | st.text(max_size=4)).map(lambda n: f"${n}")
    ),
    _hex,
    _hex,
    st.sampled_from(["", "$id=abcdef", "$id=x", "$id=ABCDEF", "$id="]),
)


def check_settings(environ: dict[str, str]) -> None:
    try:
        settings = load_settings(environ=environ, dotenv=None)
    except ConfigError as exc:
        assert str(exc)
        return
    assert isinstance(settings, Settings)


def check_key_entries(text: str) -> None:
    try:
        entries = parse_key_entries(text)
    except ValueError:
        return
    for entry in entries:
        assert 0 <= entry.iterations <= MAX_PBKDF2_ITERATIONS  # every accepted entry can be verified
        if entry.iterations <= 10:
            entry.matches(b"any key")


def check_trusted_proxies(text: str, peer: str, forwarded: list[str]) -> None:
    try:
        proxies = TrustedProxies.parse(text)
    except ValueError:
        return
    assert isinstance(proxies.client(peer, forwarded), str)


@short(200)
@given(environ=st.dictionaries(st.sampled_from(SETTINGS), _values, max_size=4))
def test_any_environment_gives_settings_or_a_config_error(environ: dict[str, str]) -> None:
    check_settings(environ)


@short(300)
@given(text=st.lists(_entries | st.text(max_size=16), max_size=3).map(",".join) | st.text())
def test_any_api_keys_text_gives_entries_or_a_value_error(text: str) -> None:
    check_key_entries(text)


_addresses = st.ip_addresses().map(str) | st.text(max_size=20)


@short(300)
@given(
    text=st.lists(_addresses | st.tuples(_addresses, st.integers(-1, 200)).map(lambda a: f"{a[0]}/{a[1]}"),
                  max_size=3).map(",".join),
    peer=_addresses,
    forwarded=st.lists(st.lists(_addresses, max_size=3).map(", ".join), max_size=2),
)  # fmt: skip
def test_any_trusted_proxies_text_gives_networks_or_a_value_error(text: str, peer: str, forwarded: list[str]) -> None:
    check_trusted_proxies(text, peer, forwarded)
