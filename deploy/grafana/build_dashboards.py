"""Writes the Grafana dashboards in deploy/grafana/dashboards/ from one description.

Run it after editing a panel: `.venv/bin/python deploy/grafana/build_dashboards.py`.
deploy/validate.sh runs it with --check and fails when a committed JSON file
differs from what this script produces, so the JSON never drifts from here.

Every query uses only the metric names of SPEC §12 (plus Prometheus' own `up`);
deploy/check_metric_names.py checks them against a running server's /metrics.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
TAG = "mcp-server-ai"
SEL = 'instance=~"$instance"'
RATE = "$__rate_interval"


@dataclass
class Panel:
    """One panel; `width`/`height` are grid units (24 across)."""

    title: str
    targets: list[tuple[str, str]]  # (PromQL, legend)
    kind: str = "timeseries"
    unit: str = "short"
    width: int = 12
    height: int = 8
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)


def rate(metric: str, by: str = "", extra: str = "", window: str = RATE) -> str:
    selector = f"{{{SEL}{', ' + extra if extra else ''}}}"
    grouping = f"sum by ({by}) " if by else "sum "
    return f"{grouping}(rate({metric}{selector}[{window}]))"


def quantile(q: float, histogram: str, by: str = "") -> str:
    labels = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({labels}) (rate({histogram}_bucket{{{SEL}}}[{RATE}])))"


def quantiles(histogram: str) -> list[tuple[str, str]]:
    return [(quantile(q, histogram), f"p{int(q * 100)}") for q in (0.5, 0.9, 0.95, 0.99)]


def ratio(numerator: str, denominator: str) -> str:
    return f"{numerator}\n  /\n{denominator}"


def hit_ratio(window: str = RATE) -> str:
    hits = rate("mcp_cache_hits_total", window=window)
    misses = rate("mcp_cache_misses_total", window=window)
    return f"{hits}\n  /\n({hits} + {misses})"


def stat(title: str, expr: str, unit: str = "short", description: str = "") -> Panel:
    return Panel(title, [(expr, title)], kind="stat", unit=unit, width=4, height=4, description=description)


def overview() -> list[Panel]:
    return [
        stat("Requests per second", rate("mcp_requests_total"), "reqps"),
        stat("Error ratio", ratio(rate("mcp_errors_total"), rate("mcp_requests_total")), "percentunit"),
        stat("Request p95", quantile(0.95, "mcp_request_duration_seconds"), "s"),
        stat("Cache hit ratio", hit_ratio(), "percentunit"),
        stat("Active sessions", f"sum(mcp_sessions_active{{{SEL}}})"),
        stat("Instances up", f'sum(up{{job="mcp-server-ai", {SEL}}})'),
        Panel("Requests by method", [(rate("mcp_requests_total", "method"), "{{method}}")], unit="reqps"),
        Panel("Requests by status", [(rate("mcp_requests_total", "status"), "{{status}}")], unit="reqps"),
        Panel("Request duration", quantiles("mcp_request_duration_seconds"), unit="s"),
        Panel("Tokens per second by type", [(rate("mcp_tokens_used_total", "type"), "{{type}}")]),
        Panel("Errors by type", [(rate("mcp_errors_total", "type"), "{{type}}")], unit="reqps"),
        Panel(
            "Worker pool utilisation",
            [
                (
                    ratio(
                        f"sum(mcp_worker_pool_active_workers{{{SEL}}})",
                        f"sum(mcp_worker_pool_max_workers{{{SEL}}})",
                    ),
                    "busy",
                )
            ],
            unit="percentunit",
        ),
    ]


def latency() -> list[Panel]:
    duration = "mcp_request_duration_seconds"
    overhead = "mcp_gateway_overhead_seconds"
    mean = ratio(rate(f"{duration}_sum"), rate(f"{duration}_count"))
    return [
        Panel("Request duration quantiles", quantiles(duration), unit="s"),
        Panel("Mean request duration", [(mean, "mean")], unit="s"),
        Panel(
            "Gateway overhead quantiles",
            quantiles(overhead),
            unit="s",
            description="Time spent outside the provider call: validation, cache, sessions, queueing.",
        ),
        Panel(
            "Overhead share of request time",
            [(ratio(rate(f"{overhead}_sum"), rate(f"{duration}_sum")), "overhead / total")],
            unit="percentunit",
        ),
        Panel(
            "Time to first token quantiles",
            quantiles("mcp_time_to_first_token_seconds"),
            unit="s",
            description="Streaming requests: from arrival to the first chunk sent.",
        ),
        Panel("Request p95 by instance", [(quantile(0.95, duration, "instance"), "{{instance}}")], unit="s"),
        Panel(
            "Request duration distribution",
            [(f"sum by (le) (increase({duration}_bucket{{{SEL}}}[{RATE}]))", "{{le}}")],
            kind="heatmap",
            unit="s",
            width=24,
        ),
    ]


def providers() -> list[Panel]:
    prov = 'provider=~"$provider"'
    return [
        Panel(
            "Requests by provider",
            [(rate("mcp_requests_total", "provider", prov), "{{provider}}")],
            unit="reqps",
        ),
        Panel(
            "Requests by model",
            [(rate("mcp_requests_total", "provider, model", prov), "{{provider}} {{model}}")],
            unit="reqps",
        ),
        Panel(
            "Error ratio by provider",
            [
                (
                    ratio(
                        rate("mcp_errors_total", "provider", prov),
                        rate("mcp_requests_total", "provider", prov),
                    ),
                    "{{provider}}",
                )
            ],
            unit="percentunit",
        ),
        Panel(
            "Errors by provider and type",
            [(rate("mcp_errors_total", "provider, type", prov), "{{provider}} {{type}}")],
            unit="reqps",
        ),
        Panel(
            "Tokens per second by provider and type",
            [(rate("mcp_tokens_used_total", "provider, type", prov), "{{provider}} {{type}}")],
        ),
        Panel("Tokens per second by model", [(rate("mcp_tokens_used_total", "model", prov), "{{model}}")]),
        Panel(
            "Tokens in the selected range",
            [
                (
                    f"sum by (provider, model) (increase(mcp_tokens_used_total{{{SEL}, {prov}}}[$__range]))",
                    "{{provider}} {{model}}",
                )
            ],
            kind="bargauge",
            width=24,
        ),
    ]


def cache() -> list[Panel]:
    return [
        stat("Hit ratio", hit_ratio()),
        stat("Hits in range", f"sum(increase(mcp_cache_hits_total{{{SEL}}}[$__range]))"),
        stat("Misses in range", f"sum(increase(mcp_cache_misses_total{{{SEL}}}[$__range]))"),
        Panel(
            "Hits and misses per second",
            [(rate("mcp_cache_hits_total"), "hits"), (rate("mcp_cache_misses_total"), "misses")],
            unit="reqps",
        ),
        Panel("Hit ratio over time", [(hit_ratio(), "hit ratio")], unit="percentunit"),
        Panel(
            "Tokens per second by type",
            [(rate("mcp_tokens_used_total", "type"), "{{type}}")],
            description="Cache hits cost 0 tokens now; their historical cost is counted apart (SPEC §4.1).",
        ),
        Panel(
            "Cache errors",
            [(rate("mcp_errors_total", "type", 'type=~".*cache.*"'), "{{type}}")],
            unit="reqps",
            description="A failing cache is a miss (SPEC §8): watch this when the hit ratio drops.",
        ),
    ]


def worker_pool() -> list[Panel]:
    return [
        stat("Max workers", f"sum(mcp_worker_pool_max_workers{{{SEL}}})"),
        stat("Active workers", f"sum(mcp_worker_pool_active_workers{{{SEL}}})"),
        stat("Queued", f"sum(mcp_worker_pool_queue_size{{{SEL}}})"),
        Panel(
            "Active workers and limit",
            [
                (f"sum by (instance) (mcp_worker_pool_active_workers{{{SEL}}})", "active {{instance}}"),
                (f"sum by (instance) (mcp_worker_pool_max_workers{{{SEL}}})", "max {{instance}}"),
            ],
        ),
        Panel("Queue size", [(f"sum by (instance) (mcp_worker_pool_queue_size{{{SEL}}})", "{{instance}}")]),
        Panel("Tasks processed per second", [(rate("mcp_worker_pool_processed_total"), "processed")], unit="ops"),
        Panel(
            "Utilisation",
            [
                (
                    ratio(
                        f"sum by (instance) (mcp_worker_pool_active_workers{{{SEL}}})",
                        f"sum by (instance) (mcp_worker_pool_max_workers{{{SEL}}})",
                    ),
                    "{{instance}}",
                )
            ],
            unit="percentunit",
        ),
    ]


def sessions() -> list[Panel]:
    return [
        stat("Active sessions", f"sum(mcp_sessions_active{{{SEL}}})"),
        stat("Sessions created in range", f"sum(increase(mcp_sessions_total{{{SEL}}}[$__range]))"),
        Panel(
            "Active sessions by instance",
            [(f"sum by (instance) (mcp_sessions_active{{{SEL}}})", "{{instance}}")],
        ),
        Panel("New sessions per second", [(rate("mcp_sessions_total"), "created")], unit="ops"),
        Panel(
            "Session store errors",
            [(rate("mcp_errors_total", "type", 'type=~".*session.*"'), "{{type}}")],
            unit="reqps",
            description="Session storage down gives 503 to session requests only (SPEC §9).",
        ),
    ]


DASHBOARDS = {
    "overview": ("mcp-overview", "MCP Server AI / Overview", overview),
    "latency": ("mcp-latency", "MCP Server AI / Latency and overhead", latency),
    "providers": ("mcp-providers", "MCP Server AI / Providers", providers),
    "cache": ("mcp-cache", "MCP Server AI / Cache", cache),
    "worker-pool": ("mcp-worker-pool", "MCP Server AI / Worker pool", worker_pool),
    "sessions": ("mcp-sessions", "MCP Server AI / Sessions", sessions),
}


def variable(name: str, query: str, label: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": "All", "value": "$__all"},
        "sort": 1,
    }


def render_panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    targets = [
        {
            "datasource": DATASOURCE,
            "refId": chr(ord("A") + i),
            "expr": expr,
            "legendFormat": legend,
            **({"format": "heatmap"} if panel.kind == "heatmap" else {}),
        }
        for i, (expr, legend) in enumerate(panel.targets)
    ]
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": panel.height},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": panel.options,
        "targets": targets,
    }


def layout(panels: list[Panel]) -> list[dict[str, Any]]:
    """Left to right, wrapping at 24 columns; a row is as tall as its tallest panel."""
    rendered, x, y, row_height = [], 0, 0, 0
    for panel_id, panel in enumerate(panels, start=1):
        if x + panel.width > 24:
            x, y, row_height = 0, y + row_height, 0
        rendered.append(render_panel(panel, panel_id, x, y))
        x, row_height = x + panel.width, max(row_height, panel.height)
    return rendered


def build(key: str) -> dict[str, Any]:
    uid, title, panels = DASHBOARDS[key]
    variables = [variable("instance", 'label_values(up{job="mcp-server-ai"}, instance)', "Instance")]
    if key == "providers":
        variables.append(variable("provider", "label_values(mcp_requests_total, provider)", "Provider"))
    return {
        "uid": uid,
        "title": title,
        "tags": [TAG],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "links": [{"type": "dashboards", "tags": [TAG], "asDropdown": True, "title": "MCP dashboards"}],
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": layout(panels()),
    }


def render(key: str) -> str:
    return json.dumps(build(key), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for key in DASHBOARDS:
        path = DASHBOARDS_DIR / f"{key}.json"
        text = render(key)
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date (run deploy/grafana/build_dashboards.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
