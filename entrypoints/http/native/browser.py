"""What the HTTP port offers browsers besides the API: ``/ws`` (docs/api.md#websocket) and ``/examples/``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from litestar import asgi
from litestar.file_system import BaseLocalFileSystem
from litestar.handlers import ASGIRouteHandler
from litestar.router import Router
from litestar.static_files import create_static_files_router
from litestar.types import PathType
from litestar.types.file_types import FileInfo

from entrypoints.asgi import Receive, Scope, Send
from entrypoints.bootstrap.container import Container
from entrypoints.config import Settings
from entrypoints.ws.endpoint import WS_PATH, WsEndpoint

log = logging.getLogger("mcp.http")

DEFAULT_EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "examples"


class ExampleFiles(BaseLocalFileSystem):
    """The example pages on disk: a name the OS cannot look up (too long, a NUL) is a missing page.

    Litestar turns such an ``OSError`` into a 500 and lets a ``ValueError`` escape
    as one; neither says anything true about the server, so both are a 404.
    """

    async def info(self, path: PathType, **kwargs: Any) -> FileInfo:
        try:
            return await super().info(path, **kwargs)
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as exc:
            raise FileNotFoundError(str(path)) from exc


def build_browser_routes(container: Container, settings: Settings) -> list[ASGIRouteHandler | Router]:
    endpoint = WsEndpoint.from_container(container, settings)

    @asgi(WS_PATH, copy_scope=True)
    async def websocket(scope: Scope, receive: Receive, send: Send) -> None:
        await endpoint(scope, receive, send)

    routes: list[ASGIRouteHandler | Router] = [websocket]
    examples = Path(settings.examples_dir) if settings.examples_dir else DEFAULT_EXAMPLES_DIR
    if examples.is_dir():
        routes.append(
            create_static_files_router("/examples", directories=[examples], file_system=ExampleFiles(), html_mode=True)
        )
    else:  # an image built without the example pages still serves the API
        log.info("no examples directory; /examples/ is not served", extra={"path": str(examples)})
    return routes
