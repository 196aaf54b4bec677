"""Inline SVG charts: bars in proportion, inside the plot, labels escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from hypothesis import given, strategies as st

from auditor.reporting.charts import Series, bar_chart, column_chart

SVG = "{http://www.w3.org/2000/svg}"


@given(st.lists(st.integers(0, 10**7), min_size=1, max_size=12), st.booleans())
def test_columns_in_proportion_and_inside_the_plot(values, stacked):
    labels = [f"m{i}" for i in range(len(values))]
    svg = ET.fromstring(str(column_chart("t", labels, [Series("accesses", [float(v) for v in values])], stacked=stacked)))
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("data-value") is not None]
    assert [float(b.get("data-value")) for b in bars] == [float(v) for v in values]
    top = max(float(b.get("height")) for b in bars)
    assert top <= 240 - 28 - 40 + 0.1  # within the plot area
    biggest = max(values)
    for b, v in zip(bars, values):
        assert float(b.get("y")) >= 27.9
        if biggest:
            # heights are proportional to the values (one scale for every bar)
            assert abs(float(b.get("height")) * biggest - top * v) <= 0.1 * biggest + 1e-6


def test_axis_ticks_are_exact_numbers():
    svg = str(column_chart("t", ["a"], [Series("x", [3.0])]))
    ticks = re.findall(r'text-anchor="end"[^>]*>([\d,.]+)</text>', svg)
    assert ticks == ["0", "1", "2", "3", "4"]


def test_labels_are_escaped():
    svg = str(bar_chart("<b>", [("<script>x</script>", 2.0)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)  # still well-formed
