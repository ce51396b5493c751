"""One person on several phone channels: contacts linked by their E.164 number share consent,
language, the register and topics; opt-out stays per channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.database import Database
from storage.linked_contacts import linked_contact_ids, phone_key_of
from storage.repositories import Repositories

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_phone_keys_are_e164_on_phone_channels_only() -> None:
    assert phone_key_of("whatsapp", "254712345678") == "+254712345678"
    assert phone_key_of("sms", "+254 712 345 678") == "+254712345678"
    assert phone_key_of("telegram", "254712345678") is None
    assert phone_key_of("sms", "not a number") is None


async def test_a_person_writing_by_sms_after_whatsapp_is_the_same_person(database: Database) -> None:
    async with database.transaction() as connection:
        repos = Repositories(connection)
        whatsapp = await repos.contacts.touch("whatsapp", "254712345678", "254712345678", "fr", NOW)
        await repos.contacts.give_consent(whatsapp.id, NOW)
        await repos.contacts.set_field(whatsapp.id, "user_group", "media")
        await repos.subscriptions.add(whatsapp.id, "prices", NOW)
        await repos.contacts.opt_out(whatsapp.id, NOW)
        stranger = await repos.contacts.touch("sms", "+254799999999", "+254799999999", None, NOW)
    later = NOW + timedelta(days=2)
    async with database.transaction() as connection:
        repos = Repositories(connection)
        sms = await repos.contacts.touch("sms", "+254712345678", "+254712345678", None, later)
        assert sms.id != whatsapp.id
        # Consent, language, register and topics come with the person; opt-out is per channel.
        assert sms.consent_at is not None and sms.language == "fr" and sms.user_group == "media"
        assert sms.opted_out_at is None
        assert await repos.subscriptions.topics(sms.id) == ("prices",)
        assert await linked_contact_ids(connection, sms.id) == (whatsapp.id, sms.id)
        assert await linked_contact_ids(connection, whatsapp.id) == (whatsapp.id, sms.id)
        assert await linked_contact_ids(connection, stranger.id) == (stranger.id,)
        assert await linked_contact_ids(connection, 999_999) == ()
        # A change on one channel is the person's: the other contact follows.
        await repos.contacts.set_language(sms.id, "en")
        await repos.subscriptions.replace(sms.id, ("labour",), later)
        found = await repos.contacts.get(whatsapp.id)
        assert found is not None and found.language == "en"
        assert await repos.subscriptions.topics(whatsapp.id) == ("labour",)
        # Seen again, nothing is copied over (only a new contact takes over the person's fields).
        again = await repos.contacts.touch("sms", "+254712345678", "+254712345678", None, later + timedelta(hours=1))
        assert again.id == sms.id
        # Withdrawing consent on one channel withdraws it for the person.
        await repos.contacts.decline_consent(whatsapp.id, later)
        for contact_id in (whatsapp.id, sms.id):
            contact = await repos.contacts.get(contact_id)
            assert contact is not None and contact.consent_at is None and contact.user_group is None
            assert await repos.subscriptions.topics(contact_id) == ()
        untouched = await repos.contacts.get(stranger.id)
        assert untouched is not None and untouched.language is None


async def test_a_telegram_contact_is_never_linked(database: Database) -> None:
    async with database.transaction() as connection:
        repos = Repositories(connection)
        telegram = await repos.contacts.touch("telegram", "254712345678", "254712345678", "fr", NOW)
        await repos.contacts.give_consent(telegram.id, NOW)
        sms = await repos.contacts.touch("sms", "+254712345678", "+254712345678", None, NOW)
        assert sms.consent_at is None
        assert await linked_contact_ids(connection, telegram.id) == (telegram.id,)


async def test_a_survey_completed_on_whatsapp_counts_as_completed_by_sms_and_ussd_but_not_for_others(
    database: Database,
) -> None:
    # "Already answered" (and /results, and the feedback offer) go by the person, not the channel:
    # else one person answers a survey once per channel, counted twice in quotas and results.
    async with database.transaction() as connection:
        repos = Repositories(connection)
        whatsapp = await repos.contacts.touch("whatsapp", "254712345678", "254712345678", "en", NOW)
        await repos.participations.record_completion(whatsapp.id, "hcs", NOW)
        sms = await repos.contacts.touch("sms", "+254712345678", "+254712345678", None, NOW)
        ussd = await repos.contacts.touch("ussd", "+254712345678", "+254712345678", None, NOW)
        await repos.participations.record_completion(ussd.id, "hcs", NOW)
        telegram = await repos.contacts.touch("telegram", "254712345678", "254712345678", "en", NOW)
        stranger = await repos.contacts.touch("sms", "+254799999999", "+254799999999", None, NOW)
        assert await repos.participations.completed(sms.id, "hcs") == 2
        assert await repos.participations.completed(whatsapp.id, "hcs") == 2
        assert await repos.participations.completed(sms.id, "other") == 0
        assert await repos.participations.completed(telegram.id, "hcs") == 0, "not a phone channel: not linked"
        assert await repos.participations.completed(stranger.id, "hcs") == 0
