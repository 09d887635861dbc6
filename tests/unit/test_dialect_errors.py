"""Each API dialect's error shape, chosen by the path (docs/api.md#errors, #openai-errors)."""

from __future__ import annotations

import json

import pytest

from domain import errors
from entrypoints.http.app import ERROR_STYLES
from entrypoints.http.openai.errors import OPENAI_ERRORS, stream_error_frame
from entrypoints.http.shared.errors import NATIVE_ERRORS, domain_error_answer, error_answer
from entrypoints.http.shared.route_table import NATIVE, OPENAI, dialect_of, known_routes


def test_every_dialect_of_the_route_table_has_an_error_style() -> None:
    dialects = {route.dialect for route in known_routes()}
    assert dialects - {NATIVE} <= set(ERROR_STYLES)


@pytest.mark.parametrize(
    ("path", "dialect"),
    [
        ("/v1/chat/completions", OPENAI),
        ("//v1//chat/completions/", OPENAI),
        ("/v1/chat/completions/../x", OPENAI),
        ("/v1/models", OPENAI),
        ("/v1/models/azure/gpt-4o", OPENAI),
        ("/v1/unknown", NATIVE),
        ("/api/v1/generate", NATIVE),
        ("/v1/chat", NATIVE),
    ],
)
def test_the_dialect_of_a_path(path: str, dialect: str) -> None:
    assert dialect_of(path) == dialect


@pytest.mark.parametrize(
    ("error", "status", "kind", "code"),
    [
        (errors.InvalidRequest("bad"), 400, "invalid_request_error", "invalid_request"),
        (errors.UnknownModel("who"), 404, "invalid_request_error", "model_not_found"),
        (errors.Unauthenticated("key"), 401, "authentication_error", "invalid_api_key"),
        (errors.PermissionDenied("no"), 403, "permission_error", "forbidden"),
        (errors.NotFound("gone"), 404, "invalid_request_error", "not_found"),
        (errors.PayloadTooLarge("big"), 413, "invalid_request_error", "payload_too_large"),
        (errors.RateLimited("slow"), 429, "rate_limit_error", "rate_limit_exceeded"),
        (errors.UpstreamRateLimited("busy", retry_after=3), 429, "rate_limit_error", "rate_limit_exceeded"),
        (errors.UpstreamError("down"), 502, "server_error", "upstream_error"),
        (errors.Overloaded("full"), 503, "server_error", "overloaded"),
        (errors.UpstreamTimeout("slow"), 504, "server_error", "upstream_timeout"),
        (errors.DomainError("boom"), 500, "server_error", "internal_error"),
    ],
)
def test_a_domain_error_in_openais_shape(error: errors.DomainError, status: int, kind: str, code: str) -> None:
    answer = domain_error_answer(error, "req-1", style=OPENAI_ERRORS)
    assert answer.status == status and answer.code == error.code  # the metrics keep the gateway's code
    body = json.loads(answer.body)
    assert body == {"error": {"message": error.message, "type": kind, "param": body["error"]["param"], "code": code}}
    if status in (429, 503):
        assert dict(answer.headers)[b"retry-after"] >= b"1"


def test_an_unknown_model_names_the_model_parameter() -> None:
    body = json.loads(domain_error_answer(errors.UnknownModel("who"), "r", style=OPENAI_ERRORS).body)
    assert body["error"]["param"] == "model"


def test_the_native_style_is_unchanged_and_the_default() -> None:
    assert error_answer(400, "invalid_request", "bad", "r").body == NATIVE_ERRORS.body(
        400, "invalid_request", "bad", "r"
    )
    assert domain_error_answer(errors.UnknownModel("who"), "r").status == 400


def test_an_error_after_a_stream_started_is_one_data_event_with_the_error_object() -> None:
    framed = stream_error_frame(errors.UpstreamError("cut short"))
    assert framed.startswith(b"data: ") and framed.endswith(b"\n\n")
    assert json.loads(framed[6:])["error"]["code"] == "upstream_error"


def test_a_field_the_strict_decoder_refused_is_the_param() -> None:
    message = "invalid request body: Expected `float`, got `str` - at `$.messages[0].temperature`"
    body = json.loads(domain_error_answer(errors.InvalidRequest(message), "r", style=OPENAI_ERRORS).body)
    assert body["error"]["param"] == "messages[0].temperature"


@pytest.mark.parametrize(
    ("native", "openai"),
    [
        ("maxTokens must be between 1 and 4096 for model 'mock-1', got 0", "max_tokens must be between 1 and 4096"),
        ("topP must be greater than 0.0 and at most 1.0, got 2", "top_p must be"),
        ("toolChoice 'required' needs tools", "tool_choice 'required'"),
        ("responseFormat.schema is required with type json_schema", "response_format.json_schema.schema is required"),
        ("messages[2].content[0].callId: no earlier tool call", "messages[2].content[0].tool_call_id: no earlier"),
    ],
)
def test_the_shared_rules_messages_name_openais_fields(native: str, openai: str) -> None:
    body = json.loads(domain_error_answer(errors.InvalidRequest(native), "r", style=OPENAI_ERRORS).body)
    assert body["error"]["message"].startswith(openai)
