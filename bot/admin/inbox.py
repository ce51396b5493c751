"""The request inbox: tickets listed and filtered, one ticket with its messages, and the staff
actions on it (answer, in progress, close, assign), which reuse :mod:`handlers.request_desk` so
that the person is told in the chat exactly as from the CLI."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.admin.auth import FORM_KEY, PREFIX, STAFF_KEY
from bot.admin.render import render
from bot.admin.site import AdminSite
from handlers import request_desk
from storage.feedback import NEW, recent_feedback
from storage.requests import (
    ACTIVE,
    REQUEST,
    STATUSES,
    UNMATCHED,
    RequestError,
    RequestRepository,
    RequestThread,
    percentile,
)
from storage.staff import StaffSession

log = logging.getLogger(__name__)

#: The messages shown after an action (``?done=...``).
DONE = {
    "answered": "Answer saved: it is being sent to the person in the chat.",
    "answered_unsent": "Answer saved, but it cannot be sent: the person deleted their data or cannot be messaged.",
    "answered_webchat": (
        "Answer saved. The person wrote through the web chat, which cannot receive a message from us: "
        "they read the answer with /my_requests when they next open the chat."
    ),
    "progress": "Marked in progress: the person is told their request is being worked on.",
    "closed": "Request closed.",
    "assigned": "Request assigned.",
}
#: The ``done`` message of each action (an answer that cannot be sent has its own).
DONE_BY_ACTION = {
    request_desk.ANSWER: "answered",
    request_desk.PROGRESS: "progress",
    request_desk.CLOSE: "closed",
    request_desk.ASSIGN: "assigned",
}
LIST_LIMIT = 200
MESSAGE_LIMIT = 50


def add_routes(app: web.Application, site: AdminSite) -> None:
    guard = site.auth.guard

    async def listing(request: web.Request) -> web.StreamResponse:
        status = request.query.get("status", "active")
        source = request.query.get("source", "")
        statuses = ACTIVE if status == "active" else (status,) if status in STATUSES else None
        sources = (source,) if source in (REQUEST, UNMATCHED) else None
        group = request.query.get("group") or None
        async with site.database.reading() as connection:
            repository = RequestRepository(connection)
            tickets = await repository.find(statuses=statuses, sources=sources, user_group=group, limit=LIST_LIMIT)
            stats = await repository.stats(top=15)
            messages = await recent_feedback(connection, statuses=(NEW,), limit=MESSAGE_LIMIT)
        return render(
            request,
            "requests.html",
            tickets=tickets,
            stats=stats,
            group_items=[
                (site.label("user_group", name), count)
                for name, count in sorted(stats.by_user_group.items(), key=lambda item: -item[1])
            ],
            median=percentile(stats.answer_seconds, 0.5),
            p90=percentile(stats.answer_seconds, 0.9),
            chosen_status=status,
            source=source,
            group=group or "",
            statuses=STATUSES,
            user_groups=site.community.user_groups,
            limit=LIST_LIMIT,
            messages=messages,
            message_done=request.query.get("message") == "closed",
        )

    async def thread_of(number: int) -> RequestThread:
        async with site.database.reading() as connection:
            try:
                return await RequestRepository(connection).thread(number)
            except RequestError:
                raise web.HTTPNotFound(text=f"There is no data request #{number}.") from None

    async def ticket(request: web.Request) -> web.StreamResponse:
        thread = await thread_of(_number(request))
        return render(
            request,
            "request.html",
            thread=thread,
            done=DONE.get(request.query.get("done", "")),
            error=None,
            answer="",
        )

    async def act(request: web.Request) -> web.StreamResponse:
        number = _number(request)
        form = request[FORM_KEY]
        staff: StaffSession = request[STAFF_KEY]
        kind = str(form.get("action", ""))
        if kind not in request_desk.ACTIONS:
            raise web.HTTPBadRequest(text=f"unknown action {kind!r}")
        answer = str(form.get("answer", "")).strip()
        # Staff answer and take tickets as themselves; "assign" may name someone else.
        who = (str(form.get("staff", "")).strip() if kind == request_desk.ASSIGN else "") or staff.username
        action = request_desk.DeskAction(kind, number, who, answer, form.get("close") == "yes")
        try:
            result = await request_desk.perform(site.database, action, now=site.clock(), actor=staff.username)
        except RequestError as error:
            thread = await thread_of(number)
            return render(
                request, "request.html", status=409, thread=thread, done=None, error=str(error), answer=answer
            )
        done = DONE_BY_ACTION[kind]
        if kind == request_desk.ANSWER and not result.notified:
            done = "answered_webchat" if result.unsent_because == request_desk.WEB_CHAT else "answered_unsent"
        log.info("dashboard: %s did %s on data request #%d", staff.username, kind, number)
        raise web.HTTPSeeOther(f"{PREFIX}/requests/{number}?done={done}")

    async def close_message(request: web.Request) -> web.StreamResponse:
        """Mark a message (a comment, a reply to a notice) as dealt with."""
        message_id = int(request.match_info["id"])
        staff: StaffSession = request[STAFF_KEY]
        closed = await request_desk.close_message(
            site.database, message_id, actor=staff.username, now=site.clock(), only_new=True
        )
        if not closed:
            raise web.HTTPNotFound(text=f"There is no new message m{message_id}.")
        raise web.HTTPSeeOther(f"{PREFIX}/requests?message=closed#messages-h")

    app.router.add_get(f"{PREFIX}/requests", guard(listing))
    app.router.add_post(f"{PREFIX}/messages/{{id:[0-9]{{1,9}}}}/close", guard(close_message, edit=True))
    app.router.add_get(f"{PREFIX}/requests/{{number:[0-9]{{1,9}}}}", guard(ticket))
    app.router.add_post(f"{PREFIX}/requests/{{number:[0-9]{{1,9}}}}", guard(act, edit=True))


def _number(request: web.Request) -> int:
    try:
        return int(request.match_info["number"])
    except ValueError:
        raise web.HTTPNotFound() from None
