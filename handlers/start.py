"""Opening a survey: ``/survey``, survey buttons and deep links; and ``/help``."""

from __future__ import annotations

from handlers import onboarding, payloads, survey
from handlers.context import Context
from handlers.messages import Outbound


async def open_survey(ctx: Context, survey_id: str) -> list[Outbound]:
    """``/survey <id>``, deep links and survey buttons: start or resume that survey."""
    definition = ctx.surveys.get(survey_id.strip())
    if definition is None:
        return [Outbound(text=ctx.texts("unknown_survey", survey=survey_id.strip()[:40]))]
    refused = await onboarding.consent_gate(ctx, definition)
    if refused is not None:
        return refused
    return await survey.begin(ctx, definition)


async def on_press(ctx: Context, payload: str) -> list[Outbound]:
    """A survey button (``s:<survey id>``); any other payload of that prefix is stale."""
    survey_id = payloads.survey_of(payload)
    if survey_id is not None:
        return await open_survey(ctx, survey_id)
    return [Outbound(text=ctx.texts("stale_button"))]


async def survey_command(ctx: Context, argument: str) -> list[Outbound]:
    """``/survey``: the open surveys; ``/survey <id>`` opens one."""
    if not argument:
        return [await survey.survey_list(ctx)]
    return await open_survey(ctx, argument)


async def help_(ctx: Context, _argument: str) -> list[Outbound]:
    return [Outbound(text=ctx.texts("help"))]
