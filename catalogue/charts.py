"""A series' trend as a PNG a phone shows well: big type, the last value labelled, the source.

Matplotlib's object API with the Agg canvas (no pyplot, no global state), so charts can be
drawn in worker threads while the bot serves other users.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from catalogue.answers import period_position
from catalogue.model import Observation

#: Points drawn at most: the latest ones (ten years of a monthly series).
MAX_POINTS = 120
#: 1200 × 900 pixels: sharp on a phone, small to send.
SIZE_INCHES = (8.0, 6.0)
DPI = 150
LINE_COLOUR = "#1f5f8b"


@dataclass(frozen=True)
class ChartTexts:
    """Everything written on the chart, already in the user's language."""

    title: str
    subtitle: str
    unit: str
    source: str
    last_value: str
    last_period: str


def _right_to_left(text: str) -> bool:
    return any(unicodedata.bidirectional(character) in ("R", "AL") for character in text)


def trend_chart(observations: Sequence[Observation], texts: ChartTexts) -> bytes:
    """A PNG line chart of ``observations`` (period order; missing values are gaps)."""
    # Matplotlib 3.11 lays out and joins Arabic itself; right-to-left titles go to the right.
    x, align = (0.97, "right") if _right_to_left(texts.title) else (0.03, "left")
    points = [o for o in observations if o.value is not None][-MAX_POINTS:]
    positions = [period_position(o.period) for o in points]
    timed = all(p is not None for p in positions)
    xs = [p for p in positions if p is not None] if timed else [float(i) for i in range(len(points))]
    ys = [float(o.value) for o in points if o.value is not None]

    figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
    axes = figure.add_axes((0.12, 0.17, 0.83, 0.63))
    figure.text(x, 0.95, texts.title, fontsize=18, fontweight="bold", va="top", ha=align, wrap=True)
    if texts.subtitle:
        figure.text(x, 0.875, texts.subtitle, fontsize=14, va="top", ha=align, color="#444444")
    figure.text(x, 0.03, texts.source, fontsize=11, ha=align, color="#555555")
    axes.plot(xs, ys, color=LINE_COLOUR, linewidth=3, marker="o" if len(xs) <= 24 else None, markersize=5)
    if xs:
        axes.annotate(
            f"{texts.last_value}\n{texts.last_period}",
            (xs[-1], ys[-1]),
            xytext=(-6, 16),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=14,
            fontweight="bold",
            color=LINE_COLOUR,
            bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "none", "alpha": 0.9},
        )
        axes.plot([xs[-1]], [ys[-1]], "o", color=LINE_COLOUR, markersize=9)
    axes.set_ylabel(texts.unit, fontsize=13)
    axes.tick_params(labelsize=12)
    axes.grid(axis="y", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    if timed:
        axes.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        axes.xaxis.set_major_formatter(lambda value, _position: f"{value:.0f}")
    else:
        step = max(1, len(points) // 6)
        axes.set_xticks(xs[::step], [o.period for o in points][::step])
    if ys:
        low, high = min(ys), max(ys)
        span = (high - low) or abs(high) or 1.0
        # Zero is shown when the values come close to it (so small changes do not look huge);
        # the top leaves room for the last value's label.
        bottom = 0.0 if 0 <= low < span else low - 0.1 * span
        axes.set_ylim(bottom, high + 0.35 * span)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
