"""gRPC request messages: any bytes through the server's codec into the generated messages, then validation.

The codec either returns a message or ends the call with a ``GRPCError``;
a ``GenerateRequest`` it returns then becomes a generation request or an
``InvalidRequest``, as the service does with it.
"""

from __future__ import annotations

import contextlib

from grpclib.const import Status
from grpclib.exceptions import GRPCError
from hypothesis import given
from hypothesis import strategies as st

from domain.catalogue import Catalogue
from domain.catalogue_data import DEFAULT_MODELS, MOCK_MODELS
from domain.errors import InvalidRequest
from domain.validation import RequestContext, RequestLimits, build_request
from entrypoints.grpc.codec import SizeLimitedProtoCodec
from entrypoints.grpc.convert import request_fields
from entrypoints.grpc.generated import proto as pb
from tests.fuzz import short

MAX_MESSAGE_BYTES = 1024
CODEC = SizeLimitedProtoCodec(MAX_MESSAGE_BYTES)
REQUEST_TYPES = (pb.GenerateRequest, pb.ListModelsRequest, pb.StatusRequest)
CATALOGUE = Catalogue(MOCK_MODELS, configured=["mock"], default_models=DEFAULT_MODELS)

_text = st.text(max_size=16) | st.sampled_from(["mock", "", " ", "\x00"])
_messages = st.builds(
    pb.GenerateRequest,
    prompt=_text,
    system_prompt=_text,
    system=_text,
    model=_text,
    provider=_text,
    max_tokens=st.none() | st.integers(-(2**31), 2**31 - 1),
    temperature=st.none() | st.floats(width=32),
).map(bytes)


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    """A valid message with bytes flipped, cut or appended: the wire format's own edge cases."""
    data = bytearray(draw(_messages))
    for _ in range(draw(st.integers(0, 3))):
        if data and draw(st.booleans()):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        else:
            data[draw(st.integers(0, len(data))) :] = draw(st.binary(max_size=8))
    return bytes(data)


def check_grpc_message(data: bytes) -> None:
    for message_type in REQUEST_TYPES:
        try:
            message = CODEC.decode(data, message_type)
        except GRPCError as exc:
            assert exc.status in (Status.INVALID_ARGUMENT, Status.RESOURCE_EXHAUSTED)
            continue
        assert isinstance(message, message_type)
        if isinstance(message, pb.GenerateRequest):
            with contextlib.suppress(InvalidRequest):
                build_request(
                    request_fields(message), catalogue=CATALOGUE, limits=RequestLimits(), context=RequestContext()
                )


@short(300)
@given(data=st.binary(max_size=MAX_MESSAGE_BYTES + 8) | _messages | _mutated())
def test_any_grpc_message_is_a_request_or_a_grpc_error(data: bytes) -> None:
    check_grpc_message(data)
