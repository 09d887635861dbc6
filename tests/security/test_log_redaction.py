"""Redaction keeps every JSON log line valid and keeps what follows a secret (issue 11, item 14).

The redaction used to run on the encoded line: its value pattern swallowed the
backslash of an escaped quote (a request for ``/token=x%22`` wrote a line no
JSON parser reads), and it ran past ``&`` (the WebSocket line of
``/ws?apiKey=…&userId=…`` lost every parameter after the key). Fields are now
redacted before they are encoded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import websockets

from entrypoints.log_redaction import REDACTED, Redactor
from entrypoints.logging_setup import JsonFormatter
from tests.support.realtime import realtime_server
from tests.support.server import ServerProcess
from tests.support.upstreams import eventually

KEY = "s3cr3t-key-value-0123456789"


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("test", logging.INFO, __file__, 1, message, args, None)
    entry.__dict__.update(extra)
    return entry


def formatted(entry: logging.LogRecord, secrets: tuple[str, ...] = ()) -> dict[str, object]:
    line = JsonFormatter(redactor=Redactor(secrets)).format(entry)
    parsed: dict[str, object] = json.loads(line)  # every line must stay valid JSON
    return parsed


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ('/token=x"', f'/token={REDACTED}"'),
        ("/token=x\\", f"/token={REDACTED}"),
        ('/api/v1/x?password=p"w&next=1', f'/api/v1/x?password={REDACTED}"w&next=1'),
        ("/token=x\\u0022", f"/token={REDACTED}"),
    ],
)
def test_a_quote_or_backslash_after_a_secret_keeps_the_line_valid_json(path: str, expected: str) -> None:
    assert formatted(record("GET 404", path=path))["path"] == expected


def test_the_parameters_after_an_api_key_in_a_query_are_kept() -> None:
    line = formatted(record('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", f"/ws?apiKey={KEY}&userId=alice&x=1"))
    assert line["message"] == f'127.0.0.1:5000 - "WebSocket /ws?apiKey={REDACTED}&userId=alice&x=1" [accepted]'


def test_a_secret_with_json_special_characters_is_found_and_removed() -> None:
    secret = 'pa"ss\\wörd-42'
    line = formatted(record(f"connecting with {secret}", detail={"nested": [f"again {secret}"]}), (secret,))
    assert secret not in json.dumps(line, ensure_ascii=False)
    assert line["message"] == f"connecting with {REDACTED}"
    assert line["detail"] == {"nested": [f"again {REDACTED}"]}


def test_a_field_named_like_a_credential_is_redacted_whole() -> None:
    line = formatted(record("headers", headers={"X-API-Key": "short", "Authorization": "Token abc", "accept": "*/*"}))
    assert line["headers"] == {"X-API-Key": REDACTED, "Authorization": REDACTED, "accept": "*/*"}


def test_a_line_with_nothing_to_redact_is_exactly_the_plain_line() -> None:
    entry = record("%s %s", "generate", "200", surface="generate", tokens=12, path="/api/v1/generate", duration=1.5)
    assert JsonFormatter(redactor=Redactor([KEY])).format(entry) == JsonFormatter().format(entry)


# -- the real server's log ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with realtime_server({"MOCK_LATENCY_MS": "0"}) as running:
        yield running


def log_lines(server: ServerProcess) -> list[dict[str, object]]:
    lines = [line for line in server.logs().splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]  # raises on any line that is not valid JSON


def test_every_line_of_the_server_log_stays_valid_json_after_a_quote_in_the_path(server: ServerProcess) -> None:
    response = httpx.get(server.base_url + "/token=x%22", timeout=10)
    assert response.status_code == 404

    def access_line() -> dict[str, object] | None:
        return next((line for line in log_lines(server) if str(line.get("path", "")).startswith("/token=")), None)

    line = eventually(access_line)
    assert line is not None and line["path"] == f'/token={REDACTED}"'


@pytest.mark.parametrize("port", ["ws", "http"])
async def test_the_websocket_line_keeps_the_parameters_after_the_api_key(server: ServerProcess, port: str) -> None:
    number = server.ws_port if port == "ws" else server.http_port
    query = f"apiKey={KEY}&userId=alice-{port}&sessionId=s-{port}"
    async with websockets.connect(f"ws://127.0.0.1:{number}/ws?{query}"):
        pass

    def socket_line() -> dict[str, object] | None:
        return next((line for line in log_lines(server) if f"alice-{port}" in str(line.get("message", ""))), None)

    line = eventually(socket_line)
    assert line is not None
    assert f"/ws?apiKey={REDACTED}&userId=alice-{port}&sessionId=s-{port}" in str(line["message"])
    assert KEY not in server.logs()
