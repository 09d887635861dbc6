"""Keep secrets and prompt bodies out of the logs (docs/api.md#observability).

Two guards on the root handler, whatever logged the line (our code, uvicorn,
an SDK's exception text):

- ``PromptFilter`` replaces prompt-bearing fields given in ``extra``
  (``prompt``, ``system``, ``content``, ``messages``, ...) by their length,
  unless ``LOG_PROMPTS=true``;
- ``RedactingFormatter`` scrubs the finished line: the provider secrets of the
  settings, passwords in ``REDIS_URL``/``POSTGRES_URL``, bearer tokens,
  ``api-key``/``authorization``/``password``-style fields, and anything shaped
  like a generated gateway key or an OpenAI key.

API keys themselves are never logged by the gateway; the patterns are the
safety net for lines we do not write.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from entrypoints.config import Settings

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
_SCRUB = re.compile(
    r"""(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=\-]{8,}"""  # Authorization values
    r"""|(://[^\s:/@"']*:)[^\s@/"']+(?=@)"""  # user:password@ in URLs
    r"""|mcp_[A-Za-z0-9_\-]{32,}|\bsk-[A-Za-z0-9_\-]{16,}"""  # gateway keys from `hash-key`, OpenAI-style keys
    r"""|((?<![a-z0-9_])(?:x-api-key|api[-_]?key|authorization|password|passwd|secret|access[-_]?token|token)"""
    r"""["']?\s*[:=]\s*["']?)(?:(?:bearer|basic)\s+)?[^"',\s}]+"""  # key=value, "key": "value"
)


def _scrubbed(match: re.Match[str]) -> str:
    return (match.group(1) or match.group(2) or match.group(3) or "") + REDACTED


def secrets_of(settings: Settings) -> list[str]:
    values = [getattr(settings, name) for name in _SECRET_FIELDS]
    for url in (settings.redis_url, getattr(settings, "postgres_url", "")):
        if url:
            password = urlsplit(url).password
            values.append(password or "")
    return [value.strip() for value in values if value and len(value.strip()) >= 6]


class RedactingFormatter(logging.Formatter):
    """Formats with ``inner``, then scrubs secrets from the finished line."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self._inner = inner
        self._secrets = tuple(sorted(set(secrets), key=len, reverse=True))

    def format(self, record: logging.LogRecord) -> str:
        line = self._inner.format(record)
        for secret in self._secrets:
            if secret in line:
                line = line.replace(secret, REDACTED)
        if _TRIGGERS.search(line.lower()) is None:  # a plain substring scan: case-insensitive regexes cost ~10x
            return line
        return _SCRUB.sub(_scrubbed, line)


class PromptFilter(logging.Filter):
    """Replaces prompt bodies passed in ``extra`` by their length."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.__dict__
        for name in PROMPT_FIELDS.intersection(fields):
            value = fields[name]
            fields[name] = f"[omitted: {len(value)} chars]" if isinstance(value, str | list | tuple) else "[omitted]"
        return True


def install_redaction(settings: Settings, root: logging.Logger | None = None) -> None:
    """Wrap every handler of the root logger (call after ``configure_logging``)."""
    root = root or logging.getLogger()
    secrets = secrets_of(settings)
    for handler in root.handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter or logging.Formatter(), secrets))
        if not settings.log_prompts and not any(isinstance(f, PromptFilter) for f in handler.filters):
            handler.addFilter(PromptFilter())
