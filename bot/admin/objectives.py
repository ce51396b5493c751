"""The Objectives page: each engagement objective of ``config.yaml`` with its current value from
the data, its target, its status (met / on track / behind) and its trend month by month
(:func:`handlers.engagement.evaluate`, which ``baraza report engagement`` uses too)."""

from __future__ import annotations

from aiohttp import web

from bot.admin.auth import PREFIX
from bot.admin.charts import trend_chart
from bot.admin.render import render
from bot.admin.site import AdminSite
from handlers.engagement import evaluate, format_value


def add_routes(app: web.Application, site: AdminSite) -> None:
    guard = site.auth.guard

    async def objectives(request: web.Request) -> web.StreamResponse:
        now = site.clock()
        async with site.database.reading() as connection:
            found = await evaluate(connection, site.engagement, now, site.community.user_groups)
        return render(
            request,
            "objectives.html",
            objectives=found,
            now=now,
            format_value=format_value,
            trend_chart=trend_chart,
            group_label=lambda code: site.label("user_group", code),
        )

    app.router.add_get(f"{PREFIX}/objectives", guard(objectives))
