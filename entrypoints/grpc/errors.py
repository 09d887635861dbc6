"""The one place where errors become gRPC statuses (docs/api.md#errors).

Domain errors map by class, most specific first; the status message is the
domain error's own readable message, and its code travels in the trailing
metadata as ``x-error-code`` (plus ``retry-after`` when the error has a hint).
"""

from __future__ import annotations

import math

from grpclib.const import Status

from domain import errors

_STATUS: tuple[tuple[type[errors.DomainError], Status], ...] = (
    (errors.InvalidRequest, Status.INVALID_ARGUMENT),
    # gRPC's own convention for a message over the size limit (grpc-go, grpc-java) is RESOURCE_EXHAUSTED.
    (errors.PayloadTooLarge, Status.RESOURCE_EXHAUSTED),
    (errors.NotFound, Status.NOT_FOUND),
    (errors.Unauthenticated, Status.UNAUTHENTICATED),
    (errors.PermissionDenied, Status.PERMISSION_DENIED),
    (errors.RateLimited, Status.RESOURCE_EXHAUSTED),
    (errors.Overloaded, Status.RESOURCE_EXHAUSTED),
    (errors.StorageUnavailable, Status.UNAVAILABLE),
    (errors.ShuttingDown, Status.UNAVAILABLE),
    (errors.UpstreamBadRequest, Status.INVALID_ARGUMENT),
    (errors.UpstreamRateLimited, Status.RESOURCE_EXHAUSTED),
    (errors.UpstreamTimeout, Status.DEADLINE_EXCEEDED),
    (errors.CircuitOpen, Status.UNAVAILABLE),
    (errors.UpstreamError, Status.UNAVAILABLE),
)


def status_of(error: errors.DomainError) -> Status:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return Status.INTERNAL


def error_metadata(error: errors.DomainError) -> dict[str, str]:
    metadata = {"x-error-code": error.code}
    if error.retry_after:
        metadata["retry-after"] = str(max(1, math.ceil(error.retry_after)))
    return metadata
