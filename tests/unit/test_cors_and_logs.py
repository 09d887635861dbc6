"""CORS settings checked at startup, and logs kept free of secrets and prompts (docs/api.md#cors, #observability)."""

from __future__ import annotations

import contextvars
import json
import logging

import pytest

from entrypoints.config import ConfigError, load_settings
from entrypoints.cors_policy import parse_cors
from entrypoints.log_redaction import PromptFilter, Redactor, secrets_of
from entrypoints.logging_setup import JsonFormatter
from entrypoints.request_context import bind_request


def settings(**env: str):  # type: ignore[no-untyped-def]
    return load_settings([], environ=env, dotenv=None)


def test_an_origin_without_a_scheme_stops_the_start_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="CORS_ALLOWED_ORIGINS"):
        settings(CORS_ALLOWED_ORIGINS="https://ok.example,app.example.com")


def test_a_bad_method_or_header_name_names_its_variable() -> None:
    with pytest.raises(ConfigError, match="CORS_ALLOW_METHODS"):
        settings(CORS_ALLOWED_ORIGINS="https://a.example", CORS_ALLOW_METHODS="GET,PO ST")
    with pytest.raises(ConfigError, match="CORS_ALLOW_HEADERS"):
        settings(CORS_ALLOWED_ORIGINS="https://a.example", CORS_ALLOW_HEADERS="X-Ok,Bad Header")


def test_with_neither_allow_all_nor_a_list_cors_is_off() -> None:
    assert parse_cors(settings()) is None


def test_listed_origins_and_wildcards_are_allowed_and_others_are_not() -> None:
    policy = parse_cors(settings(CORS_ALLOWED_ORIGINS="https://app.example, https://*.tenant.example/"))
    assert policy is not None
    assert policy.allows("https://app.example")
    assert policy.allows("https://eu.tenant.example")
    assert not policy.allows("https://evil.example")
    assert not policy.allows("http://app.example")


def test_allow_all_with_credentials_echoes_the_origin_instead_of_a_star() -> None:
    open_policy = parse_cors(settings(CORS_ALLOW_ALL_ORIGINS="true"))
    credentialed = parse_cors(settings(CORS_ALLOW_ALL_ORIGINS="true", CORS_ALLOW_CREDENTIALS="true"))
    assert open_policy is not None and open_policy.allow_origin_value("https://a.example") == "*"
    assert credentialed is not None and credentialed.allow_origin_value("https://a.example") == "https://a.example"


def test_a_malformed_api_keys_entry_stops_the_start_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="API_KEYS"):
        settings(API_KEYS="admin:plaintext-key")


def format_line(record: logging.LogRecord, *, secrets: list[str], prompts: bool = False) -> dict[str, object]:
    if not prompts:
        PromptFilter().filter(record)
    return json.loads(JsonFormatter(redactor=Redactor(secrets)).format(record))


def record(message: str, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("test", logging.INFO, __file__, 1, message, (), None)
    entry.__dict__.update(extra)
    return entry


def test_provider_secrets_and_url_passwords_from_the_settings_are_redacted() -> None:
    config = settings(
        AZURE_API_KEY="azure-secret-value",
        AZURE_ENDPOINT="https://x.example",
        REDIS_URL="redis://:redispass99@r:6379/0",
    )
    line = format_line(
        record("called with azure-secret-value and redis://:redispass99@r:6379/0"), secrets=secrets_of(config)
    )
    text = json.dumps(line)
    assert "azure-secret-value" not in text and "redispass99" not in text
    assert "[REDACTED]" in text


def test_bearer_tokens_api_key_fields_and_gateway_keys_are_redacted() -> None:
    line = format_line(
        record("auth Bearer abcdefghijklmnop", headers={"x-api-key": "k-123456789"}, key="mcp_" + "A" * 43),
        secrets=[],
    )
    text = json.dumps(line)
    assert "abcdefghijklmnop" not in text and "k-123456789" not in text and "A" * 43 not in text


def test_prompt_fields_are_replaced_by_their_length_unless_prompts_may_be_logged() -> None:
    hidden = format_line(record("turn", prompt="my medical history"), secrets=[])
    shown = format_line(record("turn", prompt="my medical history"), secrets=[], prompts=True)
    assert hidden["prompt"] == "[omitted: 18 chars]"
    assert shown["prompt"] == "my medical history"


def test_token_counts_are_not_mistaken_for_tokens() -> None:
    line = format_line(record("done", tokens=42, prompt_tokens=40), secrets=[])
    assert line["tokens"] == 42 and line["prompt_tokens"] == 40


def test_a_log_line_names_only_the_ids_bound_for_the_request_it_serves() -> None:
    def next_message_on_the_same_socket() -> dict[str, object]:
        bind_request(request_id="req-1", user_id="alice", session_id="s-1")
        bind_request(request_id="req-2")  # the next frame, before its user is read
        return format_line(record("refused"), secrets=[])

    line = contextvars.copy_context().run(next_message_on_the_same_socket)
    assert line["requestId"] == "req-2"
    assert "userId" not in line and "sessionId" not in line
