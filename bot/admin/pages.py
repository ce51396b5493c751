"""The overview and the survey results pages, and the downloads of survey responses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from aiohttp import web

from bot.admin.auth import PREFIX, STAFF_KEY
from bot.admin.downloads import DOWNLOADS, DownloadError, send_export, zipped_downloads
from bot.admin.login import refused
from bot.admin.render import render
from bot.admin.site import AdminSite
from common.clock import parse_date, start_of_day
from storage.broadcasts import WEB_CHAT_ONLY, WEB_NO_PUSH, Audience, BroadcastRepository
from storage.dashboard import DashboardQueries, ResultFilter
from storage.exports import ExportOptions
from storage.requests import ACTIVE, RequestRepository, percentile
from storage.staff import StaffSession
from surveys.markup import plain_text
from surveys.model import LocalizedText, Survey


def add_routes(app: web.Application, site: AdminSite) -> None:
    guard = site.auth.guard

    async def overview(request: web.Request) -> web.StreamResponse:
        now = site.clock()
        async with site.database.reading() as connection:
            queries = DashboardQueries(connection)
            engagement = await queries.engagement(now, days=30)
            activity = await queries.survey_activity()
            stats = await RequestRepository(connection).stats(top=5)
            recent = await BroadcastRepository(connection).recent(limit=5)
            # Agreeing to be contacted is not enough to receive a notice (the web chat cannot).
            reach = await BroadcastRepository(connection).reach(Audience())
        surveys = [
            (survey, activity.get(survey_id))
            for survey_id, survey in sorted(site.surveys.items(), key=lambda item: item[0])
        ]
        return render(
            request,
            "overview.html",
            engagement=engagement,
            day_series=[(day.day.isoformat(), day.new) for day in engagement.over_time],
            named=site.labelled,
            surveys=surveys,
            open_requests=sum(stats.by_status.get(status, 0) for status in ACTIVE),
            answered_requests=len(stats.answer_seconds),
            median_answer=percentile(stats.answer_seconds, 0.5),
            demand=stats.demand,
            broadcasts=recent,
            reach=reach,
            web_chat_only=reach.left_out.get(WEB_NO_PUSH, 0) + reach.left_out.get(WEB_CHAT_ONLY, 0),
            title_of=title_of,
        )

    async def results(request: web.Request) -> web.StreamResponse:
        survey = _survey(site, request)
        filters, problems = _filters(request)
        async with site.database.reading() as connection:
            queries = DashboardQueries(connection)
            found = await queries.results(survey, filters)
            versions = await queries.survey_versions(survey.id, filters)
            regions = await queries.region_names()
        labeller = _choice_labeller(survey)

        def label(text: LocalizedText) -> str:
            # The label's words without ODK's markdown/HTML; ${name} stays, staff read it as written.
            return plain_text(text.in_language(survey.default_language, survey.default_language))

        return render(
            request,
            "survey.html",
            survey=survey,
            results=found,
            versions=versions,
            title=title_of(survey),
            label=label,
            choice_items=lambda name, counts: [(labeller(name, choice), count) for choice, count in counts],
            funnel_items=[(label(step.question.label), step.reached) for step in found.funnel],
            user_groups=site.community.user_groups,
            regions=regions,
            query=request.query,
            problems=problems,
            downloads=DOWNLOADS,
            zipped=zipped_downloads(survey) if site.media is not None else {},
        )

    async def download(request: web.Request) -> web.StreamResponse:
        survey = _survey(site, request)
        stamp = site.clock().strftime("%Y%m%d-%H%M")
        try:
            staff: StaffSession = request[STAFF_KEY]
            return await send_export(
                request,
                site.database,
                survey,
                request.match_info["format"],
                ExportOptions(),
                stamp,
                site.media,
                actor=staff.username,
            )
        except DownloadError as error:
            return refused(request, 409, str(error))

    app.router.add_get(f"{PREFIX}/", guard(overview))
    app.router.add_get(f"{PREFIX}/surveys/{{survey}}", guard(results))
    app.router.add_get(f"{PREFIX}/surveys/{{survey}}/export.{{format}}", guard(download))


def title_of(survey: Survey) -> str:
    return plain_text(survey.title.in_language(survey.default_language, survey.default_language))


def _survey(site: AdminSite, request: web.Request) -> Survey:
    survey = site.surveys.get(request.match_info["survey"])
    if survey is None:
        raise web.HTTPNotFound(text="There is no such survey.")
    return survey


def _choice_labeller(survey: Survey) -> Callable[[str, str], str]:
    def label(question_name: str, choice: str) -> str:
        question = survey.question(question_name)
        found = question.choice(choice)
        if found is None:
            return choice
        return plain_text(found.label.in_language(survey.default_language, survey.default_language))

    return label


def _filters(request: web.Request) -> tuple[ResultFilter, list[str]]:
    """The results filters of the query string; ``until`` is inclusive of its day on the page."""
    problems: list[str] = []
    since = until = None
    if request.query.get("since"):
        day = parse_date(request.query["since"])
        if day is None:
            problems.append("'From' is not a date (use 2026-05-31)")
        else:
            since = start_of_day(day)
    if request.query.get("until"):
        day = parse_date(request.query["until"])
        if day is None:
            problems.append("'To' is not a date (use 2026-05-31)")
        else:
            until = start_of_day(day) + timedelta(days=1)
    return (
        ResultFilter(
            user_group=request.query.get("group") or None,
            region=request.query.get("region") or None,
            since=since,
            until=until,
        ),
        problems,
    )
