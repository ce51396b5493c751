"""``/language``: the user picks the language the bot speaks to them.

``/language`` shows one button per supported language (payload ``l:<code>``); pressing one, or
sending ``/language fr``, stores the choice on the contact and confirms it in the new language.
A user in the middle of a survey then sees the current question again, in the new language when
the survey has it. The first language comes from the platform's hint (Telegram's
``language_code``) when the bot speaks it; see :func:`handlers.texts.supported_language`.
"""

from __future__ import annotations

from dataclasses import replace

from handlers import flow_driver, survey
from handlers.context import Context
from handlers.messages import Button, Outbound
from handlers.texts import LANGUAGE_NAMES, SUPPORTED_LANGUAGES, Texts, supported_language

PAYLOAD_PREFIX = "l:"
PER_ROW = 2


def payload(language: str) -> str:
    return f"{PAYLOAD_PREFIX}{language}"


def requested_language(text: str) -> str | None:
    """The supported language a user names: a code (``fr``, ``pt-BR``) or its own name (``Français``)."""
    wanted = text.strip()
    code = supported_language(wanted)
    if code is not None:
        return code
    folded = wanted.casefold()
    return next((code for code, name in LANGUAGE_NAMES.items() if name.casefold() == folded), None)


def picker(ctx: Context) -> Outbound:
    """The supported languages as buttons, each in its own name; the current one ticked."""
    buttons = [
        Button(f"{LANGUAGE_NAMES[code]} ✓" if code == ctx.language else LANGUAGE_NAMES[code], payload(code))
        for code in SUPPORTED_LANGUAGES
    ]
    rows = tuple(tuple(buttons[i : i + PER_ROW]) for i in range(0, len(buttons), PER_ROW))
    return Outbound(text=ctx.texts("choose_language"), buttons=rows)


async def language_command(ctx: Context, argument: str) -> list[Outbound]:
    """``/language`` shows the picker; ``/language fr`` switches directly (an unknown code: the picker)."""
    code = requested_language(argument) if argument else None
    if code is None:
        return [picker(ctx)]
    return await switch(ctx, code, pressed=False)


async def on_press(ctx: Context, value: str) -> list[Outbound]:
    """A press on a picker button (``l:<code>``)."""
    code = value[len(PAYLOAD_PREFIX) :]
    if code not in SUPPORTED_LANGUAGES:
        return [picker(ctx)]
    return await switch(ctx, code, pressed=True)


async def switch(ctx: Context, code: str, *, pressed: bool) -> list[Outbound]:
    """Store ``code`` as the contact's language; confirm, and re-ask the current survey question."""
    await ctx.repos.contacts.set_language(ctx.contact.id, code)
    switched = replace(ctx, texts=Texts(code), contact=replace(ctx.contact, language=code))
    # A press replaces the picker, so its buttons do not stay around.
    replies = [Outbound(text=switched.texts("language_set", language=LANGUAGE_NAMES[code]), replaces_pressed=pressed)]
    conversation = await ctx.repos.conversations.get(ctx.contact.id)
    if conversation is not None and conversation.flow == survey.FLOW:
        replies += await flow_driver.current_prompt(survey.STORE, switched, conversation)
    return replies
