"""One person, one copy: a person linked across phone channels (WhatsApp, SMS and USSD share a
phone key) gets a broadcast or an invitation once, on the cheapest channel they can receive it
on; counts and reach lines are per person; opt-out stays per channel."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from handlers.invitations import QuietHours, invitation_notice, invite
from handlers.notices import WhatsAppTemplate
from storage.broadcasts import (
    ON_ANOTHER_CHANNEL,
    OPTED_OUT,
    OUTSIDE_WINDOW,
    USSD_ONLY,
    WHATSAPP_SERVICE_WINDOW,
    Audience,
    BroadcastRepository,
    results_optins,
)
from storage.database import Database
from storage.invitations import InvitationRepository, deliveries, invitations
from storage.pseudonyms import Pseudonymizer
from surveys.loader import load_survey_text
from testkit.register import Person, add_people

A, B, C, D, E = "+254700000001", "+254700000002", "+254700000003", "+254700000004", "+254700000005"
PEOPLE = [
    # A: WhatsApp within the window and SMS: WhatsApp (cheaper).
    Person(1, channel="whatsapp", phone=A),
    Person(2, channel="sms", phone=A),
    # B: WhatsApp silent for 30 hours and SMS: SMS without a template, WhatsApp with one.
    Person(3, channel="whatsapp", phone=B, silent_hours=30),
    Person(4, channel="sms", phone=B),
    # C: opted out on WhatsApp, SMS still open: SMS.
    Person(5, channel="whatsapp", phone=C, opted_out=True),
    Person(6, channel="sms", phone=C),
    # D: STOP by SMS, WhatsApp silent: WhatsApp with a template, nothing without (not SMS instead).
    Person(7, channel="whatsapp", phone=D, silent_hours=30),
    Person(8, channel="sms", phone=D, opted_out=True),
    # E: SMS and USSD (which cannot receive pushed messages): SMS.
    Person(9, channel="sms", phone=E),
    Person(10, channel="ussd", phone=E),
    # Someone on Telegram only, and someone on USSD only.
    Person(11),
    Person(12, channel="ussd", phone="+254700000006"),
]


def silent_before() -> datetime:
    return datetime.now(UTC) - WHATSAPP_SERVICE_WINDOW


async def stored_recipients(database: Database, silent: datetime | None) -> set[int]:
    async with database.transaction() as connection:
        broadcast_id, recipients = await BroadcastRepository(connection).create(
            title="t",
            notice="{}",
            audience=Audience(),
            languages=("en",),
            default_language="en",
            created_by="test",
            now=datetime.now(UTC),
            silent_before=silent,
        )
        rows = await connection.execute(
            select(deliveries.c.contact_id).where(deliveries.c.broadcast_id == broadcast_id)
        )
        found = {int(contact_id) for (contact_id,) in rows}
    assert recipients == len(found)
    return found


async def test_a_broadcast_goes_once_per_person_on_the_channel_they_can_receive(database: Database) -> None:
    ids = await add_people(database, PEOPLE)
    without_template = await stored_recipients(database, silent_before())
    # D's row stays on WhatsApp (the sender fails it without a template, as for anyone outside
    # the window): D sent STOP by SMS, so D is not sent the SMS copy instead.
    assert without_template == {ids[1], ids[4], ids[6], ids[7], ids[9], ids[11]}
    with_template = await stored_recipients(database, None)
    assert with_template == {ids[1], ids[3], ids[6], ids[7], ids[9], ids[11]}


async def test_counts_and_reach_are_per_person(database: Database) -> None:
    await add_people(database, PEOPLE)
    async with database.reading() as connection:
        repository = BroadcastRepository(connection)
        silent = silent_before()
        # Six rows for six people (D's on WhatsApp, outside the window: the reach leaves it out).
        assert await repository.audience_size(Audience(), silent_before=silent) == 6
        assert await repository.audience_languages(Audience(), ("en",), "en", silent_before=silent) == {"en": 6}
        assert await repository.audience_size(Audience()) == 6
        reach = await repository.reach(Audience(), silent_before=silent)
    by_channel = {c.channel: (c.reached, dict(c.left_out)) for c in reach.channels}
    assert by_channel["whatsapp"] == (1, {OPTED_OUT: 1, ON_ANOTHER_CHANNEL: 1, OUTSIDE_WINDOW: 1})
    assert by_channel["sms"] == (3, {OPTED_OUT: 1, ON_ANOTHER_CHANNEL: 1})
    assert by_channel["ussd"] == (0, {ON_ANOTHER_CHANNEL: 1, USSD_ONLY: 1})
    assert by_channel["telegram"] == (1, {})
    assert reach.reached == 5, "five people can receive it, whatever their number of contacts"


async def test_an_invitation_goes_once_per_person_and_not_again_on_another_channel(database: Database) -> None:
    ids = await add_people(database, PEOPLE)
    async with database.transaction() as connection:
        repository = InvitationRepository(connection)
        pool = await repository.candidates("s", 1, Audience(), silent_before=silent_before())
        assert {c.contact_id for c in pool} == {ids[1], ids[4], ids[6], ids[7], ids[9], ids[11]}
        first = [c for c in pool if c.contact_id == ids[4]]  # B invited by SMS
        await repository.invite(
            survey_id="s",
            wave=1,
            chosen=first,
            strata=[None],
            title="t",
            notice="{}",
            languages=("en",),
            default_language="en",
            created_by="test",
            now=datetime.now(UTC),
            send_at=datetime.now(UTC),
        )
        # With a template WhatsApp would be B's channel, but B was invited to this wave already.
        again = await repository.candidates("s", 1, Audience())
        assert {c.contact_id for c in again} == {ids[1], ids[6], ids[7], ids[9], ids[11]}
        wave_two = {c.contact_id for c in await repository.candidates("s", 2, Audience())}
        assert ids[3] in wave_two and ids[4] not in wave_two, "a new wave: the person's cheapest channel again"


async def test_topic_sizes_count_people(database: Database) -> None:
    await add_people(
        database,
        [
            Person(1, channel="whatsapp", phone=A, topics=("prices",)),
            Person(2, channel="sms", phone=A, topics=("prices",)),
            Person(3, channel="sms", phone=B, topics=("prices", "labour")),
        ],
    )
    async with database.reading() as connection:
        sizes = await BroadcastRepository(connection).topic_sizes(("prices", "labour"))
    assert sizes == {"prices": 2, "labour": 1}


async def test_the_copy_goes_to_the_contact_that_matches_the_audience(database: Database) -> None:
    """A "you said, we did" notice goes to the contact that asked for it, though WhatsApp is cheaper."""
    ids = await add_people(
        database,
        [
            Person(1, channel="whatsapp", phone=A, topics=("labour",)),
            Person(2, channel="sms", phone=A, topics=("prices",)),
        ],
    )
    async with database.transaction() as connection:
        await connection.execute(
            results_optins.insert().values(contact_id=ids[2], survey_id="s", wants=1, answered_at=datetime.now(UTC))
        )
    async with database.reading() as connection:
        repository = BroadcastRepository(connection)
        assert await repository.audience_size(Audience(feedback_for="s")) == 1
        reach = await repository.reach(Audience(feedback_for="s"))
        assert {c.channel: c.reached for c in reach.channels} == {"sms": 1}
        reach = await repository.reach(Audience(topics=("prices",)))
        assert {c.channel: c.reached for c in reach.channels} == {"sms": 1}


async def test_a_list_of_pseudonyms_finds_the_person_under_any_of_their_contacts(database: Database) -> None:
    """An export shows the contact that answered (SMS); the person is invited once, on WhatsApp."""
    ids = await add_people(database, [Person(1, channel="whatsapp", phone=A), Person(2, channel="sms", phone=A)])
    pseudonymize = Pseudonymizer("one-copy-pseudonym-key-0123456789")
    survey = load_survey_text("id: s\ntitle: S\nquestions:\n  - {type: integer, name: q, label: Q}\n", "s.yaml")
    async with database.transaction() as connection:
        found = await invite(
            connection,
            survey,
            notice=invitation_notice(survey, template=WhatsAppTemplate("invitation", "en")),
            pseudonyms=[pseudonymize("sms", "2")],
            pseudonymize=pseudonymize,
            quiet=QuietHours("UTC", None, None),
            created_by="test",
            now=datetime.now(UTC),
        )
        invited = set(await connection.scalars(select(invitations.c.contact_id)))
    assert found.invited == 1 and invited == {ids[1]}
