"""The register as the person sees it: ``/profile``, ``/subscribe``, ``/unsubscribe``.

``/profile`` shows what is stored (language, group, region, organisation, topics, date of
consent, whether messages are on) with a button per field, which asks that onboarding question
again in a conversation whose flow is ``profile``, and buttons to withdraw consent and to delete
everything. Without consent it says that no profile is kept, with a button to give consent.

``/subscribe`` shows every configured topic as a button, ticked when followed; one press
follows or stops following it at once (payloads name the operation, so a repeated press changes
nothing). ``/unsubscribe`` shows only the topics followed, and a button to stop them all.
Topic labels come from the ``topics`` question of the onboarding file, in the person's language.

This module also dispatches the register's conversations (:data:`FLOWS`): onboarding to
:mod:`handlers.onboarding`, a single field being changed to this module.
"""

from __future__ import annotations

from dataclasses import replace

from handlers import onboarding, payloads, privacy, survey
from handlers.context import Context
from handlers.messages import Button, Outbound
from storage.records import Conversation
from surveys import runner
from surveys.model import Survey

EDIT_FLOW = "profile"
#: The conversations of the register: onboarding, and changing one answer from /profile.
FLOWS = frozenset({onboarding.FLOW, EDIT_FLOW})

PROFILE_PREFIX = "p:"
EDIT = "p:e:"
WITHDRAW = "p:w"
DELETE = "p:d"
TOPICS_PREFIX = "t:"
FOLLOW, UNFOLLOW, REMOVE, REMOVE_ALL, TOPICS_DONE = "t:s:", "t:u:", "t:r:", "t:a", "t:d"
FIELDS_PER_ROW = 2


def is_register_payload(value: str) -> bool:
    return value.startswith((PROFILE_PREFIX, TOPICS_PREFIX)) or onboarding.is_start_payload(value)


# --- /profile -----------------------------------------------------------------------------------


async def profile_command(ctx: Context, _argument: str) -> list[Outbound]:
    refusal = _register_off(ctx)
    if refusal is not None:
        return refusal
    return [await card(ctx)]


def _register_off(ctx: Context) -> list[Outbound] | None:
    if ctx.community.onboarding is None:
        return [Outbound(text=ctx.texts("register_off"))]
    return None


def _editable(definition: Survey) -> list[str]:
    return [q.name for q in definition.questions if q.is_asked and q.name in onboarding.FIELDS[1:]]


async def card(ctx: Context) -> Outbound:
    """The stored profile with a button per field, or the offer to give consent."""
    definition = ctx.community.onboarding
    assert definition is not None
    contact = ctx.contact
    if not contact.has_consented:
        language = onboarding.shown_value(ctx, "language", contact.language or ctx.language)
        button = Button(ctx.texts("button_give_consent"), onboarding.START_PAYLOAD)
        return Outbound(text=ctx.texts("profile_no_consent", language=language), buttons=((button,),))
    fields = _editable(definition)
    values = {
        "language": contact.language,
        "user_group": contact.user_group,
        "region": contact.region,
        "organisation": contact.organisation,
    }
    lines = [ctx.texts("profile_title")]
    for name in fields:
        if name == "topics":
            followed = await _followed(ctx)
            shown = ", ".join(onboarding.topic_label(ctx, t) for t in followed) or ctx.texts("not_given")
        else:
            shown = onboarding.shown_value(ctx, name, values.get(name))
        lines.append(f"{ctx.texts(f'field_{name}')}: {shown}")
    assert contact.consent_at is not None
    lines.append(ctx.texts("profile_consent", date=contact.consent_at.date().isoformat()))
    lines.append(ctx.texts("profile_messages_off" if contact.opted_out_at is not None else "profile_messages_on"))
    edit_buttons = [
        Button(ctx.texts("button_edit_field", field=ctx.texts(f"field_{name}")), EDIT + name) for name in fields
    ]
    rows = [tuple(edit_buttons[i : i + FIELDS_PER_ROW]) for i in range(0, len(edit_buttons), FIELDS_PER_ROW)]
    rows.append((Button(ctx.texts("button_withdraw_consent"), WITHDRAW),))
    rows.append((Button(ctx.texts("button_delete_data"), DELETE),))
    return Outbound(text="\n".join(lines), buttons=tuple(rows))


async def on_press(ctx: Context, payload: str) -> list[Outbound]:
    """Presses on the profile card, the topic buttons and "give consent" buttons."""
    refusal = _register_off(ctx)
    if refusal is not None:
        return refusal
    if onboarding.is_start_payload(payload):
        return await _give_consent(ctx, payload[len(onboarding.START_PAYLOAD) :])
    if payload.startswith(TOPICS_PREFIX):
        return await _on_topic_press(ctx, payload)
    if not ctx.contact.has_consented:
        return [Outbound(text=ctx.texts("expired_button")), await card(ctx)]
    if payload == WITHDRAW:
        return await privacy.withdraw_consent(ctx)
    if payload == DELETE:
        return await privacy.delete_command(ctx, "")
    if payload.startswith(EDIT):
        return await _edit(ctx, payload[len(EDIT) :])
    return [Outbound(text=ctx.texts("expired_button"))]


async def _give_consent(ctx: Context, survey_id: str) -> list[Outbound]:
    """A "give consent" button: onboarding, then the survey it was pressed for (if any)."""
    wanted = ctx.surveys.get(survey_id) if survey_id else None
    if not ctx.contact.has_consented:
        return await onboarding.begin(ctx, then_survey=wanted.id if wanted else None, greet=False)
    if wanted is not None:
        return await survey.begin(ctx, wanted)
    return [await card(ctx)]


# --- Changing one field -------------------------------------------------------------------------


async def _edit(ctx: Context, name: str) -> list[Outbound]:
    definition = ctx.community.onboarding
    assert definition is not None
    if name not in _editable(definition):
        return [Outbound(text=ctx.texts("expired_button")), await card(ctx)]
    answers = await onboarding.stored_answers(ctx, definition)
    state = runner.ResponseState(answers=answers, current=None, today=ctx.now.date())
    outcome = runner.go_to(definition, state, name)
    if outcome.problem is not None:
        return [await card(ctx)]
    current = await ctx.repos.conversations.get(ctx.contact.id)
    conversation = Conversation(
        contact_id=ctx.contact.id,
        flow=EDIT_FLOW,
        survey_id=None,
        response_id=None,
        current_question=name,
        selection=outcome.state.selection,
        prompt_serial=(current.prompt_serial if current is not None else 0) + 1,
    )
    await ctx.repos.conversations.save(conversation, ctx.now)
    return [onboarding.render(ctx, definition, conversation, answers, with_position=False)]


def _edited_definition(ctx: Context, conversation: Conversation) -> Survey | None:
    definition = ctx.community.onboarding
    name = conversation.current_question
    if definition is None or name is None or not ctx.contact.has_consented or name not in _editable(definition):
        return None
    return definition


async def _edit_ended(ctx: Context, key: str) -> list[Outbound]:
    await ctx.repos.conversations.end(ctx.contact.id)
    if ctx.community.onboarding is None:
        return [Outbound(text=ctx.texts(key))]
    return [Outbound(text=ctx.texts(key)), await card(ctx)]


async def _edit_act(
    ctx: Context, conversation: Conversation, action: runner.Action, *, pressed: bool
) -> list[Outbound]:
    definition = _edited_definition(ctx, conversation)
    if definition is None:
        return await _edit_ended(ctx, "nothing_changed")
    question = definition.question(conversation.current_question or "")
    answers = await onboarding.stored_answers(ctx, definition)
    outcome = runner.advance(definition, survey.state_of(ctx, conversation, answers), action)
    if outcome.problem is not None:
        return [
            Outbound(text=survey.problem_text(ctx, definition, outcome.problem)),
            onboarding.render(ctx, definition, conversation, answers, with_position=False),
        ]
    if outcome.selection_changed:
        ticked = replace(conversation, selection=outcome.state.selection)
        await ctx.repos.conversations.save(ticked, ctx.now)
        return [onboarding.render(ctx, definition, ticked, answers, with_position=False, replaces_pressed=True)]
    value = dict(outcome.recorded).get(question.name)
    messages = [onboarding.closing(ctx, definition, question, value)] if pressed else []
    ctx = await onboarding.store(ctx, question.name, value)
    return messages + await _edit_ended(ctx, "saved")


# --- The register's conversations (onboarding and changing a field) ------------------------------


async def current_prompt(ctx: Context, conversation: Conversation) -> list[Outbound]:
    if conversation.flow == onboarding.FLOW:
        return await onboarding.current_prompt(ctx, conversation)
    definition = _edited_definition(ctx, conversation)
    if definition is None:
        return await _edit_ended(ctx, "nothing_changed")
    answers = await onboarding.stored_answers(ctx, definition)
    return [onboarding.render(ctx, definition, conversation, answers, with_position=False)]


async def on_text(ctx: Context, conversation: Conversation, text: str) -> list[Outbound]:
    if conversation.flow == onboarding.FLOW:
        return await onboarding.on_text(ctx, conversation, text)
    action: runner.Action = runner.SkipQuestion() if ctx.texts.is_skip_word(text) else runner.TypedAnswer(text)
    return await _edit_act(ctx, conversation, action, pressed=False)


async def on_prompt_press(ctx: Context, conversation: Conversation, press: payloads.PromptPress) -> list[Outbound]:
    if conversation.flow == onboarding.FLOW:
        return await onboarding.on_press(ctx, conversation, press)
    definition = _edited_definition(ctx, conversation)
    if definition is None:
        return await _edit_ended(ctx, "nothing_changed")
    if press.serial == conversation.prompt_serial:
        action = survey.press_action(definition.question(conversation.current_question or ""), press)
        if action is not None:
            return await _edit_act(ctx, conversation, action, pressed=True)
    return [Outbound(text=ctx.texts("stale_button")), *await current_prompt(ctx, conversation)]


async def back(ctx: Context, conversation: Conversation) -> list[Outbound]:
    if conversation.flow == onboarding.FLOW:
        return await onboarding.back(ctx, conversation)
    return await _edit_ended(ctx, "nothing_changed")


async def skip(ctx: Context, conversation: Conversation) -> list[Outbound]:
    if conversation.flow == onboarding.FLOW:
        return await onboarding.skip(ctx, conversation)
    return await _edit_act(ctx, conversation, runner.SkipQuestion(), pressed=False)


async def cancel(ctx: Context, conversation: Conversation) -> list[Outbound]:
    if conversation.flow == onboarding.FLOW:
        return await onboarding.cancel(ctx)
    return await _edit_ended(ctx, "nothing_changed")


# --- /subscribe and /unsubscribe ----------------------------------------------------------------


async def _needs_consent(ctx: Context) -> list[Outbound] | None:
    """Following topics is personal data: it needs the register and consent."""
    refusal = _register_off(ctx)
    if refusal is not None:
        return refusal
    if ctx.contact.has_consented:
        return None
    if onboarding.pending(ctx):
        return await onboarding.begin(ctx, greet=False)
    button = Button(ctx.texts("button_give_consent"), onboarding.START_PAYLOAD)
    return [Outbound(text=ctx.texts("consent_needed_topics"), buttons=((button,),))]


async def subscribe(ctx: Context, _argument: str) -> list[Outbound]:
    """``/subscribe``: every topic as a button, ticked when followed; also undoes ``/stop``."""
    refusal = await _needs_consent(ctx)
    if refusal is not None:
        return refusal
    return await privacy.messages_back_on(ctx) + [await _topics_to_follow(ctx)]


async def unsubscribe(ctx: Context, _argument: str) -> list[Outbound]:
    """``/unsubscribe``: the topics followed, each a button that stops it, and "all"."""
    refusal = _register_off(ctx)
    if refusal is not None:
        return refusal
    if not ctx.contact.has_consented:  # without consent no topic is kept: nothing to stop
        return [Outbound(text=ctx.texts("no_subscriptions"))]
    return [await _topics_followed(ctx)]


async def _followed(ctx: Context) -> list[str]:
    """The topics followed, in the configured order (then any no longer configured)."""
    stored = await ctx.repos.subscriptions.topics(ctx.contact.id)
    return [t for t in ctx.community.topics if t in stored] + [t for t in stored if t not in ctx.community.topics]


async def _topics_to_follow(ctx: Context, *, replaces_pressed: bool = False) -> Outbound:
    followed = set(await _followed(ctx))
    rows: list[tuple[Button, ...]] = []
    for topic in ctx.community.topics:
        label = onboarding.topic_label(ctx, topic)
        if topic in followed:
            rows.append((Button(f"✅ {label}", UNFOLLOW + topic),))
        else:
            rows.append((Button(f"◻️ {label}", FOLLOW + topic),))
    rows.append((Button(ctx.texts("button_done"), TOPICS_DONE),))
    return Outbound(text=ctx.texts("subscribe_title"), buttons=tuple(rows), replaces_pressed=replaces_pressed)


async def _topics_followed(ctx: Context, *, replaces_pressed: bool = False) -> Outbound:
    followed = await _followed(ctx)
    if not followed:
        return Outbound(text=ctx.texts("no_subscriptions"), replaces_pressed=replaces_pressed)
    rows = [(Button(f"❌ {onboarding.topic_label(ctx, topic)}", REMOVE + topic),) for topic in followed]
    rows.append((Button(ctx.texts("button_unsubscribe_all"), REMOVE_ALL),))
    rows.append((Button(ctx.texts("button_done"), TOPICS_DONE),))
    return Outbound(text=ctx.texts("unsubscribe_title"), buttons=tuple(rows), replaces_pressed=replaces_pressed)


async def _summary(ctx: Context) -> Outbound:
    followed = await _followed(ctx)
    if not followed:
        return Outbound(text=ctx.texts("no_subscriptions"), replaces_pressed=True)
    labels = ", ".join(onboarding.topic_label(ctx, topic) for topic in followed)
    return Outbound(text=ctx.texts("subscriptions_now", topics=labels), replaces_pressed=True)


async def _on_topic_press(ctx: Context, payload: str) -> list[Outbound]:
    if not ctx.contact.has_consented:
        refusal = await _needs_consent(ctx)
        return refusal or []
    subscriptions = ctx.repos.subscriptions
    contact_id = ctx.contact.id
    if payload.startswith(FOLLOW) and payload[len(FOLLOW) :] in ctx.community.topics:
        await subscriptions.add(contact_id, payload[len(FOLLOW) :], ctx.now)
        return [await _topics_to_follow(ctx, replaces_pressed=True)]
    if payload.startswith(UNFOLLOW):
        await subscriptions.remove(contact_id, payload[len(UNFOLLOW) :])
        return [await _topics_to_follow(ctx, replaces_pressed=True)]
    if payload.startswith(REMOVE):
        await subscriptions.remove(contact_id, payload[len(REMOVE) :])
        return [await _topics_followed(ctx, replaces_pressed=True)]
    if payload == REMOVE_ALL:
        await subscriptions.replace(contact_id, (), ctx.now)
        return [await _summary(ctx)]
    if payload == TOPICS_DONE:
        return [await _summary(ctx)]
    return [Outbound(text=ctx.texts("expired_button"))]
