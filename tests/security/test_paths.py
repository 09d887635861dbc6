"""Issue 11, item 1 and the ``/examples/%00`` crash: the guard classifies a path exactly as the router resolves it.

Every spelling of an admin route is tried on the real server with a ``user``
key and an ``admin`` key, on the raw socket so that nothing tidies the request
target on the way: runs of slashes and trailing slashes are the same route to
Litestar, so they are the admin route to the guard (403 for a user, 200 for an
admin); dot segments, encoded slashes and control characters are refused
(400); another letter case is no route at all (404), never a way around the
guard.
"""

from __future__ import annotations

import json
import random
import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from litestar.utils import normalize_path

from domain.api_keys import hash_api_key
from entrypoints.config import load_settings
from entrypoints.http.app import create_litestar
from entrypoints.http.shared.paths import PathMiddleware, path_defect
from entrypoints.http.shared.route_table import OTHER, canonical_path, route_of
from tests.integration.gateway_app import in_process_gateway
from tests.security.edge_support import raw_request, running_gateway
from tests.support.server import ServerProcess

USER_KEY = "mcp_user_" + secrets.token_urlsafe(24)
ADMIN_KEY = "mcp_admin_" + secrets.token_urlsafe(24)
API_KEYS = ",".join(
    (
        hash_api_key(USER_KEY, role="user", salt=secrets.token_bytes(16)),
        hash_api_key(ADMIN_KEY, role="admin", salt=secrets.token_bytes(16)),
    )
)
INVALIDATE_BODY = json.dumps({"cache_key": "ai:edge"}).encode()

# (method, canonical path, body, how many leading segments are literal rather than a path parameter)
ADMIN_ROUTES = [
    ("POST", "/api/v1/cache/invalidate", INVALIDATE_BODY, 4),
    ("DELETE", "/api/v1/cache/blacklist/ai:edge", b"", 4),
]


def resolved_spellings(path: str) -> list[str]:
    """Spellings that Litestar's router resolves to ``path`` itself."""
    segments = path.strip("/").split("/")
    inner = ["/" + "/".join(segments[:i]) + "//" + "/".join(segments[i:]) for i in range(1, len(segments))]
    first_letter = path.replace(segments[-1], f"%{ord(segments[-1][0]):02x}{segments[-1][1:]}", 1)
    return ["/" + path, "///" + path, *inner, path + "/", path + "//", "/" + path + "/", first_letter]


def refused_spellings(path: str) -> list[str]:
    """Spellings whose meaning depends on who reads them: dot segments, encoded slashes, control characters."""
    segments = path.strip("/").split("/")
    dotted = ["/" + "/".join([*segments[:i], dot, *segments[i:]]) for i in range(len(segments)) for dot in (".", "%2e")]
    parent = ["/" + "/".join([*segments[:i], "x", up, *segments[i:]]) for i in (1, 3) for up in ("..", "%2E%2E")]
    encoded = ["/" + "/".join(segments[:i]) + sep + "/".join(segments[i:]) for i in (1, 3) for sep in ("%2F", "%2f")]
    return [*dotted, *parent, path + "/.", path + "/..", *encoded, path + "%00", path + "%0a", "/%00" + path]


def case_spellings(path: str, literal: int) -> list[str]:
    """The literal segments in another case: a different path to the case-sensitive router."""
    segments = path.strip("/").split("/")
    changed = ["/" + "/".join(s.upper() if j == i else s for j, s in enumerate(segments)) for i in range(literal)]
    return [*changed, "/" + "/".join(s.capitalize() for s in segments)]


@pytest.fixture(scope="module")
def keyed() -> Iterator[ServerProcess]:
    with running_gateway({"API_KEYS": API_KEYS}, ws=True) as running:
        yield running


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def call(server: ServerProcess, method: str, target: str, key: str, body: bytes) -> tuple[int, str]:
    response = raw_request(server.http_port, method, target, bearer(key), body)
    code = response.json().get("code", "") if response.header(b"content-type") == b"application/json" else ""
    return response.status, code


@pytest.mark.parametrize(("method", "path", "body", "literal"), ADMIN_ROUTES)
def test_every_spelling_the_router_resolves_is_the_admin_route_for_the_guard(
    keyed: ServerProcess, method: str, path: str, body: bytes, literal: int
) -> None:
    for target in [path, *resolved_spellings(path)]:
        assert call(keyed, method, target, USER_KEY, body) == (403, "forbidden"), target
        assert call(keyed, method, target, ADMIN_KEY, body)[0] == 200, target


@pytest.mark.parametrize(("method", "path", "body", "literal"), ADMIN_ROUTES)
def test_dot_segments_encoded_slashes_and_control_characters_are_refused_for_every_key(
    keyed: ServerProcess, method: str, path: str, body: bytes, literal: int
) -> None:
    for target in refused_spellings(path):
        for key in (USER_KEY, ADMIN_KEY, "no-key"):
            assert call(keyed, method, target, key, body) == (400, "invalid_request"), (target, key)


@pytest.mark.parametrize(("method", "path", "body", "literal"), ADMIN_ROUTES)
def test_another_letter_case_is_no_route_for_any_key(
    keyed: ServerProcess, method: str, path: str, body: bytes, literal: int
) -> None:
    for target in case_spellings(path, literal):
        assert call(keyed, method, target, USER_KEY, body)[0] == 404, target
        assert call(keyed, method, target, ADMIN_KEY, body)[0] == 404, target
        assert call(keyed, method, target, "no-key", body)[0] == 401, target  # unknown path: a key first


def test_a_lowercase_method_never_reaches_an_admin_handler(keyed: ServerProcess) -> None:
    answer = raw_request(keyed.http_port, "delete", "/api/v1/cache/blacklist/ai:edge", bearer(USER_KEY))

    assert answer.status == 400


def test_a_path_the_guard_does_not_know_needs_a_key(keyed: ServerProcess) -> None:
    for target in ("/nowhere", "/examplesX/index.html", "/api/v2/cache/invalidate", "/api/v1/sessions", "/*"):
        assert raw_request(keyed.http_port, "GET", target).status == 401, target
        assert raw_request(keyed.http_port, "GET", target, bearer(USER_KEY)).status == 404, target


def test_public_routes_stay_public_in_every_spelling_the_router_resolves(keyed: ServerProcess) -> None:
    for target in ("//healthz", "/healthz/", "/readyz//", "//examples/", "/examples//index.html", "//metrics"):
        assert raw_request(keyed.http_port, "GET", target).status == 200, target


GENERATE_SAMPLES = r'^mcp_requests_total\{[^}]*method="generate"[^}]*\} (\S+)$'


def test_the_raw_asgi_generate_route_and_its_metric_label_follow_the_router(keyed: ServerProcess) -> None:
    def generate_count() -> float:
        text = httpx.get(keyed.base_url + "/metrics").text
        return sum(float(n) for n in re.findall(GENERATE_SAMPLES, text, re.MULTILINE))

    before = generate_count()
    for target in ("//api/v1/generate", "/api/v1//generate/"):
        body = json.dumps({"prompt": "spelled " + target}).encode()
        answer = raw_request(keyed.http_port, "POST", target, bearer(USER_KEY), body)
        assert answer.status == 200 and answer.json()["provider"] == "mock", target

    assert generate_count() == before + 2


async def test_the_websocket_port_resolves_ws_as_the_http_router_does(keyed: ServerProcess) -> None:
    for path in ("/ws", "//ws", "/ws/"):
        uri = f"ws://127.0.0.1:{keyed.ws_port}{path}"
        async with websockets.connect(uri, additional_headers=bearer(USER_KEY)) as socket:
            await socket.send(json.dumps({"prompt": "spelled " + path}))
            while not (frame := json.loads(await socket.recv())).get("finished"):
                pass
            assert "error" not in frame, path


def test_a_nul_or_an_overlong_name_under_examples_is_a_clean_error_without_a_traceback(keyed: ServerProcess) -> None:
    nul = raw_request(keyed.http_port, "GET", "/examples/%00")
    overlong = raw_request(keyed.http_port, "GET", "/examples/" + "a" * 300)

    assert (nul.status, nul.json()["code"]) == (400, "invalid_request")
    assert nul.json()["requestId"] == nul.header(b"x-request-id").decode()  # type: ignore[union-attr]
    assert (overlong.status, overlong.json()["code"]) == (404, "not_found")
    assert "Traceback" not in keyed.logs() and "internal_error" not in keyed.logs()


def test_without_keys_the_examples_nul_is_refused_too() -> None:
    with running_gateway() as server:
        answer = raw_request(server.http_port, "GET", "/examples/%00")
        assert (answer.status, answer.json()["code"]) == (400, "invalid_request")
        assert "Traceback" not in server.logs()


# --- the rule itself, against Litestar's -------------------------------------------------------------


def test_canonical_path_is_the_routers_normalisation_on_random_paths() -> None:
    alphabet = ["/", "/", "//", "a", "b", ".", "..", "%", "~", "é", " "]
    generator = random.Random(11)
    paths = ["", "/", "//", "*", "a", "/a/", *("".join(generator.choices(alphabet, k=8)) for _ in range(5000))]

    for path in paths:
        assert canonical_path(path) == normalize_path(path), repr(path)


def test_route_of_classifies_every_spelling_the_router_resolves_as_the_route_itself() -> None:
    for method, path, _, _ in ADMIN_ROUTES:
        route = route_of(path)
        assert method in route.admin_methods
        assert all(route_of(spelling) is route for spelling in resolved_spellings(path) if "%" not in spelling)
    assert route_of("/examplesX") is OTHER and route_of("/examples/x.css").public


def test_path_defect_names_each_ambiguity_and_passes_ordinary_paths() -> None:
    assert path_defect("/api/v1/cache/invalidate", b"/api/v1/cache/invalidate") is None
    assert path_defect("/examples/examples.css", b"/examples/examples.css") is None
    assert path_defect("/api/v1/sessions/a.b..c", b"/api/v1/sessions/a.b..c") is None
    assert "encoded slash" in (path_defect("/api/v1/cache/invalidate", b"/api/v1/cache%2Finvalidate") or "")
    assert "'.'" in (path_defect("/api/./v1", b"/api/%2e/v1") or "")
    assert "'.'" in (path_defect("/api/v1/..", None) or "")
    assert "control" in (path_defect("/examples/\x00", b"/examples/%00") or "")


async def test_every_route_litestar_serves_is_in_the_table_with_its_admin_methods() -> None:
    """The guard's table and the router's routes cannot drift apart: no served route is 'other' to the guard."""
    async with in_process_gateway(traced=False) as gateway:
        app = create_litestar(gateway.container, load_settings([], environ={}, dotenv=None))
    for served in app.routes:
        sample = re.sub(r"\{(\w+):\w+\}", "x", served.path)
        route = route_of(sample)
        assert route is not OTHER, served.path
        if not served.path.startswith(("/schema", "/examples")):
            assert route.template == re.sub(r"\{(\w+):\w+\}", r"{\1}", served.path)
        for handler in getattr(served, "route_handlers", ()):
            methods = set(handler.http_methods) - {"OPTIONS"}
            if (handler.summary or "").endswith("(admin)"):
                assert methods <= route.admin_methods, served.path
            else:
                assert not methods & route.admin_methods, served.path


async def test_an_ambiguous_websocket_path_is_closed_before_the_upgrade() -> None:
    reached: list[str] = []
    sent: list[dict[str, object]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    async def send(message: Any) -> None:
        sent.append(message)

    layer = PathMiddleware(inner)
    await layer({"type": "websocket", "path": "/ws/..", "raw_path": b"/ws/%2e%2e"}, _no_receive, send)
    await layer({"type": "websocket", "path": "/ws", "raw_path": b"/ws"}, _no_receive, send)

    assert sent == [{"type": "websocket.close", "code": 1008}] and reached == ["/ws"]


async def _no_receive() -> dict[str, object]:
    raise AssertionError("the path layer reads no message")
