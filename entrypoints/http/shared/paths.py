"""Raw-ASGI layer that refuses request paths whose meaning depends on who reads them.

The layers that decide by path (the guard, the raw-ASGI routes, the metric
labels, ``/metrics``) resolve a path as Litestar's router does
(``route_table.canonical_path``). What is left is a path that the router and
something else would read differently; it is refused with 400 in the error
shape of docs/api.md#errors, before CORS, the guard or any route sees it:

- a ``.`` or ``..`` segment (``%2e`` included): the router takes it literally,
  a file system or a proxy in front resolves it;
- a percent-encoded slash (``%2F``): one segment to a proxy, two to the router,
  which reads the decoded path; except in the tail of a route whose last
  segments are one opaque id (``route_table.OPAQUE_TAIL_PREFIXES``: OpenAI's
  SDK sends ``/v1/models/azure%2Fgpt-4o``), where both readings are the same
  route (``..`` is still refused, after decoding);
- a control character (``%00`` and the like): no route has one, and a NUL
  cannot even be looked up as a file name.

Letter case is not folded: the router is case-sensitive, so ``/API/v1/...`` is
no route, and the guard, which asks for a key on every path it does not know,
agrees.
"""

from __future__ import annotations

import re

from entrypoints.asgi import ASGIApp, Receive, Scope, Send
from entrypoints.http.shared.errors import error_answer, send_error
from entrypoints.http.shared.route_table import OPAQUE_TAIL_PREFIXES
from entrypoints.request_context import current_request_id

_ENCODED_SLASH = re.compile(rb"%2f", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_OPAQUE_TAILS = tuple(prefix.encode() for prefix in OPAQUE_TAIL_PREFIXES)


def path_defect(path: str, raw_path: bytes | None) -> str | None:
    """Why a request path is refused, or ``None`` when it is unambiguous (``path`` is percent-decoded)."""
    if raw_path is not None and _ENCODED_SLASH.search(raw_path) and not raw_path.startswith(_OPAQUE_TAILS):
        return "the request path has an encoded slash (%2F)"
    if _CONTROL.search(path):
        return "the request path has a control character"
    if "." in path and any(segment in (".", "..") for segment in path.split("/")):
        return "the request path has a '.' or '..' segment"
    return None


class PathMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        defect = path_defect(scope["path"], scope.get("raw_path")) if scope["type"] in ("http", "websocket") else None
        if defect is None:
            await self._app(scope, receive, send)
        elif scope["type"] == "http":
            await send_error(send, error_answer(400, "invalid_request", defect, current_request_id()))
        else:
            await send({"type": "websocket.close", "code": 1008})  # before accept: the server answers 403
