"""The contacts register through the real engine and database (both backends): onboarding with
consent first, /profile, subscriptions, /stop, /delete_my_data, and the contacts export."""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.cli import main as cli
from bot.core.engine import Engine, load_pseudonymizer
from handlers.context import DEFAULT_TOPICS, DEFAULT_USER_GROUPS, Community
from handlers.onboarding_file import onboarding_problems
from handlers.texts import Texts
from storage.contacts_export import CONTACT_COLUMNS, export_contacts_csv
from storage.database import Database
from surveys.errors import SurveyFileError
from surveys.loader import load_survey_directory, load_survey_file, load_survey_text
from testkit.conversations import answer_usat, onboard
from testkit.exports import export_rows
from testkit.fakes.engine_user import EngineUser
from testkit.paths import FORMS, ROOT

ONBOARDING_FILE = ROOT / "office" / "onboarding.yaml"
KEY = "register-test-pseudonym-key-0123"
EN = Texts("en")
EXTRA_SURVEYS = {
    "media_only.yaml": (
        "id: media_only\ntitle: Media briefing survey\naudience: \"${user_group} = 'media'\"\n"
        "questions:\n  - {type: text, name: a, label: 'What should we brief on?'}\n"
    ),
    "anon.yaml": (
        "id: anon\ntitle: Anonymous poll\nanonymous: true\n"
        "questions:\n  - {type: text, name: a, label: 'One word for our statistics?'}\n"
    ),
}


@pytest.fixture
async def register_engine(database: Database, tmp_path: Path) -> AsyncIterator[Engine]:
    forms = tmp_path / "register-forms"
    forms.mkdir()
    shutil.copy(FORMS / "usat2026.yaml", forms)
    for name, body in EXTRA_SURVEYS.items():
        (forms / name).write_text(body)
    community = Community(onboarding=load_survey_file(ONBOARDING_FILE))
    yield Engine(database, load_survey_directory(forms), await load_pseudonymizer(database, KEY), community=community)


async def query(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with engine.database.reading() as connection:
        result = await connection.execute(text(sql), params)
        return [dict(row._mapping) for row in result]


async def contact_row(engine: Engine, user: EngineUser) -> dict[str, Any] | None:
    rows = await query(engine, "SELECT * FROM contacts WHERE user_key = :key", key=user.user_key)
    return rows[0] if rows else None


async def topics_of(engine: Engine, user: EngineUser) -> set[str]:
    rows = await query(
        engine,
        "SELECT s.topic FROM subscriptions s JOIN contacts c ON c.id = s.contact_id WHERE c.user_key = :key",
        key=user.user_key,
    )
    return {row["topic"] for row in rows}


def labels(message: Any) -> list[str]:
    return [button.label for button in message.flat_buttons]


# --- Onboarding -----------------------------------------------------------------------------------


async def test_consent_yes_fills_the_contact_and_the_subscriptions(register_engine: Engine) -> None:
    engine = register_engine
    user = EngineUser(engine, "700000001")
    replies = await user.say("/start")
    assert replies[0].text == EN("greeting")
    notice = replies[-1]
    assert notice.text.startswith("🔒 Before we start: your personal data.")  # no "1/1" before the notice
    assert "/delete_my_data" in notice.text and "until you delete them" in notice.text
    assert labels(notice) == ["Yes, I agree", "No, thank you"]

    # Before consent: nothing but what holds the conversation.
    before = await contact_row(engine, user)
    assert before is not None
    assert before["language"] == "en" and before["consent_at"] is None and before["declined_at"] is None
    assert (before["user_group"], before["region"], before["organisation"]) == (None, None, None)
    (conversation,) = await query(engine, "SELECT flow, current_question, response_id FROM conversations")
    assert conversation == {"flow": "onboarding", "current_question": "consent", "response_id": None}

    replies = await user.press("Yes, I agree")
    assert replies[0].replaces_pressed and replies[0].text.endswith("→ Yes, I agree")
    assert replies[-1].text == "2/6 · Which language should I use?"
    assert (await contact_row(engine, user) or {})["consent_at"] is not None

    # The language question switches the bot and the rest of onboarding to French.
    replies = await user.press("Français")
    assert replies[-1].text == "3/6 · Laquelle de ces catégories vous décrit le mieux ?"
    await user.press("Journaliste ou médias")
    replies = await user.press("Nord")
    assert replies[-1].text.startswith("5/6 · Pour quelle organisation travaillez-vous ?")
    assert "Passer ⏭" in labels(replies[-1])
    await user.say("Daily News")
    await user.press("Prix et inflation")
    replies = await user.press("Santé")
    assert {"✅ Prix et inflation", "✅ Santé", "◻️ Emploi et marché du travail"} <= set(labels(replies[0]))
    replies = await user.press("Terminé")
    assert Texts("fr")("registered") in [reply.text for reply in replies]
    assert "Enquête de satisfaction des utilisateurs 2026" in labels(replies[-1]), "then the survey list"

    row = await contact_row(engine, user)
    assert row is not None
    assert [row[k] for k in ("language", "user_group", "region", "organisation")] == [
        "fr",
        "media",
        "north",
        "Daily News",
    ]
    assert row["consent_at"] is not None and row["declined_at"] is None and row["opted_out_at"] is None
    assert await topics_of(engine, user) == {"prices", "health"}
    assert await query(engine, "SELECT * FROM conversations") == []
    assert await query(engine, "SELECT * FROM responses") == [], "onboarding has no response row"

    # Onboarded: /start now greets and lists the surveys.
    replies = await user.say("/start")
    assert replies[0].text == Texts("fr")("greeting") and len(replies) == 2


async def test_consent_no_keeps_nothing_but_the_refusal_and_surveys_refuse_politely(register_engine: Engine) -> None:
    engine = register_engine
    user = EngineUser(engine, "700000002")
    await user.say("/start")
    replies = await user.press("No, thank you")
    assert EN("consent_declined") in [reply.text for reply in replies]
    assert "User satisfaction survey 2026" in labels(replies[-1])

    row = await contact_row(engine, user)
    assert row is not None and row["declined_at"] is not None and row["consent_at"] is None
    assert (row["user_group"], row["region"], row["organisation"]) == (None, None, None)
    assert await topics_of(engine, user) == set()
    assert await query(engine, "SELECT * FROM conversations") == []

    # A survey that keeps the answers under a pseudonym needs consent: refused, with a way to consent.
    replies = await user.press("User satisfaction")
    assert replies[0].text == EN("consent_needed", title="User satisfaction survey 2026")
    assert labels(replies[0]) == [EN("button_give_consent")]
    assert await query(engine, "SELECT * FROM responses") == []
    # An anonymous survey stays open, and stays anonymous.
    await user.say("/survey anon")
    replies = await user.say("Useful")
    assert "Send /start to see other surveys." in replies[-1].text
    (response,) = await query(engine, "SELECT contact_id, respondent, completed_at FROM responses")
    assert response["contact_id"] is None and response["respondent"] == "" and response["completed_at"] is not None

    # No onboarding again on /start; /profile and /subscribe say why there is nothing to show.
    replies = await user.say("/start")
    assert replies[0].text == EN("greeting") and len(replies) == 2
    replies = await user.say("/profile")
    assert replies[0].text == EN("profile_no_consent", language="English")
    replies = await user.say("/subscribe")
    assert replies[0].text == EN("consent_needed_topics")
    replies = await user.say("/unsubscribe")
    assert replies[0].text == EN("no_subscriptions")

    # Changing one's mind: the button of the refusal runs onboarding, then opens the survey.
    await user.press_payload("o:usat2026")
    await user.press("Yes, I agree")
    for label in ("English", "Member of the public", "South"):
        await user.press(label)
    await user.press("Skip")
    replies = await user.press("Done")
    assert replies[-1].text == "2/12 · How often do you use our statistics?", "the group came from onboarding"
    row = await contact_row(engine, user)
    assert row is not None and row["consent_at"] is not None and row["declined_at"] is None
    assert (row["user_group"], row["region"], row["organisation"]) == ("citizen", "south", None)


async def test_deep_link_onboards_first_then_opens_the_survey(register_engine: Engine) -> None:
    engine = register_engine
    user = EngineUser(engine, "700000003")
    replies = await user.say("/start usat2026")
    assert replies[0].text == EN("greeting") and replies[-1].text.startswith("🔒 Before we start")
    (conversation,) = await query(engine, "SELECT flow, survey_id FROM conversations")
    assert conversation == {"flow": "onboarding", "survey_id": "usat2026"}, "the deep link is remembered"

    # /start again in the middle shows the question the person is on.
    await user.press("Yes, I agree")
    replies = await user.say("/start")
    assert replies[-1].text == "2/6 · Which language should I use?"
    # /back returns to the notice; typing the answer works as in surveys.
    replies = await user.say("/back")
    assert replies[-1].text.startswith("🔒 Before we start")
    replies = await user.say("yes")
    assert replies[-1].text == "2/6 · Which language should I use?"

    for label in ("English", "Journalist or media", "North"):
        await user.press(label)
    await user.say("Daily News")
    replies = await user.press("Done")
    texts = [reply.text for reply in replies]
    assert EN("registered") in texts
    assert any(t.startswith("User satisfaction survey 2026") for t in texts)
    assert texts[-1] == "2/12 · How often do you use our statistics?", "not asked again"
    (conversation,) = await query(engine, "SELECT flow, survey_id, response_id FROM conversations")
    assert conversation["flow"] == "survey" and conversation["survey_id"] == "usat2026"
    assert conversation["response_id"] is not None


async def test_cancel_stops_onboarding_and_a_survey_button_starts_it_again(register_engine: Engine) -> None:
    engine = register_engine
    user = EngineUser(engine, "700000004")
    await user.say("/start")
    replies = await user.say("/cancel")
    assert replies[0].text == EN("onboarding_cancelled")
    row = await contact_row(engine, user)
    assert row is not None and row["consent_at"] is None and row["declined_at"] is None
    replies = await user.say("/survey usat2026")
    assert replies[-1].text.startswith("🔒 Before we start"), "a survey needs the notice first"


# --- /profile ---------------------------------------------------------------------------------------


async def test_profile_shows_and_changes_each_field_and_withdraws_consent(register_engine: Engine) -> None:
    engine = register_engine
    user = EngineUser(engine, "700000005")
    await onboard(user)
    replies = await user.say("/profile")
    card = replies[0]
    today = datetime.now(UTC).date().isoformat()
    assert card.text.split("\n") == [
        "Your profile:",
        "Language: English",
        "Group: Journalist or media",
        "Region: North",
        "Organisation: Daily News",
        "Topics: Prices and inflation, Health",
        f"Consent given on {today}.",
        EN("profile_messages_on"),
    ]
    assert labels(card) == [
        "✏️ Change: Language",
        "✏️ Change: Group",
        "✏️ Change: Region",
        "✏️ Change: Organisation",
        "✏️ Change: Topics",
        "Withdraw my consent",
        "🗑 Delete my data",
    ]

    replies = await user.press("Change: Group")
    assert replies[0].text.split("\n") == ["Which of these best describes you?", "(Your answer: Journalist or media)"]
    replies = await user.press("Researcher or analyst")
    assert replies[0].text.endswith("→ Researcher or analyst") and replies[0].replaces_pressed
    assert replies[1].text == EN("saved")
    assert "Group: Researcher or analyst" in replies[2].text.split("\n")
    assert len(replies) == 3, "changing one field asks no question after it"
    row = await contact_row(engine, user) or {}
    assert (row["user_group"], row["region"], row["organisation"]) == ("researcher", "north", "Daily News")

    # An optional field is removed with Skip; topics are ticked like a select_multiple.
    await user.say("/profile")
    await user.press("Change: Organisation")
    replies = await user.say("skip")
    assert "Organisation: not given" in replies[-1].text.split("\n")
    assert (await contact_row(engine, user) or {})["organisation"] is None
    await user.press("Change: Topics")
    await user.press("Health")  # untick
    await user.press("Population")
    replies = await user.press("Done")
    assert "Topics: Prices and inflation, Population and demography" in replies[-1].text.split("\n")
    assert await topics_of(engine, user) == {"prices", "population"}

    # /cancel in the middle of a change changes nothing.
    await user.press("Change: Region")
    replies = await user.say("/cancel")
    assert replies[0].text == EN("nothing_changed")
    assert (await contact_row(engine, user) or {})["region"] == "north"

    replies = await user.press("Withdraw my consent")
    assert replies[0].text == EN("consent_withdrawn")
    row = await contact_row(engine, user)
    assert row is not None and row["consent_at"] is None and row["declined_at"] is not None
    assert (row["user_group"], row["region"], row["organisation"]) == (None, None, None)
    assert await topics_of(engine, user) == set()
    replies = await user.say("/profile")
    assert replies[0].text == EN("profile_no_consent", language="English")


# --- Subscriptions and /stop -------------------------------------------------------------------------


async def test_subscribe_and_unsubscribe_with_one_press_per_topic(register_engine: Engine) -> None:
    engine = register_engine
    user = EngineUser(engine, "700000006")
    await onboard(user, topics=())
    assert await topics_of(engine, user) == set()
    replies = await user.say("/subscribe")
    assert replies[0].text == EN("subscribe_title")
    assert labels(replies[0])[:2] == ["◻️ Prices and inflation", "◻️ Jobs and the labour market"]

    replies = await user.press("Jobs and the labour market")
    assert replies[0].replaces_pressed and "✅ Jobs and the labour market" in labels(replies[0])
    again = next(b for b in replies[0].flat_buttons if b.label == "✅ Jobs and the labour market")
    follow_twice = next(b for b in replies[0].flat_buttons if "Population" in b.label)
    await user.press_payload(follow_twice.payload)
    await user.press_payload(follow_twice.payload)  # the same press twice: still followed once
    assert await topics_of(engine, user) == {"labour", "population"}
    await user.press_payload(again.payload)  # the ticked button stops it
    replies = await user.press("Done")
    assert replies[0].text == "You follow: Population and demography." and replies[0].replaces_pressed
    assert await topics_of(engine, user) == {"population"}

    await user.press_payload("t:s:health")
    replies = await user.say("/unsubscribe")
    assert labels(replies[0]) == ["❌ Population and demography", "❌ Health", "Stop all topics", EN("button_done")]
    replies = await user.press("Health")
    assert labels(replies[0])[0] == "❌ Population and demography"
    replies = await user.press("Stop all topics")
    assert replies[0].text == EN("no_subscriptions")
    assert await topics_of(engine, user) == set()
    await user.press_payload("t:s:not_a_topic")
    assert await topics_of(engine, user) == set(), "only configured topics"

    # Labels come from onboarding.yaml in the person's language.
    french = EngineUser(engine, "700000007", language="fr")
    await french.say("/start")
    await french.press("Oui")
    for label in ("Français", "Citoyen ou grand public", "Sud"):
        await french.press(label)
    await french.press("Passer")
    await french.press("Terminé")
    replies = await french.say("/subscribe")
    assert "◻️ Prix et inflation" in labels(replies[0])


async def test_stop_then_start_or_subscribe_turn_messages_on_again(register_engine: Engine) -> None:
    engine = register_engine
    user = EngineUser(engine, "700000008")
    await onboard(user)
    replies = await user.say("/stop")
    assert replies[0].text == EN("stopped")
    row = await contact_row(engine, user)
    assert row is not None and row["opted_out_at"] is not None
    assert await topics_of(engine, user) == {"prices", "health"}, "kept for when messages are on again"
    replies = await user.say("/profile")
    assert EN("profile_messages_off") in replies[0].text.split("\n")

    replies = await user.say("/start")
    assert replies[0].text == EN("messages_resumed") and replies[1].text == EN("greeting")
    assert (await contact_row(engine, user) or {})["opted_out_at"] is None
    replies = await user.say("/start")
    assert replies[0].text == EN("greeting"), "said once"

    await user.say("/stop")
    replies = await user.say("/subscribe")
    assert replies[0].text == EN("messages_resumed") and replies[1].text == EN("subscribe_title")
    assert (await contact_row(engine, user) or {})["opted_out_at"] is None


# --- /delete_my_data ---------------------------------------------------------------------------------


async def test_delete_my_data_really_deletes(register_engine: Engine) -> None:
    engine = register_engine
    usat = engine.surveys["usat2026"]
    user = EngineUser(engine, "700000009")
    await onboard(user)
    await answer_usat(user)
    await user.say("/survey anon")  # an anonymous survey left unfinished: no link to anyone anyway
    (contact,) = await query(engine, "SELECT id FROM contacts WHERE user_key = :key", key=user.user_key)
    async with engine.database.transaction() as connection:
        await connection.execute(
            text(
                "INSERT INTO feedback (contact_id, channel, kind, text, received_at, status) "
                "VALUES (:id, 'test', 'comment', 'I am Jane from the Daily News', :now, 'new')"
            ),
            {"id": contact["id"], "now": datetime.now(UTC)},
        )
    pseudonym = engine.pseudonymizer("test", user.user_key)
    assert (await export_rows(engine, usat))[0]["respondent"] == pseudonym

    replies = await user.say("/delete_my_data")
    assert replies[0].text == EN("delete_confirm")
    assert labels(replies[0]) == ["Yes, delete my data", "No, keep it"]
    confirm = replies[0].flat_buttons[0].payload
    replies = await user.press("No, keep it")
    assert replies[0].text == EN("delete_kept")
    assert await contact_row(engine, user) is not None

    await user.say("/delete_my_data")
    replies = await user.press("Yes, delete my data")
    assert replies[0].text == EN("data_deleted", subscriptions="2", messages="1", responses="1")
    assert replies[0].replaces_pressed

    assert await contact_row(engine, user) is None
    for table in ("subscriptions", "conversations", "participations", "feedback"):
        assert await query(engine, f"SELECT * FROM {table}") == [], table
    responses = await query(engine, "SELECT survey_id, contact_id, respondent FROM responses ORDER BY survey_id")
    assert responses == [
        {"survey_id": "anon", "contact_id": None, "respondent": ""},
        {"survey_id": "usat2026", "contact_id": None, "respondent": ""},
    ]
    assert await query(engine, "SELECT * FROM responses WHERE respondent = :p", p=pseudonym) == []
    (row,) = await export_rows(engine, usat)
    assert row["respondent"] == "" and row["complete"] == "true" and row["user_group"] == "media", "answers stay"
    out = io.StringIO()
    assert await export_contacts_csv(engine.database, engine.pseudonymizer, out) == 0
    assert pseudonym not in out.getvalue()

    # The next message starts fresh: a new contact, who gets the privacy notice again.
    replies = await user.say("/start")
    assert replies[-1].text.startswith("🔒 Before we start")
    fresh = await contact_row(engine, user)
    assert fresh is not None and fresh["consent_at"] is None
    # The old confirmation button deletes nothing now.
    replies = await user.press_payload(confirm)
    assert replies[0].text == EN("expired_button")
    assert await contact_row(engine, user) is not None


# --- Contacts export and audiences -------------------------------------------------------------------


async def test_contacts_export_has_only_consenting_contacts_and_no_platform_ids(
    register_engine: Engine, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = register_engine
    yes, no, undecided = (EngineUser(engine, key) for key in ("700000010", "700000011", "700000012"))
    await onboard(yes)
    await yes.say("/stop")
    await no.say("/start")
    await no.press("No, thank you")
    await undecided.say("/start")

    config = tmp_path / "config.yaml"
    config.write_text(f"database: {{url: '{database_url}'}}\nprivacy: {{pseudonym_key: {KEY}}}\n")
    output = tmp_path / "contacts.csv"
    # The command itself, in a thread of this process (it runs its own event loop): a new Python
    # process is not what this test is about, and took 2 s of imports.
    status = await asyncio.to_thread(
        cli.main, ["--config", str(config), "contacts", "export", "--format", "csv", "--output", str(output)]
    )
    stderr = capsys.readouterr().err
    assert status == 0, stderr
    assert "exported 1 consenting contact(s)" in stderr
    content = output.read_text()
    for user in (yes, no, undecided):
        assert user.user_key not in content, "no platform ids"
    (row,) = list(csv.DictReader(io.StringIO(content)))
    assert tuple(row) == CONTACT_COLUMNS
    stored = await contact_row(engine, yes)
    assert stored is not None
    assert row["pseudonym"] == engine.pseudonymizer("test", yes.user_key)
    assert {k: row[k] for k in ("channel", "language", "user_group", "region", "organisation", "topics")} == {
        "channel": "test",
        "language": "en",
        "user_group": "media",
        "region": "north",
        "organisation": "Daily News",
        "topics": "health prices",
    }
    assert (row["opted_out"], row["blocked"]) == ("true", "false")
    assert row["consent_at"].endswith("Z") and row["first_seen_at"] <= row["consent_at"] <= row["last_seen_at"]


async def test_survey_audience_uses_the_onboarded_user_group(register_engine: Engine) -> None:
    engine = register_engine
    journalist = EngineUser(engine, "700000013")
    citizen = EngineUser(engine, "700000014")
    await onboard(journalist)
    replies = await onboard(citizen, group="Member of the public")
    assert "Media briefing survey" not in labels(replies[-1])

    replies = await journalist.say("/start")
    assert "Media briefing survey" in labels(replies[-1])
    replies = await journalist.say("/survey media_only")
    assert replies[-1].text == "1/1 · What should we brief on?"
    replies = await citizen.say("/survey media_only")
    assert replies[0].text == EN("not_in_audience", title="Media briefing survey")

    # A deep link is checked against the group given during onboarding.
    newcomer = EngineUser(engine, "700000015")
    replies = await onboard(newcomer, start="/start media_only")
    assert replies[-1].text == "1/1 · What should we brief on?"


async def test_commands_without_a_register_and_before_consent(engine: Engine) -> None:
    """The tests' default engine has no onboarding: everything as before, and no register."""
    user = EngineUser(engine, "700000016")
    replies = await user.say("/start")
    assert replies[0].text == EN("greeting") and len(replies) == 2
    for command in ("/profile", "/subscribe", "/unsubscribe"):
        replies = await user.say(command)
        assert replies[0].text == EN("register_off"), command
    replies = await user.say("/stop")
    assert replies[0].text == EN("stopped")
    replies = await user.say("/start")
    assert replies[0].text == EN("messages_resumed")
    await user.say("/survey usat2026")
    replies = await user.say("/delete_my_data")
    assert replies[0].text == EN("delete_confirm")
    replies = await user.press("Yes, delete")
    assert replies[0].text == EN("data_deleted", subscriptions="0", messages="0", responses="1")


# --- The onboarding file ---------------------------------------------------------------------------


def test_the_shipped_onboarding_file_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["survey", "check", str(ONBOARDING_FILE)]) == 0
    assert "ok: survey 'onboarding', 6 questions, languages en, fr, pt, ar" in capsys.readouterr().out
    definition = load_survey_file(ONBOARDING_FILE)
    assert onboarding_problems(definition, DEFAULT_USER_GROUPS, DEFAULT_TOPICS) == []
    assert [q.name for q in definition.questions] == [
        "consent", "language", "user_group", "region", "organisation", "topics",
    ]  # fmt: skip


def test_an_onboarding_that_could_store_data_without_consent_is_refused() -> None:
    source = ONBOARDING_FILE.read_text()
    broken = source.replace(
        "  - type: select_one\n    name: region\n    relevant: \"${consent} = 'yes'\"\n",
        "  - type: select_one\n    name: region\n",
    ).replace("      - {name: citizen,", "      - {name: public,")
    definition = load_survey_text(broken, "onboarding.yaml")
    with pytest.raises(SurveyFileError) as refused:
        Community(onboarding=definition)
    messages = [str(problem) for problem in refused.value.problems]
    region_line = next(q.line for q in definition.questions if q.name == "region")
    assert f"onboarding.yaml:{region_line}: 'region' must only be asked after consent" in messages[1]
    assert "'user_group' has no choice for citizen (register.user_groups in config.yaml)" in messages[0]
    with pytest.raises(SurveyFileError, match=r"choices that are not register\.topics in config\.yaml: agriculture"):
        Community(onboarding=load_survey_file(ONBOARDING_FILE), topics=("prices", "labour", "population"))


async def test_delete_my_data_by_sms_also_erases_the_same_persons_whatsapp_contact(register_engine: Engine) -> None:
    engine = register_engine
    whatsapp = EngineUser(engine, "254712345678", channel="whatsapp")
    await onboard(whatsapp)
    sms = EngineUser(engine, "+254712345678", channel="sms")
    replies = await sms.say("/start")
    assert not replies[-1].text.startswith("🔒 Before we start"), "consent given on WhatsApp counts by SMS"
    rows = await query(engine, "SELECT channel, consent_at, language FROM contacts ORDER BY channel")
    assert [row["channel"] for row in rows] == ["sms", "whatsapp"] and rows[0]["consent_at"] is not None
    await sms.say("/delete_my_data")
    await sms.press("Yes, delete my data")
    assert await query(engine, "SELECT * FROM contacts") == []
    assert await query(engine, "SELECT * FROM subscriptions") == []
