"""What a person controls about their data: ``/stop``, withdrawing consent, ``/delete_my_data``.

* ``/stop`` sets ``opted_out_at``: no news or invitations the person did not ask for. The
  subscriptions are kept, so ``/start`` or ``/subscribe`` turn the same messages on again
  (and say so).
* Withdrawing consent (a ``/profile`` button) deletes the profile and the subscriptions and
  records the refusal, as a "no" to the privacy notice would. Survey answers given before stay
  under their pseudonym; ``/delete_my_data`` removes that link too.
* ``/delete_my_data`` asks for confirmation with two buttons, then erases the contact (see
  :meth:`storage.repositories.ContactRepository.erase`) and says what was deleted. The
  confirmation button names the contact it was shown to, so a press that reaches a newer
  contact (after an earlier deletion) deletes nothing. The photos, voice notes and files the
  person sent as survey answers are deleted from the media store (:func:`forget_files`).
  The same person's contacts on other phone channels (the same number on WhatsApp and SMS,
  :mod:`storage.linked_contacts`) are erased with it: the data is the person's.
"""

from __future__ import annotations

import hashlib

from handlers.context import Context
from handlers.messages import Button, Outbound
from storage.linked_contacts import linked_contact_ids
from storage.media import STORED_NAME
from storage.records import Contact

PAYLOAD_PREFIX = "x:"
CONFIRM = "x:y:"
KEEP = "x:n"


async def stop(ctx: Context, _argument: str) -> list[Outbound]:
    """``/stop``: no more news or invitations; the bot still answers."""
    await ctx.repos.contacts.opt_out(ctx.contact.id, ctx.now)
    return [Outbound(text=ctx.texts("stopped"))]


async def messages_back_on(ctx: Context) -> list[Outbound]:
    """After ``/stop``, ``/start`` and ``/subscribe`` turn the messages on again, and say so."""
    if ctx.contact.opted_out_at is None:
        return []
    await ctx.repos.contacts.opt_in(ctx.contact.id)
    return [Outbound(text=ctx.texts("messages_resumed"))]


async def withdraw_consent(ctx: Context) -> list[Outbound]:
    """Consent withdrawn: the profile and the subscriptions go; the refusal's date stays."""
    await ctx.repos.contacts.decline_consent(ctx.contact.id, ctx.now)
    # Whatever the person was doing (onboarding, a profile change, a survey) stops here.
    await ctx.repos.conversations.end(ctx.contact.id)
    return [Outbound(text=ctx.texts("consent_withdrawn"), replaces_pressed=True)]


def _token(contact: Contact) -> str:
    """Names this contact row (ids can be reused after a deletion; the first-seen time is not)."""
    first_seen = contact.first_seen_at.isoformat() if contact.first_seen_at else ""
    return hashlib.sha256(f"{contact.id}:{first_seen}".encode()).hexdigest()[:12]


async def delete_command(ctx: Context, _argument: str) -> list[Outbound]:
    """``/delete_my_data``: what will be deleted, and two buttons."""
    buttons = (
        (Button(ctx.texts("button_delete_yes"), CONFIRM + _token(ctx.contact)),),
        (Button(ctx.texts("button_delete_no"), KEEP),),
    )
    return [Outbound(text=ctx.texts("delete_confirm"), buttons=buttons)]


async def on_press(ctx: Context, payload: str) -> list[Outbound]:
    if payload == KEEP:
        return [Outbound(text=ctx.texts("delete_kept"), replaces_pressed=True)]
    if payload.startswith(CONFIRM) and payload[len(CONFIRM) :] == _token(ctx.contact):
        return await _delete(ctx)
    return [Outbound(text=ctx.texts("expired_button"), replaces_pressed=True)]


async def forget_files(ctx: Context, respondent: str, contact_id: int | None = None) -> None:
    """The photos, voice notes and files the person sent as answers are deleted from the media
    store and their answers emptied: a face or a voice identifies a person, so these do not stay
    with the anonymised responses. (Answers to a survey that no longer exists cannot be told apart
    and stay.)"""
    contact_id = ctx.contact.id if contact_id is None else contact_id
    for response_id, survey_id, name, value in await ctx.repos.responses.answers_of(contact_id, respondent):
        definition = ctx.surveys.get(survey_id)
        if definition is None or not definition.has_question(name) or not definition.question(name).is_media:
            continue
        if ctx.media is not None and STORED_NAME.match(value):
            await ctx.media.delete(survey_id, value)
        await ctx.repos.responses.clear_answer(response_id, name)


async def _delete(ctx: Context) -> list[Outbound]:
    # The person's contacts on their other phone channels go too (storage/linked_contacts.py).
    subscriptions = messages = responses = 0
    for contact_id in await linked_contact_ids(ctx.repos.connection, ctx.contact.id):
        contact = ctx.contact if contact_id == ctx.contact.id else await ctx.repos.contacts.get(contact_id)
        assert contact is not None
        respondent = ctx.pseudonymize(contact.channel, contact.user_key)
        await forget_files(ctx, respondent, contact_id)
        await ctx.repos.lookups.erase(contact_id)
        erased = await ctx.repos.contacts.erase(contact_id, respondent)
        subscriptions += erased.subscriptions
        messages += erased.feedback + erased.requests
        responses += erased.responses_anonymised
    text = ctx.texts("data_deleted", subscriptions=str(subscriptions), messages=str(messages), responses=str(responses))
    return [Outbound(text=text, replaces_pressed=True)]
