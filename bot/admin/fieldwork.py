"""The fieldwork page of a survey: its invitations' AAPOR dispositions and outcome rates, overall
and by channel, user group and wave, with the counts behind them (what ``baraza survey report``
prints). The dispositions with paradata and pseudonyms: ``baraza survey report SURVEY --export FILE.csv``."""

from __future__ import annotations

from aiohttp import web

from bot.admin.auth import PREFIX
from bot.admin.pages import title_of
from bot.admin.render import render
from bot.admin.site import AdminSite
from handlers.invitations import Disposition, Tally, build_report, disposition_rows

RATES = tuple(Tally().rates())


def add_routes(app: web.Application, site: AdminSite) -> None:
    guard = site.auth.guard

    def survey_of(request: web.Request) -> str:
        survey_id = request.match_info["survey"]
        if survey_id not in site.surveys:
            raise web.HTTPNotFound(text="There is no such survey.")
        return survey_id

    async def page(request: web.Request) -> web.StreamResponse:
        survey = site.surveys[survey_of(request)]
        async with site.database.reading() as connection:
            rows = await disposition_rows(connection, survey)
        report = build_report(survey.id, rows)
        lines = [("All invitations", report.overall)] + [
            (f"{name.replace('_', ' ')}: {value}", counts)
            for name, groups in report.by.items()
            for value, counts in groups.items()
        ]
        return render(
            request,
            "fieldwork.html",
            survey=survey,
            title=title_of(survey),
            lines=lines,
            dispositions=list(Disposition),
            rates=RATES,
            eligibility=report.overall.eligibility,
            reminders=survey.reminders,
        )

    app.router.add_get(f"{PREFIX}/surveys/{{survey}}/fieldwork", guard(page))
