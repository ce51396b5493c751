"""Data requests in the chat: ``/request``, the offer after a lookup that found nothing,
``/my_requests``, and the admins' ``/requests`` and ``/reply``.

* ``/request <text>`` stores a ticket at once; ``/request`` alone asks for the text (the flow
  ``request`` in the conversations table; ``/cancel`` leaves it) and stores the next message.
  The reply gives the ticket number.
* :func:`offer_request` is called when a free-text question or ``/data`` found nothing: the text
  is kept in the team's inbox (feedback ``message``) and the person is offered two buttons,
  "Send as a data request" (``r:s:<message id>``) and "No, thanks" (``r:n:<message id>``).
  Sending turns that stored message into a ticket (source ``unmatched``): the text survives a
  restart between the question and the press, and a second press creates nothing more. A press on
  someone else's message, or a forged one, changes nothing.
* The ticket keeps the person's user group from the register only if they consented.
* ``/my_requests`` lists the person's tickets with their status and the latest answer;
  ``/my_requests N`` shows one ticket's whole conversation.
* ``/requests`` (admins of ``config.yaml``) lists the open tickets, newest first;
  ``/reply N TEXT`` answers one (see :mod:`handlers.request_desk`). For anyone else they are
  unknown commands, like ``/broadcast``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from handlers.context import Context
from handlers.flow_driver import new_conversation
from handlers.messages import Button, Outbound
from handlers.notify import can_reach
from handlers.payloads import parse_number
from handlers.request_desk import MAX_ANSWER, answer
from storage import audit
from storage.feedback import CONVERTED, MESSAGE, FeedbackRepository, get_feedback, set_feedback_status
from storage.records import Conversation
from storage.requests import ACTIVE, CLOSED, REQUEST, UNMATCHED, DataRequest, RequestError, RequestThread

FLOW = "request"
DESCRIBE = "describe"
PAYLOAD_PREFIX = "r:"
SEND, DECLINE = "s", "n"
MY_REQUESTS_SHOWN = 10
ADMIN_LIST_SHOWN = 20
PREVIEW_CHARACTERS = 200
MIN_WORDS, MIN_CHARACTERS = 2, 10

CommandHandler = Callable[[Context, str], Awaitable[list[Outbound]]]


def _shortened(text: str, limit: int = PREVIEW_CHARACTERS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _status(ctx: Context, status: str) -> str:
    return ctx.texts(f"request_status_{status}")


# --------------------------------------------------------------------------- creating tickets


async def _create(ctx: Context, text: str, source: str) -> DataRequest:
    contact = ctx.contact
    return await ctx.repos.requests.create(
        contact_id=contact.id,
        channel=ctx.inbound.channel,
        language=ctx.language,
        user_group=contact.user_group if contact.has_consented else None,
        source=source,
        text=text,
        now=ctx.now,
    )


async def _created(ctx: Context, request: DataRequest, *, pressed: bool = False) -> list[Outbound]:
    key = "request_created" if await can_reach(ctx.repos, ctx.contact) else "request_created_no_push"
    return [Outbound(text=ctx.texts(key, number=str(request.id)), replaces_pressed=pressed)]


async def request_command(ctx: Context, argument: str) -> list[Outbound]:
    """``/request <text>``: a ticket now; ``/request``: ask for the text first."""
    conversation = await ctx.repos.conversations.get(ctx.contact.id)
    if argument:
        if conversation is not None and conversation.flow == FLOW:  # the text came with the command
            await ctx.repos.conversations.end(ctx.contact.id)
        return await _created(ctx, await _create(ctx, argument, REQUEST))
    if conversation is not None and conversation.flow != FLOW:
        return [Outbound(text=ctx.texts("request_finish_first"))]
    await ctx.repos.conversations.save(
        new_conversation(ctx, conversation, flow=FLOW, current_question=DESCRIBE), ctx.now
    )
    return current_prompt(ctx)


def current_prompt(ctx: Context) -> list[Outbound]:
    """What the ``request`` flow is waiting for."""
    return [Outbound(text=ctx.texts("request_ask"))]


async def waiting(ctx: Context, _conversation: Conversation) -> list[Outbound]:
    """For a redelivered update in the ``request`` flow: what it is waiting for."""
    return current_prompt(ctx)


async def on_text(ctx: Context, conversation: Conversation, text: str) -> list[Outbound]:
    """The description of the need, in the ``request`` flow: store the ticket and leave the flow."""
    if not text.strip():
        return current_prompt(ctx)
    request = await _create(ctx, text, REQUEST)
    await ctx.repos.conversations.end(conversation.contact_id)
    return await _created(ctx, request)


async def cancel(ctx: Context, _conversation: Conversation) -> list[Outbound]:
    """``/cancel`` in the ``request`` flow: nothing is stored."""
    await ctx.repos.conversations.end(ctx.contact.id)
    return [Outbound(text=ctx.texts("request_cancelled"))]


def describes_a_need(text: str) -> bool:
    """Whether free text is long enough to be a question for the team ("hello", "thanks" are not)."""
    text = text.strip()
    return len(text.split()) >= MIN_WORDS and len(text) >= MIN_CHARACTERS


async def on_free_text(ctx: Context, text: str) -> list[Outbound]:
    """Free text outside any conversation that nothing else took: offer it as a data request if it
    reads like a question, else say it was not understood."""
    if describes_a_need(text):
        return await offer_request(ctx, text)
    return [Outbound(text=ctx.texts("not_understood"))]


async def offer_request(ctx: Context, text: str) -> list[Outbound]:
    """Nothing matched ``text``: keep it in the team's inbox and offer to send it as a data request.

    Returns "nothing found" with the buttons "Send as a data request" and "No, thanks". The text
    is stored now (a feedback ``message``), so the press works whenever it comes.
    """
    text = text.strip()
    if not text:
        return [Outbound(text=ctx.texts("not_understood"))]
    message_id = await FeedbackRepository(ctx.repos.connection).add(
        contact_id=ctx.contact.id, channel=ctx.inbound.channel, kind=MESSAGE, text=text, now=ctx.now
    )
    buttons = (
        (Button(ctx.texts("button_request_send"), f"{PAYLOAD_PREFIX}{SEND}:{message_id}"),),
        (Button(ctx.texts("button_request_no"), f"{PAYLOAD_PREFIX}{DECLINE}:{message_id}"),),
    )
    return [Outbound(text=ctx.texts("request_offer"), buttons=buttons)]


async def on_press(ctx: Context, payload: str) -> list[Outbound]:
    """A press on the offer: send the message as a data request, or not."""
    stale = [Outbound(text=ctx.texts("stale_button"))]
    parts = payload[len(PAYLOAD_PREFIX) :].split(":")
    message_id = parse_number(parts[1]) if len(parts) == 2 else None
    if message_id is None or parts[0] not in (SEND, DECLINE):
        return stale
    message = await get_feedback(ctx.repos.connection, message_id)
    if message is None or message.sender.contact_id != ctx.contact.id or message.kind != MESSAGE:
        return stale
    if parts[0] == DECLINE:
        return [Outbound(text=ctx.texts("request_offer_declined"), replaces_pressed=True)]
    if message.status == CONVERTED or not await set_feedback_status(
        ctx.repos.connection, message.id, CONVERTED, only_if=message.status
    ):
        return [Outbound(text=ctx.texts("request_already_sent"), replaces_pressed=True)]
    return await _created(ctx, await _create(ctx, message.text, UNMATCHED), pressed=True)


# --------------------------------------------------------------------------- /my_requests


async def my_requests(ctx: Context, argument: str) -> list[Outbound]:
    """``/my_requests``: the person's tickets, newest first; ``/my_requests N``: one ticket in full."""
    number = argument.lstrip("#").strip()
    if parse_number(number) is not None:
        return await _my_request(ctx, int(number))
    requests = await ctx.repos.requests.for_contact(ctx.contact.id, limit=MY_REQUESTS_SHOWN)
    if not requests:
        return [Outbound(text=ctx.texts("my_requests_none"))]
    lines = [ctx.texts("my_requests_header")]
    for request in requests:
        lines.append("")
        lines.append(_item(ctx, request))
        if request.answered_at is not None:
            thread = await ctx.repos.requests.thread(request.id)
            if thread.answers:
                lines.append(ctx.texts("my_requests_answer", answer=_shortened(thread.answers[-1].text)))
    return [Outbound(text="\n".join(lines))]


async def _my_request(ctx: Context, number: int) -> list[Outbound]:
    request = await ctx.repos.requests.get(number)
    if request is None or request.contact_id != ctx.contact.id:
        return [Outbound(text=ctx.texts("my_request_unknown", number=str(number)))]
    return [Outbound(text=_thread_text(ctx, await ctx.repos.requests.thread(number)))]


def _item(ctx: Context, request: DataRequest) -> str:
    return ctx.texts(
        "my_requests_item",
        number=str(request.id),
        status=_status(ctx, request.status),
        date=f"{request.created_at:%Y-%m-%d}",
        text=_shortened(request.text),
    )


def _thread_text(ctx: Context, thread: RequestThread) -> str:
    lines = [_item(ctx, thread.request)]
    for message in thread.messages[1:]:  # the first one is the request itself
        key = "request_thread_staff" if message.author == "staff" else "request_thread_user"
        lines.append("")
        lines.append(ctx.texts(key, date=f"{message.created_at:%Y-%m-%d}", text=message.text))
    return "\n".join(lines)


# --------------------------------------------------------------------------- admins


def _is_admin(ctx: Context) -> bool:
    return ctx.community.is_admin(ctx.inbound.channel, ctx.inbound.user_key)


def admin_command(ctx: Context, name: str) -> CommandHandler | None:
    """An admin's handler of ``/requests`` and ``/reply``; None for anyone else (an unknown command)."""
    if not _is_admin(ctx):
        return None
    return {"requests": requests_command, "reply": reply_command}.get(name)


async def requests_command(ctx: Context, _argument: str) -> list[Outbound]:
    """``/requests``: the open tickets (open and in progress), newest first, with their numbers."""
    requests = await ctx.repos.requests.find(statuses=ACTIVE, limit=ADMIN_LIST_SHOWN)
    if not requests:
        return [Outbound(text=ctx.texts("requests_admin_none"))]
    lines = [ctx.texts("requests_admin_header", count=str(len(requests)))]
    for request in requests:
        lines.append("")
        lines.append(
            ctx.texts(
                "requests_admin_item",
                number=str(request.id),
                status=_status(ctx, request.status),
                date=f"{request.created_at:%Y-%m-%d %H:%M}",
                group=request.user_group or "-",
                text=_shortened(request.text),
            )
        )
    return [Outbound(text="\n".join(lines))]


async def reply_command(ctx: Context, argument: str) -> list[Outbound]:
    """``/reply N TEXT``: answer ticket N; the person receives "Answer to your request #N: TEXT"."""
    head, _, text = argument.partition(" ")
    number = head.lstrip("#")
    if parse_number(number) is None or not text.strip():
        return [Outbound(text=ctx.texts("reply_usage"))]
    request = await ctx.repos.requests.get(int(number))
    if request is None:
        return [Outbound(text=ctx.texts("request_not_found", number=number))]
    if request.status == CLOSED:
        return [Outbound(text=ctx.texts("request_is_closed", number=number))]
    if len(text.strip()) > MAX_ANSWER:
        return [Outbound(text=ctx.texts("reply_too_long", length=str(len(text.strip())), limit=str(MAX_ANSWER)))]
    admin = f"{ctx.inbound.channel}:{ctx.inbound.user_key}"  # an admin of config.yaml, not a citizen
    try:
        result = await answer(ctx.repos, request.id, text.strip(), staff=admin, now=ctx.now)
    except RequestError:  # changed meanwhile (closed by someone else)
        return [Outbound(text=ctx.texts("request_is_closed", number=number))]
    await audit.record(
        ctx.repos.connection,
        actor=admin,
        action=audit.REQUEST_ANSWERED,
        now=ctx.now,
        target=f"request:{request.id}",
        details={"status": result.request.status, "person_told": result.notified, "via": "chat"},
    )
    key = "reply_sent" if result.notified else "reply_stored"
    return [Outbound(text=ctx.texts(key, number=number))]
