"""The rich-conversation domain: parts, stored-session compatibility, the cache key, and the validation rules."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from domain.cache_key import cache_key
from domain.catalogue import Catalogue
from domain.catalogue_data import AWS_MODELS, AZURE_MODELS, DEFAULT_MODELS, MOCK_MODELS
from domain.content import (
    ImagePart,
    OutputFormat,
    ReasoningConfig,
    ReasoningPart,
    Sampling,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from domain.errors import InvalidRequest
from domain.json_schema import check_schema
from domain.message_rules import check_tool_pairing
from domain.models import CacheEntry, GenerationRequest, Message, ProviderCall, Session, Usage
from domain.validation import GenerateFields, RequestContext, RequestLimits, build_request

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
WEATHER = ToolSpec(
    name="get_weather",
    description="The weather in a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CALL = ToolCallPart(id="call_1", name="get_weather", arguments='{"city": "Lima"}')
RESULT = ToolResultPart(call_id="call_1", content="18 °C, cloudy")
ASKED = Message(role="user", content="What is the weather in Lima?")
CALLED = Message(role="assistant", parts=(CALL,))
ANSWERED = Message(role="tool", parts=(RESULT,))

CATALOGUE = Catalogue(
    (*AWS_MODELS, *AZURE_MODELS, *MOCK_MODELS), configured=("aws", "azure", "mock"), default_models=DEFAULT_MODELS
)


def build(**fields: Any) -> GenerationRequest:
    fields.setdefault("model", "mock-1")
    return build_request(
        GenerateFields(**fields), catalogue=CATALOGUE, limits=RequestLimits(), context=RequestContext()
    )


def refused(**fields: Any) -> str:
    with pytest.raises(InvalidRequest) as caught:
        build(**fields)
    return caught.value.message


PLAIN = ProviderCall(
    model="mock-1",
    messages=(
        Message(role="user", content="hola"),
        Message(role="assistant", content="¿qué tal?"),
        Message(role="user", content="bien"),
    ),
    max_tokens=100,
    temperature=0.7,
    system="be brief",
)


OLD_MESSAGE = {
    "role": "assistant",
    "content": "hi",
    "model": "m",
    "tokens": 7,
    "cache_key": "ai:x",
    "created_at": 1.5,
}


class TestStoredSessionsStillDecode:
    def test_a_message_stored_as_json_before_parts_existed_decodes_unchanged(self) -> None:
        message = msgspec.json.decode(msgspec.json.encode(OLD_MESSAGE), type=Message)
        assert message == Message(role="assistant", content="hi", model="m", tokens=7, cache_key="ai:x", created_at=1.5)
        assert (message.parts, message.text, message.content_parts) == ((), "hi", (TextPart(text="hi"),))

    def test_a_session_stored_as_msgpack_before_parts_existed_decodes_unchanged(self) -> None:
        old = {"id": "s", "user_id": "u", "messages": [OLD_MESSAGE], "created_at": 1.0, "updated_at": 2.0}
        session = msgspec.msgpack.decode(msgspec.msgpack.encode(old), type=Session)
        assert session.messages[0].content == "hi" and session.messages[0].tokens == 7

    def test_a_cache_entry_stored_before_tool_calls_existed_decodes(self) -> None:
        old = {"content": "a", "model": "m", "provider": "mock", "usage": {"prompt_tokens": 1, "completion_tokens": 2}}
        entry = msgspec.json.decode(msgspec.json.encode(old), type=CacheEntry)
        assert (entry.tool_calls, entry.reasoning, entry.usage.total, entry.usage.reasoning_tokens) == ((), (), 3, 0)


class TestRichMessagesEncode:
    MESSAGE = Message(
        role="assistant",
        parts=(
            ReasoningPart(text="think", signature="sig", redacted=b"\x00\xffopaque"),
            TextPart(text="calling"),
            CALL,
        ),
    )

    @pytest.mark.parametrize("codec", [msgspec.json, msgspec.msgpack])
    def test_every_kind_of_part_survives_a_round_trip(self, codec: Any) -> None:
        tool = Message(
            role="tool",
            parts=(
                ToolResultPart(call_id="c", parts=(TextPart(text="x"), ImagePart(media_type="image/png", data=PNG))),
            ),
        )
        for message in (self.MESSAGE, tool, Message(role="user", parts=(ImagePart(url="https://x/y.png"),))):
            assert codec.decode(codec.encode(message), type=Message) == message

    def test_parts_are_tagged_by_type(self) -> None:
        encoded = msgspec.json.decode(msgspec.json.encode(self.MESSAGE))
        assert [part["type"] for part in encoded["parts"]] == ["reasoning", "text", "tool_call"]

    def test_the_text_of_a_message_is_its_text_parts(self) -> None:
        assert self.MESSAGE.text == "calling" and self.MESSAGE.tool_calls == (CALL,)

    def test_usage_total_counts_prompt_and_completion_only(self) -> None:
        usage = Usage(prompt_tokens=10, completion_tokens=5, cache_read_input_tokens=8, reasoning_tokens=3)
        assert usage.total == 15


class TestCacheKey:
    def test_a_plain_prompt_keeps_the_key_it_always_had(self) -> None:
        # Computed by the key function before rich requests existed.
        assert cache_key("mock", PLAIN) == "ai:36fb1442ace80a7e9157bd1e4eb822ae00e2ee8dcba822ae8388314d198bbbad"

    def test_options_at_their_defaults_do_not_change_the_key(self) -> None:
        same = msgspec.structs.replace(
            PLAIN,
            tool_choice=ToolChoice(),
            output_format=OutputFormat(),
            sampling=Sampling(),
            reasoning=ReasoningConfig(),
        )
        assert cache_key("mock", same) == cache_key("mock", PLAIN)

    @pytest.mark.parametrize(
        "changed",
        [
            {"tools": (WEATHER,)},
            {"tools": (WEATHER,), "tool_choice": ToolChoice(mode="required")},
            {"tools": (WEATHER,), "parallel_tool_calls": False},
            {"tool_choice": ToolChoice(mode="none")},
            {"output_format": OutputFormat(type="json_object")},
            {"output_format": OutputFormat(type="json_schema", name="r", schema={"type": "object"})},
            {"sampling": Sampling(top_p=0.9)},
            {"sampling": Sampling(stop=("END",))},
            {"sampling": Sampling(seed=7)},
            {"reasoning": ReasoningConfig(effort="high")},
            {"messages": (ASKED, CALLED, ANSWERED)},
            {
                "messages": (
                    Message(role="user", parts=(TextPart(text="hola"), ImagePart(media_type="image/png", data=PNG))),
                )
            },
        ],
    )
    def test_every_option_that_changes_the_answer_changes_the_key(self, changed: dict[str, Any]) -> None:
        assert cache_key("mock", msgspec.structs.replace(PLAIN, **changed)) != cache_key("mock", PLAIN)

    def test_images_count_by_their_bytes(self) -> None:
        def with_image(data: bytes) -> ProviderCall:
            image = ImagePart(media_type="image/png", data=data)
            return msgspec.structs.replace(PLAIN, messages=(Message(role="user", parts=(image,)),))

        assert cache_key("mock", with_image(PNG)) == cache_key("mock", with_image(bytes(PNG)))
        assert cache_key("mock", with_image(PNG)) != cache_key("mock", with_image(PNG + b"\x01"))

    def test_the_order_of_keys_in_a_tool_schema_does_not_matter(self) -> None:
        a = ToolSpec(name="t", parameters={"type": "object", "properties": {"x": {"type": "string"}}})
        b = ToolSpec(name="t", parameters={"properties": {"x": {"type": "string"}}, "type": "object"})
        assert cache_key("mock", msgspec.structs.replace(PLAIN, tools=(a,))) == cache_key(
            "mock", msgspec.structs.replace(PLAIN, tools=(b,))
        )


class TestBuildingARichRequest:
    def test_a_plain_prompt_builds_the_request_it_always_did(self) -> None:
        request = build(prompt="hola", system="be brief")
        assert request == GenerationRequest(
            prompt="hola", model="mock-1", provider="mock", max_tokens=4096, temperature=0.7, system="be brief"
        )
        assert request.turn == (Message(role="user", content="hola"),)

    def test_a_prompt_with_messages_is_the_last_user_turn(self) -> None:
        request = build(messages=(ASKED, CALLED, ANSWERED), prompt="and tomorrow?", tools=(WEATHER,))
        assert request.turn == (ASKED, CALLED, ANSWERED, Message(role="user", content="and tomorrow?"))
        assert request.user_text == "and tomorrow?"

    def test_system_messages_join_the_system_prompt(self) -> None:
        request = build(system="one", messages=(Message(role="system", content="two"), ASKED))
        assert (request.system, request.messages) == ("one\n\ntwo", (ASKED,))

    def test_options_reach_the_request(self) -> None:
        schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
        request = build(
            prompt="x",
            tools=(WEATHER,),
            tool_choice=ToolChoice(mode="tool", name="get_weather"),
            parallel_tool_calls=False,
            output_format=OutputFormat(type="json_schema", schema=schema),
            top_p=0.5,
            stop=("END",),
            seed=3,
            reasoning=ReasoningConfig(budget_tokens=1024),
        )
        assert request.output_format == OutputFormat(type="json_schema", name="response", schema=schema)
        assert request.sampling == Sampling(top_p=0.5, stop=("END",), seed=3)
        assert (request.tool_choice.name, request.parallel_tool_calls, request.reasoning.budget_tokens) == (
            "get_weather",
            False,
            1024,
        )

    def test_a_conversation_of_system_messages_alone_is_refused(self) -> None:
        assert refused(messages=(Message(role="system", content="x"),)).startswith("messages:")

    def test_the_text_of_all_messages_counts_against_the_prompt_limit(self) -> None:
        long = Message(role="user", content="x" * 60_000)
        assert refused(messages=(long, Message(role="assistant", content="y"), long)).startswith(
            "messages are too long"
        )


class TestValidationRulesNameTheField:
    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"messages": (Message(role="user", content=" "),)}, "messages[0].content must not be empty"),
            ({"messages": (Message(role="tool", content="x"),)}, "messages[0].content: a tool message"),
            ({"messages": (Message(role="user", parts=(CALL,)),)}, "messages[0].content[0]: a user message cannot"),
            (
                {"messages": (Message(role="assistant", parts=(ToolCallPart(id="c", name="f", arguments="[1]"),)),)},
                "messages[0].content[0].arguments",
            ),
            (
                {"messages": (Message(role="user", parts=(ImagePart(media_type="image/tiff", data=PNG),)),)},
                "messages[0].content[0].mediaType: image type image/tiff",
            ),
            (
                {
                    "messages": (Message(role="user", parts=(ImagePart(media_type="image/png", data=PNG),)),),
                    "model": "mock-text-1",
                },
                "messages[0].content[0]: model 'mock-text-1' does not take images",
            ),
            (
                {"messages": (Message(role="user", parts=(ImagePart(url="file:///etc/passwd"),)),)},
                "messages[0].content[0].url",
            ),
            ({"prompt": "x", "tools": (WEATHER,), "model": "mock-text-1"}, "tools: model 'mock-text-1' does not take"),
            ({"prompt": "x", "tools": (ToolSpec(name="bad name"),)}, "tools[0].name"),
            ({"prompt": "x", "tools": (WEATHER, WEATHER)}, "tools[1].name: tool 'get_weather' is defined twice"),
            ({"prompt": "x", "tools": (ToolSpec(name="t", parameters={"type": "array"}),)}, "tools[0].parameters.type"),
            (
                {
                    "prompt": "x",
                    "tools": (
                        ToolSpec(name="t", parameters={"type": "object", "properties": {"a": {"type": "strin"}}}),
                    ),
                },
                "tools[0].parameters.properties.a.type",
            ),
            ({"prompt": "x", "tool_choice": ToolChoice(mode="required")}, "toolChoice 'required' needs tools"),
            (
                {"prompt": "x", "tools": (WEATHER,), "tool_choice": ToolChoice(mode="tool", name="other")},
                "toolChoice names tool 'other'",
            ),
            ({"prompt": "x", "output_format": OutputFormat(type="json_schema")}, "responseFormat.schema is required"),
            (
                {"prompt": "x", "output_format": OutputFormat(type="json_schema", schema={"required": "a"})},
                "responseFormat.schema.required",
            ),
            (
                {"prompt": "x", "output_format": OutputFormat(type="json_schema", schema={}), "model": "mock-text-1"},
                "responseFormat: model 'mock-text-1'",
            ),
            ({"prompt": "x", "top_p": 0.0}, "topP"),
            ({"prompt": "x", "stop": ("a", "b", "c", "d", "e")}, "stop: at most 4"),
            ({"prompt": "x", "seed": 2**64}, "seed"),
            (
                {"prompt": "x", "reasoning": ReasoningConfig(budget_tokens=5000), "max_tokens": 4000},
                "reasoning.budgetTokens",
            ),
            (
                {"prompt": "x", "reasoning": ReasoningConfig(effort="low"), "model": "mock-text-1"},
                "reasoning: model 'mock-text-1'",
            ),
        ],
    )
    def test_each_rule(self, fields: dict[str, Any], field: str) -> None:
        assert refused(**fields).startswith(field)

    def test_a_model_the_catalogue_does_not_know_is_given_the_benefit_of_the_doubt(self) -> None:
        image = Message(role="user", parts=(ImagePart(media_type="image/png", data=PNG),))
        request = build(model="new-model", provider="mock", messages=(image,), tools=(WEATHER,))
        assert request.tools == (WEATHER,) and request.messages == (image,)


class TestToolPairing:
    def pairing(self, *messages: Message, history: tuple[Message, ...] = (), prompt: bool = False) -> str:
        with pytest.raises(InvalidRequest) as caught:
            check_tool_pairing(history, messages, prompt_follows=prompt)
        return caught.value.message

    def test_a_call_answered_by_the_next_message_passes(self) -> None:
        check_tool_pairing((), (ASKED, CALLED, ANSWERED), prompt_follows=False)
        check_tool_pairing((ASKED, CALLED), (ANSWERED,), prompt_follows=True)

    def test_a_result_without_a_call(self) -> None:
        assert self.pairing(ASKED, ANSWERED).startswith("messages[1].content[0].callId: no earlier tool call")

    def test_a_call_id_used_twice(self) -> None:
        again = Message(role="assistant", parts=(CALL,))
        message = self.pairing(ASKED, CALLED, ANSWERED, again)
        assert message.startswith("messages[3].content[0].id: tool call id 'call_1' is used twice")

    def test_two_calls_with_one_id_in_one_message(self) -> None:
        twice = Message(role="assistant", parts=(CALL, CALL))
        assert self.pairing(ASKED, twice).startswith("messages[1].content[1].id")

    def test_a_result_for_a_call_of_an_older_turn(self) -> None:
        later = (Message(role="assistant", content="ok"), Message(role="user", content="again"))
        assert self.pairing(ASKED, CALLED, ANSWERED, *later, ANSWERED).startswith("messages[5].content[0].callId")

    def test_a_call_left_unanswered_before_the_next_turn(self) -> None:
        assert self.pairing(ASKED, CALLED, Message(role="user", content="?")).startswith(
            "messages[2]: tool call 'call_1' has no result"
        )
        assert self.pairing(history=(ASKED, CALLED), prompt=True).startswith("prompt: tool call 'call_1'")

    def test_the_history_is_named_as_such(self) -> None:
        assert self.pairing(ANSWERED, history=(ASKED,)).startswith("messages[0].content[0].callId")
        assert self.pairing(ASKED, history=(CALLED, CALLED)).startswith("the session's history")


class TestJsonSchemaShape:
    @pytest.mark.parametrize(
        "schema",
        [
            {"type": "object", "properties": {"a": {"type": ["string", "null"]}}, "required": ["a"]},
            {"type": "array", "items": {"enum": [1, 2]}, "minItems": 1},
            {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/x"}], "$defs": {"x": {"type": "integer"}}},
            {"type": "object", "additionalProperties": False, "x-vendor": {"anything": 1}},
            True,
        ],
    )
    def test_valid_schemas_pass(self, schema: object) -> None:
        check_schema(schema, "s")

    @pytest.mark.parametrize(
        ("schema", "field"),
        [
            ([], "s must be a JSON Schema"),
            ({"type": "text"}, "s.type"),
            ({"type": ["string", "string"]}, "s.type"),
            ({"properties": []}, "s.properties"),
            ({"properties": {"a": 3}}, "s.properties.a"),
            ({"required": ["a", "a"]}, "s.required"),
            ({"enum": []}, "s.enum"),
            ({"anyOf": []}, "s.anyOf"),
            ({"items": {"minLength": -1}}, "s.items.minLength"),
            ({"multipleOf": 0}, "s.multipleOf"),
            ({"pattern": 3}, "s.pattern"),
        ],
    )
    def test_malformed_schemas_name_the_path(self, schema: object, field: str) -> None:
        with pytest.raises(InvalidRequest) as caught:
            check_schema(schema, "s")
        assert caught.value.message.startswith(field)

    def test_a_schema_nested_past_the_limit_is_refused(self) -> None:
        schema: dict[str, Any] = {"type": "string"}
        for _ in range(100):
            schema = {"items": schema}
        with pytest.raises(InvalidRequest, match="nested"):
            check_schema(schema, "s")
