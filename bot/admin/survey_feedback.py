""" "You said, we did" on the dashboard: a survey's summary for the respondents who asked for it.

The page says how many respondents asked to hear what the office does with the results, how many
can receive it and why not the others; editors write the summary (a title for staff, a text per
language), preview it as each language's respondents will read it, and send it. Sending stores a
broadcast to exactly the opted-in respondents who can receive it (the same
:func:`handlers.survey_feedback.send_feedback` as ``baraza survey feedback``), sent by ``baraza run``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.admin.auth import FORM_KEY, PREFIX, STAFF_KEY
from bot.admin.pages import title_of
from bot.admin.render import render
from bot.admin.site import AdminSite
from handlers.notices import MAX_TEXT, MAX_TITLE, Notice, telegram_length
from handlers.survey_feedback import preview_feedback, reach_lines, send_feedback, summary_notice
from handlers.texts import LANGUAGE_NAMES, SUPPORTED_LANGUAGES
from storage.staff import StaffSession
from surveys.model import Survey

log = logging.getLogger(__name__)


@dataclass
class SummaryForm:
    """The summary form's values, and what is wrong with them."""

    title: str = ""
    default_language: str = "en"
    texts: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def notice(self) -> Notice:
        return summary_notice(self.title, self.texts, self.default_language)


def read_summary(data: Mapping[str, Any]) -> SummaryForm:
    """The summary in a POSTed form, checked."""
    form = SummaryForm(
        title=str(data.get("title", "")).strip(),
        default_language=str(data.get("default_language", "en")),
        texts={
            language: str(data.get(f"text_{language}", "")).strip()
            for language in SUPPORTED_LANGUAGES
            if str(data.get(f"text_{language}", "")).strip()
        },
    )
    if not form.title:
        form.problems.append("Give the summary a title (for staff: it names the broadcast).")
    elif len(form.title) > MAX_TITLE:
        form.problems.append(f"The title is {len(form.title)} characters long; the limit is {MAX_TITLE}.")
    if form.default_language not in SUPPORTED_LANGUAGES:
        form.problems.append("Choose the default language from the list.")
        form.default_language = "en"
    if form.default_language not in form.texts:
        form.problems.append(
            f"Write the text in {LANGUAGE_NAMES.get(form.default_language, form.default_language)}, the default language."
        )
    for language, text in form.texts.items():
        if telegram_length(text) > MAX_TEXT:
            form.problems.append(
                f"The text in {LANGUAGE_NAMES.get(language, language)} is {telegram_length(text)} characters long; "
                f"the limit is {MAX_TEXT}."
            )
    return form


def add_routes(app: web.Application, site: AdminSite) -> None:
    guard = site.auth.guard

    def survey_of(request: web.Request) -> Survey:
        survey_id = request.match_info["survey"]
        if survey_id not in site.surveys:
            raise web.HTTPNotFound(text="There is no such survey.")
        return site.surveys[survey_id]

    async def feedback_page(
        request: web.Request, survey: Survey, form: SummaryForm, *, preview: bool = False, status: int = 200
    ) -> web.Response:
        async with site.database.reading() as connection:
            reach = await preview_feedback(connection, survey.id)
        previews = []
        if preview and not form.problems:
            notice = form.notice()
            previews = [
                (LANGUAGE_NAMES.get(language, language), notice.outbound(language).text)
                for language in SUPPORTED_LANGUAGES
                if language in notice.texts or language == notice.default_language
            ]
        return render(
            request,
            "survey_feedback.html",
            status=status,
            survey=survey,
            title=title_of(survey),
            reach=reach,
            reach_lines=reach_lines(reach),
            form=form,
            previews=previews,
            languages=[(code, LANGUAGE_NAMES.get(code, code)) for code in SUPPORTED_LANGUAGES],
        )

    async def page(request: web.Request) -> web.StreamResponse:
        return await feedback_page(request, survey_of(request), SummaryForm())

    async def send(request: web.Request) -> web.StreamResponse:
        """``POST .../feedback``: ``action=preview`` shows each language, ``action=send`` stores the broadcast."""
        survey = survey_of(request)
        staff: StaffSession = request[STAFF_KEY]
        data = request[FORM_KEY]
        form = read_summary(data)
        if form.problems:
            return await feedback_page(request, survey, form, status=422)
        if str(data.get("action", "preview")) != "send":
            return await feedback_page(request, survey, form, preview=True)
        async with site.database.transaction() as connection:
            reach = await preview_feedback(connection, survey.id)
            if reach.reached == 0:
                form.problems.append("Nobody who asked for it can receive it now: nothing was sent.")
                broadcast_id = None
            else:
                broadcast_id, _recipients = await send_feedback(
                    connection, survey.id, form.notice(), actor=staff.username, now=site.clock()
                )
        if broadcast_id is None:
            return await feedback_page(request, survey, form, status=422)
        log.info("dashboard: %s sent the feedback of %s (broadcast %d)", staff.username, survey.id, broadcast_id)
        raise web.HTTPSeeOther(f"{PREFIX}/broadcasts/{broadcast_id}")

    app.router.add_get(f"{PREFIX}/surveys/{{survey}}/feedback", guard(page))
    app.router.add_post(f"{PREFIX}/surveys/{{survey}}/feedback", guard(send, edit=True))
