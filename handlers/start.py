"""Greeting, help and cancel: the commands that work wherever the user is."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from handlers import onboarding, payloads, privacy, profile, requests, survey
from handlers.context import Context
from handlers.messages import Button, Outbound
from storage.records import Conversation


async def start(ctx: Context, argument: str) -> list[Outbound]:
    """``/start``: greet and list open surveys; ``/start <survey id>`` (a deep link) opens one.

    It also turns messages back on after ``/stop`` (and says so), and with a register, a
    contact never asked for consent gets the privacy notice and onboarding first.
    """
    resumed = await privacy.messages_back_on(ctx)
    if argument:
        return resumed + await open_survey(ctx, argument)
    conversation = await ctx.repos.conversations.get(ctx.contact.id)
    if conversation is not None and conversation.flow in (survey.FLOW, *profile.FLOWS):
        return resumed + await resume(ctx)
    if onboarding.pending(ctx):
        return resumed + await onboarding.begin(ctx)
    return [*resumed, Outbound(text=ctx.texts("greeting")), survey_list(ctx)]


def survey_list(ctx: Context) -> Outbound:
    """The surveys open to this contact today, as buttons."""
    offered = [
        (survey_id, definition)
        for survey_id, definition in sorted(ctx.surveys.items())
        if survey.availability_problem(ctx, definition) is None
    ]
    if not offered:
        return Outbound(text=ctx.texts("no_surveys"))
    buttons = tuple(
        (Button(survey.survey_title(ctx, definition), payloads.start_survey(survey_id)),)
        for survey_id, definition in offered
    )
    return Outbound(text=ctx.texts("surveys_open"), buttons=buttons)


async def open_survey(ctx: Context, survey_id: str) -> list[Outbound]:
    """``/survey <id>`` and survey buttons: start or resume that survey."""
    definition = ctx.surveys.get(survey_id.strip())
    if definition is None:
        return [Outbound(text=ctx.texts("unknown_survey", survey=survey_id.strip()[:40]))]
    refused = await onboarding.consent_gate(ctx, definition)
    if refused is not None:
        return refused
    return await survey.begin(ctx, definition)


async def resume(ctx: Context) -> list[Outbound]:
    """Show the user where they are: their current question, or the greeting."""
    conversation = await ctx.repos.conversations.get(ctx.contact.id)
    if conversation is not None and conversation.flow in profile.FLOWS:
        return await profile.current_prompt(ctx, conversation)
    if conversation is None or conversation.flow != survey.FLOW:
        if onboarding.pending(ctx):
            return await onboarding.begin(ctx)
        return [Outbound(text=ctx.texts("greeting")), survey_list(ctx)]
    definition = ctx.surveys.get(conversation.survey_id or "")
    header = [Outbound(text=ctx.texts("in_survey", title=survey.survey_title(ctx, definition)))] if definition else []
    return header + await survey.current_prompt(ctx, conversation)


async def help_(ctx: Context, _argument: str) -> list[Outbound]:
    return [Outbound(text=ctx.texts("help"))]


async def cancel(ctx: Context, _argument: str) -> list[Outbound]:
    conversation = await ctx.repos.conversations.get(ctx.contact.id)
    if conversation is None:
        return [Outbound(text=ctx.texts("nothing_to_cancel"))]
    if conversation.flow in profile.FLOWS:
        return await profile.cancel(ctx, conversation)
    if conversation.flow == requests.FLOW:
        return await requests.cancel(ctx)
    return await survey.cancel(ctx, conversation)


FlowStep = Callable[[Context, Conversation], Awaitable[list[Outbound]]]


async def _in_conversation(ctx: Context, in_profile: FlowStep, in_survey: FlowStep) -> list[Outbound]:
    """Pass a navigation command to the question flow the user is in (onboarding/profile or survey)."""
    conversation = await ctx.repos.conversations.get(ctx.contact.id)
    if conversation is not None and conversation.flow in profile.FLOWS:
        return await in_profile(ctx, conversation)
    if conversation is None or conversation.flow != survey.FLOW:
        return [Outbound(text=ctx.texts("not_in_survey"))]
    return await in_survey(ctx, conversation)


async def back(ctx: Context, _argument: str) -> list[Outbound]:
    return await _in_conversation(ctx, profile.back, survey.back)


async def skip(ctx: Context, _argument: str) -> list[Outbound]:
    return await _in_conversation(ctx, profile.skip, survey.skip)


async def survey_command(ctx: Context, argument: str) -> list[Outbound]:
    if not argument:
        return [survey_list(ctx)]
    return await open_survey(ctx, argument)
