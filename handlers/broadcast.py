"""``/broadcast`` for the office's admins, and replies to notices kept for the office's team.

``/broadcast`` is only known to admins (``Community.is_admin``); anyone else gets the answer an
unknown command gets. The admin sends ``/broadcast``, then the text (or ``/broadcast <text>``);
the bot shows the notice as people will see it and how many it will reach (everyone who agreed
to receive news, or the followers of one topic chosen with a button), with *Send* and *Cancel*.
*Send* stores the broadcast and all its deliveries in the same transaction; the durable sender of
``baraza run`` sends them. Until then the text is a ``draft`` broadcast; a new text replaces it.

A free-text message that is not part of a conversation, from someone who received a broadcast
in the last :data:`REPLY_WINDOW`, is stored as feedback (``broadcast_reply``) and acknowledged,
instead of getting "I did not understand".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from handlers.broadcast_actions import whatsapp_silent_before
from handlers.context import Context
from handlers.flow_driver import new_conversation
from handlers.messages import Button, Outbound
from handlers.notices import Notice
from handlers.payloads import parse_number
from storage import audit
from storage.broadcasts import Audience, BroadcastRepository
from storage.feedback import BROADCAST_REPLY, FeedbackRepository
from storage.records import Conversation

FLOW = "broadcast"
COMMAND = "broadcast"
PAYLOAD_PREFIX = "b:"
PREVIEW = "preview"
ASKED = "text"
REPLY_WINDOW = timedelta(days=7)
TOPICS_PER_ROW = 2

CommandHandler = Callable[[Context, str], Awaitable[list[Outbound]]]


def is_admin(ctx: Context) -> bool:
    return ctx.community.is_admin(ctx.inbound.channel, ctx.inbound.user_key)


def admin_command(ctx: Context, name: str) -> CommandHandler | None:
    """An admin's handler of ``name``: ``/broadcast``, and ``/cancel`` (which also drops a notice
    being prepared); None otherwise, so that ``/broadcast`` stays an unknown command for others."""
    if not is_admin(ctx):
        return None
    return {COMMAND: broadcast_command}.get(name)


async def cancel(ctx: Context, conversation: Conversation) -> list[Outbound]:
    """``/cancel`` while preparing a notice (the flow ``broadcast``) drops the draft."""
    draft_id, _topic = _draft_of(conversation)
    if draft_id is not None:
        await BroadcastRepository(ctx.repos.connection).discard_draft(draft_id)
    await ctx.repos.conversations.end(ctx.contact.id)
    return [Outbound(text=ctx.texts("broadcast_cancelled"))]


def _payload(draft_id: int, op: str, index: int | None = None) -> str:
    return f"{PAYLOAD_PREFIX}{draft_id}:{op}" + ("" if index is None else f":{index}")


def _draft_of(conversation: Conversation | None) -> tuple[int | None, str | None]:
    """The draft broadcast id and the chosen topic kept in the conversation."""
    if conversation is None or conversation.flow != FLOW or not conversation.selection:
        return None, None
    draft = conversation.selection[0]
    topic = conversation.selection[1] if len(conversation.selection) > 1 else None
    return parse_number(draft), topic


async def _save(ctx: Context, step: str, draft_id: int | None = None, topic: str | None = None) -> None:
    selection = tuple(str(part) for part in (draft_id, topic) if part is not None)
    # The preview's buttons carry the draft id, not a prompt serial: no earlier conversation to follow.
    conversation = new_conversation(ctx, None, flow=FLOW, current_question=step, selection=selection)
    await ctx.repos.conversations.save(conversation, ctx.now)


async def broadcast_command(ctx: Context, argument: str) -> list[Outbound]:
    """``/broadcast``: ask for the text; ``/broadcast <text>``: preview it at once."""
    conversation = await ctx.repos.conversations.get(ctx.contact.id)
    if conversation is not None and conversation.flow != FLOW:
        return [Outbound(text=ctx.texts("broadcast_finish_first"))]
    if argument:
        return await _preview(ctx, conversation, argument)
    await _save(ctx, ASKED)
    return [Outbound(text=ctx.texts("broadcast_ask_text"))]


async def on_text(ctx: Context, conversation: Conversation, text: str) -> list[Outbound]:
    """The notice's text (or a new text replacing the draft's)."""
    if not is_admin(ctx):  # no longer an admin: forget the draft
        await ctx.repos.conversations.end(ctx.contact.id)
        return [Outbound(text=ctx.texts("not_understood"))]
    if not text:
        return [Outbound(text=ctx.texts("broadcast_ask_text"))]
    return await _preview(ctx, conversation, text)


async def _preview(ctx: Context, conversation: Conversation | None, text: str) -> list[Outbound]:
    repository = BroadcastRepository(ctx.repos.connection)
    notice = Notice(title=_title(text), texts={ctx.language: text}, default_language=ctx.language)
    draft_id, topic = _draft_of(conversation)
    if draft_id is None:
        created_by = f"{ctx.inbound.channel}:{ctx.inbound.user_key}"
        draft_id = await repository.create_draft(
            title=notice.title, notice=notice.to_json(), created_by=created_by, now=ctx.now
        )
    else:
        await repository.update_draft(draft_id, title=notice.title, notice=notice.to_json())
    await _save(ctx, PREVIEW, draft_id, topic)
    return [notice.outbound(ctx.language), await _audience(ctx, draft_id, topic)]


def _title(text: str) -> str:
    first = text.strip().split("\n", 1)[0]
    return first if len(first) <= 60 else first[:59] + "…"


async def _audience(ctx: Context, draft_id: int, topic: str | None, *, pressed: bool = False) -> Outbound:
    """How many people the notice reaches, with topic buttons, Send and Cancel."""
    repository = BroadcastRepository(ctx.repos.connection)
    count = str(await repository.audience_size(Audience(topics=(topic,) if topic else ())))
    sizes = await repository.topic_sizes(ctx.community.topics)
    if topic:
        text = ctx.texts("broadcast_audience_topic", count=count, topic=topic)
    else:
        text = ctx.texts("broadcast_audience_all", count=count)
    topic_buttons = [
        Button(f"{'✓ ' if name == topic else ''}{name} ({sizes.get(name, 0)})", _payload(draft_id, "t", index))
        for index, name in enumerate(ctx.community.topics)
    ]
    rows = [tuple(topic_buttons[i : i + TOPICS_PER_ROW]) for i in range(0, len(topic_buttons), TOPICS_PER_ROW)]
    if topic:
        rows.append((Button(ctx.texts("broadcast_everyone"), _payload(draft_id, "all")),))
    rows.append(
        (
            Button(ctx.texts("broadcast_send", count=count), _payload(draft_id, "send")),
            Button(ctx.texts("broadcast_cancel"), _payload(draft_id, "cancel")),
        )
    )
    return Outbound(text=text, buttons=tuple(rows), replaces_pressed=pressed)


async def on_press(ctx: Context, payload: str) -> list[Outbound]:
    """A press on the preview: a topic, everyone, Send or Cancel."""
    stale = [Outbound(text=ctx.texts("stale_button"))]
    parts = payload[len(PAYLOAD_PREFIX) :].split(":")
    if not is_admin(ctx) or len(parts) not in (2, 3) or parse_number(parts[0]) is None:
        return stale
    conversation = await ctx.repos.conversations.get(ctx.contact.id)
    draft_id, topic = _draft_of(conversation)
    if draft_id != int(parts[0]):
        return stale
    op = parts[1]
    repository = BroadcastRepository(ctx.repos.connection)
    topic_index = parse_number(parts[2]) if op == "t" and len(parts) == 3 else None
    if topic_index is not None and topic_index < len(ctx.community.topics):
        topic = ctx.community.topics[topic_index]
        await _save(ctx, PREVIEW, draft_id, topic)
        return [await _audience(ctx, draft_id, topic, pressed=True)]
    if op == "all":
        await _save(ctx, PREVIEW, draft_id)
        return [await _audience(ctx, draft_id, None, pressed=True)]
    if op == "cancel":
        await repository.discard_draft(draft_id)
        await ctx.repos.conversations.end(ctx.contact.id)
        return [Outbound(text=ctx.texts("broadcast_cancelled"), replaces_pressed=True)]
    if op == "send":
        record = await repository.notice(draft_id)
        if record is None:
            return stale
        notice = Notice.from_json(record.notice)
        recipients = await repository.confirm_draft(
            draft_id,
            audience=Audience(topics=(topic,) if topic else ()),
            languages=notice.languages,
            default_language=notice.default_language,
            now=ctx.now,
            silent_before=whatsapp_silent_before(notice, ctx.now),
        )
        await ctx.repos.conversations.end(ctx.contact.id)
        if recipients is None:
            return stale
        await audit.record(
            ctx.repos.connection,
            actor=f"{ctx.inbound.channel}:{ctx.inbound.user_key}",  # an admin of config.yaml
            action=audit.BROADCAST_STORED,
            now=ctx.now,
            target=f"broadcast:{draft_id}",
            details={
                "title": notice.title,
                "recipients": recipients,
                "audience": f"topics={topic}" if topic else "everyone",
                "via": "chat",
            },
        )
        return [
            Outbound(
                text=ctx.texts("broadcast_created", count=str(recipients), id=str(draft_id)), replaces_pressed=True
            )
        ]
    return stale


async def reply_to_notice(ctx: Context, text: str) -> list[Outbound]:
    """Keep a free-text message from someone who recently received a notice; [] if they did not."""
    if not text:
        return []
    broadcast_id = await BroadcastRepository(ctx.repos.connection).latest_received(
        ctx.contact.id, ctx.now - REPLY_WINDOW
    )
    if broadcast_id is None:
        return []
    await FeedbackRepository(ctx.repos.connection).add(
        contact_id=ctx.contact.id,
        channel=ctx.inbound.channel,
        kind=BROADCAST_REPLY,
        text=text,
        now=ctx.now,
        broadcast_id=broadcast_id,
    )
    return [Outbound(text=ctx.texts("broadcast_reply_thanks"))]
