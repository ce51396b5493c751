"""Two waves of a panel through the real engine and database: the person who answered wave 1
sees their wave-1 income in wave 2, keeps it with one press, and both exports carry the same
pseudonym with the panel and wave; a newcomer to the panel is asked plainly."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.engine import Engine, load_pseudonymizer
from handlers.context import Community
from storage.database import Database
from storage.exports import write_text_table
from storage.exports.panel import panel_table
from storage.panels import wave_responses
from storage.repositories import Repositories
from surveys.loader import load_survey_directory
from testkit.exports import EVERY_RESPONSE_JOINED, export_rows
from testkit.fakes.engine_user import EngineUser
from testkit.panel_waves import WAVE_2, write_waves

KEY = "panel-test-pseudonym-key-0123456789"


async def panel_engine(database: Database, tmp_path: Path) -> Engine:
    write_waves(tmp_path / "forms")
    surveys = load_survey_directory(tmp_path / "forms")
    return Engine(database, surveys, await load_pseudonymizer(database, KEY), community=Community())


async def test_wave_two_shows_and_prefills_wave_one_and_the_exports_link_by_pseudonym(
    database: Database, tmp_path: Path
) -> None:
    engine = await panel_engine(database, tmp_path)
    person = EngineUser(engine, "5550001", channel="telegram")
    await person.say("/survey lfs2026w1")
    await person.press("Yes")
    await person.say("52000")
    replies = await person.press("Trade")
    assert replies[-1].text == "Send /start to see other surveys.", "wave 1 is finished"

    replies = await person.say("/survey lfs2026w2")
    texts = [reply.text for reply in replies]
    assert "Welcome back. Three months ago you earned 52000 in Trade." in texts
    await person.press("Yes")
    question = person.last_with_buttons()
    assert "What was your income last month? (Last time: 52000)" in question.text
    assert [b.label for b in question.flat_buttons] == ["Keep: 52000"]
    replies = await person.say("600000")
    assert "That is more than ten times what you told us last time." in replies[0].text
    await person.press("Keep: 52000")
    sector = person.last_with_buttons()
    assert "In which sector?" in sector.text
    assert "Keep: Trade" in [b.label for b in sector.flat_buttons]
    await person.press("Services")  # changed since wave 1

    (first,) = await export_rows(engine, engine.surveys["lfs2026w1"])
    (second,) = await export_rows(engine, engine.surveys["lfs2026w2"])
    assert first["respondent"] and first["respondent"] == second["respondent"]
    assert (first["panel"], first["wave"]) == ("lfs_panel", "1")
    assert (second["panel"], second["wave"]) == ("lfs_panel", "2")
    assert (second["income"], second["sector"], second["income_change"], second["complete"]) == (
        "52000",
        "services",
        "0",
        "true",
    )
    assert not any(name.startswith("last_wave") for name in second), "the previous wave is not exported again"

    out = io.StringIO()
    waves = [engine.surveys["lfs2026w1"], engine.surveys["lfs2026w2"]]
    table = await panel_table(engine.database, waves, EVERY_RESPONSE_JOINED)
    await write_text_table(table, "csv", out, raw=True)
    long = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(row["respondent"], row["wave"], row["income"], row["sector"], row["income_change"]) for row in long] == [
        (first["respondent"], "1", "52000", "trade", ""),
        (first["respondent"], "2", "52000", "services", "0"),
    ]


async def test_a_newcomer_to_the_panel_gets_no_last_wave(database: Database, tmp_path: Path) -> None:
    engine = await panel_engine(database, tmp_path)
    newcomer = EngineUser(engine, "5550002", channel="telegram")
    replies = await newcomer.say("/survey lfs2026w2")
    assert not any("Welcome back" in reply.text for reply in replies)
    await newcomer.press("Yes")
    question = newcomer.seen[-1]
    assert "What was your income last month? (Last time: )" in question.text
    assert question.buttons == (), "nothing to keep"
    replies = await newcomer.say("900000")
    assert "In which sector?" in replies[-1].text, "no wave-1 income: no ceiling from it"


async def test_the_previous_wave_lookup_reads_only_the_contacts_own_responses(
    database: Database, tmp_path: Path
) -> None:
    engine = await panel_engine(database, tmp_path)
    person = EngineUser(engine, "5550003", channel="telegram")
    await person.say("/survey lfs2026w1")
    await person.press("No")
    async with database.reading() as connection:
        contact_id = int(
            (await connection.exec_driver_sql("SELECT id FROM contacts WHERE user_key = '5550003'")).scalar_one()
        )
        found = await wave_responses(connection, contact_id, ["lfs2026w1", "lfs2026w2"])
        nobody = await wave_responses(connection, contact_id + 1, ["lfs2026w1"])
    assert set(found) == {"lfs2026w1"}
    assert found["lfs2026w1"].complete and found["lfs2026w1"].answers["employed"] == "no"
    assert found["lfs2026w1"].answers.get("income") is None
    assert nobody == {}


async def test_the_previous_wave_lookup_prefers_a_finished_response_to_a_later_unfinished_one(
    database: Database,
) -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    async with database.transaction() as connection:
        repos = Repositories(connection)
        contact = await repos.contacts.touch("telegram", "5550004", "5550004", "en", start)
        for offset, income, finished in ((0, "100", True), (1, "200", False)):
            response_id = await repos.responses.create(
                survey_id="lfs2026w1",
                survey_version="1",
                contact=contact,
                respondent="p",
                language="en",
                now=start + timedelta(days=offset),
            )
            await repos.responses.record_answer(response_id, "income", income, start)
            if finished:
                await repos.responses.complete(response_id, start)
        found = await wave_responses(connection, contact.id, ["lfs2026w1"])
    assert found["lfs2026w1"].answers == {"income": "100"}


async def test_a_wave_with_quotas_exports_screened_out_and_the_panel_columns_each_under_its_name(
    database: Database, tmp_path: Path
) -> None:
    # Both add trailing columns: a row's cells must follow the header's order (screened_out, panel, wave).
    with_quota = WAVE_2.replace(
        "panel: {id: lfs_panel, wave: 2}\n",
        "panel: {id: lfs_panel, wave: 2}\nquotas: [{by: sector, targets: {trade: 1, services: 5}}]\n",
    )
    write_waves(tmp_path / "forms", with_quota)
    surveys = load_survey_directory(tmp_path / "forms")
    engine = Engine(database, surveys, await load_pseudonymizer(database, KEY), community=Community())
    for key, sector in (("5550011", "Trade"), ("5550012", "Trade")):
        person = EngineUser(engine, key, channel="telegram")
        await person.say("/survey lfs2026w2")
        await person.press("Yes")
        await person.say("1000")
        await person.press(sector)
    rows = await export_rows(engine, engine.surveys["lfs2026w2"])
    assert sorted((row["sector"], row["screened_out"], row["panel"], row["wave"], row["complete"]) for row in rows) == [
        ("trade", "false", "lfs_panel", "2", "true"),
        ("trade", "true", "lfs_panel", "2", "false"),
    ]


async def test_wave_two_by_sms_reads_wave_one_answered_on_whatsapp_from_the_same_number(
    database: Database, tmp_path: Path
) -> None:
    engine = await panel_engine(database, tmp_path)
    on_whatsapp = EngineUser(engine, "254712345678", channel="whatsapp")  # WhatsApp ids have no plus sign
    await on_whatsapp.say("/survey lfs2026w1")
    await on_whatsapp.press("Yes")
    await on_whatsapp.say("52000")
    await on_whatsapp.press("Trade")

    by_sms = EngineUser(engine, "+254712345678", channel="sms")
    replies = await by_sms.say("/survey lfs2026w2")
    assert "Welcome back. Three months ago you earned 52000 in Trade." in [reply.text for reply in replies]
    await by_sms.press("Yes")
    assert [b.label for b in by_sms.last_with_buttons().flat_buttons] == ["Keep: 52000"]
    await by_sms.press("Keep: 52000")
    await by_sms.press("Services")
    (first,) = await export_rows(engine, engine.surveys["lfs2026w1"])
    (second,) = await export_rows(engine, engine.surveys["lfs2026w2"])
    assert first["respondent"] == second["respondent"], "the waves link across the two channels"
    assert (first["channel"], second["channel"]) == ("whatsapp", "sms")
