"""MCP_SERVERS, MCP_ALLOWED_* and the API_KEYS ;tools= option: what parses, and errors that name the culprit."""

from __future__ import annotations

import io
import json
import secrets
from pathlib import Path

import pytest

from domain.api_keys import KeyRing, hash_api_key, parse_key_entries, presented_key
from domain.models import Caller
from domain.tool_access import may_use_tool
from entrypoints.config import ConfigError, load_settings
from entrypoints.hash_key import hash_key_command
from entrypoints.mcp_servers import parse_mcp_servers


def servers(**entries: object) -> str:
    return json.dumps({"mcpServers": entries})


def test_the_shape_mcp_clients_use_parses_into_stdio_and_http_servers_by_name() -> None:
    parsed = parse_mcp_servers(
        servers(
            web={"url": "https://tools.example/mcp", "headers": {"Authorization": "Bearer t"}, "timeoutSeconds": 5},
            time={"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "UTC"}, "deniedTools": ["convert_*"]},
            off={"command": "never", "disabled": True},
            typed={"type": "streamable-http", "url": "http://127.0.0.1:1/mcp", "description": "ignored field"},
        )
    )
    assert [(s.name, s.transport) for s in parsed] == [("time", "stdio"), ("typed", "http"), ("web", "http")]
    time, _, web = parsed
    assert (time.command, time.args, dict(time.env), time.denied_tools) == (
        "uvx",
        ("mcp-server-time",),
        {"TZ": "UTC"},
        ("convert_*",),
    )
    assert (web.url, dict(web.headers), web.timeout_seconds) == (
        "https://tools.example/mcp",
        {"Authorization": "Bearer t"},
        5.0,
    )
    assert time.offers("get_current_time") and not time.offers("convert_time")


def test_the_value_may_be_the_path_of_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(servers(time={"command": "mcp-server-time"}))
    assert [s.name for s in parse_mcp_servers(str(path))] == ["time"]
    assert parse_mcp_servers("") == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (servers(a={}), "server 'a', field 'command'"),
        (servers(a={"command": "x", "url": "http://h/mcp"}), "server 'a', field 'command'"),
        (servers(a={"command": ["x"]}), "server 'a', field 'command'"),
        (servers(a={"command": "x", "args": "--flag"}), "server 'a', field 'args'"),
        (servers(a={"command": "x", "env": {"K": 1}}), "server 'a', field 'env'"),
        (servers(a={"url": "ftp://h/mcp"}), "server 'a', field 'url'"),
        (servers(a={"url": "http://h/mcp", "headers": ["x"]}), "server 'a', field 'headers'"),
        (servers(a={"url": "http://h/mcp", "timeoutSeconds": 0}), "server 'a', field 'timeoutSeconds'"),
        (servers(a={"url": "http://h/mcp", "timeoutSeconds": "5"}), "server 'a', field 'timeoutSeconds'"),
        (servers(a={"url": "http://h/mcp", "allowedTools": "read_*"}), "server 'a', field 'allowedTools'"),
        (servers(a={"type": "sse", "url": "http://h/sse"}), "server 'a', field 'type'"),
        (servers(**{"bad__name": {"command": "x"}}), "server name 'bad__name'"),
        (servers(a="just a string"), "server 'a' must be an object"),
        ('{"servers": {}}', '{"mcpServers"'),
        ("{not json", "not valid JSON"),
        ("/no/such/file.json", "neither JSON nor a readable file"),
    ],
)
def test_a_malformed_value_stops_the_start_naming_the_server_and_the_field(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match="MCP_SERVERS") as refused:
        load_settings([], environ={"MCP_SERVERS": value}, dotenv=None)
    assert message in str(refused.value)


def test_secrets_in_headers_and_env_are_never_echoed() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_mcp_servers(servers(a={"url": "http://h/mcp", "headers": {"Authorization": 12345678}}))
    assert "12345678" not in str(refused.value)


def test_allowed_hosts_and_origins_are_checked() -> None:
    with pytest.raises(ConfigError, match="MCP_ALLOWED_HOSTS"):
        load_settings([], environ={"MCP_ALLOWED_HOSTS": " , "}, dotenv=None)
    with pytest.raises(ConfigError, match="MCP_ALLOWED_ORIGINS"):
        load_settings([], environ={"MCP_ALLOWED_ORIGINS": "gateway.example"}, dotenv=None)
    settings = load_settings([], environ={"MCP_ALLOWED_HOSTS": "gw.example,gw.example:*"}, dotenv=None)
    assert settings.mcp_allowed_hosts == "gw.example,gw.example:*"


def _entry(role: str, suffix: str = "") -> tuple[str, str]:
    secret = secrets.token_hex(16)
    entry = hash_api_key(secret, role=role, salt=secrets.token_bytes(16), lookup_id="abcdef12")  # type: ignore[arg-type]
    return presented_key("abcdef12", secret), entry + suffix


def test_a_key_entry_may_name_the_tools_its_key_may_use_and_the_old_forms_still_parse() -> None:
    key, entry = _entry("user", ";tools=time|web__read_*")
    (parsed,) = parse_key_entries(entry)
    assert parsed.tool_patterns == ("time", "web__read_*")
    principal = KeyRing([parsed]).verify(key)
    assert principal is not None and principal.tool_patterns == ("time", "web__read_*")
    _, old = _entry("user")
    old = old.replace("user:", "user+feedback:", 1)
    assert parse_key_entries(old)[0].tool_patterns == () and parse_key_entries(old)[0].feedback
    plain = hash_api_key("k" * 20, role="admin", salt=secrets.token_bytes(16))
    assert parse_key_entries(plain)[0].role == "admin"


@pytest.mark.parametrize("suffix", [";scope=all", ";tools=a b", ";tools", ";tools=web/../x"])
def test_an_unknown_option_or_a_bad_pattern_is_refused_without_echoing_the_entry(suffix: str) -> None:
    _, entry = _entry("user", suffix)
    with pytest.raises(ValueError, match="entry 1") as refused:
        parse_key_entries(entry)
    assert entry.split("$")[1] not in str(refused.value)


def test_who_may_use_an_upstream_tool() -> None:
    assert may_use_tool(Caller(), "web__anything")  # no keys: every tool, like every route
    assert may_use_tool(Caller(key_id="a", admin=True), "web__anything")
    assert not may_use_tool(Caller(key_id="u"), "web__anything")  # a user key without ;tools=
    assert may_use_tool(Caller(key_id="u", tool_patterns=("web",)), "web__read")
    assert not may_use_tool(Caller(key_id="u", tool_patterns=("web",)), "webx__read")
    assert may_use_tool(Caller(key_id="u", tool_patterns=("*__read",)), "fs__read")
    assert not may_use_tool(Caller(key_id="u", tool_patterns=("web__read",)), "web__read_all")


def test_hash_key_makes_an_entry_with_the_tools_it_is_given() -> None:
    out = io.StringIO()
    assert hash_key_command(["--tools", "time|web__read_*"], stdout=out) == 0
    key = out.getvalue().split("shown only now): ")[1].split()[0]
    entry = out.getvalue().split("API_KEYS entry: ")[1].strip()
    principal = KeyRing(parse_key_entries(entry)).verify(key)
    assert principal is not None and principal.tool_patterns == ("time", "web__read_*")
    assert hash_key_command(["--tools", "not a pattern"], stdout=io.StringIO()) == 2
