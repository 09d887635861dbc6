"""Draw a benchmark run's tables as PNG charts (issue 18, item 5).

    bench/.plot-venv/bin/python bench/charts.py bench/out/<run>/tables.json OUTDIR [OUTDIR ...]

Runs in its own virtual environment (``bench/run.sh`` makes ``bench/.plot-venv`` with matplotlib on
first use): the plotting library is a benchmark-only dependency, in neither the gateway's venv nor its
lock files. It imports nothing from the project; its input is the ``tables.json`` that ``python -m bench``
writes beside its Markdown results. Charts, each drawn only when its table is in the run:

- ``latency.png``: p50 and p99 by concurrency for the direct upstream, the gateway and LiteLLM
  ((a) at concurrency 1, (b) at 16, 64 and 256);
- ``throughput.png``: requests per second by concurrency ((b));
- ``soak-rss.png``: the gateway's RSS sampled along the soak ((f)).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt

# (a) names its systems without the worker count; (b) with it.
_SAME_AS_B = {"direct": "direct", "gateway": "gateway, 1 worker", "litellm": "litellm, 1 worker"}


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def _table(tables: list[dict[str, Any]], prefix: str) -> dict[str, Any] | None:
    return next((t for t in tables if t["title"].startswith(prefix)), None)


def _column(table: dict[str, Any], name: str) -> int:
    return int(table["columns"].index(name))


def latency_points(tables: list[dict[str, Any]]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """{system: {"p50": [(concurrency, ms)], "p99": [...]}} from tables (a) and (b)."""
    points: dict[str, dict[str, list[tuple[float, float]]]] = {}
    added = _table(tables, "(a)")
    if added:
        for row in added["rows"]:
            system = _SAME_AS_B.get(row[0], row[0])
            for pct in ("p50", "p99"):
                value = _number(row[_column(added, pct)])
                if value is not None:
                    points.setdefault(system, {}).setdefault(pct, []).append((1, value))
    throughput = _table(tables, "(b)")
    if throughput:
        for row in throughput["rows"]:
            concurrency, system = _number(row[0]), row[1]
            for pct in ("p50", "p99"):
                value = _number(row[_column(throughput, f"{pct} ms")])
                if concurrency is not None and value is not None:
                    points.setdefault(system, {}).setdefault(pct, []).append((concurrency, value))
    return points


def draw(tables: list[dict[str, Any]], outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    points = latency_points(tables)
    if points:
        fig, ax = plt.subplots(figsize=(8, 5))
        for index, (system, by_pct) in enumerate(sorted(points.items())):
            color = f"C{index}"  # one colour a system: p50 solid, p99 dashed
            for pct, style in (("p50", "-o"), ("p99", "--x")):
                values = sorted(by_pct.get(pct, []))
                if values:
                    xs, ys = zip(*values, strict=True)
                    ax.plot(xs, ys, style, color=color, label=f"{system} {pct}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("concurrency (closed loop, keep-alive)")
        ax.set_ylabel("latency (ms, log scale)")
        ax.set_title("Latency percentiles by concurrency, non-streaming")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        written.append(_save(fig, outdir / "latency.png"))
    throughput = _table(tables, "(b)")
    if throughput:
        series: dict[str, list[tuple[float, float]]] = {}
        rate = _column(throughput, "req/s (median)")
        for row in throughput["rows"]:
            concurrency, value = _number(row[0]), _number(row[rate])
            if concurrency is not None and value is not None:
                series.setdefault(row[1], []).append((concurrency, value))
        fig, ax = plt.subplots(figsize=(8, 5))
        for system, values in sorted(series.items()):
            xs, ys = zip(*sorted(values), strict=True)
            ax.plot(xs, ys, "-o", label=system)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("concurrency")
        ax.set_ylabel("requests per second (log scale)")
        ax.set_title("Throughput, non-streaming (median of the repeats)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        written.append(_save(fig, outdir / "throughput.png"))
    soak = _table(tables, "(f)")
    if soak and soak.get("series"):
        fig, ax = plt.subplots(figsize=(8, 4))
        for name, values in soak["series"].items():
            if values:
                xs, ys = zip(*values, strict=True)
                ax.plot(xs, ys, label=name)
        ax.set_xlabel("seconds into the soak")
        ax.set_ylabel("RSS (MiB)")
        ax.set_ylim(bottom=0)
        ax.set_title(soak["title"], fontsize=9)
        ax.grid(True, alpha=0.3)
        written.append(_save(fig, outdir / "soak-rss.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    tables = json.loads(Path(argv[0]).read_text())
    for outdir in argv[1:]:
        for path in draw(tables, Path(outdir)):
            print(f"chart: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
