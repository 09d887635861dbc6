"""A fake AWS Bedrock runtime that speaks the real wire protocol.

``POST /model/{modelId}/converse`` answers JSON; ``POST /model/{modelId}/invoke`` answers the embedding
models' own JSON (``tests.vendors.bedrock_embeddings``: Titan Text Embeddings, Cohere Embed v3, their
bodies checked as Bedrock checks them); ``POST /model/{modelId}/converse-stream``
answers AWS event-stream frames (``messageStart``, ``contentBlockStart``,
``contentBlockDelta``..., ``contentBlockStop``, ``messageStop``, ``metadata``);
``POST /model/{modelId}/count-tokens`` answers ``{"inputTokens"}`` for the Claude models
CountTokens takes (the words of the Converse system prompt and messages inside, which keep the
Converse rules: a ``toolUse`` block needs a ``toolConfig``, which CountTokens cannot carry).
Every request must carry a SigV4 (scope service ``bedrock``) or bearer
``Authorization`` and a body that botocore's own ``bedrock-runtime`` model
accepts and that keeps Bedrock's conversation rules (``tests.vendors.bedrock_rules``);
otherwise the fake answers as Bedrock does (403, 400 ``ValidationException``).
Errors carry ``x-amzn-ErrorType``.

The answer is deterministic (``tests.vendors.bedrock_answers``): ``answer_for``
the last user text, or scripted tool calls, after reasoning when thinking is
on, split into ``Script.chunks`` deltas per block; usage counts words, cached
prefixes included, unless the script fixes the numbers. Each test scripts the
fake through ``fake.script`` and reads ``fake.requests`` afterwards.

Run alone for demos and benchmarks: ``python -m tests.vendors.bedrock --port 8300``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import socket
import struct
import uuid
from collections.abc import Mapping
from typing import Any

from tests.vendors import bedrock_embeddings, eventstream
from tests.vendors._http11 import Exchange, HttpRequest, HttpServer
from tests.vendors.bedrock_answers import FakeModel, conversation_tokens, stream_events
from tests.vendors.bedrock_schema import RequestInvalid, check_shape, validate_request
from tests.vendors.bedrock_script import (
    Failure,
    Garbled,
    HttpFailure,
    RecordedRequest,
    Reset,
    Script,
    ScriptedCall,
    StreamException,
    answer_for,
    split_chunks,
    usage_for,
)

__all__ = [
    "FakeBedrock",
    "Garbled",
    "HttpFailure",
    "RecordedRequest",
    "Reset",
    "Script",
    "ScriptedCall",
    "StreamException",
    "answer_for",
    "split_chunks",
    "usage_for",
]

ERROR_STATUS = {
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "UnrecognizedClientException": 403,
    "MissingAuthenticationTokenException": 403,
    "ResourceNotFoundException": 404,
    "ModelTimeoutException": 408,
    "ModelErrorException": 424,
    "ModelStreamErrorException": 424,
    "ThrottlingException": 429,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
}
_OPERATIONS = {
    "converse": "Converse",
    "converse-stream": "ConverseStream",
    "invoke": "InvokeModel",
    "count-tokens": "CountTokens",
}
_CONTENT_TYPES = {
    "Converse": "application/json",
    "ConverseStream": "application/vnd.amazon.eventstream",
    "InvokeModel": "application/json",
    "CountTokens": "application/json",
}
# The models CountTokens takes (Bedrock's documentation: Claude 3.5 Haiku, 3.5 Sonnet v2, 3.7 Sonnet, 4);
# another is its ValidationException (the wording here is the fake's).
COUNTING_FAMILIES = (
    "anthropic.claude-3-5-haiku",
    "anthropic.claude-3-5-sonnet-20241022-v2",
    "anthropic.claude-3-7-sonnet",
    "anthropic.claude-sonnet-4",
    "anthropic.claude-opus-4",
)
_PADDING = "abcdefghijkl"  # Bedrock pads each event's payload with a "p" member of varying length
_ROUTE = re.compile(r"^/model/(?P<model>.+)/(?P<operation>converse|converse-stream|invoke|count-tokens)$")


class FakeBedrock:
    """The fake server. ``async with FakeBedrock() as fake:`` gives ``fake.url``."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, script: Script | None = None) -> None:
        self.script = script or Script()
        self.requests: list[RecordedRequest] = []
        self.url = ""
        self._host = host
        self._server = HttpServer(self._handle, host=host, port=port)
        self._arrived = asyncio.Condition()
        self.model = FakeModel()

    async def __aenter__(self) -> FakeBedrock:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> str:
        await self._server.start()
        self.url = f"http://{self._host}:{self._server.port}"
        return self.url

    async def stop(self) -> None:
        await self._server.stop()

    async def wait_for_requests(self, count: int) -> list[RecordedRequest]:
        """Wait until ``count`` requests have arrived (tests bound this with ``asyncio.timeout``)."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests) >= count)
        return self.requests[:count]

    async def _handle(self, request: HttpRequest, exchange: Exchange) -> None:
        record = await self._record(request)
        try:
            await self._produce(exchange, request, record)
        finally:
            # The server cancels this handler when the client leaves mid-answer.
            record.closed_early = exchange.closed_early and not record.reset_by_fake
            record.finished.set()

    async def _record(self, request: HttpRequest) -> RecordedRequest:
        match = _ROUTE.match(request.path)
        operation, model_id = (_OPERATIONS[match["operation"]], match["model"]) if match else ("", "")
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = None
        record = RecordedRequest(operation=operation, model_id=model_id, headers=request.headers, body=body)
        async with self._arrived:
            self.requests.append(record)
            self._arrived.notify_all()
        return record

    async def _produce(self, exchange: Exchange, request: HttpRequest, record: RecordedRequest) -> None:
        refusal = self._refusal(request, record)
        if refusal is not None:
            return _send_error(exchange, record, refusal)
        await asyncio.sleep(self.script.first_byte_delay)
        failure = self.script.next_failure()
        if record.operation != "ConverseStream" and isinstance(failure, StreamException):
            failure = HttpFailure(failure.exception_type[0].upper() + failure.exception_type[1:], failure.message)
        if isinstance(failure, HttpFailure):
            return _send_error(exchange, record, failure)
        if isinstance(failure, Garbled):
            record.status = 200
            return exchange.respond(200, failure.body, {"content-type": _CONTENT_TYPES[record.operation]})
        if record.operation == "ConverseStream":
            return await self._converse_stream(exchange, record, failure)
        if isinstance(failure, Reset):
            return _reset(exchange, record)
        if record.operation == "InvokeModel":
            return self._invoke(exchange, record)
        if record.operation == "CountTokens":
            return self._count(exchange, record)
        return self._converse(exchange, record)

    def _refusal(self, request: HttpRequest, record: RecordedRequest) -> HttpFailure | None:
        if request.method != "POST" or not record.operation:
            return HttpFailure("UnknownOperationException", "Unknown operation")
        auth_problem = _auth_problem(request.headers.get("authorization", ""))
        if auth_problem is not None:
            return auth_problem
        if record.operation == "InvokeModel":
            return _invoke_refusal(request, record)
        if not isinstance(record.body, dict):
            return HttpFailure(
                "ValidationException", "Malformed input request, please reformat your input and try again."
            )
        try:
            if record.operation == "CountTokens":
                validate_count(record.model_id, record.body, self.model.signatures)
            else:
                validate_request(record.operation, record.model_id, record.body, self.model.signatures)
        except RequestInvalid as exc:
            return HttpFailure("ValidationException", str(exc))
        return None

    def _count(self, exchange: Exchange, record: RecordedRequest) -> None:
        record.status = 200
        body = json.dumps({"inputTokens": conversation_tokens(record.body["input"]["converse"])}).encode()
        exchange.respond(200, body, {"x-amzn-RequestId": str(uuid.uuid4())})

    def _invoke(self, exchange: Exchange, record: RecordedRequest) -> None:
        body, tokens = bedrock_embeddings.answer(record.model_id, record.body)
        headers = {
            "x-amzn-RequestId": str(uuid.uuid4()),
            "X-Amzn-Bedrock-Input-Token-Count": str(tokens),
            "X-Amzn-Bedrock-Invocation-Latency": str(int(self.script.first_byte_delay * 1000)),
        }
        record.status = 200
        exchange.respond(200, json.dumps(body).encode(), headers)

    def _converse(self, exchange: Exchange, record: RecordedRequest) -> None:
        answer = self.model.answer(record.body, self.script)
        body = {
            "output": {"message": {"role": "assistant", "content": answer.blocks}},
            "stopReason": answer.stop_reason,
            "usage": answer.usage,
            "metrics": {"latencyMs": int(self.script.first_byte_delay * 1000)},
        }
        if answer.response_fields is not None:
            body["additionalModelResponseFields"] = answer.response_fields
        record.status = 200
        exchange.respond(200, json.dumps(body).encode(), {"x-amzn-RequestId": str(uuid.uuid4())})

    async def _converse_stream(self, exchange: Exchange, record: RecordedRequest, failure: Failure | None) -> None:
        answer = self.model.answer(record.body, self.script)
        if isinstance(failure, Reset) and failure.after_chunks == 0:
            return _reset(exchange, record)
        record.status = 200
        exchange.start_stream(
            200, {"content-type": "application/vnd.amazon.eventstream", "x-amzn-RequestId": str(uuid.uuid4())}
        )
        deltas = 0
        for event_type, payload in stream_events(answer, self.script.chunks):
            if event_type == "contentBlockDelta":
                if failure is not None and deltas == failure.after_chunks:
                    return _fail_stream(exchange, record, failure)
                deltas += 1
                await asyncio.sleep(self.script.chunk_delay)
            elif event_type == "messageStop" and failure is not None:
                return _fail_stream(exchange, record, failure)
            exchange.send_chunk(eventstream.event(event_type, {"p": _PADDING, **payload}))
        latency = {"latencyMs": int(self.script.first_byte_delay * 1000)}
        exchange.send_chunk(eventstream.event("metadata", {"p": "a", "usage": answer.usage, "metrics": latency}))
        exchange.end_stream()


def validate_count(model_id: str, body: Any, signatures: Mapping[str, str]) -> None:
    """CountTokens: its own input shape, the Converse rules for the conversation inside, a model that counts."""
    check_shape("CountTokens", body)
    if not any(family in model_id for family in COUNTING_FAMILIES):
        raise RequestInvalid("The provided model doesn't support counting tokens.")
    converse = body["input"].get("converse")
    if converse is None:
        raise RequestInvalid("input: exactly one of converse and invokeModel is required")
    validate_request("Converse", model_id, converse, signatures)


def _invoke_refusal(request: HttpRequest, record: RecordedRequest) -> HttpFailure | None:
    try:
        bedrock_embeddings.validate_invoke(record.model_id, request.headers, request.body)
        bedrock_embeddings.check_body(record.model_id, record.body)
    except RequestInvalid as exc:
        return HttpFailure("ValidationException", str(exc))
    return None


def _reset(exchange: Exchange, record: RecordedRequest) -> None:
    record.reset_by_fake = True
    sock = exchange.transport.get_extra_info("socket")
    if sock is not None:  # linger 0: the client sees an RST, as on a dropped upstream connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    exchange.reset()


def _fail_stream(exchange: Exchange, record: RecordedRequest, failure: Failure) -> None:
    if isinstance(failure, StreamException):
        exchange.send_chunk(eventstream.exception(failure.exception_type, failure.message))
        return exchange.end_stream()
    return _reset(exchange, record)


def _send_error(exchange: Exchange, record: RecordedRequest, failure: HttpFailure) -> None:
    status = ERROR_STATUS.get(failure.error_type, 404 if failure.error_type == "UnknownOperationException" else 400)
    headers = {
        "x-amzn-ErrorType": f"{failure.error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-RequestId": str(uuid.uuid4()),
    }
    if failure.retry_after is not None:
        headers["Retry-After"] = failure.retry_after
    record.status = status
    exchange.respond(status, json.dumps({"message": failure.message}).encode(), headers)


def _auth_problem(authorization: str) -> HttpFailure | None:
    if not authorization:
        return HttpFailure("MissingAuthenticationTokenException", "Missing Authentication Token")
    if authorization.startswith("Bearer ") and authorization[7:].strip():
        return None
    if authorization.startswith("AWS4-HMAC-SHA256 ") and "/bedrock/aws4_request" in authorization:
        return None
    return HttpFailure("UnrecognizedClientException", "The security token included in the request is invalid.")


async def _serve_forever(host: str, port: int, script: Script) -> None:
    async with FakeBedrock(host=host, port=port, script=script) as fake:
        print(f"fake Bedrock listening on {fake.url}", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake AWS Bedrock runtime (Converse, ConverseStream)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8300)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before the first byte")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="delay before each streamed delta")
    parser.add_argument("--chunks", type=int, default=3)
    args = parser.parse_args()
    script = Script(first_byte_delay=args.latency_ms / 1000, chunk_delay=args.chunk_delay_ms / 1000, chunks=args.chunks)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.host, args.port, script))


if __name__ == "__main__":
    main()
