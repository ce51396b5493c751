"""The register as the person sees it: ``/profile``, ``/subscribe``, ``/unsubscribe``.

``/profile`` shows what is stored (language, group, region, organisation, topics, date of
consent, whether messages are on) with a button per field, which asks that onboarding question
again in a conversation whose flow is ``profile``, and buttons to withdraw consent and to delete
everything. Without consent it says that no profile is kept, with a button to give consent.

``/subscribe`` shows every configured topic as a button, ticked when followed; one press
follows or stops following it at once (payloads name the operation, so a repeated press changes
nothing). ``/unsubscribe`` shows only the topics followed, and a button to stop them all.
Topic labels come from the ``topics`` question of the onboarding file, in the person's language.

Changing one field is a question flow (:data:`EDIT_FLOW`) run by :mod:`handlers.flow_driver`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from handlers import flow_driver, onboarding, privacy, survey
from handlers.context import Context
from handlers.messages import Button, Outbound
from handlers.onboarding import RegisterStore
from handlers.onboarding_file import FIELDS
from handlers.prompts import Answers
from storage.records import Conversation
from surveys import runner
from surveys.model import Survey

#: The conversation of changing one answer from /profile.
EDIT_FLOW = "profile"

PROFILE_PREFIX = "p:"
EDIT = "p:e:"
WITHDRAW = "p:w"
DELETE = "p:d"
TOPICS_PREFIX = "t:"
FOLLOW, UNFOLLOW, REMOVE, REMOVE_ALL, TOPICS_DONE = "t:s:", "t:u:", "t:r:", "t:a", "t:d"
FIELDS_PER_ROW = 2
#: The register's buttons: the profile card, topics, and "give consent" (which starts onboarding).
PAYLOAD_PREFIXES = (PROFILE_PREFIX, TOPICS_PREFIX, onboarding.START_PAYLOAD)


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
    return [q.name for q in definition.questions if q.is_asked and q.name in FIELDS[1:]]


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
    conversation = flow_driver.new_conversation(
        ctx, current, flow=EDIT_FLOW, current_question=outcome.state.current, selection=outcome.state.selection
    )
    await ctx.repos.conversations.save(conversation, ctx.now)
    return [STORE.render(ctx, definition, conversation, answers)]


@dataclass(frozen=True)
class FieldEditStore(RegisterStore):
    """Changing one field: its onboarding question again, stored on the contact, then the card."""

    with_position: bool = False
    asks_one: ClassVar[bool] = True

    def definition(self, ctx: Context, conversation: Conversation) -> Survey | None:
        definition = ctx.community.onboarding
        name = conversation.current_question
        if definition is None or name is None or not ctx.contact.has_consented or name not in _editable(definition):
            return None
        return definition

    async def answers(self, ctx: Context, definition: Survey, conversation: Conversation) -> Answers:
        return await onboarding.stored_answers(ctx, definition)

    async def finish(
        self, ctx: Context, definition: Survey, conversation: Conversation, answers: Answers
    ) -> list[Outbound]:
        """The changed field is stored: the card shows it."""
        return await _edit_ended(ctx, "saved")

    async def gone(self, ctx: Context, conversation: Conversation) -> list[Outbound]:
        return await _edit_ended(ctx, "nothing_changed")


STORE = FieldEditStore()


async def _edit_ended(ctx: Context, key: str) -> list[Outbound]:
    await ctx.repos.conversations.end(ctx.contact.id)
    if ctx.community.onboarding is None:
        return [Outbound(text=ctx.texts(key))]
    return [Outbound(text=ctx.texts(key)), await card(ctx)]


async def cancel(ctx: Context, conversation: Conversation) -> list[Outbound]:
    """``/cancel`` and ``/back`` while changing a field: nothing is changed."""
    return await _edit_ended(ctx, "nothing_changed")


# --- /subscribe and /unsubscribe ----------------------------------------------------------------


async def subscribe(ctx: Context, _argument: str) -> list[Outbound]:
    """``/subscribe``: every topic as a button, ticked when followed; also undoes ``/stop``."""
    refusal = await onboarding.needs_consent(ctx, "consent_needed_topics")
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
        refusal = await onboarding.needs_consent(ctx, "consent_needed_topics")
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
