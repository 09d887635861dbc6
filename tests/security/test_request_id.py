"""Issue 11, item 14: an ``X-Request-ID`` comes back byte for byte, or is replaced by a fresh id.

A Latin-1 id (``caf\\xe9``) used to be echoed as its UTF-8 re-encoding
(``caf\\xc3\\xa9``): neither what the client sent nor what the logs hold. The
rule now: an id of 1 to 128 printable ASCII characters is echoed exactly (in
the header and in the body's ``requestId``); anything else gets a fresh
``req-…`` id, echoed the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from entrypoints.request_context import accept_request_id
from tests.security.edge_support import RawResponse, raw_request, running_gateway
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_gateway() as running:
        yield running


def sent_with_id(server: ServerProcess, value: bytes) -> RawResponse:
    # a route that answers in the error shape, so the body's requestId can be compared with the header
    return raw_request(server.http_port, "GET", "/no-such-route", extra=b"X-Request-ID: " + value + b"\r\n")


@pytest.mark.parametrize("value", [b"req-42", b"Abc_1.2:3/4+5=6@7~8", b"with inner spaces", b"x" * 128])
def test_a_printable_ascii_id_is_echoed_byte_for_byte(server: ServerProcess, value: bytes) -> None:
    answer = sent_with_id(server, value)

    assert answer.header(b"x-request-id") == value
    assert answer.json()["requestId"] == value.decode("ascii")


@pytest.mark.parametrize("value", [b"caf\xe9-1", b"\xc3\xa9t\xc3\xa9", b"tab\there", b"x" * 129])
def test_an_id_that_cannot_be_echoed_exactly_is_replaced_by_a_fresh_one(server: ServerProcess, value: bytes) -> None:
    answer = sent_with_id(server, value)
    echoed = answer.header(b"x-request-id")

    assert echoed is not None and echoed.startswith(b"req-") and echoed != value
    assert answer.json()["requestId"] == echoed.decode("ascii")


def test_the_rule_accepts_printable_ascii_only() -> None:
    assert accept_request_id("req-1 a") == "req-1 a"
    for refused in ("café", "\u00a0nbsp", "ünï", "a\x7fb", "a\nb", "", None, "y" * 129):
        assert accept_request_id(refused).startswith("req-"), repr(refused)
