"""The Responses door's request mapping takes the native route's path where the request is the same question."""

from __future__ import annotations

import msgspec

from domain.catalogue import Catalogue
from domain.catalogue_data import DEFAULT_MODELS, MOCK_MODELS
from domain.models import GenerationRequest
from domain.validation import GenerateFields, RequestContext, RequestLimits, build_request
from entrypoints.http.openai.responses.mapping import generate_fields
from entrypoints.http.openai.responses.shapes import ResponseBody

CATALOGUE = Catalogue(MOCK_MODELS, configured=("mock",), default_models=DEFAULT_MODELS)


def generation(body: dict[str, object]) -> GenerationRequest:
    fields = generate_fields(msgspec.convert(body, ResponseBody), CATALOGUE)
    return build_request(fields, catalogue=CATALOGUE, limits=RequestLimits(), context=RequestContext())


def native(prompt: str, **fields: object) -> GenerationRequest:
    plain = GenerateFields(model="mock-1", prompt=prompt, **fields)  # type: ignore[arg-type]
    return build_request(plain, catalogue=CATALOGUE, limits=RequestLimits(), context=RequestContext())


def test_a_string_input_is_the_native_routes_request() -> None:
    assert generation({"model": "mock-1", "input": "hello", "temperature": 0.7}) == native("hello", temperature=0.7)


def test_a_last_user_message_of_text_is_the_prompt_after_the_earlier_turns() -> None:
    request = generation({
        "model": "mock-1",
        "instructions": "be brief",
        "input": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": [{"type": "input_text", "text": "and now?"}]},
        ],
    })  # fmt: skip
    assert request.prompt == "and now?"
    assert request.system == "be brief"
    assert [(m.role, m.content) for m in request.messages] == [("user", "hi"), ("assistant", "hello")]


def test_a_last_item_that_is_not_plain_user_text_stays_a_message() -> None:
    request = generation({
        "model": "mock-1",
        "input": [{"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                  {"type": "function_call_output", "call_id": "c1", "output": "42"}],
        "tools": [{"type": "function", "name": "f"}],
    })  # fmt: skip
    assert request.prompt == ""
    assert [m.role for m in request.messages] == ["assistant", "tool"]
