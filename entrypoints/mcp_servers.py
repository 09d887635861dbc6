"""``MCP_SERVERS``: the upstream MCP servers, in the shape MCP clients already use (deploy/.env.example).

    {"mcpServers": {
        "time":  {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "UTC"}},
        "files": {"url": "https://files.internal/mcp", "headers": {"Authorization": "Bearer ..."},
                  "allowedTools": ["read_*"], "deniedTools": ["read_secret*"], "timeoutSeconds": 10}}}

The value is that JSON, or the path of a file holding it. A server has either a
``command`` (stdio) or a ``url`` (Streamable HTTP); ``type`` may say which
(``stdio``, ``http``, ``streamable-http``; ``sse``, the deprecated transport, is
refused). Other fields clients write (``disabled``, ``description``, ...) are
ignored, and ``"disabled": true`` leaves the server out. A malformed value
stops the start with a ``ConfigError`` naming the server and the field; header
and environment values are never echoed (they hold secrets).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from domain.tool_servers import DEFAULT_TIMEOUT_SECONDS, SERVER_NAME, ToolServerConfig, Transport
from entrypoints.setting_values import ConfigError

MAX_SERVERS = 64
MAX_TIMEOUT_SECONDS = 3600.0
_TYPES: dict[str, Transport] = {"stdio": "stdio", "http": "http", "streamable-http": "http", "streamableHttp": "http"}


def parse_mcp_servers(value: str) -> tuple[ToolServerConfig, ...]:
    """The configured servers, by name; ``()`` when ``value`` is empty."""
    text = value.strip()
    if not text:
        return ()
    if not text.startswith("{"):
        text = _read_file(text)
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"MCP_SERVERS is not valid JSON: {exc}") from None
    servers = document.get("mcpServers") if isinstance(document, dict) else None
    if not isinstance(servers, dict):
        raise ConfigError('MCP_SERVERS must be {"mcpServers": {"<name>": {...}}}')
    if len(servers) > MAX_SERVERS:
        raise ConfigError(f"MCP_SERVERS names {len(servers)} servers, at most {MAX_SERVERS}")
    parsed = (_server(name, entry) for name, entry in sorted(servers.items()))
    return tuple(server for server in parsed if server is not None)


def _read_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"MCP_SERVERS is neither JSON nor a readable file: {path!r} ({exc.__class__.__name__})"
        ) from None


def _server(name: str, entry: Any) -> ToolServerConfig | None:
    if not SERVER_NAME.fullmatch(name):
        raise ConfigError(
            f"MCP_SERVERS: server name {name!r} must be 1-32 letters, digits or '-', starting with a letter or digit"
        )
    if not isinstance(entry, dict):
        raise ConfigError(f"MCP_SERVERS: server {name!r} must be an object")
    if entry.get("disabled") is True:
        return None
    fields = _Fields(name, entry)
    transport = fields.transport()
    config = ToolServerConfig(
        name=name,
        transport=transport,
        command=fields.text("command") if transport == "stdio" else "",
        args=fields.texts("args"),
        env=fields.mapping("env"),
        url=fields.url() if transport == "http" else "",
        headers=fields.mapping("headers"),
        allowed_tools=fields.texts("allowedTools"),
        denied_tools=fields.texts("deniedTools"),
        timeout_seconds=fields.timeout(),
    )
    return config


class _Fields:
    """One server's fields, each checked with an error that names the server and the field."""

    def __init__(self, name: str, entry: dict[str, Any]) -> None:
        self._name, self._entry = name, entry

    def _fail(self, field: str, expected: str) -> ConfigError:
        return ConfigError(f"MCP_SERVERS: server {self._name!r}, field {field!r}: expected {expected}")

    def transport(self) -> Transport:
        declared = self._entry.get("type", self._entry.get("transport"))
        has_command, has_url = "command" in self._entry, "url" in self._entry
        if declared is not None:
            if not isinstance(declared, str) or declared not in _TYPES:  # a list or an object is no transport
                raise self._fail("type", "stdio, http or streamable-http (the sse transport is not supported)")
            transport = _TYPES[declared]
        elif has_command == has_url:
            raise self._fail("command", "either a command (stdio) or a url (Streamable HTTP), not both or neither")
        else:
            transport = "stdio" if has_command else "http"
        if (transport == "stdio" and not has_command) or (transport == "http" and not has_url):
            raise self._fail("command" if transport == "stdio" else "url", "present for this type")
        return transport

    def text(self, field: str) -> str:
        value = self._entry.get(field)
        if not isinstance(value, str) or not value.strip() or "\x00" in value:
            raise self._fail(field, "a non-empty string")
        return value

    def texts(self, field: str) -> tuple[str, ...]:
        value = self._entry.get(field, [])
        if not isinstance(value, list) or not all(isinstance(item, str) and "\x00" not in item for item in value):
            raise self._fail(field, "a list of strings")
        return tuple(value)

    def mapping(self, field: str) -> dict[str, str]:
        value = self._entry.get(field, {})
        if not isinstance(value, dict) or not all(
            isinstance(key, str) and key and isinstance(item, str) and "\x00" not in key + item
            for key, item in value.items()
        ):
            raise self._fail(field, "an object of string values")
        return dict(value)

    def url(self) -> str:
        url = self.text("url")
        if not url.startswith(("http://", "https://")) or any(char.isspace() for char in url):
            raise self._fail("url", "an http:// or https:// URL")
        return url

    def timeout(self) -> float:
        value = self._entry.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._fail("timeoutSeconds", f"a number of seconds, above 0 and at most {MAX_TIMEOUT_SECONDS:g}")
        if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT_SECONDS):
            raise self._fail("timeoutSeconds", f"a number of seconds, above 0 and at most {MAX_TIMEOUT_SECONDS:g}")
        return float(value)
