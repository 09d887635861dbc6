"""Errors of the Responses API: OpenAI's error body (``openai/errors.py``), with the Responses API's field names.

The shared rules name fields as the native API spells them (``maxTokens``,
``responseFormat``); the chat-completions door renames them into its own names,
and this door into the Responses API's (``max_output_tokens``, ``text.format``)
first, so that a refusal names the field the client sent.
"""

from __future__ import annotations

import re

from domain import errors
from entrypoints.http.openai.errors import OPENAI_ERRORS, error_object

_RESPONSES_NAMES = {
    "maxTokens": "max_output_tokens",
    "topP": "top_p",
    "toolChoice": "tool_choice",
    "responseFormat.schema": "text.format.schema",
    "responseFormat": "text.format",
    "callId": "call_id",
}
_NATIVE_NAME = re.compile(r"\b(?:" + "|".join(re.escape(name) for name in _RESPONSES_NAMES) + r")\b")


def in_responses_terms(message: str) -> str:
    return _NATIVE_NAME.sub(lambda found: _RESPONSES_NAMES[found.group(0)], message)


def responses_error_object(status: int, code: str, message: str) -> dict[str, object]:
    return error_object(status, code, in_responses_terms(message))


class ResponsesErrors:
    """The ``ErrorStyle`` of ``POST /v1/responses``: OpenAI's statuses and body, the Responses API's names."""

    def status_of(self, error: errors.DomainError) -> int:
        return OPENAI_ERRORS.status_of(error)

    def body(self, status: int, code: str, message: str, request_id: str) -> bytes:
        return OPENAI_ERRORS.body(status, code, in_responses_terms(message), request_id)


RESPONSES_ERRORS = ResponsesErrors()
