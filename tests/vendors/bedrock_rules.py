"""The rules Bedrock enforces that botocore's model cannot express, with Bedrock's own wording.

Conversation: it starts with a user turn and alternates roles; no text block
is blank; ``toolUse`` and ``toolResult`` blocks need a ``toolConfig``; the
user turn right after an assistant turn with ``toolUse`` blocks answers every
one of them with a ``toolResult``, and no user turn holds more results than
the turn before made calls.

Model features (Bedrock's table of supported models and model features): only
Claude, Nova and Mistral Large take a forced ``toolChoice`` (``any``, ``tool``);
only Claude takes ``toolResult.status``; only Claude 3.7 / 3.5 Haiku / 4 and
Nova take ``cachePoint`` blocks (and Nova none among the tools); each
``additionalModelResponseFieldPaths`` entry is a JSON pointer.

Claude's thinking (``additionalModelRequestFields.thinking``, Claude 3.7 and 4
only), as Anthropic's messages come back through Bedrock: a budget of at least
1024 tokens and below ``maxTokens``, no temperature but 1, no forced tool; the
last assistant turn with tool calls starts with its reasoning; and every
reasoning block sent back carries the signature the model gave it, and the
very text that signature was given for (a signature covers its text: either
changed is refused alike).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FORCED_CHOICE_FAMILIES = ("anthropic.claude", "amazon.nova", "mistral.mistral-large")
CACHE_FAMILIES = (
    "anthropic.claude-3-7",
    "anthropic.claude-3-5-haiku",
    "anthropic.claude-sonnet-4",
    "anthropic.claude-opus-4",
    "amazon.nova",
)
THINKING_FAMILIES = ("anthropic.claude-3-7", "anthropic.claude-sonnet-4", "anthropic.claude-opus-4")


class RequestInvalid(Exception):
    """What the real service reports as a 400 ``ValidationException``."""


_MODEL_SAYS = "The model returned the following errors: "
_THINKING_DOCS = "https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking"


def check_conversation(messages: list[dict[str, Any]], tool_config: dict[str, Any] | None) -> None:
    if not messages:
        raise RequestInvalid(
            "A conversation must start with a user message. "
            "Try again with a conversation that starts with a user message."
        )
    for index, message in enumerate(messages):
        if message["role"] != ("user" if index % 2 == 0 else "assistant"):
            raise RequestInvalid(
                "A conversation must alternate between user and assistant roles. "
                "Make sure the conversation alternates between user and assistant roles and try again."
            )
        for block in message["content"]:
            if "text" in block and not block["text"].strip():
                raise RequestInvalid(
                    "The text field in the ContentBlock object is blank. Add text to the text field, and try again."
                )
    uses_tools = any(_blocks(message, "toolUse") or _blocks(message, "toolResult") for message in messages)
    if tool_config is None and uses_tools:
        raise RequestInvalid("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
    _check_tool_pairing(messages)


def _blocks(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [block[kind] for block in message["content"] if kind in block]


def _check_tool_pairing(messages: list[dict[str, Any]]) -> None:
    calls: list[str] = []
    for index, message in enumerate(messages):
        results = [result["toolUseId"] for result in _blocks(message, "toolResult")]
        if len(results) > len(calls):
            raise RequestInvalid(
                f"The number of toolResult blocks at messages.{index}.content exceeds the number of toolUse "
                "blocks of previous turn."
            )
        missing = [call for call in calls if call not in results]
        if missing:
            raise RequestInvalid(
                f"Expected toolResult blocks at messages.{index}.content for the following Ids: {', '.join(missing)}"
            )
        calls = [use["toolUseId"] for use in _blocks(message, "toolUse")]


def check_model_features(model_id: str, body: dict[str, Any]) -> None:
    choice = body.get("toolConfig", {}).get("toolChoice", {})
    for forced in ("any", "tool"):
        if forced in choice and not _family(model_id, FORCED_CHOICE_FAMILIES):
            raise RequestInvalid(
                f"This model doesn't support the toolConfig.toolChoice.{forced} field. "
                f"Remove toolConfig.toolChoice.{forced} and try again."
            )
    claude = "anthropic.claude" in model_id
    for message in body["messages"]:
        if not claude and any("status" in result for result in _blocks(message, "toolResult")):
            raise RequestInvalid(
                "This model doesn't support the toolResult.status field. Remove toolResult.status and try again."
            )
    for path in body.get("additionalModelResponseFieldPaths", []):
        if not path.startswith("/"):  # each one is a JSON pointer into the model's own answer
            raise RequestInvalid(f"The additionalModelResponseFieldPaths value {path} is not a valid JSON pointer.")
    if _has_cache_point(body) and not _cache_point_allowed(model_id, body):
        raise RequestInvalid(
            "You invoked an unsupported model or your request did not allow prompt caching. "
            "See the documentation for more information."
        )


def _family(model_id: str, families: tuple[str, ...]) -> bool:
    return any(family in model_id for family in families)


def _has_cache_point(body: dict[str, Any]) -> bool:
    blocks = [*body.get("system", []), *body.get("toolConfig", {}).get("tools", [])]
    blocks += [block for message in body["messages"] for block in message["content"]]
    return any("cachePoint" in block for block in blocks)


def _cache_point_allowed(model_id: str, body: dict[str, Any]) -> bool:
    if not _family(model_id, CACHE_FAMILIES):
        return False
    tools = body.get("toolConfig", {}).get("tools", [])
    return "anthropic.claude" in model_id or not any("cachePoint" in tool for tool in tools)


def check_thinking(model_id: str, body: dict[str, Any], signatures: Mapping[str, str]) -> None:
    thinking = body.get("additionalModelRequestFields", {}).get("thinking")
    if thinking is None:
        return
    if not _family(model_id, THINKING_FAMILIES):
        raise RequestInvalid(f"{_MODEL_SAYS}thinking: Extra inputs are not permitted")
    budget = thinking.get("budget_tokens", 0)
    if budget < 1024:
        raise RequestInvalid(
            f"{_MODEL_SAYS}thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        )
    config = body.get("inferenceConfig", {})
    if config.get("maxTokens", 4096) <= budget:
        raise RequestInvalid(
            f"{_MODEL_SAYS}`max_tokens` must be greater than `thinking.budget_tokens`. "
            f"Please consult our documentation at {_THINKING_DOCS}#max-tokens-and-context-window-size"
        )
    if config.get("temperature", 1) != 1:
        raise RequestInvalid(
            f"{_MODEL_SAYS}`temperature` may only be set to 1 when thinking is enabled. "
            "Please consult our documentation at "
            f"{_THINKING_DOCS}#important-considerations-when-using-extended-thinking"
        )
    choice = body.get("toolConfig", {}).get("toolChoice", {})
    if "any" in choice or "tool" in choice:
        raise RequestInvalid(f"{_MODEL_SAYS}Thinking may not be enabled when tool_choice forces tool use.")
    _check_reasoning_sent_back(body["messages"], signatures)


def _check_reasoning_sent_back(messages: list[dict[str, Any]], signatures: Mapping[str, str]) -> None:
    for index, message in enumerate(messages):
        for position, block in enumerate(message["content"]):
            text = block.get("reasoningContent", {}).get("reasoningText")
            if text is not None and signatures.get(text.get("signature", "")) != text.get("text"):
                raise RequestInvalid(
                    f"{_MODEL_SAYS}messages.{index}.content.{position}: Invalid `signature` in `thinking` block"
                )
    answers = [i for i, message in enumerate(messages) if message["role"] == "assistant"]
    last = answers[-1] if answers else None
    calls_unthought = last is not None and "reasoningContent" not in messages[last]["content"][0]
    if last is not None and calls_unthought and _blocks(messages[last], "toolUse"):
        raise RequestInvalid(
            f"{_MODEL_SAYS}messages.{last}.content.0.type: Expected `thinking` or `redacted_thinking`, "
            "but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a "
            "thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you "
            f"include thinking blocks from previous turns. To avoid this requirement, disable `thinking`. Please "
            f"consult our documentation at {_THINKING_DOCS}"
        )
