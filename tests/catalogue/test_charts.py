"""Charts people read on phones (issue 17): the geometry of the drawn chart, not its pixels.
Readable text, the latest value's label never over the line, nothing cut off at the figure's
edges (a long French source line), right-to-left titles set from the right, and alt text that
says what the chart shows."""

from __future__ import annotations

import itertools
import math

import pytest
from matplotlib.axis import Axis
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from catalogue.charts import (
    MIN_PHONE_TEXT_PX,
    SIZE_INCHES,
    ChartTexts,
    chart_description,
    draw_trend,
    phone_pixels,
)
from catalogue.model import Observation
from handlers.texts import Texts

INFLATION = ChartTexts("Inflation rate", "Demoland", "%", "Source: Demoland Statistics Office", "7.1%", "October 2026")
FRENCH_SOURCE = ChartTexts(
    "Taux d'inflation annuel des prix à la consommation",
    "Ensemble du pays, tous les ménages",
    "%",
    "Source : Institut national de la statistique et des études économiques — Indice des prix à la "
    "consommation harmonisé, publication mensuelle du 15 novembre 2026",
    "7,1 %",
    "octobre 2026",
)
ARABIC = ChartTexts("معدل التضخم السنوي", "ديمولاند", "%", "المصدر: مكتب الإحصاء", "7.1٪", "أكتوبر 2026")


def monthly(values: list[float], start: int = 2017) -> list[Observation]:
    return [Observation(f"{start + i // 12}-{i % 12 + 1:02d}", value) for i, value in enumerate(values)]


SHAPES = {
    # The hardest case: the line ends at its highest point, right under where the label goes.
    "rising to the end": monthly([float(i) for i in range(118)]),
    "spike at the end": monthly([1.0] * 100 + [9.0]),
    "falling": monthly([100.0 - i for i in range(60)]),
    "flat": monthly([3.0] * 36),
    "zigzag": monthly([5 + 4 * math.sin(i / 2) for i in range(118)]),
    "negative": monthly([-5.0 + i * 0.1 for i in range(24)]),
    "quarters": [Observation(f"{2020 + i // 4}-Q{i % 4 + 1}", 0.5 * i) for i in range(12)],
    "one value": [Observation("2024", -2.5)],
    "odd periods": [Observation("2024-W01", 5.0), Observation("2024-W02", 6.0)],
}


def inside(box: Bbox, outer: Bbox, slack: float = 0.5) -> bool:
    return (
        box.x0 >= outer.x0 - slack
        and box.x1 <= outer.x1 + slack
        and box.y0 >= outer.y0 - slack
        and box.y1 <= outer.y1 + slack
    )


def drawn_ticks(axis: Axis) -> list[Text]:
    """The tick labels drawn: those of ticks within the axis' view limits."""
    low, high = sorted(axis.get_view_interval())
    pairs = zip(axis.get_majorticklocs(), axis.get_majorticklabels(), strict=True)
    return [label for location, label in pairs if low - 1e-9 <= location <= high + 1e-9]


def segment_hits(box: Bbox, a: tuple[float, float], b: tuple[float, float], steps: int = 50) -> bool:
    """Whether the segment a-b passes through ``box`` (sampled finely: independent of the chart's own test)."""
    for step in range(steps + 1):
        t = step / steps
        x, y = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
        if box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1:
            return True
    return False


@pytest.mark.parametrize("shape", SHAPES)
def test_the_latest_value_label_never_lies_over_the_line(shape: str) -> None:
    chart = draw_trend(SHAPES[shape], INFLATION)
    assert chart.label is not None
    box = chart.label.get_window_extent(chart.renderer)
    line = chart.line
    pairs = list(itertools.pairwise(line)) or [(line[0], line[0])]
    assert not any(segment_hits(box, a, b) for a, b in pairs), f"{shape}: the label covers the line"
    axes_box = chart.figure.axes[0].bbox
    assert inside(box, axes_box), f"{shape}: the label leaves the plot"
    assert chart.label.get_text() == "7.1%\nOctober 2026"


@pytest.mark.parametrize("texts", [INFLATION, FRENCH_SOURCE, ARABIC], ids=["en", "fr-long-source", "ar"])
def test_every_text_is_inside_the_figure_and_readable_on_a_phone(texts: ChartTexts) -> None:
    chart = draw_trend(SHAPES["zigzag"], texts)
    figure_box = chart.figure.bbox
    axes = chart.figure.axes[0]
    shown = [*chart.texts, axes.yaxis.label, *drawn_ticks(axes.xaxis), *drawn_ticks(axes.yaxis)]
    written = [t for t in shown if t.get_text().strip() and t.get_visible()]
    assert len(written) >= 8, "title, subtitle, source, label, unit and tick labels"
    for text in written:
        box = text.get_window_extent(chart.renderer)
        assert inside(box, figure_box), f"{text.get_text()!r} is cut off at the figure's edge: {box} vs {figure_box}"
        pixels = phone_pixels(text.get_fontsize())
        assert pixels >= MIN_PHONE_TEXT_PX, f"{text.get_text()!r} is {pixels:.1f} px high on a phone"
    # The source (wrapped onto several lines if long) lies under the plot, not over its tick labels.
    source = next(t for t in chart.texts if t.get_text().replace("\n", " ") == texts.source)
    plot = chart.figure.axes[0].get_tightbbox(chart.renderer)
    assert plot is not None
    assert source.get_window_extent(chart.renderer).y1 <= plot.y0 + 0.5
    title = chart.texts[0]
    assert title.get_window_extent(chart.renderer).y0 >= plot.y1 - 0.5, "the title is over the plot"


def test_a_long_french_source_is_wrapped_not_cut() -> None:
    chart = draw_trend(SHAPES["zigzag"], FRENCH_SOURCE)
    source = next(t for t in chart.texts if t.get_text().replace("\n", " ") == FRENCH_SOURCE.source)
    assert "\n" in source.get_text(), "one line this long cannot fit a phone-sized chart"
    assert source.get_text().replace("\n", " ") == FRENCH_SOURCE.source, "no word lost"


def test_a_right_to_left_title_is_kept_and_set_from_the_right() -> None:
    chart = draw_trend(SHAPES["zigzag"], ARABIC)
    title = chart.texts[0]
    assert title.get_text() == ARABIC.title and title.get_horizontalalignment() == "right"
    box = title.get_window_extent(chart.renderer)
    assert chart.figure.bbox.x1 - box.x1 < 0.06 * chart.figure.bbox.width, "the title starts at the right"


def test_the_chart_is_square_as_a_phone_shows_it() -> None:
    width, height = SIZE_INCHES
    assert width == height


def test_alt_text_says_what_the_chart_shows() -> None:
    observations = monthly([2.0 + i / 20 for i in range(118)])  # January 2017 to October 2026
    assert observations[-1].period == "2026-10"
    assert (
        chart_description(observations, INFLATION, Texts("en"))
        == "Inflation rate, Demoland, monthly, 2017–2026, latest 7.1% in October 2026"
    )
    french = ChartTexts("Taux d'inflation", "Demoland", "%", "", "7,1 %", "octobre 2026")
    assert (
        chart_description(observations, french, Texts("fr"))
        == "Taux d'inflation, Demoland, mensuel, 2017–2026, dernière valeur 7,1 % en octobre 2026"
    )
    quarters = SHAPES["quarters"]
    assert chart_description(quarters, INFLATION, Texts("en")).startswith(
        "Inflation rate, Demoland, quarterly, 2020–2022"
    )
