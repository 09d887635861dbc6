"""Tables: printed as they are produced, and collected for a Markdown results file."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bench.loadgen import Run, percentile


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # (x, y) lines for the charts

    def add(self, *cells: object) -> None:
        self.rows.append([_cell(c) for c in cells])

    def markdown(self) -> str:
        widths = [
            max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h) for i, h in enumerate(self.columns)
        ]
        line = "| " + " | ".join(h.ljust(w) for h, w in zip(self.columns, widths, strict=True)) + " |"
        rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        body = ["| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in self.rows]
        notes = [f"\n{n}" for n in self.notes]
        return "\n".join([f"### {self.title}", "", line, rule, *body, *notes])

    def as_json(self) -> dict[str, object]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows, "series": self.series}

    def errors(self) -> int:
        """The failures the table reports (the columns that count errors, failures or stalls)."""
        counted = [i for i, column in enumerate(self.columns) if _counts_failures(column)]
        total = 0
        for row in self.rows:
            for i in counted:
                text = row[i].replace(",", "")
                total += int(float(text)) if text.replace(".", "", 1).isdigit() else 0
        return total


def _counts_failures(column: str) -> bool:
    return column in ("errors", "failed", "soak errors", "stalled or failed")


def _cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def ms(values: list[float], p: float) -> float:
    return percentile(values, p) * 1000


def latencies(run: Run) -> list[float]:
    return [r.latency for r in run.ok()]


def ttfts(run: Run) -> list[float]:
    return [r.ttft for r in run.ok() if r.ttft is not None]


def gaps(run: Run) -> list[float]:
    return [g for r in run.ok() for g in r.gaps]


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b and not math.isnan(a) and not math.isnan(b) else "-"
