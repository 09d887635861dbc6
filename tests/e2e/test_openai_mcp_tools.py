"""MCP tools in ``/v1/chat/completions``: the ``openai`` SDK names a configured MCP server, the gateway runs the loop.

The model (the mock, the Bedrock fake, the Azure OpenAI fake) calls the tests'
HTTP MCP server's ``echo``; the gateway runs the call, sends the result on and
returns the model's answer from it, the usage of every round added up. A key
without the grant, a server URL from the client and an approval step
are refused in OpenAI's error shape (the SDK's own exception classes); a stream
runs the same loop, each round's text streamed and each round of calls a ``tool_round`` chunk.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from domain.api_keys import hash_api_key, presented_key
from tests.support.mcp_peers import HttpUpstream
from tests.support.server import ServerProcess
from tests.support.services import eventually
from tests.support.upstreams import ThreadedFake
from tests.vendors import bedrock_script, openai_script
from tests.vendors.azure_openai import FakeAzureOpenAI
from tests.vendors.bedrock import FakeBedrock

Bedrock = ThreadedFake[FakeBedrock]
Azure = ThreadedFake[FakeAzureOpenAI]
CLAUDE = "bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0"
ADMIN = presented_key("admin1", secrets.token_hex(24))
ECHO_USER = presented_key("echouser", secrets.token_hex(24))
PLAIN_USER = presented_key("plainuser", secrets.token_hex(24))
ECHO: Any = {"type": "mcp", "server_label": "web", "allowed_tools": ["echo"], "require_approval": "never"}
MAX_ROUNDS = 2


def _entry(key: str, role: str, tools: str = "") -> str:
    _, lookup_id, secret = key.split("_", 2)
    entry = hash_api_key(secret, role=role, salt=secrets.token_bytes(16), lookup_id=lookup_id)  # type: ignore[arg-type]
    return entry + (f";tools={tools}" if tools else "")


@pytest.fixture(scope="module")
def bedrock() -> Iterator[Bedrock]:
    with ThreadedFake(FakeBedrock) as running:
        yield running


@pytest.fixture(scope="module")
def azure() -> Iterator[Azure]:
    with ThreadedFake(FakeAzureOpenAI) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(bedrock: Bedrock, azure: Azure) -> Iterator[ServerProcess]:
    with HttpUpstream() as upstream:
        env = {
            "PROVIDER_MAX_RETRIES": "0",
            "CACHE_ENABLED": "false",
            "AWS_BEDROCK_ENDPOINT_URL": bedrock.fake.url,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "fake-secret",
            "AZURE_ENDPOINT": azure.fake.url,
            "AZURE_API_KEY": azure.fake.api_key,
            "MCP_SERVERS": json.dumps({"mcpServers": {"web": {"url": upstream.url}}}),
            "MCP_MAX_TOOL_ROUNDS": str(MAX_ROUNDS),
            "API_KEYS": ",".join(
                [_entry(ADMIN, "admin"), _entry(ECHO_USER, "user", "web__echo"), _entry(PLAIN_USER, "user")]
            ),
        }
        with ServerProcess(env) as running:
            eventually(lambda: _web_up(running), timeout=30, what="the MCP server up")
            yield running


def _web_up(gateway: ServerProcess) -> bool:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    servers = httpx.get(gateway.base_url + "/api/v1/mcp/servers", headers=headers, timeout=10).json()["servers"]
    return bool(servers) and servers[0]["state"] == "up"


def _sdk(gateway: ServerProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=key, max_retries=0)


def _ask(gateway: ServerProcess, key: str, model: str, prompt: str, **extra: Any) -> Any:
    messages: Any = [{"role": "user", "content": prompt}]
    return _sdk(gateway, key).chat.completions.create(model=model, messages=messages, tools=[ECHO], **extra)


def test_the_mock_calls_an_upstream_mcp_tool_and_answers_from_its_result(gateway: ServerProcess) -> None:
    completion = _ask(gateway, ECHO_USER, "mock-1", "please call web__echo for me")
    choice = completion.choices[0]
    assert (choice.finish_reason, choice.message.tool_calls) == ("stop", None)
    assert '"length":' in (choice.message.content or "")  # the mock quotes the tool's structured result
    assert (completion.model_extra or {}).get("tool_rounds") == 1
    messages: Any = [{"role": "user", "content": "please call web__echo for me"}]
    one_round = _sdk(gateway, ECHO_USER).chat.completions.create(model="mock-1", messages=messages)
    assert completion.usage is not None and one_round.usage is not None
    assert completion.usage.total_tokens > one_round.usage.total_tokens  # both rounds are in the usage


def test_a_bedrock_model_calls_an_upstream_mcp_tool_and_answers_from_its_result(
    gateway: ServerProcess, bedrock: Bedrock
) -> None:
    call = bedrock_script.ScriptedCall("web__echo", {"text": "said on bedrock"})
    bedrock.fake.script = bedrock_script.Script(tool_calls=(call,))
    bedrock.fake.requests.clear()
    completion = _ask(gateway, ADMIN, CLAUDE, "echo something")
    assert completion.choices[0].finish_reason == "stop"
    assert "said on bedrock" in (completion.choices[0].message.content or "")
    first, second = (request.body for request in bedrock.fake.requests)
    assert [tool["toolSpec"]["name"] for tool in first["toolConfig"]["tools"]] == ["web__echo"]
    assert "said on bedrock" in json.dumps(second["messages"][-1]["content"][0]["toolResult"])


def test_an_azure_model_calls_an_upstream_mcp_tool_and_answers_from_its_result(
    gateway: ServerProcess, azure: Azure
) -> None:
    azure.fake.script = openai_script.Script(tool_calls=[("web__echo", json.dumps({"text": "said on azure"}))])
    azure.fake.requests.clear()
    completion = _ask(gateway, ADMIN, "azure/gpt-4o", "echo something")
    content = completion.choices[0].message.content or ""
    assert content.startswith("Result:") and "said on azure" in content
    first, second = (request.body for request in azure.fake.requests)
    assert [tool["function"]["name"] for tool in first["tools"]] == ["web__echo"]
    assert second["messages"][-1]["role"] == "tool" and "said on azure" in second["messages"][-1]["content"]


def test_the_round_limit_ends_the_loop_with_the_models_last_calls(gateway: ServerProcess, azure: Azure) -> None:
    azure.fake.script = openai_script.Script(tool_calls=[("web__echo", json.dumps({"text": "again"}))])
    azure.fake.requests.clear()
    completion = _ask(gateway, ADMIN, "azure/gpt-4o", "keep calling", tool_choice="required")
    assert len(azure.fake.requests) == MAX_ROUNDS + 1  # every round, then the answer that still calls
    assert (completion.model_extra or {}).get("tool_rounds") == MAX_ROUNDS
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls is not None
    assert [call.function.name for call in choice.message.tool_calls] == ["web__echo"]


def test_a_key_without_the_grant_is_refused(gateway: ServerProcess) -> None:
    with pytest.raises(openai.PermissionDeniedError) as refused:
        _ask(gateway, PLAIN_USER, "mock-1", "please call web__echo for me")
    assert "tools[0].server_label: this API key may use no tool of the MCP server 'web'" in refused.value.message


@pytest.mark.parametrize(
    ("tool", "field"),
    [
        pytest.param({"server_label": "nowhere"}, "tools[0].server_label: no MCP server named 'nowhere'", id="unknown"),
        pytest.param(
            {"server_label": "web", "server_url": "http://127.0.0.1:9/mcp"}, "tools[0].server_url", id="client-url"
        ),
        pytest.param(
            {"server_label": "web", "server_url": "http://169.254.169.254/latest"}, "tools[0].server_url", id="meta"
        ),
        pytest.param({"server_label": "web", "require_approval": "always"}, "tools[0].require_approval", id="approval"),
        pytest.param({"server_label": "web", "headers": {"Authorization": "x"}}, "tools[0].headers", id="headers"),
        pytest.param({"server_label": ""}, "tools[0].server_label is required", id="no-label"),
        pytest.param({"server_label": "web", "allowed_tools": []}, "tools[0].allowed_tools", id="allows-nothing"),
    ],
)
def test_what_cannot_be_honoured_is_a_400_naming_the_field(
    gateway: ServerProcess, tool: dict[str, Any], field: str
) -> None:
    messages: Any = [{"role": "user", "content": "please call web__echo"}]
    tools: Any = [{"type": "mcp", **tool}]
    with pytest.raises(openai.BadRequestError) as refused:
        _sdk(gateway, ADMIN).chat.completions.create(model="mock-1", messages=messages, tools=tools)
    assert field in refused.value.message


def test_a_streamed_completion_runs_the_loop_and_streams_each_round(gateway: ServerProcess) -> None:
    stream = _ask(gateway, ECHO_USER, "mock-1", "please call web__echo for me", stream=True)
    chunks = list(stream)
    rounds = [chunk.model_extra["tool_round"] for chunk in chunks if (chunk.model_extra or {}).get("tool_round")]
    assert len(rounds) == 1 and rounds[0]["round"] == 1
    assert [call["name"] for call in rounds[0]["calls"]] == ["web__echo"]
    assert '"length":' in rounds[0]["results"][0]["content"] and not rounds[0]["results"][0]["is_error"]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert '"length":' in text  # the second round's answer quotes the result
    assert not any(chunk.choices and chunk.choices[0].delta.tool_calls for chunk in chunks)  # the gateway ran them
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] == "stop"


def test_a_streamed_azure_completion_answers_from_the_tool_result(gateway: ServerProcess, azure: Azure) -> None:
    azure.fake.script = openai_script.Script(tool_calls=[("web__echo", json.dumps({"text": "streamed on azure"}))])
    chunks = list(_ask(gateway, ADMIN, "azure/gpt-4o", "echo something", stream=True))
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text.startswith("Result:") and "streamed on azure" in text
    assert sum(1 for chunk in chunks if (chunk.model_extra or {}).get("tool_round")) == 1


def test_the_responses_api_runs_an_mcp_tool_and_shows_its_list_and_its_call(gateway: ServerProcess) -> None:
    response = _sdk(gateway, ECHO_USER).responses.create(
        model="mock-1", input="please call web__echo for me", tools=[ECHO]
    )
    assert [item.type for item in response.output] == ["mcp_list_tools", "mcp_call", "message"]
    listed, call = response.output[0], response.output[1]
    assert listed.type == "mcp_list_tools" and listed.server_label == "web"
    assert [tool.name for tool in listed.tools] == ["echo"] and "text" in str(listed.tools[0].input_schema)
    assert call.type == "mcp_call" and (call.server_label, call.name, call.error) == ("web", "echo", None)
    assert call.output is not None and '"length":' in call.output
    assert '"length":' in response.output_text and response.status == "completed"
    assert response.usage is not None and response.usage.total_tokens > 0


def test_the_responses_api_refuses_what_it_cannot_honour_in_openais_shape(gateway: ServerProcess) -> None:
    with pytest.raises(openai.PermissionDeniedError, match="may use no tool of the MCP server 'web'"):
        _sdk(gateway, PLAIN_USER).responses.create(model="mock-1", input="please call web__echo", tools=[ECHO])
    refusals: list[tuple[Any, str]] = [
        ({**ECHO, "server_url": "http://169.254.169.254/"}, "tools[0].server_url"),
        ({**ECHO, "require_approval": "always"}, "tools[0].require_approval"),
        ({**ECHO, "server_label": "nowhere"}, "tools[0].server_label: no MCP server named 'nowhere'"),
    ]
    for tool, field in refusals:
        with pytest.raises(openai.BadRequestError, match=re.escape(field)):
            _sdk(gateway, ADMIN).responses.create(model="mock-1", input="please call web__echo", tools=[tool])


def test_a_streamed_response_runs_the_loop_with_an_mcp_call_item_between_the_rounds(gateway: ServerProcess) -> None:
    stream = _sdk(gateway, ECHO_USER).responses.create(
        model="mock-1", input="please call web__echo for me", tools=[ECHO], stream=True
    )
    events = list(stream)
    done = [event.item for event in events if event.type == "response.output_item.done"]
    assert [item.type for item in done] == ["mcp_call", "message"]
    call = done[0]
    assert call.type == "mcp_call" and call.name == "echo" and call.output is not None and '"length":' in call.output
    completed = events[-1]
    assert completed.type == "response.completed"
    assert [item.type for item in completed.response.output] == ["mcp_call", "message"]
    assert '"length":' in completed.response.output_text
    assert [event.sequence_number for event in events] == list(range(len(events)))
