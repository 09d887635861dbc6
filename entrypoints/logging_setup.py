"""JSON logs, one object per line (docs/api.md#observability), carrying the current request's ids."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Protocol

import msgspec

from entrypoints.request_context import request_id_var, session_id_var, user_id_var

_encode = msgspec.json.Encoder().encode
# Attributes every LogRecord has; anything else was passed in ``extra`` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class FieldRedactor(Protocol):
    """Scrubs the fields of a line before they are encoded (``entrypoints.log_redaction.Redactor``)."""

    def needed(self, line: str) -> bool:
        """Whether the encoded ``line`` may hold anything to redact; ``False`` is the common, cheap answer."""
        ...

    def fields(self, entry: Mapping[str, object]) -> dict[str, object]: ...


class JsonFormatter(logging.Formatter):
    """One JSON object per record; with a ``redactor``, fields are scrubbed before encoding, never after."""

    def __init__(self, *, redactor: FieldRedactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        entry = self._entry(record)
        line = _encode(entry).decode()
        if self.redactor is not None and self.redactor.needed(line):
            line = _encode(self.redactor.fields(entry)).decode()
        return line

    def _entry(self, record: logging.LogRecord) -> dict[str, object]:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, var in (
            ("requestId", request_id_var),
            ("userId", user_id_var),
            ("sessionId", session_id_var),
        ):
            value = var.get()
            if value:
                entry[key] = value
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return entry


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "botocore", "aiobotocore", "httpx", "httpcore", "openai", "hpack"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    logging.getLogger("uvicorn.error").propagate = True
