"""Every domain error has a gRPC status, the most specific class deciding (docs/api.md#errors)."""

from __future__ import annotations

import pytest
from grpclib.const import Status

from domain import errors
from entrypoints.grpc.errors import error_metadata, status_of


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidRequest("bad"), Status.INVALID_ARGUMENT),
        (errors.UnknownModel("which?"), Status.INVALID_ARGUMENT),
        (errors.PayloadTooLarge("big"), Status.RESOURCE_EXHAUSTED),
        (errors.NotFound("gone"), Status.NOT_FOUND),
        (errors.Unauthenticated("who?"), Status.UNAUTHENTICATED),
        (errors.PermissionDenied("no"), Status.PERMISSION_DENIED),
        (errors.RateLimited("slow down"), Status.RESOURCE_EXHAUSTED),
        (errors.Overloaded("full"), Status.RESOURCE_EXHAUSTED),
        (errors.StorageUnavailable("down"), Status.UNAVAILABLE),
        (errors.ShuttingDown("bye"), Status.UNAVAILABLE),
        (errors.UpstreamError("5xx"), Status.UNAVAILABLE),
        (errors.UpstreamBadRequest("400 upstream"), Status.INVALID_ARGUMENT),
        (errors.UpstreamRateLimited("429 upstream"), Status.RESOURCE_EXHAUSTED),
        (errors.UpstreamAuthError("bad key"), Status.UNAVAILABLE),
        (errors.UpstreamTimeout("slow"), Status.DEADLINE_EXCEEDED),
        (errors.CircuitOpen("open"), Status.UNAVAILABLE),
        (errors.DomainError("unclassified"), Status.INTERNAL),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.name,
)
def test_each_domain_error_maps_to_its_grpc_status(error: errors.DomainError, status: Status) -> None:
    assert status_of(error) == status


def test_error_metadata_carries_the_code_and_a_whole_second_retry_hint() -> None:
    assert error_metadata(errors.Overloaded("full", retry_after=0.2)) == {
        "x-error-code": "overloaded",
        "retry-after": "1",
    }
    assert error_metadata(errors.InvalidRequest("bad")) == {"x-error-code": "invalid_request"}
