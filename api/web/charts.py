"""Server-rendered SVG charts of item response theory: item characteristic curves and a
test information curve with its spread across papers (the calibration pages,
docs/decisions/0040).

Each chart is a ``<figure>`` holding an ``<svg role="img">`` named by its ``<title>`` and
``<desc>``, a caption, and the same numbers as a table in a ``<details>`` (the text
alternative a screen reader or a printout can use). Colours are SVG presentation
attributes, never ``style`` (the pages' CSP forbids inline styles), and curves differ in
dash pattern as well as colour. θ is in logits on the bank's scale; labels come from
the catalogue in the page's language. The curves are ``itembank.irt``'s.

Nothing here reads a database or a request: a chart is a function of its numbers and
the language, so it is tested as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from markupsafe import Markup, escape

from api.web import i18n
from itembank import irt

#: The drawing's size in SVG units (it scales to its box; text stays legible at 390 px).
WIDTH = 360
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 52, 14, 12, 46
PLOT_W = WIDTH - LEFT - RIGHT
PLOT_H = HEIGHT - TOP - BOTTOM
#: The θ range drawn (logits) and the steps of the curves and of the data table.
THETA_MIN, THETA_MAX = -4.0, 4.0
CURVE_STEP = 0.1
TABLE_STEP = 1.0
#: Line colours (each at least 3:1 against white) and dash patterns, cycled together.
COLOURS = ("#1f5fa8", "#b3261e", "#2e7d32", "#6a3d9a", "#8a5a00", "#00687a")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 2")
INK = "#1a1a1a"
AXIS = "#4a4a4a"
GRID = "#e0e3e7"
BAND = "#c9d9ee"
CUT = "#b3261e"

i18n.register(
    {
        "chart.theta": ("能力 θ（logit）", "Ability θ (logits)"),
        "chart.probability": ("答对概率 P(θ)", "P(correct) at θ"),
        "chart.information": ("测验信息量 I(θ)", "Test information I(θ)"),
        "chart.data": ("查看数据表", "Show the numbers"),
        "chart.icc.title": ("试题特征曲线", "Item characteristic curve"),
        "chart.icc.title_many": (
            "试题特征曲线（{n} 道题）",
            "Item characteristic curves ({n} items)",
        ),
        "chart.icc.desc": (
            "横轴为能力 θ（logit），纵轴为答对概率。{items}",
            "Ability θ (logits) across, probability of a correct answer up. {items}",
        ),
        "chart.icc.item": (
            "{label}：区分度 a = {a}，难度 b = {b}。",
            "{label}: discrimination a = {a}, difficulty b = {b}.",
        ),
        "chart.info.title": ("测验信息曲线", "Test information curve"),
        "chart.info.desc": (
            "横轴为能力 θ（logit），纵轴为测验信息量。实线为各试卷的平均值，"
            "阴影为第 5 至第 95 百分位（{papers}）；竖线为合格点 θc = {cut}。",
            "Ability θ (logits) across, test information up. The line is the mean over "
            "papers, the shaded band the 5th to 95th percentile ({papers}); the vertical "
            "line is the pass point θc = {cut}.",
        ),
        "chart.info.desc_no_cut": (
            "横轴为能力 θ（logit），纵轴为测验信息量。实线为各试卷的平均值，"
            "阴影为第 5 至第 95 百分位（{papers}）。",
            "Ability θ (logits) across, test information up. The line is the mean over "
            "papers, the shaded band the 5th to 95th percentile ({papers}).",
        ),
        "chart.info.papers.one": ("{n} 份试卷", "{n} paper"),
        "chart.info.papers.other": ("{n} 份试卷", "{n} papers"),
        "chart.info.mean": ("平均", "Mean"),
        "chart.info.p5": ("第 5 百分位", "5th percentile"),
        "chart.info.p95": ("第 95 百分位", "95th percentile"),
        "chart.info.band": ("第 5–95 百分位", "5th–95th percentile"),
        "chart.info.cut": ("合格点 θc", "Pass point θc"),
    }
)


@dataclass(frozen=True)
class Curve:
    """One item's curve: what the legend and the table call it, and its 2PL parameters."""

    label: str
    a: float
    b: float


def _grid(step: float) -> np.ndarray:
    count = round((THETA_MAX - THETA_MIN) / step) + 1
    return np.linspace(THETA_MIN, THETA_MAX, count)


def _x(theta: float) -> float:
    return LEFT + (theta - THETA_MIN) / (THETA_MAX - THETA_MIN) * PLOT_W


def _y(value: float, top: float) -> float:
    return TOP + PLOT_H - (value / top) * PLOT_H


def number(value: float, digits: int = 2) -> str:
    """A number for people: fixed digits, a true minus sign, no "-0.00"."""
    text = f"{value:.{digits}f}"
    if float(text) == 0:
        text = f"{0:.{digits}f}"
    return text.replace("-", "−")


def _attr(value: float) -> str:
    return f"{value:.1f}"


def _path(xs: Sequence[float], ys: Sequence[float], top: float) -> str:
    return " ".join(
        f"{'M' if n == 0 else 'L'}{_attr(_x(x))},{_attr(_y(y, top))}"
        for n, (x, y) in enumerate(zip(xs, ys, strict=True))
    )


def nice_top(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above ``value`` (an axis's end)."""
    if value <= 0 or not np.isfinite(value):
        return 1.0
    power = 10 ** np.floor(np.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * power >= value - 1e-12:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop ends at 10


def ticks(top: float) -> list[float]:
    """Round steps from 0 to ``top`` (an end ``nice_top`` gave), at most six marks."""
    power = 10.0 ** float(np.floor(np.log10(top))) / 10
    for step in (1.0, 2.0, 2.5, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0):
        if top / (step * power) <= 5 + 1e-9:
            size = step * power
            return [round(size * k, 10) for k in range(round(top / size) + 1)]
    return [0.0, top]  # pragma: no cover - a step of 10× the power always fits


def _tick(value: float) -> str:
    return f"{value:g}".replace("-", "−")


def _axes(lang: str, y_label: str, top: float, y_ticks: Sequence[float]) -> list[str]:
    out = ['<g class="axis" aria-hidden="true">']
    base = TOP + PLOT_H
    for v in y_ticks:
        y = _attr(_y(v, top))
        out.append(f'<line x1="{LEFT}" y1="{y}" x2="{LEFT + PLOT_W}" y2="{y}" stroke="{GRID}"/>')
        out.append(
            f'<text x="{LEFT - 6}" y="{_attr(_y(v, top) + 4)}" text-anchor="end" '
            f'font-size="13" fill="{INK}">{_tick(v)}</text>'
        )
    out.append(f'<line x1="{LEFT}" y1="{base}" x2="{LEFT + PLOT_W}" y2="{base}" stroke="{AXIS}"/>')
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="{AXIS}"/>')
    for theta in range(int(THETA_MIN), int(THETA_MAX) + 1, 2):
        x = _attr(_x(theta))
        out.append(f'<line x1="{x}" y1="{base}" x2="{x}" y2="{base + 4}" stroke="{AXIS}"/>')
        out.append(
            f'<text x="{x}" y="{base + 17}" text-anchor="middle" font-size="13" '
            f'fill="{INK}">{number(theta, 0)}</text>'
        )
    out.append(
        f'<text x="{LEFT + PLOT_W / 2}" y="{HEIGHT - 8}" text-anchor="middle" font-size="14" '
        f'fill="{INK}">{escape(i18n.t("chart.theta", lang))}</text>'
    )
    middle = TOP + PLOT_H / 2
    out.append(
        f'<text x="14" y="{middle}" text-anchor="middle" font-size="14" fill="{INK}" '
        f'transform="rotate(-90 14 {middle})">{escape(y_label)}</text>'
    )
    out.append("</g>")
    return out


def _figure(
    chart_id: str,
    lang: str,
    *,
    title: str,
    desc: str,
    drawing: list[str],
    legend: list[tuple[str, str, str, str]],
    head: Sequence[str],
    rows: Sequence[Sequence[str]],
) -> Markup:
    """The figure: the SVG, a caption with the legend, and the data table in a
    ``<details>`` (legend entries: label, colour, dash, kind "line" | "band")."""
    cid = escape(chart_id)
    out = [
        f'<figure class="curve-chart" id="{cid}" aria-labelledby="{cid}-cap">',
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{cid}-t {cid}-d" '
        'class="chart-svg" preserveAspectRatio="xMidYMid meet" focusable="false">',
        f'<title id="{cid}-t">{escape(title)}</title>',
        f'<desc id="{cid}-d">{escape(desc)}</desc>',
        *drawing,
        "</svg>",
        f'<figcaption id="{cid}-cap"><span class="curve-chart__title">{escape(title)}</span>',
    ]
    if legend:
        out.append('<ul class="chart-legend">')
        for label, colour, dash, kind in legend:
            if kind == "band":
                swatch = f'<rect x="1" y="3" width="22" height="8" fill="{colour}"/>'
            else:
                dashed = f' stroke-dasharray="{dash}"' if dash else ""
                swatch = (
                    f'<line x1="1" y1="7" x2="23" y2="7" stroke="{colour}" '
                    f'stroke-width="2.5"{dashed}/>'
                )
            out.append(
                '<li><svg class="chart-legend__swatch" viewBox="0 0 24 14" width="24" '
                f'height="14" aria-hidden="true" focusable="false">{swatch}</svg>'
                f"<span>{escape(label)}</span></li>"
            )
        out.append("</ul>")
    out.append("</figcaption>")
    out.append(
        f'<details class="chart-data"><summary>{escape(i18n.t("chart.data", lang))}</summary>'
        f'<div class="table-wrap" role="region" aria-labelledby="{cid}-t" tabindex="0">'
        f'<table class="data chart-table"><caption class="visually-hidden">{escape(title)}'
        "</caption><thead><tr>"
    )
    out.extend(f'<th scope="col">{escape(h)}</th>' for h in head)
    out.append("</tr></thead><tbody>")
    for row in rows:
        first, *rest = row
        out.append(f'<tr><th scope="row">{escape(first)}</th>')
        out.extend(f"<td>{escape(cell)}</td>" for cell in rest)
        out.append("</tr>")
    out.append("</tbody></table></div></details></figure>")
    return Markup("".join(out))  # every text above went through escape()


def icc_chart(curves: Sequence[Curve], lang: str, *, chart_id: str) -> Markup:
    """The item characteristic curves P(θ) of ``curves`` on one chart, with a legend
    when there are several, and a table of P at whole logits."""
    thetas = _grid(CURVE_STEP)
    drawing = _axes(lang, i18n.t("chart.probability", lang), 1.0, (0.0, 0.25, 0.5, 0.75, 1.0))
    legend: list[tuple[str, str, str, str]] = []
    for n, curve in enumerate(curves):
        colour, dash = COLOURS[n % len(COLOURS)], DASHES[n % len(DASHES)]
        ps = irt.probability(thetas, curve.a, curve.b)
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        drawing.append(
            f'<path class="icc" data-a="{curve.a:.4f}" data-b="{curve.b:.4f}" '
            f'd="{_path(list(thetas), list(ps), 1.0)}" fill="none" stroke="{colour}" '
            f'stroke-width="2"{dashed}/>'
        )
        if THETA_MIN <= curve.b <= THETA_MAX:  # the difficulty: where P = ½
            drawing.append(
                f'<circle cx="{_attr(_x(curve.b))}" cy="{_attr(_y(0.5, 1.0))}" r="3" '
                f'fill="{colour}"/>'
            )
        legend.append((curve.label, colour, dash, "line"))
    described = " ".join(
        i18n.t("chart.icc.item", lang, label=c.label, a=number(c.a), b=number(c.b)) for c in curves
    )
    title = (
        i18n.t("chart.icc.title", lang)
        if len(curves) == 1
        else i18n.t("chart.icc.title_many", lang, n=len(curves))
    )
    table = _grid(TABLE_STEP)
    probabilities = [irt.probability(table, c.a, c.b) for c in curves]
    return _figure(
        chart_id,
        lang,
        title=title,
        desc=i18n.t("chart.icc.desc", lang, items=described),
        drawing=drawing,
        legend=legend if len(curves) > 1 else [],
        head=[i18n.t("chart.theta", lang), *(c.label for c in curves)],
        rows=[
            [number(theta, 0), *(number(float(p[n])) for p in probabilities)]
            for n, theta in enumerate(table)
        ],
    )


def information_chart(
    thetas: Sequence[float],
    mean: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
    lang: str,
    *,
    chart_id: str,
    cut: float | None = None,
    papers: int,
) -> Markup:
    """The test information curve: the mean over ``papers`` papers as a line, the 5th
    (``low``) to 95th (``high``) percentile as a band, and θ_c (``cut``) as a vertical
    line. The table lists every whole logit of ``thetas`` (and θ_c's nearest point)."""
    xs = [float(t) for t in thetas]
    inside = [n for n, t in enumerate(xs) if THETA_MIN - 1e-9 <= t <= THETA_MAX + 1e-9]
    top = nice_top(max((float(high[n]) for n in inside), default=1.0))
    drawing = _axes(lang, i18n.t("chart.information", lang), top, ticks(top))
    upper = [(xs[n], float(high[n])) for n in inside]
    lower = [(xs[n], float(low[n])) for n in reversed(inside)]
    if upper:
        ring = upper + lower
        band = _path([p[0] for p in ring], [p[1] for p in ring], top) + " Z"
        drawing.append(f'<path class="info-band" d="{band}" fill="{BAND}" stroke="none"/>')
        line = _path([xs[n] for n in inside], [float(mean[n]) for n in inside], top)
        drawing.append(
            f'<path class="info-mean" d="{line}" '
            f'fill="none" stroke="{COLOURS[0]}" stroke-width="2.5"/>'
        )
    legend = [
        (i18n.t("chart.info.mean", lang), COLOURS[0], "", "line"),
        (i18n.t("chart.info.band", lang), BAND, "", "band"),
    ]
    papers_text = i18n.tn("chart.info.papers", papers, lang)
    if cut is not None:
        x = _attr(_x(min(max(cut, THETA_MIN), THETA_MAX)))
        drawing.append(
            f'<line class="info-cut" x1="{x}" y1="{TOP}" x2="{x}" y2="{TOP + PLOT_H}" '
            f'stroke="{CUT}" stroke-width="2" stroke-dasharray="5 3"/>'
        )
        legend.append((i18n.t("chart.info.cut", lang) + f" = {number(cut)}", CUT, "5 3", "line"))
        desc = i18n.t("chart.info.desc", lang, papers=papers_text, cut=number(cut))
    else:
        desc = i18n.t("chart.info.desc_no_cut", lang, papers=papers_text)
    wanted = {n for n in inside if abs(xs[n] - round(xs[n])) < 1e-9}
    if cut is not None and xs:
        wanted.add(min(range(len(xs)), key=lambda n: abs(xs[n] - cut)))
    rows = [
        [number(xs[n]), number(float(mean[n])), number(float(low[n])), number(float(high[n]))]
        for n in sorted(wanted)
    ]
    return _figure(
        chart_id,
        lang,
        title=i18n.t("chart.info.title", lang),
        desc=desc,
        drawing=drawing,
        legend=legend,
        head=[
            i18n.t("chart.theta", lang),
            i18n.t("chart.info.mean", lang),
            i18n.t("chart.info.p5", lang),
            i18n.t("chart.info.p95", lang),
        ],
        rows=rows,
    )
