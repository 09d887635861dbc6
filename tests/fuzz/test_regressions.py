"""Inputs the parser fuzzing found to fail, kept as plain tests (docs/reliability.md#parser-fuzzing)."""

from __future__ import annotations

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from domain.api_keys import MAX_PBKDF2_ITERATIONS, parse_key_entries
from entrypoints.grpc.codec import SizeLimitedProtoCodec
from entrypoints.grpc.generated import proto as pb
from entrypoints.mcp_servers import parse_mcp_servers
from entrypoints.setting_values import ConfigError

SALT, DIGEST = "00" * 16, "00" * 32


def test_a_pbkdf2_entry_with_more_iterations_than_hashlib_takes_is_refused_when_parsed() -> None:
    # Before: the entry parsed, and every request presenting a key then failed with OverflowError.
    with pytest.raises(ValueError, match="iterations must be between 1 and"):
        parse_key_entries(f"user:pbkdf2_sha256${MAX_PBKDF2_ITERATIONS + 1}${SALT}${DIGEST}")


def test_a_pbkdf2_entry_at_the_iteration_limit_still_parses() -> None:
    (entry,) = parse_key_entries(f"user:pbkdf2_sha256${MAX_PBKDF2_ITERATIONS}${SALT}${DIGEST}")
    assert entry.iterations == MAX_PBKDF2_ITERATIONS


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"\x08\x05", "prompt"),  # field 1, a string, sent as the varint 5: it arrived as the int 5
        (b"\x2a\x01a", "max_tokens"),  # field 5, an int32, sent length-delimited: it arrived as the list [97]
        (b"\x30\x05", "temperature"),  # field 6, a float, sent as a varint
        (b"\x42\x02\x08\x05", "messages.role"),  # messages (8) holding role (1), a string, as a varint
        (b"\x42\x04\x1a\x02\x08\x05", "messages.parts.text"),  # a part's text (1) as a varint, two levels down
    ],
)
def test_a_grpc_field_of_the_wrong_wire_type_is_an_invalid_argument(data: bytes, field: str) -> None:
    # Before: the message decoded, and validation raised AttributeError ('int' object has no attribute 'strip').
    with pytest.raises(GRPCError) as raised:
        SizeLimitedProtoCodec(1024).decode(data, pb.GenerateRequest)
    assert raised.value.status is Status.INVALID_ARGUMENT
    assert field in str(raised.value.message)


def test_grpc_fields_of_the_right_wire_type_and_unknown_fields_still_decode() -> None:
    # The unknown field is number 99 (a varint): 15, used here first, is now GenerateRequest.reasoning.
    message = SizeLimitedProtoCodec(1024).decode(b"\x0a\x02hi\x28\x05\x98\x06\x01", pb.GenerateRequest)
    assert (message.prompt, message.max_tokens) == ("hi", 5)


def test_an_mcp_server_whose_type_is_a_list_is_a_config_error_naming_the_field() -> None:
    """Found by test_door_bodies: ``"type": []`` raised TypeError (unhashable), a start stopped without a message."""
    with pytest.raises(ConfigError, match="server 'x', field 'type'"):
        parse_mcp_servers('{"mcpServers": {"x": {"type": [], "command": "true"}}}')
