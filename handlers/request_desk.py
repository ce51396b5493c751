"""What staff do with a data request, from the CLI (``baraza requests ...``) or the chat (``/reply``).

Each action changes the ticket and, when the person should know, queues a message to them in the
same transaction (:func:`handlers.notify.notify`), in their language: "in progress", the answer
("Answer to your request #N: ..."), or "closed" for a ticket closed without an answer. The message
leaves once the transaction commits, sent by ``baraza run``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from handlers.messages import Outbound
from handlers.notify import can_reach, notify
from handlers.texts import Texts
from storage import audit
from storage.database import Database
from storage.feedback import CLOSED as MESSAGE_CLOSED
from storage.feedback import NEW, set_feedback_status
from storage.repositories import Repositories
from storage.requests import ANSWERED, CLOSED, DataRequest, RequestError

#: Outbox kinds of the messages about data requests.
IN_PROGRESS_NOTICE, ANSWER_NOTICE, CLOSED_NOTICE = "request_in_progress", "request_answer", "request_closed"
NOTICE_KINDS = (IN_PROGRESS_NOTICE, ANSWER_NOTICE, CLOSED_NOTICE)
#: The longest answer that fits one chat message with its framing (Telegram holds 4096 characters).
MAX_ANSWER = 3800


def request_ref(number: int) -> str:
    """The ``ref`` of outbox messages about ticket ``number``."""
    return f"request:{number}"


#: Why the person was not sent a message about their ticket (:attr:`DeskResult.unsent_because`).
DELETED = "deleted"  # they deleted their data
WEB_CHAT = "web chat"  # they wrote through the web chat, which cannot receive a message first


@dataclass(frozen=True)
class DeskResult:
    """The ticket after the action, and whether the person was sent a message about it."""

    request: DataRequest
    notified: bool
    #: When a message was due but not sent: :data:`DELETED` or :data:`WEB_CHAT` (None otherwise).
    unsent_because: str | None = None


async def answer(
    repos: Repositories, number: int, text: str, *, staff: str, now: datetime, close: bool = False
) -> DeskResult:
    """Answer the ticket (status ``answered``, or ``closed`` with ``close``) and send the answer to the person.

    Raises :class:`storage.requests.RequestError` if there is no such ticket, it is closed, or the
    text is empty or longer than :data:`MAX_ANSWER` (the person would only see its beginning).
    """
    if len(text) > MAX_ANSWER:
        raise RequestError(
            f"the answer has {len(text)} characters; a chat message holds at most {MAX_ANSWER}: shorten it or give a link"
        )
    request = await repos.requests.answer(number, text, staff, now)
    notified = await _tell(repos, request, now, ANSWER_NOTICE, "request_answer_notice", answer=text)
    unsent = None if notified else await _why_unsent(repos, request)
    if close:
        request = await repos.requests.close(number, now)
    return DeskResult(request, notified, unsent)


async def _why_unsent(repos: Repositories, request: DataRequest) -> str | None:
    """Why a message to the person of ``request`` could not be queued."""
    contact = await repos.contacts.get(request.contact_id) if request.contact_id is not None else None
    if contact is None:
        return DELETED
    if not await can_reach(repos, contact):
        return WEB_CHAT
    return None


async def mark_in_progress(repos: Repositories, number: int, *, now: datetime, staff: str | None = None) -> DeskResult:
    """Mark the ticket in progress (assigned to ``staff`` when given) and tell the person."""
    request = await repos.requests.mark_in_progress(number, now, staff=staff)
    notified = await _tell(repos, request, now, IN_PROGRESS_NOTICE, "request_in_progress_notice")
    return DeskResult(request, notified)


async def close(repos: Repositories, number: int, *, now: datetime) -> DeskResult:
    """Close the ticket; the person is told only if it was never answered (the answer said it all)."""
    before = await repos.requests.require(number)
    request = await repos.requests.close(number, now)
    notified = False
    if before.status != ANSWERED and before.answered_at is None:
        notified = await _tell(repos, request, now, CLOSED_NOTICE, "request_closed_notice")
    return DeskResult(request, notified)


async def assign(repos: Repositories, number: int, staff: str, *, now: datetime) -> DeskResult:
    """Give the ticket to a member of staff (the person is not told)."""
    return DeskResult(await repos.requests.assign(number, staff, now), False)


async def _tell(repos: Repositories, request: DataRequest, now: datetime, kind: str, key: str, **params: str) -> bool:
    if request.contact_id is None or (request.status == CLOSED and kind != CLOSED_NOTICE):
        return False
    contact = await repos.contacts.get(request.contact_id)
    if contact is None:
        return False
    texts = Texts(contact.language or request.language)
    message = Outbound(text=texts(key, number=str(request.id), **params))
    return await notify(repos, contact, kind, message, now, ref=request_ref(request.id))


#: The staff actions on a ticket, as :class:`DeskAction` names them.
ANSWER, PROGRESS, CLOSE, ASSIGN = "answer", "progress", "close", "assign"
ACTIONS = (ANSWER, PROGRESS, CLOSE, ASSIGN)


@dataclass(frozen=True)
class DeskAction:
    """One staff action on ticket ``number``, as the CLI or the dashboard read it from staff.

    ``staff`` answers (:data:`ANSWER`, required), takes the ticket (:data:`PROGRESS`, optional)
    or receives it (:data:`ASSIGN`, required); ``text`` and ``close`` go with :data:`ANSWER`.
    """

    action: str
    number: int
    staff: str | None = None
    text: str = ""
    close: bool = False


#: The audit trail's name of each action.
AUDITED = {
    ANSWER: audit.REQUEST_ANSWERED,
    PROGRESS: audit.REQUEST_IN_PROGRESS,
    CLOSE: audit.REQUEST_CLOSED,
    ASSIGN: audit.REQUEST_ASSIGNED,
}


async def perform(database: Database, action: DeskAction, *, now: datetime, actor: str) -> DeskResult:
    """Do ``action`` in one transaction: the ticket changes, the message to the person is
    queued and the audit trail records it under ``actor``, together, or none of them. Raises :class:`storage.requests.RequestError` when the ticket
    refuses it (no such ticket, already closed, empty or too long answer, no one to assign to)
    and :class:`ValueError` for an action not in :data:`ACTIONS`."""
    if action.action not in ACTIONS:
        raise ValueError(f"unknown action {action.action!r}")
    if action.action in (ANSWER, ASSIGN) and not action.staff:
        raise RequestError(f"{action.action} needs a member of staff")
    async with database.transaction() as connection:
        repos = Repositories(connection)
        if action.action == ANSWER:
            result = await answer(
                repos, action.number, action.text, staff=str(action.staff), now=now, close=action.close
            )
        elif action.action == PROGRESS:
            result = await mark_in_progress(repos, action.number, now=now, staff=action.staff)
        elif action.action == ASSIGN:
            result = await assign(repos, action.number, str(action.staff), now=now)
        else:
            result = await close(repos, action.number, now=now)
        details: dict[str, object] = {"status": result.request.status, "person_told": result.notified}
        if action.action in (ASSIGN, PROGRESS) and action.staff:
            details["assigned_to"] = action.staff
        if action.action == ANSWER:
            details["answer_characters"] = len(action.text)
        await audit.record(
            connection,
            actor=actor,
            action=AUDITED[action.action],
            now=now,
            target=f"request:{action.number}",
            details=details,
        )
        return result


async def close_message(
    database: Database, message_id: int, *, actor: str, now: datetime, only_new: bool = False
) -> bool:
    """Mark message ``m<message_id>`` dealt with (closed); with ``only_new``, only if it is still new.
    False: there is no such message (or it was not new). The audit trail records it under ``actor``."""
    async with database.transaction() as connection:
        closed = await set_feedback_status(connection, message_id, MESSAGE_CLOSED, only_if=NEW if only_new else None)
        if closed:
            await audit.record(
                connection, actor=actor, action=audit.MESSAGE_CLOSED, now=now, target=f"message:{message_id}"
            )
        return closed
