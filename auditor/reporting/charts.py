"""Charts drawn as inline SVG on the server: the report needs no script and no network, prints as
drawn, and reads the same in the HTML and the PDF. Labels are escaped here (the markup is trusted
by the templates)."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = {"critical": "#7f1d1d", "high": "#c2410c", "medium": "#d97706", "low": "#65a30d",
           "accesses": "#1d4ed8", "explained": "#0f766e", "findings": "#b91c1c"}
_FALLBACK = ("#334155", "#6d28d9", "#0369a1", "#be185d")


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float]


def _colour(name: str, i: int) -> str:
    return PALETTE.get(name, _FALLBACK[i % len(_FALLBACK)])


def _nice_top(value: float) -> float:
    """The smallest 1-2-5 step number >= value (the axis top)."""
    if value <= 0:
        return 1.0
    step = 10 ** (len(str(int(value))) - 1)
    for factor in (1, 2, 5, 10):
        if factor * step >= value:
            return float(factor * step)
    return float(10 * step)


def _axis(value: float, ticks: int = 4) -> tuple[float, float]:
    """(step, top): a 1-2-5 step so that `ticks` steps reach `value`; labels stay exact."""
    step = _nice_top(value / ticks) if value > ticks else 1.0
    return step, step * ticks


# Presentation attributes, not classes: WeasyPrint draws inline SVG without the page's stylesheet.
_TICK = 'font-size="10" fill="#475569" font-family="DejaVu Sans, Arial, sans-serif"'
_TITLE = 'font-size="12" font-weight="bold" fill="#0f172a" font-family="DejaVu Sans, Arial, sans-serif"'
_GRID = 'stroke="#e2e8f0" stroke-width="1"'


def _exact(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _number(v: float) -> str:
    return f"{v:,.0f}" if v >= 1 or v == 0 else f"{v:.2f}"


def column_chart(title: str, labels: list[str], series: list[Series], stacked: bool = True,
                 width: int = 640, height: int = 240) -> Markup:
    """Columns per label (months, days...), the series stacked or side by side, with a legend."""
    left, right, top, bottom = 56, 12, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s.values[i] for s in series) if stacked else max((s.values[i] for s in series), default=0)
              for i in range(len(labels))]
    step, axis_top = _axis(max(totals, default=0))
    slot = plot_w / max(len(labels), 1)
    bar_w = slot * 0.6 / (1 if stacked else max(len(series), 1))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}"><title>{escape(title)}</title>',
             f'<text x="{left}" y="16" {_TITLE}>{escape(title)}</text>']
    for tick in range(5):  # gridlines and axis labels
        y = top + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" {_GRID}/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" {_TICK}>{_number(step * tick)}</text>')
    for i, label in enumerate(labels):
        x0, base = left + slot * i + slot * 0.2, top + plot_h
        for j, s in enumerate(series):
            value = s.values[i]
            h = plot_h * value / axis_top
            x = x0 if stacked else x0 + bar_w * j
            y = base - h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{_colour(s.name, j)}" data-series="{escape(s.name)}" data-value="{_exact(value)}">'
                         f'<title>{escape(label)}: {escape(s.name)} {_number(value)}</title></rect>')
            if stacked:
                base = y
        parts.append(f'<text x="{left + slot * (i + 0.5):.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                     f'{_TICK}>{escape(label)}</text>')
    parts.append(_legend(series, left, height - 8))
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(title: str, items: list[tuple[str, float]], colour: str = "findings", width: int = 640) -> Markup:
    """Horizontal bars, one per item (rules, departments...), with the value at the end of each."""
    row, left, top = 22, 210, 28
    height = top + row * max(len(items), 1) + 8
    top_value = _axis(max((v for _, v in items), default=0))[1]
    plot_w = width - left - 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}"><title>{escape(title)}</title>',
             f'<text x="0" y="16" {_TITLE}>{escape(title)}</text>']
    for i, (label, value) in enumerate(items):
        y = top + row * i
        w = plot_w * value / top_value
        parts.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end" {_TICK}>{escape(label)}</text>'
                     f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{_colour(colour, 0)}" '
                     f'data-value="{_exact(value)}"><title>{escape(label)}: {_number(value)}</title></rect>'
                     f'<text x="{left + w + 6:.1f}" y="{y + 14}" {_TICK}>{_number(value)}</text>')
    if not items:
        parts.append(f'<text x="{left}" y="{top + 14}" {_TICK}>none</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend(series: list[Series], x: float, y: float) -> str:
    out = []
    for j, s in enumerate(series):
        out.append(f'<rect x="{x:.1f}" y="{y - 9}" width="10" height="10" fill="{_colour(s.name, j)}"/>'
                   f'<text x="{x + 14:.1f}" y="{y}" {_TICK}>{escape(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    return "".join(out)
