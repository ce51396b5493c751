"""Broadcasts in the browser: compose a notice (text per language, audience, an optional survey
invitation), see the audience size while choosing it, preview, send now or schedule, follow
the sending live and see what became of every message.

A broadcast made here is the same as one from ``baraza broadcast send``: a :class:`handlers.notices.Notice`
stored by :meth:`storage.broadcasts.BroadcastRepository.create` with its delivery rows, sent by
the durable sender of ``baraza run``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.admin.auth import FORM_KEY, PREFIX, STAFF_KEY
from bot.admin.render import render, when
from bot.admin.site import AdminSite
from bot.channels.sms.rendering import notice_segments
from bot.config import SmsSettings
from common.clock import as_utc, parse_datetime
from handlers.broadcast_actions import (
    StoredBroadcast,
    cancel_broadcast,
    find_broadcast,
    preview_audience,
    reach_lines,
    store_broadcast,
    whatsapp_silent_before,
)
from handlers.notices import MAX_LABEL, MAX_TEXT, MAX_TITLE, Notice, NoticeButton, telegram_length
from handlers.texts import LANGUAGE_NAMES, SUPPORTED_LANGUAGES
from storage.broadcasts import (
    CANCELLED,
    DELIVERY_STATUSES,
    DONE,
    Audience,
    BroadcastRepository,
    BroadcastSummary,
)
from storage.dashboard import DashboardQueries
from storage.staff import StaffSession

log = logging.getLogger(__name__)

#: The dashboard shows a notice's SMS cost split as by default (``sms.max_segments``).
SMS_MAX_SEGMENTS = SmsSettings().max_segments

STATUS_LABELS = {
    "sent": "Sent",
    "pending": "Waiting",
    "sending": "Being sent",
    "unknown": "Unknown (may have arrived)",
    "failed": "Failed",
    "blocked": "Blocked the bot",
    "skipped": "Skipped (opted out since)",
    "cancelled": "Cancelled",
}


@dataclass
class Draft:
    """The compose form's values, and what is wrong with them."""

    title: str = ""
    default_language: str = "en"
    texts: dict[str, str] = field(default_factory=dict)
    topics: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    survey: str = ""
    button_label: str = ""
    send_at: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def audience(self) -> Audience:
        return Audience(
            topics=self.topics, user_groups=self.user_groups, regions=self.regions, languages=self.languages
        )


def form_values(data: Mapping[str, Any], name: str, known: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """The ticked values of a group of checkboxes ``name`` (the ``known`` ones only, unless None), in order."""
    getall = getattr(data, "getall", None)
    found = [str(value) for value in getall(name, [])] if getall is not None else []
    return tuple(value for value in dict.fromkeys(found) if known is None or value in known)


def read_draft(data: Mapping[str, Any], site: AdminSite, regions: list[str], now: datetime) -> Draft:
    """The draft in a form or query string, checked against the configuration."""
    community = site.community
    draft = Draft(
        title=str(data.get("title", "")).strip(),
        default_language=str(data.get("default_language", "en")),
        texts={
            language: str(data.get(f"text_{language}", "")).strip()
            for language in SUPPORTED_LANGUAGES
            if str(data.get(f"text_{language}", "")).strip()
        },
        topics=form_values(data, "topics", community.topics),
        user_groups=form_values(data, "user_groups", community.user_groups),
        regions=form_values(data, "regions", regions),
        languages=form_values(data, "languages", SUPPORTED_LANGUAGES),
        survey=str(data.get("survey", "")),
        button_label=str(data.get("button_label", "")).strip(),
        send_at=str(data.get("send_at", "")).strip(),
    )
    if not draft.title:
        draft.problems.append("Give the broadcast a title (staff see it, not the recipients).")
    elif len(draft.title) > MAX_TITLE:
        draft.problems.append(f"The title is longer than {MAX_TITLE} characters.")
    if draft.default_language not in SUPPORTED_LANGUAGES:
        draft.problems.append("Choose the default language.")
    elif draft.default_language not in draft.texts:
        draft.problems.append(
            f"Write the text in the default language ({LANGUAGE_NAMES.get(draft.default_language, draft.default_language)}): "
            "people whose language has no text get that one."
        )
    for language, text in draft.texts.items():
        if telegram_length(text) > MAX_TEXT:
            draft.problems.append(
                f"The {language} text has {telegram_length(text)} characters; a chat message holds {MAX_TEXT}."
            )
    if draft.survey and draft.survey not in site.surveys:
        draft.problems.append("Choose a survey from the list.")
    if draft.survey and not draft.button_label:
        draft.problems.append("Give the survey button a label, such as 'Take the survey'.")
    if len(draft.button_label) > MAX_LABEL:
        draft.problems.append(f"The button label is longer than {MAX_LABEL} characters.")
    if draft.send_at:
        moment = _send_time(draft.send_at)
        if moment is None:
            draft.problems.append("The send time is not a date and time.")
        elif moment < now - timedelta(minutes=1):
            draft.problems.append("The send time is in the past.")
    return draft


def _send_time(text: str) -> datetime | None:
    """A ``datetime-local`` value, in UTC (the page says so)."""
    moment = parse_datetime(text)
    return None if moment is None else as_utc(moment)


def notice_of(draft: Draft) -> Notice:
    buttons: tuple[NoticeButton, ...] = ()
    if draft.survey:
        buttons = (NoticeButton({draft.default_language: draft.button_label}, survey=draft.survey),)
    return Notice(
        title=draft.title,
        texts=dict(draft.texts),
        default_language=draft.default_language,
        audience=draft.audience,
        buttons=buttons,
    )


def progress(summary: BroadcastSummary) -> dict[str, Any]:
    """What the broadcast page shows, as JSON for its live updates."""
    done = summary.recipients - summary.outstanding
    return {
        "id": summary.id,
        "status": summary.status,
        "recipients": summary.recipients,
        "done": done,
        "finished": summary.outstanding == 0 or summary.status in (DONE, CANCELLED),
        "finished_at": when(summary.finished_at) if summary.finished_at else None,
        "counts": {name: summary.count(name) for name in DELIVERY_STATUSES},
    }


def add_routes(app: web.Application, site: AdminSite) -> None:
    guard = site.auth.guard

    async def regions() -> list[str]:
        async with site.database.reading() as connection:
            return await DashboardQueries(connection).region_names()

    async def listing(request: web.Request) -> web.StreamResponse:
        async with site.database.reading() as connection:
            recent = await BroadcastRepository(connection).recent(limit=50)
        return render(request, "broadcasts.html", broadcasts=recent, labels=STATUS_LABELS)

    async def compose_page(request: web.Request, draft: Draft, *, preview: bool, status: int = 200) -> web.Response:
        known_regions = await regions()
        async with site.database.reading() as connection:
            audience_preview = await preview_audience(
                connection,
                draft.audience,
                tuple(draft.texts),
                draft.default_language,
                silent_before=whatsapp_silent_before(notice_of(draft), site.clock()),
            )
        notice = notice_of(draft) if preview and not draft.problems else None
        return render(
            request,
            "compose.html",
            status=status,
            draft=draft,
            preview=notice,
            size=audience_preview.size,
            by_language=audience_preview.languages,
            reach=audience_preview.reach,
            reach_lines=reach_lines(audience_preview.reach, notice_segments(notice_of(draft), SMS_MAX_SEGMENTS)),
            description=draft.audience.describe(),
            community=site.community,
            regions=known_regions,
            languages=[(code, LANGUAGE_NAMES.get(code, code)) for code in SUPPORTED_LANGUAGES],
            surveys=sorted(site.surveys),
        )

    async def new(request: web.Request) -> web.StreamResponse:
        return await compose_page(request, Draft(), preview=False)

    async def audience(request: web.Request) -> web.StreamResponse:
        """``GET .../audience?user_groups=...``: the number of people a draft would reach."""
        draft = read_draft(request.query, site, await regions(), site.clock())
        silent_before = whatsapp_silent_before(notice_of(draft), site.clock())
        async with site.database.reading() as connection:
            found = await preview_audience(
                connection, draft.audience, (), draft.default_language, silent_before=silent_before
            )
        body = {
            "size": found.size,
            "description": draft.audience.describe(),
            "reach": reach_lines(found.reach),
            "left_out": found.reach.left_out,
        }
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def create(request: web.Request) -> web.StreamResponse:
        form = request[FORM_KEY]
        staff: StaffSession = request[STAFF_KEY]
        now = site.clock()
        draft = read_draft(form, site, await regions(), now)
        action = str(form.get("action", "preview"))
        if draft.problems or action != "send":
            return await compose_page(request, draft, preview=True, status=422 if draft.problems else 200)
        notice = notice_of(draft)
        send_at = _send_time(draft.send_at) if draft.send_at else None
        async with site.database.transaction() as connection:
            if await BroadcastRepository(connection).audience_size(draft.audience) == 0:
                draft.problems.append("Nobody is in this audience: nothing was sent. Choose fewer filters.")
                broadcast_id = None
            else:
                broadcast_id, recipients = await store_broadcast(
                    connection,
                    notice,
                    audience=draft.audience,
                    created_by=f"dashboard:{staff.username}",
                    actor=staff.username,
                    now=now,
                    send_at=send_at,
                )
        if broadcast_id is None:
            return await compose_page(request, draft, preview=True, status=422)
        log.info("dashboard: %s stored broadcast %d for %d recipient(s)", staff.username, broadcast_id, recipients)
        raise web.HTTPSeeOther(f"{PREFIX}/broadcasts/{broadcast_id}")

    async def summary_of(broadcast_id: int) -> StoredBroadcast:
        async with site.database.reading() as connection:
            found = await find_broadcast(connection, broadcast_id)
        if found is None:
            raise web.HTTPNotFound(text=f"There is no broadcast {broadcast_id}.")
        return found

    async def detail(request: web.Request) -> web.StreamResponse:
        found = await summary_of(int(request.match_info["id"]))
        summary, notice, audience_of = found.summary, found.notice, found.audience
        async with site.database.reading() as connection:
            reply_count, replies = await DashboardQueries(connection).broadcast_replies(summary.id)
        return render(
            request,
            "broadcast.html",
            summary=summary,
            notice=notice,
            audience=audience_of,
            progress=progress(summary),
            labels=STATUS_LABELS,
            statuses=DELIVERY_STATUSES,
            cancelled=request.query.get("cancelled"),
            reply_count=reply_count,
            replies=replies,
        )

    async def progress_json(request: web.Request) -> web.StreamResponse:
        found = await summary_of(int(request.match_info["id"]))
        return web.json_response(progress(found.summary), headers={"Cache-Control": "no-store"})

    async def cancel(request: web.Request) -> web.StreamResponse:
        broadcast_id = int(request.match_info["id"])
        async with site.database.transaction() as connection:
            staff: StaffSession = request[STAFF_KEY]
            cancelled = await cancel_broadcast(connection, broadcast_id, site.clock(), actor=staff.username)
        if cancelled is None:
            raise web.HTTPNotFound(text=f"There is no broadcast {broadcast_id} to cancel.")
        raise web.HTTPSeeOther(f"{PREFIX}/broadcasts/{broadcast_id}?cancelled={cancelled}")

    app.router.add_get(f"{PREFIX}/broadcasts", guard(listing))
    app.router.add_get(f"{PREFIX}/broadcasts/new", guard(new, edit=True))
    app.router.add_get(f"{PREFIX}/broadcasts/audience", guard(audience))
    app.router.add_post(f"{PREFIX}/broadcasts", guard(create, edit=True))
    app.router.add_get(f"{PREFIX}/broadcasts/{{id:[0-9]{{1,9}}}}", guard(detail))
    app.router.add_get(f"{PREFIX}/broadcasts/{{id:[0-9]{{1,9}}}}/progress", guard(progress_json))
    app.router.add_post(f"{PREFIX}/broadcasts/{{id:[0-9]{{1,9}}}}/cancel", guard(cancel, edit=True))
