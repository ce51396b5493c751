"""A series' trend as a PNG a phone shows well: big type, the last value labelled, the source.

Matplotlib's object API with the Agg canvas (no pyplot, no global state), so charts can be
drawn in worker threads while the bot serves other users.

Laid out for a phone: a chat app shows a picture about :data:`PHONE_WIDTH_PX` CSS pixels wide,
so the figure is square and every text is at least :data:`MIN_PHONE_TEXT_PX` pixels high there.
The title, subtitle and source are wrapped to the figure's width (a long French source line is
not cut off) and the plot takes the room they leave. The latest value's label sits in the space
above the line, which is made taller until the label clears the line. Right-to-left titles are
set from the right. :func:`chart_description` is the chart's alt text.
"""

from __future__ import annotations

import io
import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from catalogue.answers import TextLookup, period_position
from catalogue.model import Observation

if TYPE_CHECKING:
    from matplotlib.backend_bases import RendererBase
    from matplotlib.figure import Figure
    from matplotlib.text import Annotation, Text
    from matplotlib.transforms import Bbox

#: Points drawn at most: the latest ones (ten years of a monthly series).
MAX_POINTS = 120
#: 1080 × 1080 pixels: sharp on a phone, square as a chat app shows it, small to send.
SIZE_INCHES = (5.0, 5.0)
DPI = 216
LINE_COLOUR = "#1f5f8b"
#: How wide a chat app shows a picture on a phone (CSS pixels), and the smallest text wanted there.
PHONE_WIDTH_PX = 360
MIN_PHONE_TEXT_PX = 12.0
#: Font sizes (points): at 5 inches shown 360 pixels wide, a point is 1 CSS pixel.
TITLE_SIZE = 16
SUBTITLE_SIZE = 13
SOURCE_SIZE = 12
TICK_SIZE = 12
LABEL_SIZE = 14
#: Margins (fractions of the figure).
SIDE = 0.04
EDGE = 0.03


@dataclass(frozen=True)
class ChartTexts:
    """Everything written on the chart, already in the user's language."""

    title: str
    subtitle: str
    unit: str
    source: str
    last_value: str
    last_period: str


def phone_pixels(points: float) -> float:
    """How many CSS pixels high text of ``points`` is on a phone (the chart shown
    :data:`PHONE_WIDTH_PX` wide)."""
    return points * DPI / 72 * PHONE_WIDTH_PX / (SIZE_INCHES[0] * DPI)


def _right_to_left(text: str) -> bool:
    return any(unicodedata.bidirectional(character) in ("R", "AL") for character in text)


def _wrapped(text: Text, renderer: RendererBase, width: float) -> None:
    """Break ``text`` between words so that no line is wider than ``width`` display pixels."""
    lines: list[str] = []
    for paragraph in text.get_text().split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            text.set_text(candidate)
            if line and text.get_window_extent(renderer).width > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    text.set_text("\n".join(lines))


@dataclass(frozen=True)
class Chart:
    """A drawn chart, before it becomes a PNG (tests read its geometry)."""

    figure: Figure
    renderer: RendererBase
    texts: tuple[Text, ...]
    #: The latest value's label (None without values).
    label: Annotation | None
    #: The data line in display pixels.
    line: tuple[tuple[float, float], ...]

    def png(self) -> bytes:
        out = io.BytesIO()
        self.figure.savefig(out, format="png", dpi=DPI)
        return out.getvalue()


def trend_chart(observations: Sequence[Observation], texts: ChartTexts) -> bytes:
    """A PNG line chart of ``observations`` (period order; missing values are gaps)."""
    return draw_trend(observations, texts).png()


def draw_trend(observations: Sequence[Observation], texts: ChartTexts) -> Chart:
    """The chart of :func:`trend_chart`, laid out (see the module's description)."""
    # Matplotlib 3.11 lays out and joins Arabic itself; right-to-left titles go to the right.
    x, align = (1 - SIDE, "right") if _right_to_left(texts.title) else (SIDE, "left")
    points = [o for o in observations if o.value is not None][-MAX_POINTS:]
    positions = [period_position(o.period) for o in points]
    timed = all(p is not None for p in positions)
    xs = [p for p in positions if p is not None] if timed else [float(i) for i in range(len(points))]
    ys = [float(o.value) for o in points if o.value is not None]

    # Matplotlib is imported when a chart is drawn: it takes about a second, which every process
    # importing handlers (each `baraza` command, each test worker) would otherwise pay.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
    renderer = FigureCanvasAgg(figure).get_renderer()  # type: ignore[no-untyped-call]
    width_px = figure.bbox.width * (1 - 2 * SIDE)
    height_px = figure.bbox.height

    def below(text: Text, gap: float) -> float:
        """The figure fraction just under ``text``, with ``gap`` points between."""
        return float(text.get_window_extent(renderer).y0 - gap * DPI / 72) / height_px

    written: list[Text] = []
    title = figure.text(x, 1 - EDGE, texts.title, fontsize=TITLE_SIZE, fontweight="bold", va="top", ha=align)
    _wrapped(title, renderer, width_px)
    written.append(title)
    top = below(title, 4)
    if texts.subtitle:
        subtitle = figure.text(x, top, texts.subtitle, fontsize=SUBTITLE_SIZE, va="top", ha=align, color="#444444")
        _wrapped(subtitle, renderer, width_px)
        written.append(subtitle)
        top = below(subtitle, 4)
    bottom = EDGE
    if texts.source:
        source = figure.text(x, EDGE, texts.source, fontsize=SOURCE_SIZE, va="bottom", ha=align, color="#555555")
        _wrapped(source, renderer, width_px)
        written.append(source)
        bottom = float(source.get_window_extent(renderer).y1) / height_px
    # Room for the tick labels and the unit: about two lines of tick text at the left and below.
    tick_height = 2.2 * TICK_SIZE * DPI / 72 / height_px
    left = 0.15 if texts.unit else 0.12
    axes = figure.add_axes((left, bottom + tick_height, 1 - left - SIDE, max(top - bottom - tick_height - 0.02, 0.2)))
    axes.plot(xs, ys, color=LINE_COLOUR, linewidth=3, marker="o" if len(xs) <= 24 else None, markersize=5)
    axes.set_ylabel(texts.unit, fontsize=TICK_SIZE)
    axes.tick_params(labelsize=TICK_SIZE)
    axes.grid(axis="y", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    if timed:
        axes.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        axes.xaxis.set_major_formatter(lambda value, _position: f"{value:.0f}")
    else:
        step = max(1, len(points) // 4)
        axes.set_xticks(xs[::step], [o.period for o in points][::step])
    label = None
    if xs:
        low, high = min(ys), max(ys)
        span = (high - low) or abs(high) or 1.0
        # Zero is shown when the values come close to it (so small changes do not look huge).
        floor = 0.0 if 0 <= low < span else low - 0.1 * span
        axes.plot([xs[-1]], [ys[-1]], "o", color=LINE_COLOUR, markersize=9)
        left_end = xs[0] - 0.02 * ((xs[-1] - xs[0]) or 1.0)
        axes.set_xlim(left_end, xs[-1] + 0.02 * ((xs[-1] - xs[0]) or 1.0))
        label = axes.annotate(
            f"{texts.last_value}\n{texts.last_period}",
            (1.0, 1.0),
            xycoords="axes fraction",
            xytext=(-2, -2),
            textcoords="offset points",
            ha="right",
            va="top",
            fontsize=LABEL_SIZE,
            fontweight="bold",
            color=LINE_COLOUR,
        )
        # The label sits in the top band of the plot: make the band taller until it clears the line.
        headroom = 0.35
        for _ in range(12):
            axes.set_ylim(floor, high + headroom * span)
            if not _crosses(label.get_window_extent(renderer), _display_line(axes, xs, ys)):
                break
            headroom *= 1.4
        written.append(label)
    line = _display_line(axes, xs, ys)
    figure.draw_without_rendering()  # tick labels placed (tests read them), nothing rasterised
    return Chart(figure, renderer, tuple(written), label, line)


def _display_line(axes: object, xs: Sequence[float], ys: Sequence[float]) -> tuple[tuple[float, float], ...]:
    transform = axes.transData  # type: ignore[attr-defined]
    return tuple((float(px), float(py)) for px, py in transform.transform(list(zip(xs, ys, strict=True))))


def _crosses(box: Bbox, line: Sequence[tuple[float, float]], pad: float = 4.0) -> bool:
    """Whether the polyline ``line`` (display pixels) passes through ``box`` (grown by ``pad``)."""
    x0, y0, x1, y1 = box.x0 - pad, box.y0 - pad, box.x1 + pad, box.y1 + pad
    if len(line) == 1:
        px, py = line[0]
        return bool(x0 <= px <= x1 and y0 <= py <= y1)
    for (ax, ay), (bx, by) in itertools.pairwise(line):
        if max(ax, bx) < x0 or min(ax, bx) > x1:
            continue
        # The segment's height range within the box's x range.
        if bx == ax:
            low, high = min(ay, by), max(ay, by)
        else:
            at = [ay + (by - ay) * (min(max(x, min(ax, bx)), max(ax, bx)) - ax) / (bx - ax) for x in (x0, x1)]
            low, high = min(at), max(at)
        if high >= y0 and low <= y1:
            return True
    return False


_MONTHLY = re.compile(r"^\d{4}-\d{2}$")
_QUARTERLY = re.compile(r"^\d{4}-Q[1-4]$")
_ANNUAL = re.compile(r"^\d{4}$")


def chart_description(observations: Sequence[Observation], texts: ChartTexts, words: TextLookup) -> str:
    """The chart's alt text, what it shows in words: "Inflation rate, Demoland, monthly,
    2017-2026, latest 7.1% in October 2026" (with an en dash; ``words`` gives ``chart_monthly``,
    ``chart_quarterly``, ``chart_annual`` and ``chart_latest`` in the reader's language)."""
    points = [o for o in observations if o.value is not None][-MAX_POINTS:]
    parts = [texts.title]
    if texts.subtitle:
        parts.append(texts.subtitle.replace("\n", ", "))
    periods = [o.period for o in points]
    for pattern, key in ((_MONTHLY, "chart_monthly"), (_QUARTERLY, "chart_quarterly"), (_ANNUAL, "chart_annual")):
        if periods and all(pattern.match(period) for period in periods):
            parts.append(words(key))
            break
    if periods:
        first, last = periods[0][:4], periods[-1][:4]
        parts.append(first if first == last else f"{first}–{last}")
        parts.append(words("chart_latest", value=texts.last_value, period=texts.last_period))
    return ", ".join(part for part in parts if part)


@dataclass(frozen=True)
class ShareBar:
    """One bar of a share chart: its label, the share (0 to 1) and its 95% interval; ``share`` None
    for a figure withheld (drawn as no bar, with the reason)."""

    label: str
    share: float | None
    low: float | None = None
    high: float | None = None
    #: The share as written after the bar, in the reader's language ("45 %"); default "45%".
    written: str = ""


def share_chart(bars: Sequence[ShareBar], title: str, withheld: str) -> bytes:
    """A PNG of horizontal bars of shares with their 95% intervals as whiskers, each share written
    after its bar, laid out for a phone as :func:`trend_chart` (``withheld``: the words written
    where a figure is not shown)."""
    height = 1.6 + 0.75 * max(len(bars), 1)
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # when drawn, as in draw_trend
    from matplotlib.figure import Figure

    figure = Figure(figsize=(SIZE_INCHES[0], height), dpi=DPI)
    renderer = FigureCanvasAgg(figure).get_renderer()  # type: ignore[no-untyped-call]
    x, align = (1 - SIDE, "right") if _right_to_left(title) else (SIDE, "left")
    heading = figure.text(x, 1 - EDGE / height * 5, title, fontsize=TITLE_SIZE, fontweight="bold", va="top", ha=align)
    _wrapped(heading, renderer, figure.bbox.width * (1 - 2 * SIDE))
    top = float(heading.get_window_extent(renderer).y0) / figure.bbox.height - 0.02
    axes = figure.add_axes((SIDE, EDGE * 5 / height, 1 - 2 * SIDE, max(top - EDGE * 5 / height, 0.2)))
    positions = list(range(len(bars)))[::-1]
    for position, bar in zip(positions, bars, strict=True):
        axes.text(0, position + 0.32, bar.label, fontsize=TICK_SIZE, va="bottom", ha="left")
        if bar.share is None:
            axes.text(0, position, withheld, fontsize=TICK_SIZE, va="center", ha="left", color="#555555")
            continue
        axes.barh(position, bar.share, height=0.4, color=LINE_COLOUR)
        if bar.low is not None and bar.high is not None:
            axes.plot([bar.low, bar.high], [position, position], color="#222222", linewidth=1.5)
            axes.plot([bar.low, bar.low], [position - 0.12, position + 0.12], color="#222222", linewidth=1.5)
            axes.plot([bar.high, bar.high], [position - 0.12, position + 0.12], color="#222222", linewidth=1.5)
        end = max(bar.share, bar.high or 0.0)
        axes.text(
            end + 0.02,
            position,
            bar.written or f"{100 * bar.share:.0f}%",
            fontsize=LABEL_SIZE,
            va="center",
            fontweight="bold",
        )
    axes.set_xlim(0, 1.18)
    axes.set_ylim(-0.5, len(bars) - 0.2)
    axes.axis("off")
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
