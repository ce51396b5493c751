"""The results pages: the public ``/results/SURVEY`` page and its CSV (no sign-in), and the staff
preview at ``/admin/surveys/SURVEY/results`` where editors publish and withdraw (audited).

The public page shows the snapshot taken when the results were published (see
:mod:`storage.results`), in the language asked for (``?lang=fr``, else the browser's
Accept-Language, else the survey's default), among the survey's languages the bot speaks. A survey
whose file does not say ``results: {public: true}``, or whose results are not published now, is a
404. The preview computes the same report from the responses now, with the unweighted counts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from aiohttp import web

from bot.admin.auth import PREFIX, STAFF_KEY
from bot.admin.login import refused
from bot.admin.render import render
from bot.admin.site import AdminSite
from common.csv_cells import neutralised_row
from handlers.results import ResultsError, ResultsWords, compute_report, publish_results, withdraw_results
from handlers.texts import LANGUAGE_NAMES, SUPPORTED_LANGUAGES, is_rtl
from results.report import CHOICE, ResultsReport
from storage.results import Publication, ResultsRepository
from surveys.model import Survey

PUBLIC_PREFIX = "/results"
CSV_COLUMNS = (
    "question",
    "question_label",
    "breakdown",
    "group",
    "group_label",
    "respondents",
    "choice",
    "choice_label",
    "share",
    "ci_low",
    "ci_high",
    "mean",
    "median",
    "shown",
)


def page_languages(survey: Survey) -> list[str]:
    """The languages a results page is offered in: the survey's that the bot speaks."""
    return [language for language in survey.languages if language in SUPPORTED_LANGUAGES] or [survey.default_language]


def chosen_language(request: web.Request, offered: Sequence[str]) -> str:
    """``?lang=``, else the first of the browser's Accept-Language (by q) offered, else the first offered."""
    asked = request.query.get("lang", "")
    if asked in offered:
        return asked
    preferences: list[tuple[float, int, str]] = []
    for position, part in enumerate(request.headers.get("Accept-Language", "").split(",")[:20]):
        code, _, parameters = part.strip().partition(";")
        quality = 1.0
        if parameters.strip().startswith("q="):
            try:
                quality = float(parameters.strip()[2:])
            except ValueError:
                quality = 0.0
        preferences.append((-quality, position, code.strip().lower().split("-")[0]))
    for _, _, code in sorted(preferences):
        if code in offered:
            return code
    return offered[0]


def add_routes(app: web.Application, site: AdminSite) -> None:
    guard = site.auth.guard

    async def published(request: web.Request) -> tuple[Survey, Publication]:
        survey = site.surveys.get(request.match_info["survey"])
        if survey is None or not survey.results.public:
            raise web.HTTPNotFound(text="There are no published results of that survey.")
        async with site.database.reading() as connection:
            publication = await ResultsRepository(connection).current(survey.id)
        if publication is None:
            raise web.HTTPNotFound(text="There are no published results of that survey.")
        return survey, publication

    async def public_page(request: web.Request) -> web.StreamResponse:
        survey, publication = await published(request)
        offered = page_languages(survey)
        language = chosen_language(request, offered)
        words = ResultsWords(survey, site.community, language)
        response = render(
            request,
            "results_public.html",
            words=words,
            report=publication.report,
            publication=publication,
            language=language,
            direction="rtl" if is_rtl(language) else "ltr",
            languages=[(code, LANGUAGE_NAMES.get(code, code)) for code in offered],
            csv_link=f"{PUBLIC_PREFIX}/{survey.id}/figures.csv?lang={language}",
            staff_view=False,
            CHOICE=CHOICE,
        )
        response.headers["Vary"] = "Accept-Language"
        return response

    async def public_csv(request: web.Request) -> web.StreamResponse:
        survey, publication = await published(request)
        words = ResultsWords(survey, site.community, chosen_language(request, page_languages(survey)))
        return web.Response(
            body=figures_csv(words, publication.report).encode("utf-8"),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{survey.id}-results.csv"'},
        )

    async def preview(request: web.Request) -> web.StreamResponse:
        survey = site.surveys.get(request.match_info["survey"])
        if survey is None:
            raise web.HTTPNotFound(text="There is no such survey.")
        report = await compute_report(site.database, survey)
        async with site.database.reading() as connection:
            publication = await ResultsRepository(connection).current(survey.id)
        words = ResultsWords(
            survey, site.community, survey.default_language if survey.default_language in SUPPORTED_LANGUAGES else "en"
        )
        return render(
            request,
            "results_preview.html",
            survey=survey,
            words=words,
            report=report,
            publication=publication,
            public_link=f"{PUBLIC_PREFIX}/{survey.id}",
            staff_view=True,
            CHOICE=CHOICE,
        )

    async def publish(request: web.Request) -> web.StreamResponse:
        survey = site.surveys.get(request.match_info["survey"])
        if survey is None:
            raise web.HTTPNotFound(text="There is no such survey.")
        try:
            await publish_results(site.database, survey, actor=request[STAFF_KEY].username, now=site.clock())
        except ResultsError as error:
            return refused(request, 409, str(error))
        raise web.HTTPSeeOther(f"{PREFIX}/surveys/{survey.id}/results")

    async def withdraw(request: web.Request) -> web.StreamResponse:
        survey = site.surveys.get(request.match_info["survey"])
        if survey is None:
            raise web.HTTPNotFound(text="There is no such survey.")
        await withdraw_results(site.database, survey.id, actor=request[STAFF_KEY].username, now=site.clock())
        raise web.HTTPSeeOther(f"{PREFIX}/surveys/{survey.id}/results")

    app.router.add_get(f"{PUBLIC_PREFIX}/{{survey}}", public_page)
    app.router.add_get(f"{PUBLIC_PREFIX}/{{survey}}/figures.csv", public_csv)
    app.router.add_get(f"{PREFIX}/surveys/{{survey}}/results", guard(preview))
    app.router.add_post(f"{PREFIX}/surveys/{{survey}}/results/publish", guard(publish, edit=True))
    app.router.add_post(f"{PREFIX}/surveys/{{survey}}/results/withdraw", guard(withdraw, edit=True))


def figures_csv(words: ResultsWords, report: ResultsReport) -> str:
    """The figures of the page as CSV, one row per figure (hidden ones with ``shown`` = no and no
    values): overall rows have an empty breakdown."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)

    def number(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"

    for question in report.questions:
        label = words.question(question.name)
        groups = [("", question.overall)] + [(b.dimension, g) for b in question.breakdowns for g in b.groups]
        for dimension, group in groups:
            group_label = words.category(dimension, group.category) if dimension else words.texts("results_everyone")
            people = "" if group.hidden else str(group.respondents)
            head = [question.name, label, dimension, group.category, group_label, people]
            if question.kind != CHOICE:
                shown = not group.hidden
                values = [number(group.mean), number(group.low), number(group.high)] if shown else ["", "", ""]
                writer.writerow(
                    neutralised_row(
                        [
                            *head,
                            "",
                            "",
                            "",
                            values[1],
                            values[2],
                            values[0],
                            number(group.median) if shown else "",
                            "yes" if shown else "no",
                        ]
                    )
                )
                continue
            for cell in group.cells:
                shown = not cell.hidden
                writer.writerow(
                    neutralised_row(
                        [
                            *head,
                            cell.choice,
                            words.choice(question.name, cell.choice),
                            number(cell.share) if shown else "",
                            number(cell.low) if shown else "",
                            number(cell.high) if shown else "",
                            "",
                            "",
                            "yes" if shown else "no",
                        ]
                    )
                )
    return out.getvalue()
