"""Domain errors: what can go wrong, independent of any transport.

    DomainError                      code
    ├── InvalidRequest               invalid_request        (HTTP 400, gRPC INVALID_ARGUMENT)
    │   ├── UnknownModel             unknown_model
    │   └── ImageFetchFailed         image_fetch_failed     (a URL image the gateway could not get)
    ├── PayloadTooLarge              payload_too_large      (413, RESOURCE_EXHAUSTED)
    ├── NotFound                     not_found              (404, NOT_FOUND)
    ├── Unauthenticated              unauthenticated        (401, UNAUTHENTICATED)
    ├── PermissionDenied             forbidden              (403, PERMISSION_DENIED)
    ├── RateLimited                  rate_limited           (429, RESOURCE_EXHAUSTED)
    ├── Overloaded                   overloaded             (503 + Retry-After, RESOURCE_EXHAUSTED)
    ├── StorageUnavailable           storage_unavailable    (503, UNAVAILABLE)
    ├── ShuttingDown                 shutting_down          (503, UNAVAILABLE)
    └── UpstreamError                upstream_error         (502, UNAVAILABLE)
        ├── UpstreamBadRequest       upstream_bad_request   (400, INVALID_ARGUMENT)
        ├── UpstreamRateLimited      upstream_rate_limited  (429 + Retry-After, RESOURCE_EXHAUSTED)
        ├── UpstreamAuthError        upstream_auth          (502, UNAVAILABLE)
        ├── UpstreamTimeout          upstream_timeout       (504, DEADLINE_EXCEEDED)
        └── CircuitOpen              circuit_open           (503 + Retry-After, UNAVAILABLE)

Adapters translate vendor exceptions into the most specific of these; each
entrypoint has one mapper from these to its own status codes.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "internal_error"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class InvalidRequest(DomainError):
    code = "invalid_request"


class UnknownModel(InvalidRequest):
    code = "unknown_model"


class ImageFetchFailed(InvalidRequest):
    """An image the request names by URL could not be fetched: unreachable, an error status, too slow.

    A client error (400), not an ``UpstreamError``: the URL is the caller's input, and a failure must
    neither be retried nor count toward the provider's circuit breaker.
    """

    code = "image_fetch_failed"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class NotFound(DomainError):
    code = "not_found"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class PermissionDenied(DomainError):
    code = "forbidden"


class RateLimited(DomainError):
    code = "rate_limited"


class Overloaded(DomainError):
    code = "overloaded"


class StorageUnavailable(DomainError):
    code = "storage_unavailable"


class ShuttingDown(DomainError):
    code = "shutting_down"


class UpstreamError(DomainError):
    """The provider failed (5xx, reset, malformed answer). Retriable before the first chunk."""

    code = "upstream_error"
    retriable = True


class UpstreamBadRequest(UpstreamError):
    code = "upstream_bad_request"
    retriable = False


class UpstreamRateLimited(UpstreamError):
    code = "upstream_rate_limited"
    retriable = True


class UpstreamAuthError(UpstreamError):
    code = "upstream_auth"
    retriable = False


class UpstreamTimeout(UpstreamError):
    code = "upstream_timeout"
    retriable = True


class CircuitOpen(UpstreamError):
    code = "circuit_open"
    retriable = False
