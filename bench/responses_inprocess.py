"""The Responses door's own CPU per plain request, in-process (no sockets), beside the native route's.

``python -m bench.responses_inprocess``: the application as production builds it (``tests.unit.usecases``:
the real container, memory stores, a scripted provider), one request at a time through body decoding,
mapping, ``build_request``, the ``Generate`` use-case (cache read skipped, so every request is generated)
and the answer's encoding; ``store: true`` adds the stored response. The figure is the best of seven
runs of CPU time (``time.process_time``) per request, which a shared machine disturbs far less than
wall-clock load tests; compare rows of one run, not runs.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable

import msgspec

from domain.stored_responses import new_response_id
from domain.validation import RequestContext, build_request
from entrypoints.bootstrap.container import request_limits
from entrypoints.http.openai.responses import mapping
from entrypoints.http.openai.responses.shapes import ResponseBody
from entrypoints.native_json import GenerateBody, answer_json
from tests.fakes import ScriptedProvider
from tests.unit.usecases import build_app

QUESTION = b"What is the capital of France?"
_encode = msgspec.json.Encoder().encode
_native = msgspec.json.Decoder(GenerateBody).decode
_responses = msgspec.json.Decoder(ResponseBody).decode


def main(requests: int = 2000, runs: int = 7) -> None:
    app = build_app(ScriptedProvider("Paris is the capital of France."), max_concurrent=64, queue_size=64)
    catalogue, limits = app.container.catalogue(), request_limits(app.container.settings())
    chains = app.container.response_chains()
    sessions = itertools.count()

    def context(session: bool) -> RequestContext:
        if not session:
            return RequestContext(skip_cache_read=True)
        return RequestContext(skip_cache_read=True, user_id="bench", session_id=f"s{next(sessions)}")

    async def native(session: bool) -> bytes:
        body = _native(b'{"prompt":"%s","model":"mock-1"}' % QUESTION)
        generation = build_request(body.fields(), catalogue=catalogue, limits=limits, context=context(session))
        return _encode(answer_json(await app.generate.execute(generation)))

    async def door(store: bool) -> bytes:
        raw = b'{"model":"mock-1","input":"%s","store":%s}' % (QUESTION, b"true" if store else b"false")
        body = _responses(raw)
        fields = mapping.generate_fields(body, catalogue)
        generation = build_request(fields, catalogue=catalogue, limits=limits, context=context(False))
        response_id = new_response_id()
        head = mapping.ResponseHead(id=response_id, created_at=int(time.time()), body=body, generation=generation)
        assert body.input is not None
        items = _encode(mapping.input_items_json(body.input, response_id)) if store else b""
        answer = await app.generate.execute(generation)
        document = _encode(head.answered(answer, mapping.output_items(answer, response_id), int(time.time())))
        if store:
            await chains.keep(response_id, generation, answer, document=document, input_items=items)
        return document

    loop = asyncio.new_event_loop()

    def best(request: Callable[[bool], Awaitable[bytes]], flag: bool) -> float:
        async def many() -> None:
            for _ in range(requests):
                await request(flag)

        spent = []
        for _ in range(runs):
            start = time.process_time()
            loop.run_until_complete(many())
            spent.append(time.process_time() - start)
        return min(spent) / requests * 1e6

    rows = [
        ("native /api/v1/generate", best(native, False)),
        ("native + new session", best(native, True)),
        ("door /v1/responses store: false", best(door, False)),
        ("door /v1/responses store: true", best(door, True)),
    ]
    for name, us in rows:
        print(f"{name:34s} {us:6.1f} us CPU per request")


if __name__ == "__main__":
    main()
