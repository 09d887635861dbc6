"""Fails when a Grafana dashboard or a Prometheus rule queries a metric the gateway does not export.

    check_metric_names.py --metrics http://127.0.0.1:8090/metrics
    check_metric_names.py --metrics saved-metrics.txt [--dashboards DIR] [--rules FILE ...]
    check_metric_names.py                             # without --metrics: only list the names used
    check_metric_names.py --dump-promql-rules OUT     # dashboard queries as a rules file for promtool

The exposition is read as the families it declares (``# TYPE``) plus the samples
it carries, because a labelled metric shows no samples before its first
observation but always declares its family. A family gives the series names
Prometheus will store for it: a histogram ``x`` gives ``x_bucket``, ``x_sum``,
``x_count`` (and ``x_created``), a counter ``x_total`` gives ``x_total`` and
``x_created``, a gauge only ``x``. So ``x_bucket`` passes only when ``x`` is a
histogram, and ``x_count`` is accepted for a gauge only if that gauge is called
``x_count``.

Names that Prometheus makes itself (``up``, ``scrape_*``, ``ALERTS``) and names
defined by recording rules are not looked for in the exposition.
Standard library only, except PyYAML to read rule files.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEPLOY_DIR = Path(__file__).resolve().parent
DEFAULT_DASHBOARDS = DEPLOY_DIR / "grafana" / "dashboards"
DEFAULT_RULES = (DEPLOY_DIR / "prometheus" / "alerts.yml",)

PROMETHEUS_SYNTHETIC = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
        "ALERTS",
        "ALERTS_FOR_STATE",
    }
)
PROMQL_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
    | {"inf", "nan", "atan2"}
)

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_NAME_MATCHER = re.compile(r"""__name__\s*=\s*["']([a-zA-Z_:][a-zA-Z0-9_:]*)["']""")
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[[\w:]+\]\]")
_LABEL_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE_OR_SUBQUERY = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE)
_IDENTIFIER = re.compile(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
_GRAFANA_DURATIONS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


# --------------------------------------------------------------- PromQL ----
def metric_names_in_promql(expr: str) -> set[str]:
    """Metric names an expression selects; functions, keywords and label names are left out."""
    names = set(_NAME_MATCHER.findall(expr))
    text = _STRING.sub('""', expr)
    text = _GRAFANA_VARIABLE.sub(" ", text)
    text = _LABEL_MATCHERS.sub(" ", text)
    text = _RANGE_OR_SUBQUERY.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    for name, call in _IDENTIFIER.findall(text):
        if not call and name.lower() not in PROMQL_KEYWORDS:
            names.add(name)
    return names


def promql_in_template_query(query: str) -> str:
    """The PromQL part of a Grafana variable query (``label_values(sel, label)``, ``query_result(expr)``)."""
    query = query.strip()
    for function in ("label_values", "query_result"):
        if query.startswith(function + "(") and query.endswith(")"):
            inner = query[len(function) + 1 : -1]
            if function == "query_result":
                return inner
            selector, comma, _label = _split_last_top_level_comma(inner)
            return selector if comma else ""
    return ""  # metrics(), label_names() and plain lists select no metric by name


def _split_last_top_level_comma(text: str) -> tuple[str, str, str]:
    depth, last = 0, -1
    for index, char in enumerate(_STRING.sub(lambda m: "_" * len(m.group()), text)):
        if char in "({[":
            depth += 1
        elif char in ")}]":
            depth -= 1
        elif char == "," and depth == 0:
            last = index
    return (text[:last], ",", text[last + 1 :]) if last >= 0 else (text, "", "")


def runnable_promql(expr: str) -> str:
    """The query with Grafana's variables replaced so that promtool can parse it."""
    for variable, duration in _GRAFANA_DURATIONS.items():
        expr = expr.replace(variable, duration)
    return _GRAFANA_VARIABLE.sub(".*", expr)


# ---------------------------------------------------- dashboards, rules ----
@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it was found (for the report)."""

    expr: str
    origin: str


def queries_in_dashboard(dashboard: dict[str, Any], source: str) -> list[Query]:
    queries = [
        Query(target["expr"], f"{source}: {panel.get('title', '?')}")
        for panel in _panels(dashboard.get("panels", []))
        for target in panel.get("targets", [])
        if isinstance(target.get("expr"), str) and target["expr"].strip()
    ]
    for variable in dashboard.get("templating", {}).get("list", []):
        raw = variable.get("query")
        text = raw.get("query", "") if isinstance(raw, dict) else raw
        if variable.get("type") == "query" and isinstance(text, str) and promql_in_template_query(text):
            queries.append(Query(promql_in_template_query(text), f"{source}: variable ${variable.get('name')}"))
    return queries


def _panels(panels: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # collapsed rows hold their panels inside


def queries_in_rules(document: dict[str, Any], source: str) -> tuple[list[Query], set[str]]:
    """Rule expressions, and the names recording rules define (valid in other queries)."""
    queries, recorded = [], set()
    for group in document.get("groups") or []:
        for rule in group.get("rules") or []:
            label = rule.get("alert") or rule.get("record") or "?"
            queries.append(Query(str(rule.get("expr", "")), f"{source}: {group.get('name')}/{label}"))
            if rule.get("record"):
                recorded.add(rule["record"])
    return queries, recorded


def load_dashboard_queries(dashboards_dir: Path) -> list[Query]:
    queries: list[Query] = []
    for path in sorted(dashboards_dir.glob("*.json")):
        queries += queries_in_dashboard(json.loads(path.read_text(encoding="utf-8")), path.name)
    return queries


def load_rule_queries(rule_files: Iterable[Path]) -> tuple[list[Query], set[str]]:
    queries: list[Query] = []
    recorded: set[str] = set()
    for path in rule_files:
        import yaml  # type: ignore[import-untyped, unused-ignore]  # only rule files need PyYAML

        found, names = queries_in_rules(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, path.name)
        queries += found
        recorded |= names
    return queries, recorded


# ----------------------------------------------------------- exposition ----
@dataclass
class Exposition:
    """What a /metrics page declares: family name -> type, and the sample names present."""

    families: dict[str, str] = field(default_factory=dict)
    samples: set[str] = field(default_factory=set)

    def series_names(self) -> set[str]:
        names = set(self.samples)
        for family, kind in self.families.items():
            names |= _series_of_family(family, kind)
        return names


def _series_of_family(family: str, kind: str) -> set[str]:
    if kind == "counter":
        base = family.removesuffix("_total")
        return {f"{base}_total", f"{base}_created"}
    if kind == "histogram":
        return {f"{family}_{suffix}" for suffix in ("bucket", "sum", "count", "created")}
    if kind == "gaugehistogram":
        return {f"{family}_bucket", f"{family}_gsum", f"{family}_gcount"}
    if kind == "summary":
        return {family, f"{family}_sum", f"{family}_count", f"{family}_created"}
    if kind == "info":
        return {family if family.endswith("_info") else f"{family}_info"}
    return {family}  # gauge, stateset, unknown, untyped


def parse_exposition(text: str) -> Exposition:
    """Prometheus text format 0.0.4 or OpenMetrics."""
    exposition = Exposition()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "TYPE":
                exposition.families[parts[2]] = parts[3].lower()
        elif line:
            exposition.samples.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return exposition


def read_exposition(source: str, api_key: str = "", timeout: float = 10.0) -> str:
    if source == "-":
        return sys.stdin.read()
    if not source.startswith(("http://", "https://")):
        return Path(source).read_text(encoding="utf-8")
    headers = {"Accept": "text/plain;version=0.0.4"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(source, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body: bytes = response.read()
    return body.decode("utf-8")


# ---------------------------------------------------------------- check ----
def missing_names(queries: Iterable[Query], exported: set[str], allowed: set[str]) -> dict[str, list[str]]:
    """Each used name that is neither exported nor allowed, with the places that use it."""
    missing: dict[str, list[str]] = {}
    for query in queries:
        for name in sorted(metric_names_in_promql(query.expr) - exported - allowed):
            missing.setdefault(name, []).append(query.origin)
    return missing


def explain(name: str, exposition: Exposition) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix)
        if base != name and base in exposition.families:
            return f" ({base} is exported as a {exposition.families[base]}, which has no {suffix} series)"
    if f"{name}_total" in exposition.series_names():
        return f" (did you mean {name}_total?)"
    return ""


def dump_promql_rules(queries: Iterable[Query], path: Path) -> None:
    """Dashboard queries as recording rules (JSON is YAML) so `promtool check rules` parses them."""
    rules = [
        {"record": f"dashboard:query_{index}:check", "expr": runnable_promql(query.expr)}
        for index, query in enumerate(queries)
    ]
    path.write_text(json.dumps({"groups": [{"name": "dashboard-queries", "rules": rules}]}, indent=1))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    dashboard_queries = load_dashboard_queries(args.dashboards)
    rule_queries, recorded = load_rule_queries(args.rules or DEFAULT_RULES)
    queries = dashboard_queries + rule_queries
    used = sorted(set().union(*(metric_names_in_promql(q.expr) for q in queries)))
    print(f"{len(queries)} queries use {len(used)} metric names: {', '.join(used)}")
    if args.dump_promql_rules:
        dump_promql_rules(dashboard_queries, args.dump_promql_rules)
        print(f"wrote {len(dashboard_queries)} dashboard queries to {args.dump_promql_rules}")
    if not args.metrics:
        return 0 if used else 1
    try:
        exposition = parse_exposition(read_exposition(args.metrics, args.api_key))
    except OSError as exc:  # URLError and HTTPError are OSErrors too
        print(f"cannot read metrics from {args.metrics}: {exc}", file=sys.stderr)
        return 2
    allowed = set(PROMETHEUS_SYNTHETIC) | recorded | set(args.allow)
    missing = missing_names(queries, exposition.series_names(), allowed)
    for name, origins in sorted(missing.items()):
        print(f"MISSING {name}{explain(name, exposition)}: used by {'; '.join(origins)}", file=sys.stderr)
    if missing:
        print(f"{len(missing)} metric name(s) not exported by {args.metrics}", file=sys.stderr)
        return 1
    print(f"all {len(used)} names are exported by {args.metrics}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", help="URL of a running server's /metrics, a saved exposition file, or -")
    parser.add_argument("--dashboards", type=Path, default=DEFAULT_DASHBOARDS, help="folder of dashboard JSON")
    parser.add_argument("--rules", type=Path, action="append", help="a Prometheus rule file (repeatable)")
    parser.add_argument("--allow", action="append", default=[], help="a name to accept without looking")
    parser.add_argument("--api-key", default="", help="sent as a Bearer token (for METRICS_AUTH=true)")
    parser.add_argument("--dump-promql-rules", type=Path, help="write dashboard queries as a rules file")
    return parser


if __name__ == "__main__":
    sys.exit(main())
