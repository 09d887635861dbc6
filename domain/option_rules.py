"""The rules of a rich request's options (docs/api.md#tools, #structured-output, #sampling, #reasoning).

A model is checked against its catalogue entry's capabilities (``tools``,
``json-schema``, ``thinking``) only when the catalogue knows it: a model id the
catalogue does not know (a new Bedrock id, an Ollama tag) is given the benefit
of the doubt and the provider decides. Fields are named as the native API
spells them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from domain.content import (
    CAP_JSON_SCHEMA,
    CAP_THINKING,
    CAP_TOOLS,
    OutputFormat,
    ReasoningConfig,
    Sampling,
    ToolChoice,
    ToolSpec,
)
from domain.errors import InvalidRequest
from domain.json_schema import check_object_schema, check_schema
from domain.models import ModelInfo

# The names every provider takes for a tool or a response schema (OpenAI's rule, also Bedrock's).
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
NAME_RULE = "1 to 64 characters of A-Z a-z 0-9 _ -"
MAX_TOOLS = 128  # OpenAI's limit; no provider takes more
MAX_STOP_SEQUENCES = 4  # OpenAI's limit, the smallest of any provider
DEFAULT_SCHEMA_NAME = "response"
MAX_SEED = 2**63 - 1


def check_tools(tools: Sequence[ToolSpec], model: ModelInfo | None) -> None:
    if not tools:
        return
    if model is not None and not model.can(CAP_TOOLS):
        raise InvalidRequest(f"tools: model '{model.id}' does not take tools")
    if len(tools) > MAX_TOOLS:
        raise InvalidRequest(f"tools: at most {MAX_TOOLS} tools, got {len(tools)}")
    names: set[str] = set()
    for i, tool in enumerate(tools):
        if not _NAME.fullmatch(tool.name):
            raise InvalidRequest(f"tools[{i}].name must be {NAME_RULE}")
        if tool.name in names:
            raise InvalidRequest(f"tools[{i}].name: tool '{tool.name}' is defined twice")
        names.add(tool.name)
        if "\x00" in tool.description:
            raise InvalidRequest(f"tools[{i}].description must not contain NUL (U+0000) characters")
        check_object_schema(tool.parameters, f"tools[{i}].parameters")


def check_tool_choice(choice: ToolChoice, tools: Sequence[ToolSpec]) -> None:
    if choice.mode in ("required", "tool") and not tools:
        raise InvalidRequest(f"toolChoice '{choice.mode}' needs tools")
    if choice.mode == "tool" and choice.name not in {tool.name for tool in tools}:
        raise InvalidRequest(f"toolChoice names tool '{choice.name}', which is not among the tools")
    if choice.mode != "tool" and choice.name:
        raise InvalidRequest("toolChoice: a tool name goes only with the 'tool' choice")


def check_output_format(output: OutputFormat, model: ModelInfo | None) -> OutputFormat:
    """The output format, a ``json_schema`` one given its default name; refuse a malformed one."""
    if output.type != "json_schema":
        if output.schema is not None or output.name or output.strict:
            raise InvalidRequest("responseFormat: name, schema and strict go only with type json_schema")
        return output
    if model is not None and not model.can(CAP_JSON_SCHEMA):
        raise InvalidRequest(f"responseFormat: model '{model.id}' cannot answer in a JSON Schema")
    if output.schema is None:
        raise InvalidRequest("responseFormat.schema is required with type json_schema")
    check_schema(output.schema, "responseFormat.schema")
    name = output.name or DEFAULT_SCHEMA_NAME
    if not _NAME.fullmatch(name):
        raise InvalidRequest(f"responseFormat.name must be {NAME_RULE}")
    return OutputFormat(type="json_schema", name=name, schema=output.schema, strict=output.strict)


MAX_TOP_K = 500  # Claude's largest on Bedrock; no provider behind the gateway takes more


def check_sampling(sampling: Sampling) -> None:
    top_p = sampling.top_p
    if top_p is not None and (isinstance(top_p, bool) or not math.isfinite(top_p) or not 0.0 < top_p <= 1.0):
        raise InvalidRequest(f"topP must be greater than 0.0 and at most 1.0, got {top_p}")
    if len(sampling.stop) > MAX_STOP_SEQUENCES:
        raise InvalidRequest(f"stop: at most {MAX_STOP_SEQUENCES} stop sequences, got {len(sampling.stop)}")
    for i, sequence in enumerate(sampling.stop):
        if not sequence or "\x00" in sequence:
            raise InvalidRequest(f"stop[{i}] must be a non-empty string without NUL characters")
    seed = sampling.seed
    if seed is not None and (isinstance(seed, bool) or not -MAX_SEED - 1 <= seed <= MAX_SEED):
        raise InvalidRequest(f"seed must be a 64-bit integer, got {seed}")
    top_k = sampling.top_k
    if top_k is not None and (isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K):
        raise InvalidRequest(f"topK must be an integer from 1 to {MAX_TOP_K}, got {top_k}")


def check_reasoning(reasoning: ReasoningConfig, model: ModelInfo | None, max_tokens: int) -> None:
    if not reasoning.requested:
        return
    if model is not None and not model.can(CAP_THINKING):
        raise InvalidRequest(f"reasoning: model '{model.id}' does not take a reasoning config")
    budget = reasoning.budget_tokens
    if budget and (isinstance(budget, bool) or not 0 < budget < max_tokens):
        # The thinking budget is spent within the answer's token cap, so it must leave room for the answer.
        raise InvalidRequest(
            f"reasoning.budgetTokens must be between 1 and maxTokens - 1 ({max_tokens - 1}), got {budget}"
        )
