"""Translation of Bedrock failures into domain errors (docs/api.md#providers, #errors).

    botocore ClientError / EventStreamError, by error code
        ThrottlingException, ServiceQuotaExceededException  -> UpstreamRateLimited (429, Retry-After if sent)
        ModelTimeoutException                               -> UpstreamTimeout (504)
        ValidationException                                 -> UpstreamBadRequest (400, upstream message)
        AccessDenied, UnrecognizedClient, token/signature   -> UpstreamAuthError (502, explained)
        ResourceNotFoundException                           -> UpstreamAuthError (502, model not enabled)
        ServiceUnavailable, InternalServer, ModelStreamError,
        ModelError, ModelNotReady, anything else 5xx         -> UpstreamError (502)
        any other 4xx                                       -> UpstreamBadRequest
    botocore / aiohttp read and connect timeouts            -> UpstreamTimeout
    missing credentials                                     -> UpstreamAuthError
    connection refused, closed, reset, other transport      -> UpstreamError
    a 200 that is not an event stream (eventstream errors)  -> UpstreamError

Exception frames inside a stream arrive as ``EventStreamError`` with the
frame's lower-camel ``:exception-type`` as the code, so codes are compared
case-insensitively. Error codes come from ``x-amzn-ErrorType``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from botocore import eventstream
from botocore import exceptions as boto

from adapters.providers.retry_after import retry_after_seconds
from domain.errors import (
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)

# What an adapter call may raise that is the upstream's fault, not ours.
TRANSLATABLE: tuple[type[BaseException], ...] = (
    boto.ClientError,
    boto.BotoCoreError,
    aiohttp.ClientError,
    TimeoutError,
    ConnectionError,
    eventstream.ParserError,
)

_AUTH_HINT = (
    "check the AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or "
    "AWS_BEARER_TOKEN_BEDROCK), their IAM permissions for bedrock:InvokeModel and "
    "bedrock:InvokeModelWithResponseStream, and that model access is granted in this region"
)
_AUTH_CODES = {
    "accessdeniedexception",
    "unrecognizedclientexception",
    "missingauthenticationtokenexception",
    "invalidsignatureexception",
    "expiredtokenexception",
    "incompletesignatureexception",
}
_SERVER_CODES = {
    "serviceunavailableexception",
    "internalserverexception",
    "modelstreamerrorexception",
    "modelerrorexception",
    "modelnotreadyexception",
}


def translate(exc: BaseException) -> UpstreamError:
    """The most specific domain error for ``exc`` (one of ``TRANSLATABLE``)."""
    if isinstance(exc, boto.ClientError):
        return _from_client_error(exc)
    if isinstance(exc, (boto.ReadTimeoutError, boto.ConnectTimeoutError, TimeoutError)):
        return UpstreamTimeout(f"Bedrock did not answer in time: {exc}")
    if isinstance(
        exc,
        (
            boto.NoCredentialsError,
            boto.PartialCredentialsError,
            boto.NoAuthTokenError,
            boto.CredentialRetrievalError,
            boto.TokenRetrievalError,
        ),
    ):
        return UpstreamAuthError(f"no usable AWS credentials for Bedrock ({exc}); {_AUTH_HINT}")
    if isinstance(exc, boto.ParamValidationError):
        return UpstreamBadRequest(f"Bedrock request refused before sending: {exc}")
    if isinstance(exc, eventstream.ParserError):
        return UpstreamError(f"Bedrock sent a stream that is not an event stream: {exc}")
    return UpstreamError(f"Bedrock connection failed: {exc.__class__.__name__}: {exc}")


def _from_client_error(exc: boto.ClientError) -> UpstreamError:
    error: Mapping[str, Any] = exc.response.get("Error", {})
    metadata: Mapping[str, Any] = exc.response.get("ResponseMetadata", {})
    code = str(error.get("Code", "")).split(":")[0]
    message = str(error.get("Message", "")) or code or "no message"
    status = int(metadata.get("HTTPStatusCode") or 0)
    build = _BY_CODE.get(code.lower())
    if build is not None:
        return build(code, message, metadata.get("HTTPHeaders", {}))
    if code.lower() in _AUTH_CODES:
        return UpstreamAuthError(f"Bedrock refused the credentials ({code}: {message}); {_AUTH_HINT}")
    if code.lower() in _SERVER_CODES or status >= 500 or status == 0:
        return UpstreamError(f"Bedrock failed ({code}): {message}")
    return UpstreamBadRequest(f"Bedrock rejected the request ({code}): {message}")


def _throttled(code: str, message: str, headers: Mapping[str, str]) -> UpstreamError:
    return UpstreamRateLimited(
        f"Bedrock throttled the request ({code}): {message}", retry_after=retry_after_seconds(headers)
    )


def _timed_out(code: str, message: str, headers: Mapping[str, str]) -> UpstreamError:
    return UpstreamTimeout(f"the model did not answer in time ({code}): {message}")


def _invalid(code: str, message: str, headers: Mapping[str, str]) -> UpstreamError:
    return UpstreamBadRequest(message)


def _not_found(code: str, message: str, headers: Mapping[str, str]) -> UpstreamError:
    return UpstreamAuthError(f"model not found or not enabled in this account/region: {message}")


_BY_CODE: dict[str, Callable[[str, str, Mapping[str, str]], UpstreamError]] = {
    "throttlingexception": _throttled,
    "servicequotaexceededexception": _throttled,
    "modeltimeoutexception": _timed_out,
    "validationexception": _invalid,
    "resourcenotfoundexception": _not_found,
}
