"""The portal's hourly chart: whole counts on its axis, which is drawn outside the scrolling
bars so it stays in view on a phone."""

from __future__ import annotations

import re

from hookline.portal.chart import hourly_chart
from hookline.stats import HourBucket


def axis_labels(peak: int) -> list[str]:
    buckets = [HourBucket(start=3600.0 * hour, succeeded=0, failed=0) for hour in range(23)]
    buckets.append(HourBucket(start=3600.0 * 23, succeeded=peak, failed=0))
    html = str(hourly_chart(buckets))
    assert "style=" not in html  # the portal's CSP refuses inline styles
    axis = html.split('<div class="chart-wrap">', 1)[0]
    return re.findall(r">([^<>]+)</span>", axis)


def test_the_count_axis_has_whole_numbers_only() -> None:
    for peak in (0, 1, 2, 3, 5, 7, 13, 99, 1234):
        labels = axis_labels(peak)
        assert labels[0] == "0" and all(label.isdigit() for label in labels), (peak, labels)
        assert int(labels[-1]) >= peak


def test_one_delivery_gets_an_axis_of_zero_and_one() -> None:
    assert axis_labels(1) == ["0", "1"]


def test_the_hour_labels_are_html_cells_one_per_bar() -> None:
    """Not SVG text: those grow and shrink with the SVG's width (large on a desktop, tiny on
    a phone); one cell per hour keeps each label under its bar."""
    buckets = [HourBucket(start=3600.0 * hour, succeeded=1, failed=0) for hour in range(24)]
    html = str(hourly_chart(buckets))

    assert "<text" not in html
    hours = html.split('<div class="chart-x" aria-hidden="true">', 1)[1].split("</div>", 1)[0]
    cells = re.findall(r"<span>([^<>]*)</span>", hours)
    assert len(cells) == 24
    assert [c for c in cells if c] == ["00:00", "06:00", "12:00", "18:00", "now"]
