"""One HTTP error writer (docs/api.md#errors): a pure answer, sent the same way by raw ASGI and by Litestar."""

from __future__ import annotations

import json
from typing import Any, cast

import httpx
from litestar import Litestar, get

from domain.errors import InvalidRequest, Overloaded, UpstreamError, UpstreamRateLimited
from entrypoints.asgi import ASGIApp
from entrypoints.http.shared.errors import ErrorAnswer, domain_error_answer, error_answer, send_error
from entrypoints.http.shared.litestar_errors import error_response
from entrypoints.telemetry.record import RequestRecord, request_record_var


def test_an_error_answer_is_the_status_the_shape_and_retry_after_in_whole_seconds() -> None:
    answer = error_answer(429, "rate_limited", "slow down", "req-1", retry_after=1.2, headers=((b"x-extra", b"1"),))
    assert (answer.status, answer.code) == (429, "rate_limited")
    assert json.loads(answer.body) == {"error": "slow down", "code": "rate_limited", "requestId": "req-1"}
    assert answer.headers == ((b"retry-after", b"2"), (b"x-extra", b"1"))
    assert answer.wire_headers()[:2] == [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(answer.body)).encode()),
    ]


def test_a_domain_error_maps_by_class_and_429_or_503_always_say_when_to_come_back() -> None:
    assert domain_error_answer(InvalidRequest("bad"), "r").status == 400
    assert domain_error_answer(UpstreamError("down"), "r").headers == ()
    assert domain_error_answer(Overloaded("full"), "r").headers == ((b"retry-after", b"1"),)
    assert domain_error_answer(UpstreamRateLimited("busy", retry_after=7), "r").headers == ((b"retry-after", b"7"),)


def test_building_an_answer_notes_nothing_and_sending_it_notes_its_code() -> None:
    record = RequestRecord("generate", 0.0)
    token = request_record_var.set(record)
    try:
        answer = domain_error_answer(InvalidRequest("bad"), "r")
        assert record.error == ""
        error_response(answer)
        assert record.error == "invalid_request"
    finally:
        request_record_var.reset(token)


async def test_raw_asgi_and_litestar_send_the_same_status_headers_and_body() -> None:
    answer = error_answer(503, "overloaded", "full", "req-9", retry_after=3, headers=((b"www-authenticate", b"x"),))

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        await send_error(send, answer)

    @get("/")
    async def route() -> Any:
        return error_response(answer)

    answers = []
    apps: list[ASGIApp] = [raw, cast(ASGIApp, Litestar([route]))]
    for app in apps:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            answers.append(await client.get("/"))
    first, second = answers
    assert first.status_code == second.status_code == 503
    assert first.content == second.content == answer.body
    assert sorted(first.headers.multi_items()) == sorted(second.headers.multi_items())


def test_an_answer_with_more_headers_keeps_the_body() -> None:
    answer = ErrorAnswer(401, "unauthenticated", (), b"{}").with_headers(((b"www-authenticate", b"Bearer"),))
    assert answer.headers == ((b"www-authenticate", b"Bearer"),) and answer.body == b"{}"
