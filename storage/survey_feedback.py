""" "You said, we did": respondents who asked to hear what the office does with a survey's results.

At the end of a survey that offers it (``offer_feedback: true``) the respondent is asked, with
two buttons, whether they want to hear what the office does with the results; the answer is one
``results_optins`` row per survey and contact (the latest answer counts). When staff write the
summary, it becomes a broadcast (:mod:`storage.broadcasts`) whose delivery rows are exactly the
opted-in respondents who can still receive a message, stored in one transaction before anything
is sent; the durable sender of ``baraza run`` sends it once to each (``sending`` committed before
a message leaves). The broadcast's audience names the survey (``Audience.feedback_for``), so
that the sender checks again, when each row leaves, that the opt-in still stands and the person
has not opted out, blocked the bot or deleted their data.

The opt-in stands in for the register's consent: someone who answered a survey without joining
the register asked for this one message. It is deleted with the contact (``/delete_my_data``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, and_, case, delete, func, insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from common.clock import as_utc
from storage.broadcasts import (
    DRAFT,
    OPTED_OUT,
    PUSH_CHANNELS,
    WEB_CHAT_ONLY,
    WEB_NO_PUSH,
    Audience,
    broadcasts,
    insert_broadcast,
    insert_deliveries,
    opted_in_to_feedback,
    pending_rows,
)
from storage.deliveries import BLOCKED
from storage.models import ContactRow, ResultsOptInRow
from storage.repository_base import Repository
from storage.webpush import WEB_CHANNEL, has_push

results_optins = cast(Table, ResultsOptInRow.__table__)
contacts = cast(Table, ContactRow.__table__)

#: Why an opted-in respondent cannot get the notice (in this order when several apply).
FEEDBACK_LEFT_OUT = (OPTED_OUT, BLOCKED, WEB_NO_PUSH, WEB_CHAT_ONLY)


@dataclass(frozen=True)
class FeedbackReach:
    """Who a "you said, we did" notice of a survey reaches: the respondents who asked for it,
    how many of them can receive it, and why the others cannot."""

    survey_id: str
    opted_in: int
    declined: int
    reached: int
    left_out: dict[str, int]


def can_receive_feedback() -> ColumnElement[bool]:
    """The contact can get a message started by the office: not opted out, not blocked, on a
    channel that can push (the web chat only with a browser that accepted notifications)."""
    return and_(
        contacts.c.opted_out_at.is_(None),
        contacts.c.blocked_at.is_(None),
        contacts.c.channel.in_(list(PUSH_CHANNELS)),
        or_(contacts.c.channel != WEB_CHANNEL, has_push()),
    )


class ResultsOptInRepository(Repository):
    """``results_optins`` rows. Runs in the caller's transaction, like every repository."""

    async def record(
        self, *, survey_id: str, contact_id: int, response_id: str | None, wants: bool, now: datetime
    ) -> None:
        """Store the contact's answer for ``survey_id`` (replacing an earlier one)."""
        await self.connection.execute(
            delete(results_optins).where(
                results_optins.c.survey_id == survey_id, results_optins.c.contact_id == contact_id
            )
        )
        await self.connection.execute(
            insert(results_optins).values(
                survey_id=survey_id,
                contact_id=contact_id,
                response_id=response_id,
                wants=1 if wants else 0,
                answered_at=now.astimezone(UTC),
            )
        )

    async def wants(self, survey_id: str, contact_id: int) -> bool | None:
        """The contact's answer for ``survey_id``: True, False, or None when they gave none."""
        value = await self.connection.scalar(
            select(results_optins.c.wants).where(
                results_optins.c.survey_id == survey_id, results_optins.c.contact_id == contact_id
            )
        )
        return None if value is None else bool(value)


async def feedback_reach(connection: AsyncConnection, survey_id: str) -> FeedbackReach:
    """How many respondents of ``survey_id`` asked for the notice, how many it reaches now and why not the others."""
    answered = await connection.execute(
        select(results_optins.c.wants, func.count())
        .where(results_optins.c.survey_id == survey_id)
        .group_by(results_optins.c.wants)
    )
    by_answer = {int(wants): int(count) for wants, count in answered}
    reason = case(
        (contacts.c.opted_out_at.is_not(None), literal(OPTED_OUT)),
        (contacts.c.blocked_at.is_not(None), literal(BLOCKED)),
        (and_(contacts.c.channel == WEB_CHANNEL, ~has_push()), literal(WEB_NO_PUSH)),
        (contacts.c.channel.not_in(list(PUSH_CHANNELS)), literal(WEB_CHAT_ONLY)),
        else_=literal(""),
    ).label("reason")
    rows = await connection.execute(
        select(reason, func.count()).select_from(contacts).where(opted_in_to_feedback(survey_id)).group_by(reason)
    )
    found = {str(why): int(count) for why, count in rows}
    return FeedbackReach(
        survey_id=survey_id,
        opted_in=by_answer.get(1, 0),
        declined=by_answer.get(0, 0),
        reached=found.get("", 0),
        left_out={why: found[why] for why in FEEDBACK_LEFT_OUT if found.get(why)},
    )


async def store_feedback_broadcast(
    connection: AsyncConnection,
    *,
    survey_id: str,
    title: str,
    notice: str,
    languages: Sequence[str],
    default_language: str,
    created_by: str,
    now: datetime,
    send_at: datetime | None = None,
) -> tuple[int, int]:
    """Store the notice as a broadcast with one pending delivery per opted-in respondent of
    ``survey_id`` who can receive it (one INSERT ... SELECT); returns (broadcast id, recipients)."""
    broadcast_id = await insert_broadcast(
        connection,
        title=title,
        notice=notice,
        audience=Audience(feedback_for=survey_id),
        created_by=created_by,
        now=now,
        send_at=send_at or now,
    )
    chosen = pending_rows(broadcast_id, languages, default_language).where(
        opted_in_to_feedback(survey_id), can_receive_feedback()
    )
    return broadcast_id, await insert_deliveries(connection, broadcast_id, chosen)


@dataclass(frozen=True)
class SentFeedback:
    """A "you said, we did" broadcast already stored for a survey."""

    broadcast_id: int
    title: str
    created_at: datetime
    recipients: int
    status: str


async def feedback_sent(connection: AsyncConnection, survey_id: str) -> list[SentFeedback]:
    """The summaries already stored for ``survey_id``, oldest first (a second one reaches the same people again)."""
    rows = await connection.execute(
        select(
            broadcasts.c.id,
            broadcasts.c.title,
            broadcasts.c.created_at,
            broadcasts.c.recipients,
            broadcasts.c.status,
            broadcasts.c.audience,
        )
        .where(broadcasts.c.status != DRAFT, broadcasts.c.audience.like('%"feedback_for"%'))
        .order_by(broadcasts.c.id)
    )
    return [
        SentFeedback(int(row.id), row.title, as_utc(row.created_at), int(row.recipients), row.status)
        for row in rows
        if Audience.from_json(row.audience).feedback_for == survey_id
    ]
