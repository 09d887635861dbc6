"""What OpenAI's chat completions refuse before generating, as its 400s say it.

Pure functions: ``validate_body`` returns ``(400, error body)`` for the first
rule a request breaks (OpenAI's error body, ``{"error": {"message", "type":
"invalid_request_error", "param", "code"}}``, with its wording), else ``None``.
The rules: the messages' roles and contents; tool messages answering the
``tool_calls`` of the assistant message right before them, every call answered;
``image_url`` parts in user messages only, as https or image data URLs; tools
with valid function names; ``tool_choice`` and ``parallel_tool_calls`` only
with tools; ``response_format`` complete; reasoning models refusing
``max_tokens``, a temperature other than 1, ``top_p`` and ``stop``; other models
refusing ``reasoning_effort``.
"""

from __future__ import annotations

import re
from typing import Any

from tests.vendors.openai_wire import invalid, is_reasoning

Refusal = tuple[int, bytes]
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_NAME = re.compile(r"[a-zA-Z0-9_-]+")
_DATA_URL = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+=*")
_IMAGE_FORMATS = "['png', 'jpeg', 'gif', 'webp']"


def validate_body(body: Any, model: str, *, model_required: bool) -> Refusal | None:
    """The checks the service does before generating; ``None`` when the body is acceptable."""
    if not isinstance(body, dict):
        return invalid("We could not parse the JSON body of your request.")
    if model_required and not (isinstance(body.get("model"), str) and body["model"]):
        return invalid("you must provide a model parameter", param="model")
    return (
        _check_messages(body.get("messages"))
        or _check_numbers(body)
        or _check_stream(body)
        or _check_tools(body)
        or _check_response_format(body)
        or (_check_reasoning(body) if is_reasoning(model) else _check_not_reasoning(body))
    )


def _check_messages(messages: Any) -> Refusal | None:
    if not isinstance(messages, list) or not messages:
        return invalid("'messages' is a required property and must be a non-empty array", param="messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            return invalid(f"Invalid value for 'messages[{i}].role'.", param=f"messages[{i}].role")
        problem = _check_content(message, i)
        if problem is not None:
            return problem
    return _check_tool_pairing(messages)


def _check_content(message: dict[str, Any], i: int) -> Refusal | None:
    content = message.get("content")
    calls_only = message["role"] == "assistant" and message.get("tool_calls") and content is None
    if not (calls_only or isinstance(content, str | list)):
        return invalid(f"Invalid type for 'messages[{i}].content': expected a string.", param=f"messages[{i}].content")
    for j, part in enumerate(content if isinstance(content, list) else ()):
        if isinstance(part, dict) and part.get("type") == "image_url":
            problem = _check_image(part, message["role"], f"messages[{i}].content[{j}]")
            if problem is not None:
                return problem
    return None


def _check_image(part: dict[str, Any], role: str, at: str) -> Refusal | None:
    if role != "user":
        return invalid(
            f"Image URLs are only allowed for messages with role 'user', but this message with role '{role}' "
            "contains an image URL.",
            param=at,
            code="invalid_value",
        )
    url = (part.get("image_url") or {}).get("url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://", "data:")):
        return invalid(f"Invalid '{at}.image_url.url': expected a URL or a data URL.", param=f"{at}.image_url.url")
    if url.startswith("data:") and not _DATA_URL.fullmatch(url):
        return invalid(
            "You uploaded an unsupported image. Please make sure your image has of one the following formats: "
            f"{_IMAGE_FORMATS}.",
            param=f"{at}.image_url.url",
            code="invalid_image_format",
        )
    return None


def _check_tool_pairing(messages: list[dict[str, Any]]) -> Refusal | None:
    """Each tool message answers a call of the assistant message right before it; each call is answered."""
    open_calls: dict[str, int] = {}  # call id -> index of the assistant message that made it
    previous_calls: bool = False
    for i, message in enumerate(messages):
        role = message["role"]
        if role == "tool":
            problem = _check_tool_message(message, i, open_calls, previous_calls)
            if problem is not None:
                return problem
            continue
        if open_calls:
            return _unanswered(open_calls)
        calls = message.get("tool_calls") if role == "assistant" else None
        previous_calls = bool(calls)
        open_calls = {call.get("id"): i for call in calls or () if isinstance(call, dict)}
    return _unanswered(open_calls) if open_calls else None


def _check_tool_message(
    message: dict[str, Any], i: int, open_calls: dict[str, int], previous_calls: bool
) -> Refusal | None:
    if not previous_calls:
        return invalid(
            "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with "
            "'tool_calls'.",
            param=f"messages.[{i}].role",
        )
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        return invalid(
            "Missing parameter 'tool_call_id': messages with role 'tool' must have a 'tool_call_id'.",
            param=f"messages.[{i}].tool_call_id",
        )
    if open_calls.pop(call_id, None) is None:
        return invalid(
            f"Invalid parameter: 'tool_call_id' of '{call_id}' not found in 'tool_calls' of previous message.",
            param=f"messages.[{i}].tool_call_id",
        )
    return None


def _unanswered(open_calls: dict[str, int]) -> Refusal:
    index = next(iter(open_calls.values()))
    return invalid(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(open_calls)}",
        param=f"messages.[{index}].role",
    )


def _check_tools(body: dict[str, Any]) -> Refusal | None:
    tools = body.get("tools")
    if tools is None:
        for name in ("tool_choice", "parallel_tool_calls"):
            if name in body:
                return invalid(
                    f"Invalid value for '{name}': '{name}' is only allowed when 'tools' are specified.", param=name
                )
        return None
    if not isinstance(tools, list) or not tools:
        return invalid("Invalid 'tools': empty array. Expected an array with minimum length 1.", param="tools")
    names = []
    for i, tool in enumerate(tools):
        problem = _check_tool(tool, f"tools[{i}]")
        if problem is not None:
            return problem
        names.append(tool["function"]["name"])
    return _check_tool_choice(body.get("tool_choice", "auto"), names)


def _check_tool(tool: Any, at: str) -> Refusal | None:
    if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("function"), dict):
        return invalid(f"Missing required parameter: '{at}.function'.", param=f"{at}.function")
    name = tool["function"].get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return invalid(
            f"Invalid '{at}.function.name': string does not match pattern. Expected a string that matches the "
            "pattern '^[a-zA-Z0-9_-]+$'.",
            param=f"{at}.function.name",
            code="invalid_value",
        )
    if len(name) > 64:
        return invalid(
            f"Invalid '{at}.function.name': string too long. Expected a string with maximum length 64, but got a "
            f"string with length {len(name)} instead.",
            param=f"{at}.function.name",
            code="string_above_max_length",
        )
    parameters = tool["function"].get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        return invalid(f"Invalid type for '{at}.function.parameters': expected an object.", param=f"{at}.function")
    return None


def _check_tool_choice(choice: Any, names: list[str]) -> Refusal | None:
    if choice in ("auto", "none", "required"):
        return None
    name = ((choice.get("function") or {}).get("name") if isinstance(choice, dict) else None) or ""
    if not isinstance(choice, dict) or choice.get("type") != "function" or not name:
        return invalid("Invalid value for 'tool_choice'.", param="tool_choice", code="invalid_value")
    if name not in names:
        return invalid(f"Invalid value for 'tool_choice': tool '{name}' is not in 'tools'.", param="tool_choice")
    return None


def _check_response_format(body: dict[str, Any]) -> Refusal | None:
    format_ = body.get("response_format")
    if format_ is None:
        return None
    kind = format_.get("type") if isinstance(format_, dict) else None
    if kind == "json_object" and "json" not in _all_text(body["messages"]).lower():
        return invalid(
            "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
            param="messages",
        )
    if kind == "json_schema":
        schema = format_.get("json_schema")
        for field, value in (
            ("", schema),
            (".name", (schema or {}).get("name")),
            (".schema", (schema or {}).get("schema")),
        ):
            if not value:
                name = f"response_format.json_schema{field}"
                return invalid(f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")
    if kind not in ("text", "json_object", "json_schema"):
        return invalid("Invalid value for 'response_format.type'.", param="response_format.type", code="invalid_value")
    return None


def _all_text(messages: list[dict[str, Any]]) -> str:
    texts = []
    for message in messages:
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"text": content}]
        texts.extend(str(part.get("text") or "") for part in parts if isinstance(part, dict))
    return " ".join(texts)


def _check_numbers(body: dict[str, Any]) -> Refusal | None:
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            return invalid(
                f"Invalid '{name}': integer below minimum value.", param=name, code="integer_below_min_value"
            )
    temperature = body.get("temperature")
    if temperature is not None and not (isinstance(temperature, int | float) and 0 <= temperature <= 2):
        return invalid("Invalid 'temperature': must be between 0 and 2.", param="temperature")
    return None


def _check_stream(body: dict[str, Any]) -> Refusal | None:
    if body.get("stream_options") is not None and body.get("stream") is not True:
        return invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
            code="invalid_value",
        )
    return None


def _check_reasoning(body: dict[str, Any]) -> Refusal | None:
    if "max_tokens" in body:
        return invalid(
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            param="max_tokens",
            code="unsupported_parameter",
        )
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        return invalid(
            f"Unsupported value: 'temperature' does not support {temperature} with this model. "
            "Only the default (1) value is supported.",
            param="temperature",
            code="unsupported_value",
        )
    for name in ("top_p", "stop"):
        if name in body:
            return _unsupported(name)
    return None


def _check_not_reasoning(body: dict[str, Any]) -> Refusal | None:
    return _unsupported("reasoning_effort") if "reasoning_effort" in body else None


def _unsupported(name: str) -> Refusal:
    return invalid(
        f"Unsupported parameter: '{name}' is not supported with this model.", param=name, code="unsupported_parameter"
    )
