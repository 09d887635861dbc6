"""The example pages in a real browser: headless Chromium loads each page from the running gateway,
a prompt is typed, Send is clicked, and the streamed answer appears in the page (docs/api.md#stream, #websocket).

Chromium is Debian's ``chromium`` package. Without it these tests skip, except under ``CI=true``
where a missing browser is a failure (``.ci/run`` installs it).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.chromium import Chromium, Page, find_chromium
from tests.support.realtime import realtime_server
from tests.support.server import REPO_ROOT, ServerProcess, free_port

pytestmark = pytest.mark.browser

# Records every state of the answer box, so the test can tell a streamed answer from one that arrived whole.
RECORD_UPDATES = """
window.__updates = [];
new MutationObserver(() => window.__updates.push(document.querySelector('#output').textContent))
  .observe(document.querySelector('#output'), {childList: true, characterData: true, subtree: true});
"""
EXAMPLES_DIR = REPO_ROOT / "examples"
STATE = "document.querySelector('#status').dataset.state"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    executable = find_chromium()
    if executable is None:
        reason = "chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; under CI=true the browser tests must run")
        pytest.skip(reason)
    browser = Chromium(executable)
    try:
        yield browser.wait_ready()
    finally:
        browser.stop()


@pytest.fixture(scope="module")
def front_end() -> Iterator[str]:
    """The example pages served from another origin, as a separate front end would serve them."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(EXAMPLES_DIR))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def gateway(front_end: str) -> Iterator[ServerProcess]:
    with realtime_server({"MOCK_LATENCY_MS": "30", "CORS_ALLOWED_ORIGINS": front_end}) as running:
        yield running


@pytest.fixture
async def page(chromium: Chromium) -> AsyncIterator[Page]:
    opened = await Page.open(chromium)
    try:
        yield opened
    finally:
        await opened.close()


async def ask(page: Page, prompt: str) -> tuple[str, list[str], str]:
    """Type the prompt, click Send, wait for the page to say it is done: answer, its updates, stats."""
    await page.evaluate(RECORD_UPDATES)
    await page.type_into("#prompt", prompt)
    await page.click("#send")
    state = await page.wait_for(f"['done', 'error'].includes({STATE}) && {STATE}")
    status = await page.evaluate("document.querySelector('#status').textContent")
    assert state == "done", f"the page reported: {status}"
    output = await page.evaluate("document.querySelector('#output').textContent")
    updates = await page.evaluate("window.__updates")
    stats = await page.evaluate("document.querySelector('#stats').textContent")
    return output, updates, stats


async def test_the_sse_page_streams_an_answer_into_the_page(page: Page, gateway: ServerProcess) -> None:
    prompt = "tell me about streaming over server sent events"
    await page.goto(f"{gateway.base_url}/examples/sse.html")
    output, updates, stats = await ask(page, prompt)

    assert output == f"Mock answer (turn 1): {prompt}"
    assert len(set(updates)) > 3, "the answer must appear piece by piece, not all at once"
    assert "via mock" in stats and "finish stop" in stats


async def test_the_websocket_page_streams_an_answer_into_the_page(page: Page, gateway: ServerProcess) -> None:
    prompt = "tell me about streaming over websockets"
    await page.goto(f"{gateway.base_url}/examples/websocket.html")
    await page.wait_for(f"{STATE} === 'open'")
    output, updates, stats = await ask(page, prompt)

    assert output == f"Mock answer (turn 1): {prompt}"
    assert len(set(updates)) > 3, "the answer must appear piece by piece, not all at once"
    assert "via mock" in stats


async def test_a_page_on_another_origin_streams_over_the_websocket_port(
    page: Page, gateway: ServerProcess, front_end: str
) -> None:
    """A front end served elsewhere, whose origin CORS_ALLOWED_ORIGINS lists, uses the WebSocket port."""
    prompt = "tell me about cross origin sockets"
    await page.goto(f"{front_end}/websocket.html?ws=ws://127.0.0.1:{gateway.ws_port}/ws")
    await page.wait_for(f"{STATE} === 'open'")
    output, updates, _ = await ask(page, prompt)

    assert output == f"Mock answer (turn 1): {prompt}"
    assert len(set(updates)) > 3
