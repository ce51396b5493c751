"""The router: which handler answers an inbound message.

Commands first (they work anywhere), then button presses, then the conversation the user is
in, then free text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from handlers import broadcast, data, language, payloads, privacy, profile, requests, start, survey
from handlers import calendar as release_calendar
from handlers import concepts as glossary
from handlers.context import Context
from handlers.messages import RESUME_PAYLOAD, Outbound

CommandHandler = Callable[[Context, str], Awaitable[list[Outbound]]]

COMMANDS: Mapping[str, CommandHandler] = {
    "start": start.start,
    "survey": start.survey_command,
    "help": start.help_,
    "cancel": start.cancel,
    "back": start.back,
    "skip": start.skip,
    "language": language.language_command,
    "profile": profile.profile_command,
    "subscribe": profile.subscribe,
    "unsubscribe": profile.unsubscribe,
    "stop": privacy.stop,
    "delete_my_data": privacy.delete_command,
    "data": data.data_command,
    "define": glossary.define,
    "calendar": release_calendar.calendar_command,
    "request": requests.request_command,
    "my_requests": requests.my_requests,
}

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
}


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
        handler = broadcast.admin_command(ctx, name) or requests.admin_command(ctx, name) or COMMANDS.get(name)
        if handler is None:
            return [Outbound(text=ctx.texts("unknown_command", command=f"/{name[:32]}"))]
        return await handler(ctx, argument)
    conversation = await ctx.repos.conversations.get(ctx.contact.id)
    if conversation is not None and conversation.flow == survey.FLOW:
        return await survey.on_text(ctx, conversation, text)
    if conversation is not None and conversation.flow in profile.FLOWS:
        return await profile.on_text(ctx, conversation, text)
    if conversation is not None and conversation.flow == broadcast.FLOW:
        return await broadcast.on_text(ctx, conversation, text)
    if conversation is not None and conversation.flow == requests.FLOW:
        return await requests.on_text(ctx, conversation, text)
    return await broadcast.reply_to_notice(ctx, text) or await data.free_text(ctx, text)


async def _route_payload(ctx: Context, payload: str) -> list[Outbound]:
    if payload == RESUME_PAYLOAD:
        return await start.resume(ctx)
    parsed = payloads.parse(payload)
    if isinstance(parsed, payloads.StartSurvey):
        return await start.open_survey(ctx, parsed.survey_id)
    if language.is_language_payload(payload):
        return await language.on_press(ctx, payload)
    if profile.is_register_payload(payload):
        return await profile.on_press(ctx, payload)
    if privacy.is_privacy_payload(payload):
        return await privacy.on_press(ctx, payload)
    if broadcast.is_payload(payload):
        return await broadcast.on_press(ctx, payload)
    if data.is_payload(payload):
        return await data.on_press(ctx, payload)
    if glossary.is_payload(payload):
        return await glossary.on_press(ctx, payload)
    if release_calendar.is_payload(payload):
        return await release_calendar.on_press(ctx, payload)
    if requests.is_payload(payload):
        return await requests.on_press(ctx, payload)
    conversation = await ctx.repos.conversations.get(ctx.contact.id)
    if isinstance(parsed, payloads.PromptPress) and conversation is not None and conversation.flow == survey.FLOW:
        return await survey.on_press(ctx, conversation, parsed)
    if isinstance(parsed, payloads.PromptPress) and conversation is not None and conversation.flow in profile.FLOWS:
        return await profile.on_prompt_press(ctx, conversation, parsed)
    return [Outbound(text=ctx.texts("stale_button"))]


async def repeat_current(ctx: Context) -> list[Outbound]:
    """For a redelivered update: show where the user is again, change nothing.

    The first delivery's replies may never have reached the user (the reason for most
    redeliveries), so the answer is the current question, or the greeting outside a survey.
    """
    conversation = await ctx.repos.conversations.get(ctx.contact.id)
    if conversation is not None and conversation.flow == survey.FLOW:
        return await survey.current_prompt(ctx, conversation)
    if conversation is not None and conversation.flow in profile.FLOWS:
        return await profile.current_prompt(ctx, conversation)
    if conversation is not None and conversation.flow == requests.FLOW:
        return requests.current_prompt(ctx)
    return [Outbound(text=ctx.texts("greeting")), start.survey_list(ctx)]
