"""The console's SVG charts: labels escaped, bars in proportion, whole-number ticks for counts."""

from __future__ import annotations

import re

from lxml import etree

from propbridge.console.charts import STATUS_COLOURS, bars_and_line, stacked_bars


def test_stacked_bars_are_in_proportion_and_escaped() -> None:
    svg = stacked_bars(
        "Writes <per> day",
        ["2026-11-01", "2026-11-02"],
        {"SUCCESS": [3, 1], "FAILURE": [1, 0], "<x>": [0, 0]},
        STATUS_COLOURS,
    )
    root = etree.fromstring(str(svg).encode())  # well-formed: every label escaped
    assert root.findtext("{http://www.w3.org/2000/svg}title") == "Writes <per> day"
    heights = {
        rect.findtext("{http://www.w3.org/2000/svg}title"): float(rect.get("height"))
        for rect in root.iter("{http://www.w3.org/2000/svg}rect")
        if rect.findtext("{http://www.w3.org/2000/svg}title")
    }
    assert heights["2026-11-01: 3 SUCCESS"] == 3 * heights["2026-11-02: 1 SUCCESS"]
    assert heights["2026-11-01: 1 FAILURE"] == heights["2026-11-02: 1 SUCCESS"]
    ticks = re.findall(r'text-anchor="end" font-size="11" fill="#4a5568">([^<]*)<', str(svg))
    assert ticks == ["0", "2", "4"]


def test_bars_and_line_with_no_runs_and_with_some() -> None:
    assert "<svg" in str(bars_and_line("empty", [], [], [], "Duration", "Records"))
    svg = str(bars_and_line("syncs", ["a", "b"], [1.5, 3.0], [10, 20], "Duration", "Records"))
    assert "1.5 s, 10 records" in svg and "3.0 s, 20 records" in svg
    assert "<polyline" in svg
