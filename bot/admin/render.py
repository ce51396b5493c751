"""Rendering the dashboard's pages: Jinja2 templates (autoescaped) with the security headers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.admin.auth import STAFF_KEY
from bot.admin.charts import bar_chart, column_chart, percent
from bot.admin.site import CHANNEL_NAMES, SITE_KEY
from surveys.model import CHOICE_TYPES, QuestionType

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def when(moment: datetime | None) -> str:
    return "–" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def duration(seconds: float | None) -> str:
    """``95`` → ``1 min 35 s``; hours and days for long times."""
    if seconds is None:
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours / 24:.1f} days"


def rate(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True
    )
    environment.filters.update(when=when, duration=duration, rate=rate)
    environment.globals.update(bar_chart=bar_chart, column_chart=column_chart, percent=percent)
    # The survey vocabulary every page may test a question against.
    environment.globals.update(CHOICE_TYPES=CHOICE_TYPES, QuestionType=QuestionType)
    return environment


ENVIRONMENT = _environment()


def _code(name: str, code: str | None) -> str:
    return code or "not given"


def render(request: web.Request, template: str, *, status: int = 200, **values: Any) -> web.Response:
    """The page ``template`` with ``values``, the signed-in member of staff and the security headers."""
    staff = request.get(STAFF_KEY)
    site = request.app.get(SITE_KEY)
    # A channel that does not reach its platform is shown to signed-in staff on every page.
    degraded = site.degraded_channels() if site is not None and staff is not None else []
    html = ENVIRONMENT.get_template(template).render(
        staff=staff,
        csrf=staff.csrf_token if staff is not None else "",
        path=request.path,
        degraded_channels=degraded,
        code_label=site.label if site is not None else _code,
        channel_names=CHANNEL_NAMES,
        **values,
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=PAGE_HEADERS)
