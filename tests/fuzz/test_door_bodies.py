"""The front doors' JSON bodies and the ``MCP_SERVERS`` setting, fed any bytes and door-shaped JSON.

Each door decodes strictly (``JsonBody`` with its wire type), maps onto the
domain (``generate_fields`` or ``embedding_fields``) and, for generation doors,
through ``build_request``. The only outcomes allowed are a request or a
``DomainError`` (a 4xx in the door's own shape); anything else would be a 500.
``parse_mcp_servers`` may return servers or raise ``ConfigError``.

The generated bodies use each dialect's own field names and block ``type``
tags, so that most examples get past the decoder into the mappings, where the
cross-field rules live (tool results without calls, reasoning sent back,
cache marks, images, tool choices).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from domain.catalogue import Catalogue
from domain.catalogue_data import DEFAULT_MODELS, MOCK_MODELS
from domain.errors import DomainError
from domain.validation import GenerateFields, RequestContext, RequestLimits, build_request
from entrypoints.http.anthropic.mapping import count_fields
from entrypoints.http.anthropic.mapping import generate_fields as anthropic_fields
from entrypoints.http.anthropic.shapes import CountTokensBody, MessagesBody
from entrypoints.http.openai.embeddings import EmbeddingsBody, embedding_fields
from entrypoints.http.openai.mapping import generate_fields as chat_fields
from entrypoints.http.openai.responses.mapping import generate_fields as responses_fields
from entrypoints.http.openai.responses.shapes import ResponseBody
from entrypoints.http.openai.shapes import ChatCompletionBody
from entrypoints.http.shared.body import JsonBody
from entrypoints.mcp_servers import parse_mcp_servers
from entrypoints.setting_values import ConfigError
from tests.fuzz import short

CATALOGUE = Catalogue(MOCK_MODELS, configured=("mock",), default_models=DEFAULT_MODELS)
LIMITS = RequestLimits()
CONTEXT = RequestContext(request_id="fuzz")
PNG_B64 = "iVBORw0KGgoAAAAAAAAAAA=="  # a PNG signature and padding: enough to pass the type sniff

_text = st.text(max_size=12) | st.sampled_from(["", " ", "mock-1", "mock/mock-1", "call_1", "get_time", "\x00"])
_scalars = st.none() | st.booleans() | st.integers(-3, 70_000) | st.floats(allow_nan=False) | _text
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


def _tagged(tags: list[str], fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A content block of one of ``tags`` with some of ``fields`` set to anything JSON."""
    return st.builds(
        lambda tag, rest: {"type": tag, **rest},
        st.sampled_from(tags),
        st.dictionaries(st.sampled_from(fields), _json | _text, max_size=4),
    )


def _messages(roles: list[str], block: st.SearchStrategy[dict[str, Any]], extra: list[str]) -> st.SearchStrategy[Any]:
    content = _text | st.lists(block, max_size=3) | _json
    message = st.builds(
        lambda role, body, more: {"role": role, "content": body, **more},
        st.sampled_from(roles),
        content,
        st.dictionaries(st.sampled_from(extra), _json | _text, max_size=2) if extra else st.just({}),
    )
    return st.lists(message, max_size=4)


def _body(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A body holding any subset of ``fields``, each drawn from its own strategy (or anything JSON)."""
    return st.fixed_dictionaries({}, optional={name: strategy | _json for name, strategy in fields.items()})


ANTHROPIC_BLOCK_FIELDS = [
    "text", "source", "id", "name", "input", "tool_use_id", "content", "is_error", "thinking", "signature", "data",
    "cache_control",
]  # fmt: skip
_model = st.sampled_from(["mock-1", "mock/mock-1", "unknown", "", "mock/"]) | _text
_tools_chat = st.lists(
    _tagged(["function", "mcp"], ["function", "server_label", "allowed_tools", "require_approval", "server_url"])
    | st.just({"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}),
    max_size=2,
)
CHAT = _body(
    {
        "model": _model,
        "messages": _messages(
            ["system", "developer", "user", "assistant", "tool", "function"],
            _tagged(["text", "image_url", "refusal", "input_audio", "file"], ["text", "image_url", "refusal"])
            | st.just({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}),
            ["tool_calls", "tool_call_id", "name", "reasoning_content"],
        ),
        "tools": _tools_chat,
        "tool_choice": st.sampled_from(["auto", "none", "required"]),
        "response_format": _tagged(["text", "json_object", "json_schema"], ["json_schema"]),
        "max_tokens": st.integers(-1, 100_000),
        "n": st.integers(0, 3),
        "stream": st.booleans(),
        "stream_options": st.just({"include_usage": True}),
        "reasoning_effort": st.sampled_from(["minimal", "low", "medium", "high"]),
        "stop": st.lists(_text, max_size=5) | _text,
    }
)
ANTHROPIC = _body(
    {
        "model": _model,
        "max_tokens": st.integers(-1, 100_000),
        "system": _text | st.lists(_tagged(["text"], ["text", "cache_control"]), max_size=2),
        "messages": _messages(
            ["user", "assistant", "system"],
            _tagged(
                ["text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking", "document"],
                ANTHROPIC_BLOCK_FIELDS,
            )
            | st.just({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}),
            [],
        ),
        "tools": st.lists(_tagged(["custom"], ["name", "input_schema", "description"]), max_size=2),
        "tool_choice": _tagged(["auto", "any", "tool", "none"], ["name", "disable_parallel_tool_use"]),
        "thinking": _tagged(["enabled", "disabled"], ["budget_tokens"]),
        "top_k": st.integers(-1, 600),
        "stop_sequences": st.lists(_text, max_size=5),
    }
)
RESPONSES = _body(
    {
        "model": _model,
        "input": _text
        | st.lists(
            _tagged(
                ["message", "function_call", "function_call_output", "reasoning", "item_reference"],
                ["role", "content", "call_id", "name", "arguments", "output", "id", "summary", "encrypted_content"],
            ),
            max_size=3,
        ),
        "instructions": _text,
        "tools": st.lists(
            _tagged(["function", "mcp", "web_search"], ["name", "parameters", "server_label"]), max_size=2
        ),
        "tool_choice": st.sampled_from(["auto", "none", "required"]),
        "text": st.just({"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}}),
        "max_output_tokens": st.integers(-1, 100_000),
        "store": st.booleans(),
        "previous_response_id": _text,
    }
)
EMBEDDINGS = _body(
    {
        "model": st.sampled_from(["mock-embed-1", "mock/mock-embed-1", ""]) | _text,
        "input": _text | st.lists(_text | st.integers(0, 9), max_size=4),
        "dimensions": st.integers(-1, 5000),
        "encoding_format": st.sampled_from(["float", "base64", "hex"]),
    }
)


def _raw(value: object) -> bytes:
    try:
        return msgspec.json.encode(value)
    except (OverflowError, ValueError, TypeError):
        return repr(value).encode()


def _bodies(door: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    return door.map(_raw) | st.binary(max_size=128) | _json.map(_raw)


def _generation(body_type: type[Any], mapping: Callable[[Any, Catalogue], GenerateFields], raw: bytes) -> None:
    try:
        body = JsonBody(body_type).decode(raw)
        fields = mapping(body, CATALOGUE)
        build_request(fields, catalogue=CATALOGUE, limits=LIMITS, context=CONTEXT)
    except DomainError:
        return


@short(250)
@given(raw=_bodies(CHAT))
def test_any_chat_completions_body_is_a_request_or_a_domain_error(raw: bytes) -> None:
    _generation(ChatCompletionBody, chat_fields, raw)


@short(250)
@given(raw=_bodies(ANTHROPIC))
def test_any_anthropic_messages_body_is_a_request_or_a_domain_error(raw: bytes) -> None:
    _generation(MessagesBody, anthropic_fields, raw)
    _generation(CountTokensBody, count_fields, raw)


@short(250)
@given(raw=_bodies(RESPONSES))
def test_any_responses_body_is_a_request_or_a_domain_error(raw: bytes) -> None:
    _generation(ResponseBody, responses_fields, raw)


@short(200)
@given(raw=_bodies(EMBEDDINGS))
def test_any_embeddings_body_is_fields_or_a_domain_error(raw: bytes) -> None:
    try:
        embedding_fields(JsonBody(EmbeddingsBody).decode(raw))
    except DomainError:
        return


_server_entries = st.dictionaries(
    st.sampled_from(["command", "args", "env", "url", "headers", "type", "allowedTools", "deniedTools",
                     "timeoutSeconds", "cwd"]),
    _json | _text,
    max_size=5,
)  # fmt: skip
_mcp_documents = st.builds(lambda servers: {"mcpServers": servers}, st.dictionaries(_text, _server_entries, max_size=3))


@short(300)
@given(text=_mcp_documents.map(lambda document: _raw(document).decode()) | st.text(max_size=64).map(lambda t: "{" + t))
def test_any_mcp_servers_value_gives_servers_or_a_config_error(text: str) -> None:
    try:
        servers = parse_mcp_servers(text)
    except ConfigError:
        return
    assert [server.name for server in servers] == sorted(server.name for server in servers)
