"""Charts as inline SVG drawn on the server: no JavaScript library, no external files.

Every chart is an ``<svg role="img">`` with an ``aria-label`` naming what it shows, and writes
each value as text beside its bar, so a screen reader (and a printout) gets the numbers too.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from catalogue.charts import ShareBar

#: Each row: the label on its own line (left-aligned from the chart's left edge, so nothing of it
#: is cut off however long it is), the bar under it, the value after the bar.
ROW_HEIGHT = 38
LABEL_LINE = 15
BAR_HEIGHT = 16
BAR_WIDTH = 300
VALUE_WIDTH = 110
MAX_LABEL_CHARS = 48


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def spoken(title: str, items: Sequence[tuple[str, int]], total: int | None = None) -> str:
    """The chart's accessible name: its title and every value (an ``img`` hides its children)."""
    values = "; ".join(
        f"{label}: {count:,}" + (f" ({percent(count, total)})" if total is not None else "") for label, count in items
    )
    return f"{title}. {values}" if values else title


def trend_chart(points: Sequence[tuple[str, float | None]], *, title: str, target: float | None = None) -> Markup:
    """Columns month by month of a value that may be a share or a count (months without a value
    are left empty), with the target as a dashed line; the accessible name lists every value and
    the page gives them in a table as well."""
    known = [value for _, value in points if value is not None]
    if not known:
        return Markup('<p class="empty">No data yet.</p>')
    largest = max([*known, target or 0.0]) or 1.0
    column, chart_height = 24, 80
    width = column * len(points)
    bars = []
    for index, (label, value) in enumerate(points):
        if value is None:
            continue
        height = round(chart_height * value / largest)
        bars.append(
            Markup(
                '<g><title>{label}: {value}</title><rect x="{x}" y="{y}" width="{w}" height="{h}" class="bar"/></g>'
            ).format(
                label=label,
                value=f"{value:,.3g}",
                x=index * column + 3,
                y=chart_height - height,
                w=column - 6,
                h=height,
            )
        )
    line = Markup("")
    if target is not None:
        y = chart_height - round(chart_height * target / largest)
        line = Markup('<line x1="0" y1="{y}" x2="{width}" y2="{y}" class="target"/>').format(y=y, width=width)
    spoken_values = "; ".join(f"{label}: {'no data' if value is None else f'{value:,.3g}'}" for label, value in points)
    name = f"{title}. {spoken_values}" + (f". Target {target:,.3g}" if target is not None else "")
    return Markup(
        '<svg class="chart columns trend" viewBox="0 0 {width} {full}" width="100%" role="img" aria-label="{name}"'
        ' preserveAspectRatio="xMinYMin meet">{bars}{line}'
        '<text x="0" y="{ay}" class="axis">{first}</text>'
        '<text x="{width}" y="{ay}" text-anchor="end" class="axis">{last}</text></svg>'
    ).format(
        width=width, full=chart_height + 20, name=name, bars=Markup("").join(bars), line=line, ay=chart_height + 15,
        first=points[0][0], last=points[-1][0],
    )  # fmt: skip


def bar_chart(items: Sequence[tuple[str, int]], *, title: str, total: int | None = None) -> Markup:
    """Horizontal bars, one per ``(label, count)``; with ``total`` each value also shows its share."""
    if not items:
        return Markup('<p class="empty">No answers yet.</p>')
    largest = max((count for _, count in items), default=0) or 1
    height = ROW_HEIGHT * len(items) + 4
    width = BAR_WIDTH + VALUE_WIDTH
    rows = []
    for index, (label, count) in enumerate(items):
        y = index * ROW_HEIGHT + 2
        length = round(BAR_WIDTH * count / largest)
        share = f" ({percent(count, total)})" if total is not None else ""
        rows.append(
            Markup(
                "<g><title>{label}: {count}{share}</title>"
                '<text x="2" y="{ly}" class="label">{short}</text>'
                '<rect x="0" y="{by}" width="{length}" height="{bh}" class="bar"/>'
                '<text x="{vx}" y="{vy}" class="value">{count}{share}</text></g>'
            ).format(
                label=label,
                count=f"{count:,}",
                share=share,
                ly=y + LABEL_LINE - 3,
                short=_short(label),
                by=y + LABEL_LINE,
                length=max(length, 1 if count else 0),
                bh=BAR_HEIGHT,
                vx=length + 6,
                vy=y + LABEL_LINE + BAR_HEIGHT - 3,
            )
        )
    return Markup(
        '<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{title}"'
        ' preserveAspectRatio="xMinYMin meet">{rows}</svg>'
    ).format(width=width, height=height, title=spoken(title, items, total), rows=Markup("").join(rows))


def column_chart(items: Sequence[tuple[str, int]], *, title: str) -> Markup:
    """Vertical columns (a time series), the first and last labels and each value in a tooltip;
    the page gives the figures in a table as well."""
    if not items:
        return Markup('<p class="empty">Nothing yet.</p>')
    largest = max((count for _, count in items), default=0) or 1
    column = 12  # 30 days: 360 units wide, about the width of a phone (the axis text stays readable)
    chart_height = 120
    width = column * len(items)
    bars = []
    for index, (label, count) in enumerate(items):
        height = round(chart_height * count / largest)
        bars.append(
            Markup(
                "<g><title>{label}: {count}</title>"
                '<rect x="{x}" y="{y}" width="{w}" height="{height}" class="bar"/></g>'
            ).format(
                label=label,
                count=f"{count:,}",
                x=index * column + 2,
                y=chart_height - height,
                w=column - 4,
                height=height,
            )
        )
    return Markup(
        '<svg class="chart columns" viewBox="0 0 {width} {full}" width="100%" role="img"'
        ' aria-label="{title}" preserveAspectRatio="xMinYMin meet">{bars}'
        '<text x="0" y="{ay}" class="axis">{first}</text>'
        '<text x="{width}" y="{ay}" text-anchor="end" class="axis">{last}</text></svg>'
    ).format(
        width=width, full=chart_height + 20, title=spoken(title, [item for item in items if item[1]]), bars=Markup("").join(bars), ay=chart_height + 15,
        first=items[0][0], last=items[-1][0],
    )  # fmt: skip


def share_bars(items: Sequence[ShareBar], *, title: str, alt: str, withheld: str) -> Markup:
    """Horizontal bars of shares (0 to 1) with their 95% intervals as whiskers, each share as the
    page writes it (``ShareBar.written``) after its bar; a bar whose share is None is withheld
    (``withheld`` is written instead). ``alt`` is the accessible name (every figure in words); the
    page gives the figures in a table as well."""
    if not items:
        return Markup('<p class="empty">–</p>')
    height = ROW_HEIGHT * len(items) + 4
    width = BAR_WIDTH + VALUE_WIDTH
    rows = []
    for index, item in enumerate(items):
        label, share, low, high, written = item.label, item.share, item.low, item.high, item.written
        y = index * ROW_HEIGHT + 2
        middle = y + LABEL_LINE + BAR_HEIGHT / 2
        if share is None:
            rows.append(
                Markup(
                    '<g><text x="2" y="{ly}" class="label">{short}</text><text x="2" y="{vy}" class="withheld">{withheld}</text></g>'
                ).format(
                    ly=y + LABEL_LINE - 3, short=_short(label), vy=y + LABEL_LINE + BAR_HEIGHT - 3, withheld=withheld
                )
            )
            continue
        whisker = Markup("")
        if low is not None and high is not None:
            x0, x1 = round(BAR_WIDTH * low), round(BAR_WIDTH * high)
            whisker = Markup(
                '<path class="whisker" d="M{x0} {top}V{bottom}M{x0} {middle}H{x1}M{x1} {top}V{bottom}"/>'
            ).format(x0=x0, x1=x1, top=middle - 5, bottom=middle + 5, middle=middle)
        end = round(BAR_WIDTH * max(share, high or 0.0))
        rows.append(
            Markup(
                '<g><text x="2" y="{ly}" class="label">{short}</text>'
                '<rect x="0" y="{by}" width="{length}" height="{bh}" class="bar"/>{whisker}'
                '<text x="{vx}" y="{vy}" class="value">{written}</text></g>'
            ).format(
                ly=y + LABEL_LINE - 3,
                short=_short(label),
                by=y + LABEL_LINE,
                length=max(round(BAR_WIDTH * share), 1 if share else 0),
                bh=BAR_HEIGHT,
                whisker=whisker,
                vx=end + 6,
                vy=y + LABEL_LINE + BAR_HEIGHT - 3,
                written=written,
            )
        )
    return Markup(
        '<svg class="chart shares" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{alt}"'
        ' preserveAspectRatio="xMinYMin meet"><title>{title}</title>{rows}</svg>'
    ).format(width=width, height=height, alt=alt, title=title, rows=Markup("").join(rows))
