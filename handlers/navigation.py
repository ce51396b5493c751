"""The commands that work wherever the user is: ``/start``, ``/cancel``, ``/back``, ``/skip``.

Each asks the registry which flow the user is in and passes the message to it, so no flow
needs to know the others.
"""

from __future__ import annotations

from collections.abc import Callable

from handlers import onboarding, privacy, start, survey
from handlers.context import Context
from handlers.flow_registry import Flow, Registry, Step
from handlers.messages import Outbound


async def start_command(flows: Registry, ctx: Context, argument: str) -> list[Outbound]:
    """``/start``: show where the user is, or greet and list open surveys; ``/start <survey id>``
    (a deep link) opens one.

    It also turns messages back on after ``/stop`` (and says so), and with a register, a
    contact never asked for consent gets the privacy notice and onboarding first.
    """
    resumed = await privacy.messages_back_on(ctx)
    if argument:
        return resumed + await start.open_survey(ctx, argument)
    return resumed + await resume(flows, ctx)


async def resume(flows: Registry, ctx: Context) -> list[Outbound]:
    """Show the user where they are: their current question, or the greeting."""
    conversation = await ctx.repos.conversations.get(ctx.contact.id)
    flow = flows.flow_of(conversation)
    if conversation is not None and flow is not None and flow.resume is not None:
        return await flow.resume(ctx, conversation)
    if onboarding.pending(ctx):
        return await onboarding.begin(ctx)
    return [Outbound(text=ctx.texts("greeting")), await survey.survey_list(ctx)]


async def repeat_current(flows: Registry, ctx: Context) -> list[Outbound]:
    """For a redelivered update: show where the user is again, change nothing.

    The first delivery's replies may never have reached the user (the reason for most
    redeliveries), so the answer is the current question, or the greeting outside a flow.
    """
    conversation = await ctx.repos.conversations.get(ctx.contact.id)
    flow = flows.flow_of(conversation)
    if conversation is not None and flow is not None and flow.repeat is not None:
        return await flow.repeat(ctx, conversation)
    return [Outbound(text=ctx.texts("greeting")), await survey.survey_list(ctx)]


async def cancel(flows: Registry, ctx: Context, _argument: str) -> list[Outbound]:
    """``/cancel``: leave the flow the user is in."""
    conversation = await ctx.repos.conversations.get(ctx.contact.id)
    if conversation is None:
        return [Outbound(text=ctx.texts("nothing_to_cancel"))]
    flow = flows.flow_of(conversation)
    # A conversation of a flow no longer known ends as a survey does.
    return await (flow.cancel if flow is not None else survey.cancel)(ctx, conversation)


async def back(flows: Registry, ctx: Context, _argument: str) -> list[Outbound]:
    """``/back``: the previous question of the question flow the user is in."""
    return await _in_question_flow(flows, ctx, lambda flow: flow.back)


async def skip(flows: Registry, ctx: Context, _argument: str) -> list[Outbound]:
    """``/skip``: skip the current question of the question flow the user is in, if optional."""
    return await _in_question_flow(flows, ctx, lambda flow: flow.skip)


async def _in_question_flow(flows: Registry, ctx: Context, step_of: Callable[[Flow], Step | None]) -> list[Outbound]:
    """Pass a navigation command to the flow the user is in, where it means something."""
    conversation = await ctx.repos.conversations.get(ctx.contact.id)
    flow = flows.flow_of(conversation)
    step = step_of(flow) if flow is not None else None
    if conversation is None or step is None:
        return [Outbound(text=ctx.texts("not_in_survey"))]
    return await step(ctx, conversation)
