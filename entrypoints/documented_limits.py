"""The limits the domain checks, as JSON Schema for the request Structs' fields (``/schema/openapi.json``).

``msgspec.Meta(extra_json_schema=...)`` puts a limit into the field's schema
without adding a check to the decoder: ``domain.validation`` and
``domain.option_rules`` stay the one place each rule is enforced, with their
own messages, and every transport (gRPC, WebSocket) keeps them. The values are
the domain's own constants, so the document cannot drift from the code; the
schema fuzzing (``tests/schema_fuzz``) checks that what the document allows is
taken and what it refuses is refused.

Rules that span fields (``maxTokens`` within the model's own cap, a tool result
answering a call, ``toolChoice`` naming a tool, the thinking budget below
``maxTokens``, a model or provider the catalogue knows) cannot be said in JSON
Schema; the generation routes document their 400 for them.
"""

from __future__ import annotations

import sys
from typing import Any

import msgspec

from domain.option_rules import MAX_SEED, MAX_STOP_SEQUENCES, MAX_TOOLS
from domain.validation import MAX_ID_LENGTH, MAX_TEMPERATURE, UNKNOWN_MODEL_TOKEN_CAP, RequestLimits

DEFAULT_MAX_PROMPT_CHARS = RequestLimits().max_prompt_chars


def _python_whitespace() -> str:
    """What ``str.strip()`` removes, as a regex class body: JSON Schema's ``\\s`` (ECMA-262) is another set.

    It lacks U+001C to U+001F and U+0085, which Python strips, and has U+FEFF, which
    Python keeps; a prompt of one U+001E passed a ``\\S`` pattern and was refused.
    """
    codes = [code for code in range(sys.maxunicode + 1) if chr(code).isspace()]
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(rf"\u{a:04x}" if a == b else rf"\u{a:04x}-\u{b:04x}" for a, b in ranges)


BLANK = _python_whitespace()
NO_NUL = r"^[^\u0000]*$"  # PostgreSQL text cannot hold a NUL: check_text refuses it
# ``check_prompt``: not blank, no NUL; an empty prompt counts as absent (a conversation in ``messages``).
PROMPT = rf"^(|[^\u0000]*[^{BLANK}\u0000][^\u0000]*)$"
TOOL_NAME = r"^[A-Za-z0-9_-]{1,64}$"  # option_rules.NAME_RULE
ID = rf"^[A-Za-z0-9][A-Za-z0-9._:@-]{{0,{MAX_ID_LENGTH - 1}}}$"  # validation.check_id


# Marks the keywords of ``limits`` in a field's schema, so that ``request_rules_removed`` can take them out again.
REQUEST_RULES = "x-request-rules"


def limits(**schema: Any) -> msgspec.Meta:
    """A field's documented limits: JSON Schema keywords, checked by the domain rather than the decoder."""
    return msgspec.Meta(extra_json_schema={**schema, REQUEST_RULES: sorted(schema)})


def request_rules_removed(schema: Any, *, keep: bool) -> Any:
    """``schema`` with the marks of ``limits`` dropped, and with their keywords too unless ``keep``.

    A batch takes each of its requests as far as the decoder does and answers a
    request that breaks a rule with an error in its place (docs/api.md#batch): its
    items are documented without the rules, which are no reason to refuse it.
    """
    if isinstance(schema, list):
        return [request_rules_removed(item, keep=keep) for item in schema]
    if not isinstance(schema, dict):
        return schema
    marked = set() if keep else set(schema.get(REQUEST_RULES, ()))
    return {
        key: request_rules_removed(value, keep=keep)
        for key, value in schema.items()
        if key != REQUEST_RULES and key not in marked
    }


PROMPT_LIMITS = limits(
    maxLength=DEFAULT_MAX_PROMPT_CHARS,
    pattern=PROMPT,
    description=f"Not blank, no NUL; at most MAX_PROMPT_CHARS characters (default {DEFAULT_MAX_PROMPT_CHARS})",
)
# ``POST /api/v1/validate`` takes no conversation, so an empty prompt is refused there.
VALIDATE_PROMPT_LIMITS = limits(
    minLength=1,
    maxLength=DEFAULT_MAX_PROMPT_CHARS,
    pattern=rf"^[^\u0000]*[^{BLANK}\u0000][^\u0000]*$",
    description=f"Not blank, no NUL; at most MAX_PROMPT_CHARS characters (default {DEFAULT_MAX_PROMPT_CHARS})",
)
TEXT_LIMITS = limits(pattern=NO_NUL)
MAX_TOKENS_LIMITS = limits(
    minimum=1, maximum=UNKNOWN_MODEL_TOKEN_CAP, description="At most the model's own cap (GET /api/v1/models)"
)
TEMPERATURE_LIMITS = limits(minimum=0.0, maximum=MAX_TEMPERATURE)
TOP_P_LIMITS = limits(exclusiveMinimum=0.0, maximum=1.0)
SEED_LIMITS = limits(minimum=-MAX_SEED - 1, maximum=MAX_SEED)
STOP_LIMITS = limits(minLength=1, pattern=NO_NUL)
STOP_LIST_LIMITS = limits(maxItems=MAX_STOP_SEQUENCES)
TOOLS_LIMITS = limits(maxItems=MAX_TOOLS)
TOOL_NAME_LIMITS = limits(pattern=TOOL_NAME)
SCHEMA_NAME_LIMITS = limits(pattern=r"^([A-Za-z0-9_-]{1,64})?$", description="Default: response")
DEFAULT_BATCH_MAX_ITEMS = 1000  # Settings.batch_max_items (BATCH_MAX_ITEMS)
BATCH_LIMITS = msgspec.Meta(  # the batch's own rule (a refusal of the whole batch), not a request's
    extra_json_schema={
        "minItems": 1,
        "maxItems": DEFAULT_BATCH_MAX_ITEMS,
        "description": f"At most BATCH_MAX_ITEMS requests (default {DEFAULT_BATCH_MAX_ITEMS})",
    }
)
ID_SCHEMA: dict[str, Any] = {"type": "string", "pattern": ID, "maxLength": MAX_ID_LENGTH}
OPTIONAL_ID: dict[str, Any] = {**ID_SCHEMA, "pattern": f"^$|{ID}"}  # an empty header is none
# The session headers every door reads (``fast_routes.request_context_from``): name, schema, required, why.
SESSION_HEADERS: tuple[tuple[str, dict[str, Any], bool, str], ...] = (
    ("X-User-ID", OPTIONAL_ID, False, "The end user; with X-Session-ID, the conversation to continue and store"),
    ("X-Session-ID", OPTIONAL_ID, False, "The session; sent with X-User-ID or not at all (empty: none)"),
)
NOT_BLANK = limits(pattern=f"[^{BLANK}]", description="Not blank")  # cache_admin: a key of only spaces is no key
# A path parameter the path layer takes: no '/', no control character, not '.' or '..' (``paths.path_defect``),
# and not blank (``cache_admin``).
PATH_SEGMENT: dict[str, Any] = {
    "type": "string",
    "pattern": rf"^[^/\u0000-\u001f\u007f]*[^/{BLANK}\u0000-\u001f\u007f][^/\u0000-\u001f\u007f]*$",
    "not": {"enum": [".", ".."]},
}
