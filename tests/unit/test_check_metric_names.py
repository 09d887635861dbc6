"""deploy/check_metric_names.py: which names a query uses, and which names an exposition exports."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_checker() -> ModuleType:
    # deploy/ is not a package: load the script by path, as an operator would run it.
    spec = importlib.util.spec_from_file_location("check_metric_names", ROOT / "deploy" / "check_metric_names.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


checker = _load_checker()

SAMPLE_EXPOSITION = """\
# HELP mcp_requests_total Requests handled.
# TYPE mcp_requests_total counter
mcp_requests_total{method="generate",status="200",provider="mock",model="mock-fast"} 3.0
mcp_requests_created{method="generate",status="200",provider="mock",model="mock-fast"} 1.7e+09
# HELP mcp_errors_total Errors by type.
# TYPE mcp_errors_total counter
# HELP mcp_request_duration_seconds Request duration.
# TYPE mcp_request_duration_seconds histogram
mcp_request_duration_seconds_bucket{le="0.1"} 2.0
mcp_request_duration_seconds_bucket{le="+Inf"} 3.0
mcp_request_duration_seconds_count 3.0
mcp_request_duration_seconds_sum 0.4
# HELP mcp_sessions_active Sessions with activity.
# TYPE mcp_sessions_active gauge
mcp_sessions_active 1.0
"""

# docs/api.md#metrics: the names the gateway promises, with their Prometheus types.
SPEC_METRICS = {
    "mcp_requests_total": "counter",
    "mcp_request_duration_seconds": "histogram",
    "mcp_tokens_used_total": "counter",
    "mcp_cache_hits_total": "counter",
    "mcp_cache_misses_total": "counter",
    "mcp_errors_total": "counter",
    "mcp_worker_pool_active_workers": "gauge",
    "mcp_worker_pool_queue_size": "gauge",
    "mcp_worker_pool_processed_total": "counter",
    "mcp_worker_pool_max_workers": "gauge",
    "mcp_sessions_active": "gauge",
    "mcp_sessions_total": "counter",
    "mcp_gateway_overhead_seconds": "histogram",
    "mcp_time_to_first_token_seconds": "histogram",
}


def test_functions_keywords_labels_and_grafana_variables_are_not_taken_for_metric_names() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, provider) (rate(mcp_request_duration_seconds_bucket"
        '{instance=~"$instance", provider="rate"}[$__rate_interval])))'
        " / on (provider) group_left(model) sum without (status) (mcp_requests_total offset 5m) > 1e-3"
        " and bool up"
    )

    assert checker.metric_names_in_promql(expr) == {
        "mcp_request_duration_seconds_bucket",
        "mcp_requests_total",
        "up",
    }


def test_a_name_given_only_by_a_name_matcher_is_found() -> None:
    assert checker.metric_names_in_promql('sum(rate({__name__="mcp_cache_hits_total"}[5m]))') == {
        "mcp_cache_hits_total"
    }


def test_a_label_values_variable_uses_its_selector_but_not_its_label() -> None:
    query = checker.promql_in_template_query('label_values(mcp_requests_total{job="a,b"}, provider)')

    assert checker.metric_names_in_promql(query) == {"mcp_requests_total"}
    assert checker.promql_in_template_query("label_values(provider)") == ""


def test_a_histogram_family_exports_its_bucket_sum_and_count_series() -> None:
    exported = checker.parse_exposition(SAMPLE_EXPOSITION).series_names()

    assert {
        "mcp_request_duration_seconds_bucket",
        "mcp_request_duration_seconds_sum",
        "mcp_request_duration_seconds_count",
    } <= exported
    assert "mcp_request_duration_seconds" not in exported


def test_a_gauge_does_not_export_histogram_suffixes() -> None:
    exported = checker.parse_exposition(SAMPLE_EXPOSITION).series_names()

    assert "mcp_sessions_active" in exported
    assert "mcp_sessions_active_bucket" not in exported
    assert "mcp_sessions_active_count" not in exported


def test_a_labelled_counter_with_no_observation_yet_counts_as_exported() -> None:
    exported = checker.parse_exposition(SAMPLE_EXPOSITION).series_names()

    assert "mcp_errors_total" in exported
    assert "mcp_errors" not in exported


def test_missing_names_lists_each_unknown_name_with_the_places_that_use_it() -> None:
    exported = checker.parse_exposition(SAMPLE_EXPOSITION).series_names()
    queries = [
        checker.Query("sum(rate(mcp_cache_hits_total[5m]))", "cache.json: Hit ratio"),
        checker.Query("mcp_sessions_active_count + up", "sessions.json: Active"),
        checker.Query("sum(rate(mcp_requests_total[5m]))", "overview.json: Requests"),
    ]

    missing = checker.missing_names(queries, exported, set(checker.PROMETHEUS_SYNTHETIC))

    assert missing == {
        "mcp_cache_hits_total": ["cache.json: Hit ratio"],
        "mcp_sessions_active_count": ["sessions.json: Active"],
    }


def test_the_script_fails_and_names_the_metric_a_dashboard_uses_but_the_server_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dashboards = tmp_path / "dashboards"
    dashboards.mkdir()
    panel = {"title": "Hits", "targets": [{"expr": "rate(mcp_cache_hits_total[5m])"}]}
    (dashboards / "cache.json").write_text(json.dumps({"panels": [{"type": "row", "panels": [panel]}]}))
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n- name: g\n  rules:\n  - record: job:req:rate\n    expr: rate(mcp_requests_total[5m])\n"
        "  - alert: A\n    expr: job:req:rate > 1\n"
    )
    metrics = tmp_path / "metrics.txt"
    metrics.write_text(SAMPLE_EXPOSITION)

    status = checker.main(["--metrics", str(metrics), "--dashboards", str(dashboards), "--rules", str(rules)])

    assert status == 1
    assert "MISSING mcp_cache_hits_total: used by cache.json: Hits" in capsys.readouterr().err


def test_the_script_passes_when_every_name_is_exported(tmp_path: Path) -> None:
    dashboards = tmp_path / "dashboards"
    dashboards.mkdir()
    expr = "histogram_quantile(0.9, sum by (le) (rate(mcp_request_duration_seconds_bucket[5m])))"
    (dashboards / "latency.json").write_text(json.dumps({"panels": [{"title": "p90", "targets": [{"expr": expr}]}]}))
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n")
    metrics = tmp_path / "metrics.txt"
    metrics.write_text(SAMPLE_EXPOSITION)

    status = checker.main(["--metrics", str(metrics), "--dashboards", str(dashboards), "--rules", str(rules)])

    assert status == 0


def test_the_shipped_dashboards_and_alerts_use_only_the_metric_names_of_the_spec(tmp_path: Path) -> None:
    exposition = "".join(f"# TYPE {name} {kind}\n" for name, kind in SPEC_METRICS.items())
    metrics = tmp_path / "spec-metrics.txt"
    metrics.write_text(exposition)

    assert checker.main(["--metrics", str(metrics)]) == 0
