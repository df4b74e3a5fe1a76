"""Charts as inline SVG, drawn on the server: no script, no external asset, and a page that
prints and screenshots as it shows.

Pure: numbers in, markup out (every label escaped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 220
LEFT, BOTTOM, TOP = 48, 34, 14
STATUS_COLOURS = {"SUCCESS": "#2f855a", "FAILURE": "#c53030", "PENDING": "#b7791f"}


def _nice_ceiling(value: float) -> float:
    """A round number at or above `value` for the top of an axis."""
    if value <= 0:
        return 1.0
    step = float(10 ** len(str(int(value)))) / 10
    for factor in (1, 2, 2.5, 5, 10):
        if value <= step * factor:
            return step * factor
    return float(value)


def _frame(top: float, unit: str) -> list[str]:
    plot_height = HEIGHT - BOTTOM - TOP
    parts = []
    for fraction in (0, 0.5, 1):
        y = TOP + plot_height * (1 - fraction)
        value = top * fraction
        label = f"{value:,.0f}" if top >= 10 or value == int(value) else f"{value:,.1f}"
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#4a5568">{escape(label)}{escape(unit)}</text>'
        )
    return parts


def _svg(title: str, parts: list[str], legend: Sequence[tuple[str, str]] = ()) -> Markup:
    keys = "".join(
        f'<rect x="{LEFT + i * 110}" y="{HEIGHT - 12}" width="10" height="10" fill="{colour}"/>'
        f'<text x="{LEFT + 14 + i * 110}" y="{HEIGHT - 3}" font-size="11" fill="#2d3748">'
        f"{escape(name)}</text>"
        for i, (name, colour) in enumerate(legend)
    )
    # Every piece above is numbers or escaped text.
    return Markup(  # noqa: S704
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        + "".join(parts)
        + keys
        + "</svg>"
    )


def stacked_bars(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[int]],
    colours: Mapping[str, str],
) -> Markup:
    """One bar per label, stacked by series (writes per day by status, say)."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    most = max(totals, default=0)
    # Counts: an even top below ten, so that every tick is a whole number.
    top = _nice_ceiling(most) if most >= 10 else float(max(2, most + most % 2))
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(len(labels), 1)
    parts = _frame(top, "")
    for i, label in enumerate(labels):
        x = LEFT + i * slot + slot * 0.15
        base = float(TOP + plot_height)
        for name, values in series.items():
            height = plot_height * values[i] / top
            if height > 0:
                base -= height
                parts.append(
                    f'<rect x="{x:.1f}" y="{base:.1f}" width="{slot * 0.7:.1f}" '
                    f'height="{height:.1f}" fill="{colours.get(name, "#718096")}">'
                    f"<title>{escape(label)}: {values[i]} {escape(name)}</title></rect>"
                )
        if len(labels) <= 16 or i % max(len(labels) // 8, 1) == 0:
            parts.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{TOP + plot_height + 14}" font-size="10" '
                f'text-anchor="middle" fill="#4a5568">{escape(label[5:])}</text>'
            )
    legend = [(name, colours.get(name, "#718096")) for name in series]
    return _svg(title, parts, legend)


def bars_and_line(
    title: str,
    labels: Sequence[str],
    bars: Sequence[float],
    line: Sequence[float],
    bar_name: str,
    line_name: str,
) -> Markup:
    """Bars on the left axis (seconds) and a line scaled to the plot (records), one point per
    label: sync duration and records over time."""
    top = _nice_ceiling(max(bars, default=0))
    line_top = max(line, default=0) or 1
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(len(labels), 1)
    parts = _frame(top, " s")
    points = []
    for i, label in enumerate(labels):
        x = LEFT + i * slot + slot * 0.15
        height = plot_height * bars[i] / top
        parts.append(
            f'<rect x="{x:.1f}" y="{TOP + plot_height - height:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{height:.1f}" fill="#3182ce"><title>{escape(label)}: '
            f"{bars[i]:,.1f} s, {line[i]:,.0f} records</title></rect>"
        )
        points.append(f"{x + slot * 0.35:.1f},{TOP + plot_height * (1 - line[i] / line_top):.1f}")
    if points:
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="#dd6b20" stroke-width="2"/>'
        )
    legend = [(bar_name, "#3182ce"), (f"{line_name} (max {line_top:,.0f})", "#dd6b20")]
    return _svg(title, parts, legend)
