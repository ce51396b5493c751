"""The quarterly engagement report as one self-contained HTML file: the figures of
:func:`handlers.engagement_report.build_report` in tables, and charts drawn with matplotlib
(the object API on the Agg canvas, no pyplot state) embedded as PNG data URIs, each with an alt
text that gives its values. Nothing is fetched when the file is opened: it can be mailed to a board.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from handlers.engagement import format_value
from handlers.engagement_report import EngagementReport

TEMPLATES = Path(__file__).resolve().parent / "templates"
COLOUR, TARGET_COLOUR = "#0b5cad", "#1b1f24"
SIZE_INCHES, DPI = (6.4, 2.8), 110


def _png(figure: Figure) -> str:
    out = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(out, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _image(figure: Figure, alt: str) -> Markup:
    return Markup('<img src="{src}" alt="{alt}" width="640">').format(src=_png(figure), alt=alt)


def bar_image(items: Sequence[tuple[str, float]], *, title: str, unit: str = "") -> Markup:
    """Horizontal bars with their values written beside them."""
    figure = Figure(figsize=(SIZE_INCHES[0], max(1.6, 0.45 * len(items) + 0.9)), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    labels = [label for label, _ in items][::-1]
    values = [value for _, value in items][::-1]
    bars = axes.barh(range(len(labels)), values, color=COLOUR, tick_label=labels)
    axes.bar_label(bars, labels=[format_value(unit, v) if unit else f"{v:,.0f}" for v in values], padding=3)
    axes.set_title(title, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    axes.margins(x=0.15)
    spoken = "; ".join(f"{label}: {format_value(unit, v) if unit else f'{v:,.0f}'}" for label, v in items)
    return _image(figure, f"{title}. {spoken}")


def trend_image(points: Sequence[tuple[str, float | None]], *, title: str, target: float, unit: str) -> Markup:
    """A value month by month (gaps where there is none) with the target as a dashed line."""
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    months = [month for month, _ in points]
    values = [float("nan") if value is None else value for _, value in points]
    # Positions, not the month texts: matplotlib would take "2027-01" for a date.
    positions = list(range(len(months)))
    axes.plot(positions, values, marker="o", color=COLOUR)
    axes.set_xticks(positions, months)
    axes.axhline(target, color=TARGET_COLOUR, linestyle="--", linewidth=1, label=f"target {format_value(unit, target)}")
    axes.set_title(title, loc="left")
    axes.legend(loc="best", frameon=False)
    axes.tick_params(axis="x", labelrotation=45)
    axes.spines[["top", "right"]].set_visible(False)
    spoken = "; ".join(f"{month}: {format_value(unit, value)}" for month, value in points)
    return _image(figure, f"{title}, month by month. {spoken}. Target {format_value(unit, target)}")


def render_report(report: EngagementReport, *, office: str, group_label: dict[str, str], generated: datetime) -> str:
    """The report as HTML text."""
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    registrations = [(group_label.get(group, group), count) for group, count in report.new_registrations.items()]
    rates = [
        (report.survey_titles.get(run.survey_id, run.survey_id), run.response_rate or 0.0)
        for run in report.surveys
        if run.started
    ]
    days = sorted(set(report.answer_days))
    charts = {
        "registrations": bar_image(registrations, title="New registrations by user group") if registrations else None,
        "surveys": bar_image(rates, title="Response rate by survey", unit="share") if rates else None,
        "answers": bar_image(
            [(f"{day} working day{'' if day == 1 else 's'}", float(report.answer_days.count(day))) for day in days],
            title="Data requests by working days to the first answer",
        )
        if days
        else None,
        "objectives": {
            found.objective.id: trend_image(
                found.trend_points,
                title=found.objective.title,
                target=found.objective.target,
                unit=found.objective.definition.unit,
            )
            for found in report.objectives
        },
    }
    return environment.get_template("engagement.html").render(
        report=report,
        office=office,
        charts=charts,
        group_label=group_label,
        generated=generated,
        format_value=format_value,
    )
