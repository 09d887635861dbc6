"""Batch and validation routes (docs/api.md#batch to #validate).

``/generate`` and ``/generate/stream`` are answered and declared by ``fast_generate``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler
from litestar.response import Stream

from application.access import AccessControl
from application.generate_batch import BatchItem, BatchItemResult, BatchSummary
from domain.accounting import format_rate, format_seconds
from domain.errors import DomainError, InvalidRequest, RateLimited
from domain.validation import check_context, check_prompt
from entrypoints.documented_limits import SESSION_HEADERS
from entrypoints.http.native.deps import HttpDeps
from entrypoints.http.native.documents import (
    GENERATION_ERRORS,
    SSE_ANSWER,
    VALIDATE_ANSWERS,
    BatchAnswerDoc,
    ok,
)
from entrypoints.http.shared.body import JsonBody, documented
from entrypoints.http.shared.disconnect import unless_client_leaves
from entrypoints.http.shared.errors import answer_domain_error
from entrypoints.http.shared.litestar_errors import error_response, fault_response
from entrypoints.http.shared.sse import SSE_HEADERS, EventPump, first_frame, frame, stream_after
from entrypoints.native_json import (
    BatchBody,
    ValidateBody,
    answer_json,
)
from entrypoints.request_context import current_caller, current_request_id

AnyRequest = Request[Any, Any, Any]
# A request of a batch that breaks a rule is answered with an error in its place, so the rules are no refusal.
BATCH_DOC: dict[str, Any] = {"errors": GENERATION_ERRORS, "headers": SESSION_HEADERS, "body_rules": False}


async def sse_response(request: AnyRequest, source: AsyncIterator[Any], render: Any) -> Response[Any]:
    pump = EventPump(source, render)
    first = await first_frame(pump, request.receive)
    if isinstance(first, DomainError):
        return error_response(answer_domain_error(first))
    if first is None:
        return fault_response("stream produced nothing", "internal_error", 500)
    return Stream(stream_after(first, pump), media_type="text/event-stream", headers=SSE_HEADERS)


def batch_item_json(result: BatchItemResult, total: int | None = None) -> dict[str, object]:
    body: dict[str, object] = {"index": result.index}
    if total is not None:
        body["total"] = total
    if isinstance(result.outcome, DomainError):
        body.update(error=result.outcome.message, code=result.outcome.code)
    elif total is None:
        body.update(answer_json(result.outcome))
    else:
        body["response"] = answer_json(result.outcome)
    return body


def batch_summary_json(summary: BatchSummary) -> dict[str, object]:
    totals = summary.totals
    return {
        "count": summary.count,
        "succeeded": totals.succeeded,
        "failed": totals.failed,
        "totalTokens": totals.total_tokens,
        "totalTokensProvider": totals.provider_tokens,
        "totalTokensCache": totals.cache_tokens,
        "processingTime": format_seconds(summary.seconds),
        "rate": format_rate(summary.count, summary.seconds),
        "parallelProcessing": True,
    }


async def charge_batch(access: AccessControl, count: int) -> None:
    """A batch costs one rate-limit token per item: the guard took the first, this takes the rest, or refuses."""
    decision = await access.admit(current_caller(), cost=count - 1)
    if decision.allowed:
        return
    if count > decision.limit:
        raise RateLimited(
            f"a batch of {count} items needs {count} rate-limit tokens, more than the limit's burst of"
            f" {decision.limit}: send at most {decision.limit} items per batch",
            retry_after=decision.retry_after,
        )
    raise access.refusal(decision)


def build_generation_routes(deps: HttpDeps) -> list[HTTPRouteHandler]:
    async def batch_items(request: AnyRequest, body: BatchBody) -> list[BatchItem]:
        if not body.requests:
            raise InvalidRequest("no requests provided")
        if len(body.requests) > deps.settings.batch_max_items:
            raise InvalidRequest(f"batch size exceeds maximum of {deps.settings.batch_max_items}")
        await charge_batch(deps.access, len(body.requests))
        context = deps.context(request)
        check_context(context)  # the headers are the whole batch's: a bad id refuses it, not each item
        items: list[BatchItem] = []
        for item in body.requests:
            try:
                items.append(deps.build(item.fields(), context))
            except DomainError as exc:
                items.append(exc)
        return items

    batch_body, validate_body = JsonBody(BatchBody), JsonBody(ValidateBody)

    @post(
        "/api/v1/generate/batch",
        status_code=200,
        summary="Generate many answers in parallel",
        operation_class=documented(BatchBody, answers=(ok(BatchAnswerDoc),), **BATCH_DOC),
    )
    async def generate_batch(request: AnyRequest) -> Response[Any]:
        data = await batch_body.read(request)
        # A client that leaves cancels the items in flight and those not started: nothing more is paid or stored.
        outcomes, summary = await unless_client_leaves(
            request.receive, deps.generate_batch.execute(await batch_items(request, data))
        )
        results = [BatchItemResult(index=i, outcome=outcome) for i, outcome in enumerate(outcomes)]
        return Response({"responses": [batch_item_json(r) for r in results], **batch_summary_json(summary)})

    @post(
        "/api/v1/generate/batch/stream",
        status_code=200,
        summary="Batch results as Server-Sent Events",
        operation_class=documented(BatchBody, answers=(SSE_ANSWER,), **BATCH_DOC),
    )
    async def generate_batch_stream(request: AnyRequest) -> Response[Any]:
        items = await batch_items(request, await batch_body.read(request))

        def render(event: BatchItemResult | BatchSummary) -> bytes:
            if isinstance(event, BatchSummary):
                return frame({**batch_summary_json(event), "finished": True, "requestId": current_request_id()})
            return frame(batch_item_json(event, total=len(items)))

        return await sse_response(request, deps.generate_batch_stream.execute(items), render)

    @post(
        "/api/v1/validate",
        status_code=200,
        summary="Check a prompt without generating",
        operation_class=documented(ValidateBody, answers=VALIDATE_ANSWERS),
    )
    async def validate(request: AnyRequest) -> Response[Any]:
        data = await validate_body.read(request)
        try:
            check_prompt(data.prompt, deps.limits)
        except InvalidRequest as exc:
            return Response({"valid": False, "error": exc.message, "code": exc.code}, status_code=400)
        return Response({"valid": True})

    return [generate_batch, generate_batch_stream, validate]
