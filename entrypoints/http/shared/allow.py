"""``OPTIONS`` on a path that several route handlers share answers with every method of the path.

Litestar makes the ``OPTIONS`` handler of a route when its first handler is
registered, and its ``Allow`` keeps naming that first handler's methods when a
second handler for another method joins the path later (``GET`` and ``DELETE
/api/v1/sessions/{id}`` answered ``Allow: GET, OPTIONS``). Giving such a path its
own ``OPTIONS`` handler, made once all handlers are known, keeps ``Allow`` true
(RFC 9110 §10.2.1); Litestar then makes none. Paths with one handler keep
Litestar's, which is right.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from litestar import Response, route
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler


def with_options_handlers(handlers: Iterable[Any]) -> list[Any]:
    handlers = list(handlers)
    methods: defaultdict[str, set[str]] = defaultdict(set)
    owners: defaultdict[str, int] = defaultdict(int)
    for handler in handlers:
        if isinstance(handler, HTTPRouteHandler):
            for path in handler.paths:
                methods[path] |= set(handler.http_methods)
                owners[path] += 1
    shared = [path for path, count in owners.items() if count > 1 and "OPTIONS" not in methods[path]]
    # First, so that the path has its OPTIONS before Litestar would make one for the path's first handler.
    return [*(_options(path, {*methods[path], "OPTIONS"}) for path in shared), *handlers]


def _options(path: str, methods: set[str]) -> HTTPRouteHandler:
    allow = ", ".join(sorted(methods))

    async def options() -> Response[None]:
        return Response(None, status_code=204, headers={"Allow": allow})

    return route(path, http_method=[HttpMethod.OPTIONS], include_in_schema=False, name=f"options {path}")(options)
