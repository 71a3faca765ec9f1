"""A run's figures: one `Row` per configuration, printed as a table, drawn as a chart, saved as
JSON. Ratios are to the raw ceiling and the Celery baseline measured in the same run."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CEILING = "ceiling"
CELERY = "celery"


@dataclass
class Row:
    label: str
    database: str  # sqlite | postgres | "-" (ceiling, Celery)
    mode: str  # ceiling | celery | closed | open | publish | batch | drain
    deliveries: int = 0
    expected: int = 0
    seconds: float = 0.0
    deliveries_per_s: float | None = None
    publish_per_s: float | None = None
    p50_ms: float | None = None  # publish → first arrival of each delivery
    p90_ms: float | None = None
    p99_ms: float | None = None
    answer_p50_ms: float | None = None  # publish request → its HTTP answer
    answer_p99_ms: float | None = None
    duplicates: int = 0
    bad_signatures: int = 0
    failed_requests: int = 0  # non-2xx answers and connection errors
    skipped: int = 0  # open loop: sends the generator could not start (in-flight cap)
    note: str = ""
    load_average: float | None = None  # 1-minute load average when the row was measured
    extra: dict[str, Any] = field(default_factory=dict)


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def latency_ms(values: list[float]) -> tuple[float | None, float | None, float | None]:
    p50, p90, p99 = (percentile(values, share) for share in (0.5, 0.9, 0.99))
    return tuple(None if v is None else v * 1000 for v in (p50, p90, p99))  # type: ignore[return-value]


def _reference(rows: list[Row], mode: str) -> float | None:
    rates = [r.deliveries_per_s for r in rows if r.mode == mode and r.deliveries_per_s]
    return sum(rates) / len(rates) if rates else None


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}{unit}"


HEADER = ("configuration", "deliveries/s", "publish/s", "p50 ms", "p90 ms", "p99 ms",
          "of ceiling", "x Celery", "answer p99 ms", "delivered", "dups", "bad sig",
          "failed req", "load")


def table_rows(rows: list[Row]) -> list[tuple[str, ...]]:
    ceiling = _reference(rows, CEILING)
    celery = _reference(rows, CELERY)
    lines: list[tuple[str, ...]] = []
    for r in rows:
        rate = r.deliveries_per_s
        of_ceiling = f"{rate / ceiling:.0%}" if rate and ceiling else "-"
        x_celery = f"{rate / celery:.2f}x" if rate and celery else "-"
        delivered = f"{r.deliveries}/{r.expected}" if r.expected else "-"
        publish = "n/a" if r.note.startswith("not available") else _num(r.publish_per_s)
        load = "-" if r.load_average is None else f"{r.load_average:.1f}"
        lines.append((r.label, _num(rate), publish, _num(r.p50_ms),
                      _num(r.p90_ms), _num(r.p99_ms), of_ceiling, x_celery,
                      _num(r.answer_p99_ms), delivered, str(r.duplicates),
                      str(r.bad_signatures), str(r.failed_requests), load))
    return lines


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cells) + " |" for cells in table_rows(rows)]
    notes = [f"- **{r.label}**: {r.note}" for r in rows if r.note]
    return "\n".join(lines + (["", *notes] if notes else []))


def text_table(rows: list[Row]) -> str:
    cells = [HEADER, *table_rows(rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADER))]
    out = []
    for line in cells:
        out.append(line[0].ljust(widths[0]) + "".join(
            value.rjust(widths[i] + 2) for i, value in enumerate(line) if i))
    return "\n".join(out)


def write_json(path: Path, meta: dict[str, Any], rows: list[Row]) -> None:
    path.write_text(json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=2))


def draw_chart(path: Path, rows: list[Row], title: str) -> None:
    """Deliveries/s and publish/s per configuration beside its latency percentiles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r.label for r in rows]
    y = list(range(len(rows)))
    fig, (rates, latency) = plt.subplots(1, 2, figsize=(15, 0.45 * len(rows) + 2.2),
                                         sharey=True)
    height = 0.38
    rates.barh([i - height / 2 for i in y], [r.deliveries_per_s or 0 for r in rows], height,
               label="deliveries/s", color="#3465a4")
    rates.barh([i + height / 2 for i in y], [r.publish_per_s or 0 for r in rows], height,
               label="publish/s (messages)", color="#73d216")
    for i, r in enumerate(rows):
        if r.note.startswith("not available"):
            rates.text(1, i, "not available", va="center", fontsize=8, color="#555")
    rates.set_xscale("symlog", linthresh=100)
    rates.set_xlabel("per second (log)")
    rates.set_yticks(y, labels)
    rates.invert_yaxis()
    rates.legend(loc="lower right", fontsize=8)
    rates.grid(axis="x", alpha=0.3)
    third = 0.27
    for offset, name, color in ((-third, "p50_ms", "#8ae234"), (0.0, "p90_ms", "#fcaf3e"),
                                (third, "p99_ms", "#ef2929")):
        latency.barh([i + offset for i in y], [getattr(r, name) or 0 for r in rows], third,
                     label=name.replace("_ms", ""), color=color)
    latency.set_xscale("symlog", linthresh=10)
    latency.set_xlabel("publish → first arrival, ms (log)")
    latency.axvline(50, color="#555", linestyle="--", linewidth=0.8)
    latency.legend(loc="lower right", fontsize=8)
    latency.grid(axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
