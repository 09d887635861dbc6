"""Keep secrets and prompt bodies out of the logs (docs/api.md#observability).

Two guards on the root handler, whatever logged the line (our code, uvicorn,
an SDK's exception text):

- ``PromptFilter`` replaces prompt-bearing fields given in ``extra``
  (``prompt``, ``system``, ``content``, ``messages``, ...) by their length,
  unless ``LOG_PROMPTS=true``;
- ``Redactor`` scrubs the provider secrets of the settings, passwords in
  ``REDIS_URL``/``POSTGRES_URL``, bearer tokens, ``api-key``/``authorization``/
  ``password``-style fields (``apiKey=...`` in a query string up to its ``&``),
  and anything shaped like a generated gateway key or an OpenAI key.

The JSON formatter asks the ``Redactor`` about each field *before* encoding
(a field named like a credential is redacted whole), so the line stays valid
JSON: scrubbing the encoded line once swallowed the backslash of an escaped
quote (``/token=x%22``) and wrote a line no parser could read. The common line
holds no trigger word and no secret and is checked once, cheaply, as encoded.
Other formatters (plain text) are scrubbed on the finished line.

API keys themselves are never logged by the gateway; the patterns are the
safety net for lines we do not write.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

import msgspec

from entrypoints.config import Settings
from entrypoints.logging_setup import JsonFormatter

REDACTED = "[REDACTED]"
PROMPT_FIELDS = frozenset(
    {"prompt", "system", "systemPrompt", "system_prompt", "content", "messages", "original_prompt", "problem_prompt"}
)
_SECRET_FIELDS = (
    "azure_api_key",
    "azure_ad_token",
    "openai_api_key",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_bearer_token_bedrock",
)
# Lower-case words that may introduce a secret; a line without any is left as it is (the common case).
_TRIGGERS = re.compile(r"""bearer|basic|://|mcp_|sk-|key|authorization|passw|secret|token\b|token["']""")
_CREDENTIAL_NAME = r"""(?:x-api-key|api[-_]?key|authorization|password|passwd|secret|access[-_]?token|token)"""
_SCRUB = re.compile(
    r"""(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=\-]{8,}"""  # Authorization values
    r"""|(://[^\s:/@"']*:)[^\s@/"']+(?=@)"""  # user:password@ in URLs
    r"""|mcp_[A-Za-z0-9_\-]{32,}|\bsk-[A-Za-z0-9_\-]{16,}"""  # gateway keys from `hash-key`, OpenAI-style keys
    rf"""|((?<![a-z0-9_]){_CREDENTIAL_NAME}["']?\s*[:=]\s*["']?)(?:(?:bearer|basic)\s+)?[^"',\s}}&]+"""  # key=value
)
_CREDENTIAL_FIELD = re.compile(rf"(?i){_CREDENTIAL_NAME}")


def _scrubbed(match: re.Match[str]) -> str:
    return (match.group(1) or match.group(2) or match.group(3) or "") + REDACTED


def secrets_of(settings: Settings) -> list[str]:
    values = [getattr(settings, name) for name in _SECRET_FIELDS]
    for url in (settings.redis_url, getattr(settings, "postgres_url", "")):
        if url:
            password = urlsplit(url).password
            values.append(password or "")
    return [value.strip() for value in values if value and len(value.strip()) >= 6]


class Redactor:
    """What must not be logged: the given secrets verbatim, and anything the patterns above find."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = tuple(sorted(set(secrets), key=len, reverse=True))
        # As they appear inside an encoded JSON line, for the cheap first look at a whole line.
        self._encoded = tuple(msgspec.json.encode(secret).decode()[1:-1] for secret in self._secrets)

    def needed(self, line: str) -> bool:
        """Whether ``line`` (plain or JSON-encoded) may hold anything to redact."""
        if any(secret in line for secret in self._encoded):
            return True
        return _TRIGGERS.search(line.lower()) is not None  # a plain substring scan: case-insensitive regexes cost ~10x

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        if _TRIGGERS.search(value.lower()) is None:
            return value
        return _SCRUB.sub(_scrubbed, value)

    def fields(self, entry: Mapping[str, object]) -> dict[str, object]:
        """``entry`` with every string scrubbed, and the value of every credential-named field redacted."""
        return {name: self._field(name, value) for name, value in entry.items()}

    def _field(self, name: object, value: object) -> object:
        if isinstance(value, str):
            return REDACTED if value and _is_credential(name) else self.text(value)
        if isinstance(value, Mapping):
            return {key: self._field(key, item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._field(name, item) for item in value]
        return value


def _is_credential(name: object) -> bool:
    return isinstance(name, str) and _CREDENTIAL_FIELD.fullmatch(name) is not None


class RedactingFormatter(logging.Formatter):
    """Formats with ``inner`` (plain text), then scrubs secrets from the finished line."""

    def __init__(self, inner: logging.Formatter, redactor: Redactor) -> None:
        super().__init__()
        self._inner = inner
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        line = self._inner.format(record)
        return self._redactor.text(line) if self._redactor.needed(line) else line


class PromptFilter(logging.Filter):
    """Replaces prompt bodies passed in ``extra`` by their length."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.__dict__
        for name in PROMPT_FIELDS.intersection(fields):
            value = fields[name]
            fields[name] = f"[omitted: {len(value)} chars]" if isinstance(value, str | list | tuple) else "[omitted]"
        return True


def install_redaction(settings: Settings, root: logging.Logger | None = None) -> None:
    """Redact on every handler of the root logger (call after ``configure_logging``)."""
    root = root or logging.getLogger()
    redactor = Redactor(secrets_of(settings))
    for handler in root.handlers:
        formatter = handler.formatter
        if isinstance(formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter(redactor=redactor))
        elif not isinstance(formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(formatter or logging.Formatter(), redactor))
        if not settings.log_prompts and not any(isinstance(f, PromptFilter) for f in handler.filters):
            handler.addFilter(PromptFilter())
