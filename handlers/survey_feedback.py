""" "You said, we did": offering it at the end of a survey, and the staff action that sends it.

A survey with ``offer_feedback: true`` ends with a question and two buttons: does the respondent
want to hear what the office does with the results? The answer is stored per survey and contact
(:mod:`storage.survey_feedback`), the latest one counting; ignoring the question is the same as no.

Staff write the summary (texts per language, the notice file format without ``audience``:
:func:`load_summary_file`, or the dashboard's form) and :func:`send_feedback` stores it, in the
caller's transaction, as a broadcast to exactly the opted-in respondents who can still receive a
message; the durable sender of ``baraza run`` sends it once to each. The dashboard
(:mod:`bot.admin.survey_feedback`) and ``baraza survey feedback`` (:mod:`bot.cli.survey_feedback`)
both call these functions.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from handlers import payloads
from handlers.broadcast_actions import record_stored
from handlers.context import Context
from handlers.messages import Button, Outbound
from handlers.notices import Notice, load_notice_file
from storage.broadcasts import Audience
from storage.survey_feedback import (
    FeedbackReach,
    ResultsOptInRepository,
    SentFeedback,
    feedback_reach,
    feedback_sent,
    store_feedback_broadcast,
)
from surveys.model import Survey

PAYLOAD_PREFIX = "yf:"
YES, NO = "y", "n"


def offer(ctx: Context, survey: Survey) -> Outbound:
    """The question at the end of ``survey``, with a Yes and a No button."""
    buttons = (
        (Button(ctx.texts("button_feedback_yes"), payloads.prefixed(PAYLOAD_PREFIX, f"{YES}:{survey.id}")),),
        (Button(ctx.texts("button_feedback_no"), payloads.prefixed(PAYLOAD_PREFIX, f"{NO}:{survey.id}")),),
    )
    return Outbound(text=ctx.texts("feedback_offer"), buttons=buttons)


async def on_press(ctx: Context, payload: str) -> list[Outbound]:
    """Yes or No: stored for a survey the contact completed; any other press changes nothing."""
    answer, _, survey_id = payload[len(PAYLOAD_PREFIX) :].partition(":")
    completed = await ctx.repos.participations.completed(ctx.contact.id, survey_id) if survey_id else 0
    if answer not in (YES, NO) or not completed:
        return [Outbound(text=ctx.texts("expired_button"), replaces_pressed=True)]
    definition = ctx.surveys.get(survey_id)
    response_id = None
    if definition is not None and not definition.anonymous:
        # The response it followed; an anonymous survey's responses are not linked to the person.
        latest = await ctx.repos.responses.latest_for(ctx.contact.id, survey_id)
        response_id = latest.id if latest is not None else None
    wants = answer == YES
    await ResultsOptInRepository(ctx.repos.connection).record(
        survey_id=survey_id, contact_id=ctx.contact.id, response_id=response_id, wants=wants, now=ctx.now
    )
    return [Outbound(text=ctx.texts("feedback_will_tell" if wants else "feedback_not_told"), replaces_pressed=True)]


def load_summary_file(path: Path, surveys: Collection[str]) -> Notice:
    """A summary file: the notice format (``title``, ``text`` per language, ``default_language``,
    optional ``buttons``) without ``audience``; raises :class:`~handlers.notices.NoticeFileError`."""
    return load_notice_file(path, surveys=surveys, audience_allowed=False)


def summary_notice(title: str, texts: Mapping[str, str], default_language: str) -> Notice:
    """The summary written in the dashboard's form, as a notice."""
    return Notice(title=title, texts=dict(texts), default_language=default_language)


async def preview_feedback(connection: AsyncConnection, survey_id: str) -> FeedbackReach:
    """Who the summary of ``survey_id`` would reach now (see :func:`storage.survey_feedback.feedback_reach`)."""
    return await feedback_reach(connection, survey_id)


async def sent_before(connection: AsyncConnection, survey_id: str) -> list[SentFeedback]:
    """The summaries already sent for ``survey_id``: another one reaches the same people again."""
    return await feedback_sent(connection, survey_id)


def sent_lines(sent: list[SentFeedback]) -> list[str]:
    """``broadcast 3 'What we did' of 2027-01-04: 120 recipient(s), done``, one per summary."""
    return [
        f"broadcast {item.broadcast_id} '{item.title}' of {item.created_at:%Y-%m-%d}: "
        f"{item.recipients:,} recipient(s), {item.status}"
        for item in sent
    ]


def reach_lines(reach: FeedbackReach) -> list[str]:
    """The reach as staff read it: who asked, who can get it, why not the others."""
    lines = [
        f"{reach.opted_in:,} respondent(s) asked to hear what is done with the results "
        f"({reach.declined:,} said no); {reach.reached:,} can receive it"
    ]
    if reach.left_out:
        lines.append("left out: " + ", ".join(f"{count:,} {why}" for why, count in reach.left_out.items()))
    return lines


async def send_feedback(
    connection: AsyncConnection,
    survey_id: str,
    notice: Notice,
    *,
    actor: str,
    now: datetime,
    send_at: datetime | None = None,
) -> tuple[int, int]:
    """Store ``notice`` as the "you said, we did" broadcast of ``survey_id``: one pending delivery
    per opted-in respondent who can receive it; audited. Returns (broadcast id, recipients)."""
    broadcast_id, recipients = await store_feedback_broadcast(
        connection,
        survey_id=survey_id,
        title=notice.title,
        notice=notice.to_json(),
        languages=notice.languages,
        default_language=notice.default_language,
        created_by=actor,
        now=now,
        send_at=send_at,
    )
    await record_stored(
        connection,
        broadcast_id,
        notice,
        recipients=recipients,
        audience=Audience(feedback_for=survey_id).describe(),
        actor=actor,
        now=now,
        send_at=send_at,
    )
    return broadcast_id, recipients
