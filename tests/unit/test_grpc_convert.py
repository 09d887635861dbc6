"""Translation of gRPC requests into the domain's request fields."""

from __future__ import annotations

import struct

import pytest

from entrypoints.grpc.convert import request_fields, shortest_float32
from entrypoints.grpc.generated import proto as pb


def as_float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


@pytest.mark.parametrize("meant", [0.0, 0.1, 0.3, 0.7, 1.0, 1.25, 1.9, 2.0, 0.123457])
def test_a_float32_temperature_reads_as_the_decimal_the_client_wrote(meant: float) -> None:
    assert as_float32(meant) != meant or meant in (0.0, 1.0, 1.25, 2.0)
    assert shortest_float32(as_float32(meant)) == meant


def test_proto3_empty_strings_and_absent_optionals_mean_not_given() -> None:
    fields = request_fields(pb.GenerateRequest(prompt="hi"))

    assert fields.prompt == "hi"
    assert fields.model is fields.provider is fields.max_tokens is fields.temperature is None
    assert fields.system is fields.system_prompt is None


def test_an_explicit_zero_temperature_is_kept() -> None:
    decoded = pb.GenerateRequest.FromString(bytes(pb.GenerateRequest(prompt="x", temperature=0.0)))

    assert request_fields(decoded).temperature == 0.0


def test_both_system_spellings_are_passed_on_for_validation_to_choose() -> None:
    fields = request_fields(pb.GenerateRequest(prompt="x", system="short", system_prompt="long"))

    assert (fields.system, fields.system_prompt) == ("short", "long")
