"""Which upstream MCP tools a caller may list and call (docs/security.md#mcp-tools).

Without API keys (the embedded default) everyone may use every tool, as every
route; an admin key may use every tool; a ``user`` key only those its
``API_KEYS`` entry names with ``;tools=`` (``domain.api_keys``), none without.
A pattern is a glob over ``<server>__<tool>``; a pattern without the separator
is a server name and stands for all of that server's tools. The gateway's own
tools (``generate``, ``list_models``, ...) are not upstream tools: every caller
that passed the key check may use them, under the rules of their routes.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from domain.models import Caller
from domain.tool_servers import SEPARATOR


def may_use_tool(caller: Caller, qualified: str) -> bool:
    if not caller.authenticated or caller.admin:
        return True
    return any(fnmatchcase(qualified, _as_tool_glob(pattern)) for pattern in caller.tool_patterns)


def _as_tool_glob(pattern: str) -> str:
    return pattern if SEPARATOR in pattern or pattern == "*" else f"{pattern}{SEPARATOR}*"
