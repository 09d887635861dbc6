"""The routing layers' path parsers: any path string resolves to a route, or is refused with a reason.

``route_of`` (through ``canonical_path``, the router's own rule) and
``path_defect`` run on every request before any route does; no path may
make them raise.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from entrypoints.http.shared.paths import path_defect
from entrypoints.http.shared.route_table import OTHER, Route, canonical_path, route_of
from tests.fuzz import short

_segments = st.sampled_from(
    ["", "api", "v1", "generate", "stream", "batch", "sessions", "cache", "blacklist", "invalidate", "schema",
     "swagger", "examples", "healthz", "metrics", "ws", ".", "..", "%2e", "%2F", "\x00", "\x7f", " ", "é"]
) | st.text(max_size=6)  # fmt: skip
_paths = st.lists(_segments, max_size=8).map("/".join) | st.text(max_size=64)


def check_path(path: str, raw_path: bytes | None) -> None:
    canonical = canonical_path(path)
    assert canonical_path(canonical) == canonical  # resolving twice changes nothing: layers agree
    route = route_of(path)
    assert isinstance(route, Route)
    assert route is OTHER or route == route_of(canonical)
    defect = path_defect(path, raw_path)
    assert defect is None or defect.startswith("the request path")


@short(300)
@given(path=_paths, raw=st.none() | st.binary(max_size=64))
def test_any_path_is_a_route_or_a_stated_defect(path: str, raw: bytes | None) -> None:
    check_path(path, raw)
