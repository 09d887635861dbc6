"""The JSON decoders of the native door and the WebSocket door, fed any bytes and any JSON.

``JsonBody`` with each native body type, ``json_too_deep`` and the WebSocket
``decode_request`` may return a value or refuse with ``InvalidRequest``
(``BadFrame`` on the socket); nothing else. A refused frame must still make
an error frame, since it echoes the client's ``id``.
"""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidRequest
from entrypoints.http.shared.body import JsonBody
from entrypoints.json_depth import MAX_JSON_DEPTH, json_too_deep
from entrypoints.native_json import BatchBody, GenerateBody, InvalidateBody, ValidateBody
from entrypoints.ws.frames import BadFrame, WsRequest, decode_request, error_frame
from tests.fuzz import short

BODY_TYPES = (GenerateBody, BatchBody, ValidateBody, InvalidateBody)
# Strings that look like JSON's own syntax, so that string contents test the depth scan's quote handling.
_tricky_text = st.text(alphabet=st.sampled_from('[]{}"\\,:ab \u00e9'), max_size=12) | st.text(max_size=12)
_scalars = st.none() | st.booleans() | st.integers() | st.floats() | _tricky_text
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_tricky_text, inner, max_size=4),
    max_leaves=12,
)
_field_names = st.sampled_from(
    ["prompt", "model", "provider", "maxTokens", "temperature", "system", "systemPrompt", "requests", "cache_key",
     "reason", "id", "userId", "sessionId"]
)  # fmt: skip
_requests = st.dictionaries(_field_names, _json, max_size=6)
_bodies = _requests | st.fixed_dictionaries({"requests": st.lists(_requests, max_size=3) | _json})


@st.composite
def nested(draw: st.DrawFn) -> tuple[object, int]:
    """A JSON value and how deeply it nests, around the depth limit."""
    depth = draw(st.integers(0, MAX_JSON_DEPTH + 8))
    value: object = draw(_scalars)
    for _ in range(depth):
        value = [value] if draw(st.booleans()) else {draw(_tricky_text): value}
    return value, depth


def _raw(value: object) -> bytes:
    try:
        return msgspec.json.encode(value)
    except (OverflowError, ValueError):  # an int beyond 64 bits or a non-finite float: send its repr
        return repr(value).encode()


_raw_bodies = st.binary(max_size=256) | _json.map(_raw) | _bodies.map(_raw) | nested().map(lambda v: _raw(v[0]))


def check_json_body(raw: bytes) -> None:
    for body_type in BODY_TYPES:
        try:
            value = JsonBody(body_type).decode(raw)
        except InvalidRequest:
            continue
        assert isinstance(value, body_type)
        if isinstance(value, GenerateBody):
            value.fields()


def check_ws_frame(raw: bytes | str) -> None:
    try:
        request = decode_request(raw)
    except BadFrame as exc:
        frame = error_frame(exc, "request-id", exc.ident)  # the refusal itself must be sendable
        assert msgspec.json.decode(frame)["code"] == "invalid_request"
        return
    assert isinstance(request, WsRequest)
    request.fields()


@short(200)
@given(raw=_raw_bodies)
def test_any_body_decodes_or_is_an_invalid_request(raw: bytes) -> None:
    check_json_body(raw)


@short(200)
@given(raw=_raw_bodies | _raw_bodies.map(lambda raw: raw.decode("utf-8", "replace")))
def test_any_websocket_message_is_a_request_or_an_error_frame(raw: bytes | str) -> None:
    check_ws_frame(raw)


@short(200)
@given(case=nested())
def test_the_depth_scan_counts_nesting_exactly(case: tuple[object, int]) -> None:
    value, depth = case
    assert json_too_deep(msgspec.json.encode(value)) == (depth > MAX_JSON_DEPTH)


@short(200)
@given(raw=st.binary(max_size=512) | _json.map(_raw))
def test_what_the_depth_scan_passes_never_overflows_the_decoder(raw: bytes) -> None:
    if json_too_deep(raw):
        return
    try:
        msgspec.json.decode(raw)
    except msgspec.DecodeError:
        pass
    except RecursionError:  # pragma: no cover - the failure this property exists to catch
        pytest.fail("json_too_deep passed a body the decoder cannot nest into")
