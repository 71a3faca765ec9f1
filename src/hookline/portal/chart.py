"""Deliveries and failures per hour as an inline SVG bar chart, drawn on the server (no JS).

The axes are HTML, not SVG text, so their labels keep the page's type size whatever the width
the SVG is scaled to: the count axis beside the bars (on a phone the bars scroll sideways and it
stays in view), the hours below them (they scroll with the bars).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from markupsafe import Markup

from ..stats import HourBucket

WIDTH, HEIGHT = 686, 160
LEFT, RIGHT, TOP, BOTTOM = 0, 6, 10, 4
LABEL_EVERY_HOURS = 6
# Where a tick sits, as a share of the axis; portal.css places `.tick-*` at the same heights
# (TOP + plot height * (1 - share)) / HEIGHT: the page's CSP allows no inline style.
TICK_NAMES = {0.0: "zero", 0.5: "half", 1.0: "top"}


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above `value`: a readable axis top."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return int(step * magnitude)
    return int(10 * magnitude)


def axis_ticks(top: int) -> list[int]:
    """Whole counts for the axis: zero, the top, and the middle when it is a whole number."""
    return [0, top // 2, top] if top % 2 == 0 and top > 1 else [0, top]


def _hour_label(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M")


def hourly_chart(buckets: Sequence[HourBucket]) -> Markup:
    """Stacked bars (delivered below, failed above) with a tooltip per hour."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    peak = max((b.succeeded + b.failed for b in buckets), default=0)
    top = _nice_ceiling(peak)
    slot = plot_w / max(len(buckets), 1)
    bar = max(slot * 0.68, 1.0)
    axis, hours = [], []
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="Deliveries and failures per hour">']
    for value in axis_ticks(top):
        y = TOP + plot_h * (1 - value / top)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/>')
        axis.append(f'<span class="tick-{TICK_NAMES[value / top]}">{value}</span>')
    for index, bucket in enumerate(buckets):
        x = LEFT + index * slot + (slot - bar) / 2
        ok_h = plot_h * bucket.succeeded / top
        fail_h = plot_h * bucket.failed / top
        base = TOP + plot_h
        tip = (f"{_hour_label(bucket.start)} UTC: {bucket.succeeded} delivered, "
               f"{bucket.failed} failed")
        parts.append(f"<g><title>{tip}</title>")
        parts.append(f'<rect class="hit" x="{LEFT + index * slot:.1f}" y="{TOP}" '
                     f'width="{slot:.1f}" height="{plot_h}"/>')
        if ok_h:
            parts.append(f'<rect class="ok" x="{x:.1f}" y="{base - ok_h:.1f}" '
                         f'width="{bar:.1f}" height="{ok_h:.1f}" rx="2"/>')
        if fail_h:
            parts.append(f'<rect class="fail" x="{x:.1f}" y="{base - ok_h - fail_h:.1f}" '
                         f'width="{bar:.1f}" height="{fail_h:.1f}" rx="2"/>')
        parts.append("</g>")
        last = index == len(buckets) - 1
        if index % LABEL_EVERY_HOURS == 0 or last:
            label = "now" if last else _hour_label(bucket.start)
            hours.append(f"<span>{label}</span>")
        else:
            hours.append("<span></span>")
    if peak == 0:
        parts.append(f'<text class="empty" x="{LEFT + plot_w / 2:.1f}" '
                     f'y="{TOP + plot_h / 2:.1f}" text-anchor="middle">'
                     "No deliveries in this period</text>")
    parts.append("</svg>")
    # One cell per hour, as wide as its bar's slot (portal.css); a label centres on its bar.
    time_axis = f'<div class="chart-x" aria-hidden="true">{"".join(hours)}</div>'
    return Markup(f'<div class="chart-frame"><div class="chart-y" aria-hidden="true">'
                  f'{"".join(axis)}</div><div class="chart-wrap">{"".join(parts)}{time_axis}'
                  "</div></div>")
