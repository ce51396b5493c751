"""The one place where flows, buttons and commands register: the bot's :class:`Registry`.

The router consults :data:`REGISTRY`: commands first, then button presses (by payload
prefix), then the flow the user is in, then free text (a reply to a notice, else an indicator
lookup that keeps what it cannot answer as feedback).
"""

from __future__ import annotations

from dataclasses import replace

from handlers import (
    broadcast,
    calendar,
    concepts,
    data,
    language,
    navigation,
    onboarding,
    privacy,
    profile,
    requests,
    results,
    start,
    survey,
    survey_feedback,
)
from handlers.context import Context
from handlers.flow_driver import question_flow
from handlers.flow_registry import Buttons, Flow, Registry
from handlers.messages import Outbound
from handlers.payloads import START_SURVEY_PREFIX
from storage.records import Conversation

_ONBOARDING = question_flow(onboarding.FLOW, onboarding.STORE, cancel=onboarding.cancel)


async def _onboarding_text(ctx: Context, conversation: Conversation, text: str) -> list[Outbound]:
    """Before the privacy question is answered, a question about a figure is answered (a lookup
    keeps nothing personal), then the privacy question is asked again; anything else is an
    answer to it."""
    if onboarding.awaits_consent(ctx, conversation) and not onboarding.answers_consent(ctx, text):
        found = await data.lookup_found(ctx, text)
        if found and _ONBOARDING.repeat is not None:
            return found + await _ONBOARDING.repeat(ctx, conversation)
    return await _ONBOARDING.on_text(ctx, conversation, text)


REGISTRY = Registry(
    flows=(
        question_flow(survey.FLOW, survey.STORE, cancel=survey.cancel, resume=survey.resume),
        replace(_ONBOARDING, on_text=_onboarding_text),
        # Changing one field has no previous question: /back leaves it, as /cancel does.
        question_flow(profile.EDIT_FLOW, profile.STORE, cancel=profile.cancel, back=profile.cancel),
        Flow(requests.FLOW, on_text=requests.on_text, cancel=requests.cancel, repeat=requests.waiting),
        Flow(broadcast.FLOW, on_text=broadcast.on_text, cancel=broadcast.cancel),
    ),
    buttons=(
        Buttons((START_SURVEY_PREFIX,), start.on_press),
        Buttons((survey_feedback.PAYLOAD_PREFIX,), survey_feedback.on_press),
        Buttons((language.PAYLOAD_PREFIX,), language.on_press),
        Buttons(profile.PAYLOAD_PREFIXES, profile.on_press),
        Buttons((privacy.PAYLOAD_PREFIX,), privacy.on_press),
        Buttons((broadcast.PAYLOAD_PREFIX,), broadcast.on_press),
        Buttons((data.PREFIX,), data.on_press),
        Buttons((concepts.PAYLOAD_PREFIX,), concepts.on_press),
        Buttons((calendar.PAYLOAD_PREFIX,), calendar.on_press),
        Buttons((requests.PAYLOAD_PREFIX,), requests.on_press),
        Buttons((results.PAYLOAD_PREFIX,), results.on_press),
    ),
    commands={
        "survey": start.survey_command,
        "help": start.help_,
        "language": language.language_command,
        "profile": profile.profile_command,
        "subscribe": profile.subscribe,
        "unsubscribe": profile.unsubscribe,
        "stop": privacy.stop,
        "delete_my_data": privacy.delete_command,
        "data": data.data_command,
        "define": concepts.define,
        "calendar": calendar.calendar_command,
        "request": requests.request_command,
        "my_requests": requests.my_requests,
        "results": results.results_command,
    },
    navigation={
        "start": navigation.start_command,
        "cancel": navigation.cancel,
        "back": navigation.back,
        "skip": navigation.skip,
    },
    admin_commands=(broadcast.admin_command, requests.admin_command),
    free_text=(broadcast.reply_to_notice, data.free_text),
)
