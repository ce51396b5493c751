"""The router: which handler answers an inbound message.

Commands first (they work anywhere), then button presses, then the conversation the user is
in, then free text. What answers each is registered in :mod:`handlers.flows`.
"""

from __future__ import annotations

from collections.abc import Mapping

from handlers import navigation, payloads, web_unread
from handlers.context import Context
from handlers.flows import REGISTRY
from handlers.messages import RESUME_PAYLOAD, Outbound
from handlers.texts import Texts

#: Shown in the Telegram command menu.
COMMAND_DESCRIPTIONS: Mapping[str, str] = {
    "start": "See the open surveys",
    "survey": "Start a survey: /survey ID",
    "back": "Go back to the previous question",
    "skip": "Skip an optional question",
    "cancel": "Stop the current survey",
    "language": "Choose your language",
    "profile": "See or change your profile",
    "subscribe": "Choose the topics you follow",
    "unsubscribe": "Stop following topics",
    "stop": "Stop all our news and invitations",
    "delete_my_data": "Delete everything we keep about you",
    "request": "Ask our statistics team for data",
    "my_requests": "Your data requests and their answers",
    "help": "What this bot can do",
    "data": "Look up a figure: /data WORDS",
    "define": "What a statistical term means: /define TERM",
    "calendar": "Upcoming releases; follow the ones you want",
    "results": "Results of the surveys you answered",
}


def command_menu(language: str) -> list[tuple[str, str]]:
    """The command menu in ``language``: each command with its description from the language's
    catalogue (``command_<name>``; English where a translation is missing), in menu order."""
    texts = Texts(language)
    return [(name, texts(f"command_{name}")) for name in COMMAND_DESCRIPTIONS]


def split_command(text: str) -> tuple[str, str] | None:
    """``("start", "usat2026")`` for ``/start@MyBot usat2026``; None if not a command."""
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, argument = text[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    return name, argument.strip()


async def route(ctx: Context) -> list[Outbound]:
    """The replies to ``ctx.inbound``."""
    inbound = ctx.inbound
    if inbound.payload is not None:
        return await _route_payload(ctx, inbound.payload)
    text = (inbound.text or "").strip()
    command = split_command(text)
    if command is not None:
        name, argument = command
        handler = REGISTRY.command(ctx, name)
        if handler is None:
            return [Outbound(text=ctx.texts("unknown_command", command=f"/{name[:32]}"))]
        return await handler(ctx, argument)
    conversation = await ctx.repos.conversations.get(ctx.contact.id)
    flow = REGISTRY.flow_of(conversation)
    if conversation is not None and flow is not None:
        if inbound.upload is not None or inbound.location is not None:
            if flow.on_media is not None:
                return await flow.on_media(ctx, conversation)
            # A file or a place where a typed answer is awaited: say so; the flow stays where it is.
            where = await flow.repeat(ctx, conversation) if flow.repeat is not None else []
            return [Outbound(text=ctx.texts("problem_expects_text")), *where]
        return await flow.on_text(ctx, conversation, text)
    if not text:  # a sticker, photo, voice note... or blank text: nothing to look up or store
        return [Outbound(text=ctx.texts("not_text"))]
    for free_text in REGISTRY.free_text:
        replies = await free_text(ctx, text)
        if replies:
            return replies
    return []


async def _route_payload(ctx: Context, payload: str) -> list[Outbound]:
    if payload == RESUME_PAYLOAD:
        return [*await web_unread.missed_notices(ctx), *await navigation.resume(REGISTRY, ctx)]
    buttons = REGISTRY.buttons_for(payload)
    if buttons is not None:
        return await buttons.on_press(ctx, payload)
    press = payloads.parse(payload)
    if press is not None:
        conversation = await ctx.repos.conversations.get(ctx.contact.id)
        flow = REGISTRY.flow_of(conversation)
        if conversation is not None and flow is not None and flow.on_prompt_press is not None:
            return await flow.on_prompt_press(ctx, conversation, press)
    return [Outbound(text=ctx.texts("stale_button"))]


async def repeat_current(ctx: Context) -> list[Outbound]:
    """For a redelivered update: show where the user is again, change nothing."""
    return await navigation.repeat_current(REGISTRY, ctx)
