"""The calibration pages' SVG charts (api/web/charts.py, docs/decisions/0040): curves drawn
where the model puts them, accessible (named image, description, the numbers as a
table), labelled in the page's language, and safe with any label."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from api.web.charts import (
    HEIGHT,
    LEFT,
    PLOT_H,
    PLOT_W,
    TOP,
    Curve,
    icc_chart,
    information_chart,
    nice_top,
    ticks,
)
from itembank import irt

SVG = "{http://www.w3.org/2000/svg}"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff01-\uff5e]")


def parse(markup: str) -> ET.Element:
    """The figure as XML (the charts are well-formed: every tag closes)."""
    return ET.fromstring(str(markup).replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))


def path_points(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"[ML]([\d.]+),([\d.]+)", d)]


def to_theta(x: float) -> float:
    return -4 + (x - LEFT) / PLOT_W * 8


def to_value(y: float, top: float) -> float:
    return (TOP + PLOT_H - y) / PLOT_H * top


def test_an_icc_passes_one_half_at_b_and_follows_the_2pl_curve() -> None:
    figure = parse(icc_chart([Curve(label="q1", a=1.7, b=0.8)], "en", chart_id="c1"))
    path = next(p for p in figure.iter(f"{SVG}path") if p.get("class") == "icc")
    points = path_points(path.get("d", ""))
    assert len(points) == 81  # θ from −4 to 4 in steps of 0.1
    for x, y in points:
        expected = float(irt.probability(to_theta(x), 1.7, 0.8))
        assert to_value(y, 1.0) == pytest.approx(expected, abs=0.01)
    # the dot at b sits at P = ½
    dot = next(figure.iter(f"{SVG}circle"))
    assert to_theta(float(dot.get("cx", 0))) == pytest.approx(0.8, abs=0.01)
    assert to_value(float(dot.get("cy", 0)), 1.0) == pytest.approx(0.5, abs=0.01)


def test_a_steeper_item_rises_faster_around_its_difficulty() -> None:
    figure = parse(
        icc_chart(
            [Curve(label="flat", a=0.5, b=0), Curve(label="steep", a=2.5, b=0)], "en", chart_id="c"
        )
    )
    flat, steep = (
        path_points(p.get("d", "")) for p in figure.iter(f"{SVG}path") if p.get("class") == "icc"
    )
    # at θ = 1 (index 50) the steep item is far likelier to be answered
    assert to_value(steep[50][1], 1) > to_value(flat[50][1], 1) + 0.2


def test_a_chart_is_a_named_image_with_a_description_and_its_numbers_as_a_table() -> None:
    markup = icc_chart([Curve(label="q1", a=1.0, b=0.0)], "zh", chart_id="icc-q1")
    figure = parse(markup)
    svg = next(figure.iter(f"{SVG}svg"))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "icc-q1-t icc-q1-d"
    title = next(svg.iter(f"{SVG}title"))
    assert title.get("id") == "icc-q1-t" and title.text == "试题特征曲线"
    desc = next(svg.iter(f"{SVG}desc"))
    assert "q1：区分度 a = 1.00，难度 b = 0.00" in (desc.text or "")
    table = next(figure.iter("table"))
    rows = list(next(table.iter("tbody")))
    assert len(rows) == 9  # θ = −4 … 4
    middle = [c.text for c in rows[4]]
    assert middle == ["0", "0.50"]
    assert [h.text for h in next(table.iter("thead")).iter("th")] == ["能力 θ（logit）", "q1"]


def test_english_charts_hold_no_chinese_and_name_the_axes_in_logits() -> None:
    icc = icc_chart([Curve(label="q1", a=1.2, b=-0.4)], "en", chart_id="a")
    info = information_chart(
        [-1.0, 0.0, 1.0], [1.0, 2.0, 1.0], [0.5, 1.5, 0.5], [1.5, 2.5, 1.5], "en",
        chart_id="b", cut=0.3, papers=200,
    )  # fmt: skip
    for markup in (icc, info):
        assert not CJK.search(markup), CJK.findall(markup)
        assert "Ability θ (logits)" in markup
    assert "200 papers" in info and "Pass point θc = 0.30" in info
    assert "P(correct) at θ" in icc


def test_labels_are_escaped() -> None:
    markup = icc_chart([Curve(label="<b>&x", a=1, b=0)], "en", chart_id='x"y')
    assert "<b>&x" not in markup and "&lt;b&gt;&amp;x" in markup
    assert 'id="x&#34;y"' in markup
    parse(markup)  # still well-formed


def test_several_curves_get_a_legend_with_distinct_dashes() -> None:
    curves = [Curve(label=f"q{n}", a=1, b=n - 1) for n in range(3)]
    figure = parse(icc_chart(curves, "en", chart_id="many"))
    legend = [li for li in figure.iter("li")]
    assert [li.findtext("span") for li in legend] == ["q0", "q1", "q2"]
    dashes = [p.get("stroke-dasharray") for p in figure.iter(f"{SVG}path")]
    assert len(set(dashes)) == 3
    assert "Item characteristic curves (3 items)" in ET.tostring(figure, encoding="unicode")


def test_the_information_chart_draws_the_band_the_mean_and_the_cut() -> None:
    thetas = np.linspace(-4, 4, 33)
    a, b = np.full(40, 1.2), np.linspace(-1.5, 1.5, 40)
    mean = irt.paper_information(thetas, a, b)
    low, high = mean * 0.9, mean * 1.1
    figure = parse(
        information_chart(
            list(thetas),
            list(mean),
            list(low),
            list(high),
            "en",
            chart_id="info",
            cut=0.25,
            papers=200,
        )
    )
    paths = {p.get("class"): p for p in figure.iter(f"{SVG}path")}
    top = nice_top(float(high.max()))
    mean_points = path_points(paths["info-mean"].get("d", ""))
    assert len(mean_points) == 33
    for (x, y), theta, expected in zip(mean_points, thetas, mean, strict=True):
        assert to_theta(x) == pytest.approx(theta, abs=0.01)
        assert to_value(y, top) == pytest.approx(expected, abs=top * 0.005)
    band = path_points(paths["info-band"].get("d", ""))
    assert len(band) == 66  # up along the 95th percentile, back along the 5th
    cut = next(line for line in figure.iter(f"{SVG}line") if line.get("class") == "info-cut")
    assert to_theta(float(cut.get("x1", 0))) == pytest.approx(0.25, abs=0.01)
    assert float(cut.get("y2", 0)) <= HEIGHT
    # the table: every whole logit, and the point nearest θ_c
    body = [[c.text for c in row] for row in next(figure.iter("tbody"))]
    assert [r[0] for r in body] == ["−4.00", "−3.00", "−2.00", "−1.00", "0.00", "0.25", "1.00",
                                    "2.00", "3.00", "4.00"]  # fmt: skip


def test_the_information_chart_without_a_cut_says_so() -> None:
    markup = information_chart([0.0], [1.0], [1.0], [1.0], "zh", chart_id="i", papers=1)
    assert "info-cut" not in markup
    assert "合格点" not in markup and "1 份试卷" in markup


@pytest.mark.parametrize(
    ("value", "top"), [(0.3, 0.5), (1.0, 1.0), (7.2, 10.0), (12.0, 20.0), (21.0, 25.0), (0, 1.0)]
)
def test_the_axis_ends_on_a_round_number(value: float, top: float) -> None:
    assert nice_top(value) == top


@pytest.mark.parametrize(
    ("top", "marks"),
    [(1.0, [0, 0.2, 0.4, 0.6, 0.8, 1]), (5.0, [0, 1, 2, 3, 4, 5]), (2.5, [0, 0.5, 1, 1.5, 2, 2.5]),
     (20.0, [0, 5, 10, 15, 20]), (0.5, [0, 0.1, 0.2, 0.3, 0.4, 0.5])],
)  # fmt: skip
def test_the_information_axis_is_marked_in_round_steps(top: float, marks: list[float]) -> None:
    assert ticks(top) == marks
    labels = re.findall(
        r'text-anchor="end" font-size="13" fill="#1a1a1a">([^<]+)<',
        information_chart([0.0], [top * 0.8], [top * 0.7], [top * 0.9], "en", chart_id="t",
                          papers=2),
    )  # fmt: skip
    assert labels == [f"{m:g}" for m in marks]
