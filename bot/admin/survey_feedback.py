""" "You said, we did" on the dashboard: a survey's summary for the respondents who asked for it.

The page says how many respondents asked to hear what the office does with the results, how many
can receive it and why not the others; editors write the summary (a title for staff, a text per
language), preview it as each language's respondents will read it, and send it. Sending stores a
broadcast to exactly the opted-in respondents who can receive it (the same
:func:`handlers.survey_feedback.send_feedback` as ``baraza survey feedback``), sent by ``baraza run``.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.admin.auth import FORM_KEY, PREFIX, STAFF_KEY
from bot.admin.broadcasts import Draft, read_draft
from bot.admin.pages import title_of
from bot.admin.render import render
from bot.admin.site import AdminSite
from handlers.notices import Notice
from handlers.survey_feedback import (
    preview_feedback,
    reach_lines,
    send_feedback,
    sent_before,
    sent_lines,
    summary_notice,
)
from handlers.texts import LANGUAGE_NAMES, SUPPORTED_LANGUAGES
from storage.staff import StaffSession
from surveys.model import Survey

log = logging.getLogger(__name__)


def summary_of(form: Draft) -> Notice:
    """The summary written in the form, as a notice."""
    return summary_notice(form.title, form.texts, form.default_language)


def add_routes(app: web.Application, site: AdminSite) -> None:
    guard = site.auth.guard

    async def feedback_page(
        request: web.Request, survey: Survey, form: Draft, *, preview: bool = False, status: int = 200
    ) -> web.Response:
        async with site.database.reading() as connection:
            reach = await preview_feedback(connection, survey.id)
            earlier = await sent_before(connection, survey.id)
        previews = []
        if preview and not form.problems:
            notice = summary_of(form)
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
            earlier=[(item.broadcast_id, line) for item, line in zip(earlier, sent_lines(earlier), strict=True)],
            form=form,
            previews=previews,
            languages=[(code, LANGUAGE_NAMES.get(code, code)) for code in SUPPORTED_LANGUAGES],
        )

    async def page(request: web.Request) -> web.StreamResponse:
        return await feedback_page(request, site.survey_of(request), Draft())

    async def send(request: web.Request) -> web.StreamResponse:
        """``POST .../feedback``: ``action=preview`` shows each language, ``action=send`` stores the broadcast."""
        survey = site.survey_of(request)
        staff: StaffSession = request[STAFF_KEY]
        data = request[FORM_KEY]
        # The compose form's title and texts, checked the same way (no audience, button or time here).
        form = read_draft(data, site, [], site.clock())
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
                    connection, survey.id, summary_of(form), actor=staff.username, now=site.clock()
                )
        if broadcast_id is None:
            return await feedback_page(request, survey, form, status=422)
        log.info("dashboard: %s sent the feedback of %s (broadcast %d)", staff.username, survey.id, broadcast_id)
        raise web.HTTPSeeOther(f"{PREFIX}/broadcasts/{broadcast_id}")

    app.router.add_get(f"{PREFIX}/surveys/{{survey}}/feedback", guard(page))
    app.router.add_post(f"{PREFIX}/surveys/{{survey}}/feedback", guard(send, edit=True))
