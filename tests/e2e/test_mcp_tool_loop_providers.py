"""The native generate's MCP tool loop on real provider wires: Bedrock and Azure OpenAI fakes, the tests' MCP server.

The fake model calls the upstream MCP tool the request names; the gateway runs
the call and sends the conversation on with the result, which each fake checks
against its vendor's rules (Bedrock's body against botocore's model and its
conversation rules, OpenAI's tool-message rules), and the fake answers from it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.mcp_peers import HttpUpstream
from tests.support.server import ServerProcess
from tests.support.services import eventually
from tests.support.upstreams import ThreadedFake
from tests.vendors import bedrock_script, openai_script
from tests.vendors.azure_openai import FakeAzureOpenAI
from tests.vendors.bedrock import FakeBedrock

Bedrock = ThreadedFake[FakeBedrock]
Azure = ThreadedFake[FakeAzureOpenAI]
CLAUDE = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
ECHO = {"type": "mcp", "server": "web", "allowedTools": ["echo"]}


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
        }
        with ServerProcess(env) as running:
            eventually(lambda: _web_up(running), timeout=30, what="the MCP server up")
            yield running


def _web_up(gateway: ServerProcess) -> bool:
    servers = httpx.get(gateway.base_url + "/api/v1/mcp/servers", timeout=10).json()["servers"]
    return bool(servers) and servers[0]["state"] == "up"


def _generate(gateway: ServerProcess, **body: Any) -> dict[str, Any]:
    response = httpx.post(gateway.base_url + "/api/v1/generate", json=body, timeout=60)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_bedrock_model_calls_an_upstream_mcp_tool_and_answers_from_its_result(
    gateway: ServerProcess, bedrock: Bedrock
) -> None:
    call = bedrock_script.ScriptedCall("web__echo", {"text": "said on bedrock"})
    bedrock.fake.script = bedrock_script.Script(tool_calls=(call,))
    bedrock.fake.requests.clear()
    answer = _generate(gateway, provider="aws", model=CLAUDE, prompt="echo something", tools=[ECHO])
    assert (answer["provider"], answer["toolRounds"], answer["finishReason"]) == ("aws-bedrock", 1, "stop")
    assert "said on bedrock" in answer["content"]
    first, second = (request.body for request in bedrock.fake.requests)
    assert [tool["toolSpec"]["name"] for tool in first["toolConfig"]["tools"]] == ["web__echo"]
    result = second["messages"][-1]["content"][0]["toolResult"]
    assert "said on bedrock" in json.dumps(result) and all(r.status == 200 for r in bedrock.fake.requests)


def test_an_azure_model_calls_an_upstream_mcp_tool_and_answers_from_its_result(
    gateway: ServerProcess, azure: Azure
) -> None:
    azure.fake.script = openai_script.Script(tool_calls=[("web__echo", json.dumps({"text": "said on azure"}))])
    azure.fake.requests.clear()
    answer = _generate(gateway, provider="azure", model="gpt-4o", prompt="echo something", tools=[ECHO])
    assert (answer["provider"], answer["toolRounds"], answer["finishReason"]) == ("azure-openai", 1, "stop")
    assert answer["content"].startswith("Result:") and "said on azure" in answer["content"]
    first, second = (request.body for request in azure.fake.requests)
    assert [tool["function"]["name"] for tool in first["tools"]] == ["web__echo"]
    assert second["messages"][-1]["role"] == "tool" and "said on azure" in second["messages"][-1]["content"]
    assert all(request.status == 200 for request in azure.fake.requests)
