"""The release calendar: YAML and CSV files with FILE:LINE problems, /calendar and following
releases through the real engine (both databases), and publishing: the followers and the
topic's subscribers each get one message through the dispatcher, and only once."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.app import running_bot
from bot.cli.calendar import publish
from bot.cli.main import main
from bot.config import BroadcastSettings, RegisterSettings
from bot.core.engine import Engine, load_pseudonymizer
from catalogue.calendar import ReleaseCalendar, load_calendar_csv, load_calendar_file, load_calendar_yaml
from catalogue.sourcefiles import DefinitionFileError
from handlers.context import DEFAULT_TOPICS, Community
from handlers.payloads import MAX_PAYLOAD_BYTES
from handlers.texts import Texts
from storage.broadcasts import SENT, SKIPPED, Audience, BroadcastRepository
from storage.database import Database
from storage.releases import ReleaseRepository
from surveys.loader import load_survey_file
from testkit.broadcasts import sends_per_chat, wait_until_finished
from testkit.conversations import onboard
from testkit.databases import copy_migrated_sqlite
from testkit.fakes.engine_user import EngineUser
from testkit.fakes.telegram import FakeTelegramServer
from testkit.paths import ROOT
from testkit.register import Person, add_people
from testkit.telegram_harness import bot_settings

SHIPPED = ROOT / "office" / "releases.yaml"
ONBOARDING = ROOT / "office" / "onboarding.yaml"
#: The engine tests run on this day, so the shipped demo calendar is "upcoming" whenever they run.
TODAY = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
EN, FR = Texts("en"), Texts("fr")


@pytest.fixture(scope="module")
def shipped() -> ReleaseCalendar:
    return load_calendar_file(SHIPPED, topics=DEFAULT_TOPICS)


# --------------------------------------------------------------------------- the files


def test_the_shipped_demo_calendar_is_fictional_upcoming_and_in_four_languages(shipped: ReleaseCalendar) -> None:
    releases = list(shipped.releases.values())
    assert len(releases) >= 10
    assert [r.sort_key for r in releases] == sorted(r.sort_key for r in releases), "in date order"
    assert {r.topic for r in releases} == set(DEFAULT_TOPICS)
    for release in releases:
        assert date(2026, 12, 1) <= release.date <= date(2027, 12, 31)
        assert {"en", "fr", "pt", "ar"} <= set(release.title) and "Demoland" in release.title["en"]
        assert release.link is not None and release.link.startswith("https://stats.demoland.example/")
        assert len(f"k:F:{release.id}".encode()) <= MAX_PAYLOAD_BYTES
    cpi = shipped.releases["cpi-2026-12"]
    assert (cpi.date, cpi.time, cpi.topic) == (date(2027, 1, 12), time(10, 0), "prices")
    assert shipped.title(cpi, "fr") == "Indice des prix à la consommation, décembre 2026 (Demoland)"
    assert shipped.description(shipped.releases["cpi-2027-02"], "fr") == "", "no description: empty"


def test_yaml_times_may_be_written_without_quotes_and_texts_fall_back_to_the_default_language() -> None:
    calendar = load_calendar_yaml(
        "releases:\n  - {id: a, topic: prices, date: 2027-01-12, time: 10:30, title: CPI}\n"
        "  - {id: b, topic: prices, date: 2027-01-05, title: {en: Early, fr: Tôt}}\n",
        "r.yaml",
    )
    assert list(calendar.releases) == ["b", "a"]
    assert calendar.releases["a"].time == time(10, 30), "YAML reads 10:30 as 630 minutes: taken back"
    assert calendar.title(calendar.releases["a"], "fr") == "CPI"


def test_every_problem_of_a_broken_yaml_calendar_is_reported_with_its_line() -> None:
    broken = """\
releases:
  - id: cpi-1
    topic: prices
    date: 2027-13-01
    title: {fr: IPC}
  - id: cpi 2
    topic: weather
    date: 2027-01-10
    time: "25:99"
    title: CPI
    link: ftp://example.org
    colour: red
  - id: ok
    topic: prices
    date: 2027-02-01
    title: Fine
  - id: ok
    topic: prices
    date: 2027-03-01
    title: Twice
  - topic: prices
    date: 2027-03-01
"""
    with pytest.raises(DefinitionFileError) as raised:
        load_calendar_yaml(broken, "r.yaml", topics=DEFAULT_TOPICS)
    assert [str(problem) for problem in raised.value.problems] == [
        "r.yaml:4: the date of the release 'cpi-1' must be a date such as 2027-01-12, not '2027-13-01'",
        "r.yaml:5: the title of the release 'cpi-1' has no text in the default language 'en'",
        "r.yaml:6: the id 'cpi 2' must be letters, digits, '.', '_' or '-' (at most 60)",
        "r.yaml:7: 'weather' is not one of the topics in the configuration "
        "(prices, labour, population, national_accounts, agriculture, health)",
        "r.yaml:9: the time of a release must be a time such as 10:00, not '25:99'",
        "r.yaml:11: the link of a release must start with https:// (or http://)",
        "r.yaml:12: unknown key 'colour' in a release (known keys: date, description, id, link, time, title, topic)",
        "r.yaml:17: the release id 'ok' is used twice",
        "r.yaml:21: a release needs 'id'",
        "r.yaml:21: a release needs 'title'",
        "r.yaml:21: a release needs an id",
    ]


def test_a_csv_calendar_with_a_title_per_language(tmp_path: Path) -> None:
    path = tmp_path / "releases.csv"
    path.write_text(
        "id,topic,date,time,link,title_en,title_fr,description_en\n"
        "cpi-1,prices,2027-01-12,10:00,https://stats.example.org/cpi,CPI January,IPC janvier,Monthly prices\n"
        "gdp-1,national_accounts,2027-01-05,,,GDP Q4,,\n",
        encoding="utf-8",
    )
    calendar = load_calendar_file(path, topics=DEFAULT_TOPICS)
    assert list(calendar.releases) == ["gdp-1", "cpi-1"]
    cpi = calendar.releases["cpi-1"]
    assert cpi.title == {"en": "CPI January", "fr": "IPC janvier"} and cpi.time == time(10, 0)
    assert cpi.link == "https://stats.example.org/cpi" and cpi.description == {"en": "Monthly prices"}
    assert calendar.releases["gdp-1"].time is None and calendar.releases["gdp-1"].link is None


def test_a_broken_csv_calendar_names_the_lines() -> None:
    with pytest.raises(DefinitionFileError) as raised:
        load_calendar_csv("id,topic,date,colour\n", "r.csv")
    assert [str(p) for p in raised.value.problems] == [
        "r.csv:1: unknown column 'colour' (known: date, description, id, link, time, title, topic, title_<language>...)",
        "r.csv:1: the calendar needs a column 'title' (or one per language: title_en, title_fr...)",
    ]
    rows = "id,topic,date,title\ncpi-1,prices,2027-01-12,CPI\n\ngdp-1,,12/01/2027,GDP\ncpi-1,prices,2027-02-01,Again\n"
    with pytest.raises(DefinitionFileError) as raised:
        load_calendar_csv(rows, "r.csv", topics=DEFAULT_TOPICS)
    assert [str(p) for p in raised.value.problems] == [
        "r.csv:4: the release 'gdp-1' has no topic",
        "r.csv:4: the date of the release 'gdp-1' must be a date such as 2027-01-12, not '12/01/2027'",
        "r.csv:5: the release id 'cpi-1' is used twice",
    ]


# --------------------------------------------------------------------------- /calendar


@pytest.fixture
async def calendar_engine(database: Database, shipped: ReleaseCalendar) -> Engine:
    community = Community(onboarding=load_survey_file(ONBOARDING), calendar=shipped)
    pseudonymizer = await load_pseudonymizer(database, "test-pseudonym-key-0123456789")
    return Engine(database, {}, pseudonymizer, community=community, clock=lambda: TODAY)


def payloads_of(message: Any) -> list[str]:
    return [button.payload for button in message.flat_buttons]


async def follows_of(engine: Engine, user: EngineUser) -> set[str]:
    async with engine.database.reading() as connection:
        rows = await connection.execute(
            text(
                "SELECT f.release_id FROM release_follows f JOIN contacts c ON c.id = f.contact_id "
                "WHERE c.user_key = :key"
            ),
            {"key": user.user_key},
        )
        return {row.release_id for row in rows}


async def test_calendar_lists_the_next_releases_with_dates_topics_and_buttons(calendar_engine: Engine) -> None:
    [listing] = await EngineUser(calendar_engine, "cal1").say("/calendar")
    lines = listing.text.split("\n")
    assert lines[0] == "📅 Upcoming releases"
    assert lines[2] == "1. Consumer price index, November 2026 (Demoland)"
    assert lines[3].strip() == "December 10, 2026 at 10:00\u202fAM · Prices and inflation"
    assert lines[11].strip() == "January 28, 2027 · Agriculture", "no time in the calendar: none shown"
    assert EN("calendar_more", count="7") in listing.text
    assert lines[-1] == EN("calendar_follow_hint")
    assert payloads_of(listing)[:6] == [
        "k:f:cpi-2026-11", "k:f:lfs-2026-q3", "k:f:gdp-2026-q3", "k:f:cpi-2026-12", "k:f:agri-2026-harvest",
        "k:f:cpi-2027-01",
    ]  # fmt: skip
    assert listing.flat_buttons[0].label == "🔔 Follow 1. Consumer price index, November 2026…"
    assert payloads_of(listing)[6:] == [f"k:t:{topic}" for topic in DEFAULT_TOPICS]


async def test_calendar_in_french_has_french_titles_dates_and_topic_filter(calendar_engine: Engine) -> None:
    user = EngineUser(calendar_engine, "cal-fr", language="fr")
    [listing] = await user.say("/calendar Prix et inflation")
    lines = listing.text.split("\n")
    assert lines[0] == "📅 Prochaines publications : Prix et inflation"
    assert lines[2] == "1. Indice des prix à la consommation, novembre 2026 (Demoland)"
    assert lines[3].strip() == "10 décembre 2026 à 10:00 · Prix et inflation"
    assert [p for p in payloads_of(listing) if p.startswith("k:F:")] == [
        "k:F:cpi-2026-11", "k:F:cpi-2026-12", "k:F:cpi-2027-01", "k:F:cpi-2027-02",
    ]  # fmt: skip
    assert listing.flat_buttons[-1].label == "Tous les thèmes" and listing.flat_buttons[-1].payload == "k:a"
    [labour] = await user.press("Emploi et marché du travail")
    assert labour.replaces_pressed and labour.text.startswith(
        "📅 Prochaines publications : Emploi et marché du travail"
    )
    [everything] = await user.press("Tous les thèmes")
    assert everything.text.startswith("📅 Prochaines publications\n")
    [unknown] = (await user.say("/calendar météo"))[:1]
    assert unknown.text.startswith("Le calendrier n'a pas de thème « météo ». Thèmes : Prix et inflation, ")


async def test_following_needs_consent_then_marks_the_release_and_can_be_undone(calendar_engine: Engine) -> None:
    user = EngineUser(calendar_engine, "cal2")
    await user.say("/calendar")
    replies = await user.press_payload("k:f:cpi-2026-12")
    assert replies[-1].text.startswith("🔒 Before we start: your personal data."), "consent first"
    assert await follows_of(calendar_engine, user) == set()
    await onboard(user)  # /start goes on with the privacy notice
    await user.say("/calendar prices")
    [listing] = await user.press("🔔 Follow 2. Consumer price index, December 2026…")
    assert listing.replaces_pressed
    assert "2. Consumer price index, December 2026 (Demoland) 🔔" in listing.text
    assert listing.text.endswith(
        EN("calendar_following")
        + "\n• Consumer price index, December 2026 (Demoland), January 12, 2027 at 10:00\u202fAM"
    )
    assert "k:U:cpi-2026-12" in payloads_of(listing), "followed from the prices list: the prices list again"
    assert await follows_of(calendar_engine, user) == {"cpi-2026-12"}
    await user.press_payload("k:f:cpi-2026-12")  # a second press changes nothing
    [everything] = await user.say("/calendar")
    assert EN("calendar_following") in everything.text, "the full list shows what one follows too"
    [listing] = await user.press("🔕 Unfollow 4. Consumer price index, December 2026…")
    assert "🔔" not in listing.text.split("\n")[8] and "k:f:cpi-2026-12" in payloads_of(listing)
    assert await follows_of(calendar_engine, user) == set()


async def test_stale_forged_and_published_release_buttons_change_nothing(calendar_engine: Engine) -> None:
    user = EngineUser(calendar_engine, "cal3")
    await onboard(user)
    [gone, listing] = await user.press_payload("k:f:no-such-release")
    assert gone.text == EN("calendar_unknown_release") and listing.text.startswith("📅 Upcoming releases")
    [forged] = await user.press_payload("k:t:weather")
    assert forged.text == EN("expired_button")
    [forged] = await user.press_payload("k:zz")
    assert forged.text == EN("expired_button")
    async with calendar_engine.database.transaction() as connection:
        assert await ReleaseRepository(connection).publish("cpi-2026-11", "test", TODAY)
    [published, listing] = await user.press_payload("k:f:cpi-2026-11")
    assert published.text == EN("calendar_already_published", title="Consumer price index, November 2026 (Demoland)")
    assert "k:f:cpi-2026-11" not in payloads_of(listing), "a published release is no longer listed"
    assert await follows_of(calendar_engine, user) == set()


async def test_deleting_my_data_and_withdrawing_consent_forget_the_releases_followed(calendar_engine: Engine) -> None:
    user = EngineUser(calendar_engine, "cal4")
    await onboard(user)
    await user.press_payload("k:f:cpi-2026-12")
    await user.press_payload("k:f:lfs-2026-q3")
    assert await follows_of(calendar_engine, user) == {"cpi-2026-12", "lfs-2026-q3"}
    await user.say("/profile")
    await user.press("Withdraw my consent")
    assert await follows_of(calendar_engine, user) == set()
    other = EngineUser(calendar_engine, "cal5")
    await onboard(other)
    await other.press_payload("k:f:cpi-2026-12")
    await other.say("/delete_my_data")
    await other.press("Yes, delete my data")
    async with calendar_engine.database.reading() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM release_follows")) == 0


async def test_following_a_release_after_stop_turns_messages_back_on(calendar_engine: Engine) -> None:
    user = EngineUser(calendar_engine, "cal7")
    await onboard(user)
    await user.say("/stop")
    resumed, listing = await user.press_payload("k:f:gdp-2026-q3")
    assert resumed.text == EN("messages_resumed") and "🔔" in listing.text
    async with calendar_engine.database.reading() as connection:
        stopped = await connection.scalar(text("SELECT opted_out_at FROM contacts WHERE user_key = 'cal7'"))
    assert stopped is None


async def test_without_a_calendar_the_command_says_so(engine: Engine) -> None:
    [reply] = await EngineUser(engine, "cal6").say("/calendar")
    assert reply.text == EN("calendar_none")


# --------------------------------------------------------------------------- publishing


def demo_calendar(directory: Path, today: date) -> Path:
    """A two-release calendar in the near future (the bot filters past releases by the real date)."""
    path = directory / "releases.yaml"
    path.write_text(
        f"""\
releases:
  - id: cpi-next
    topic: prices
    date: {today + timedelta(days=20)}
    time: "10:00"
    title: {{en: "CPI, next month (Demoland)", fr: "IPC, le mois prochain (Demoland)"}}
    description: {{en: "Prices rose by 0.4%.", fr: "Les prix ont augmenté de 0,4 %."}}
    link: https://stats.demoland.example/releases/cpi-next
  - id: lfs-next
    topic: labour
    date: {today + timedelta(days=30)}
    title: Labour force survey (Demoland)
""",
        encoding="utf-8",
    )
    return path


async def test_publishing_tells_each_follower_and_topic_subscriber_exactly_once(
    server: FakeTelegramServer, database: Database, database_url: str, tmp_path: Path
) -> None:
    settings = replace(
        bot_settings(server, database_url),
        broadcast=BroadcastSettings(1000.0, 1.0, 8),
        register=RegisterSettings(onboarding=ONBOARDING),
        calendar_file=demo_calendar(tmp_path, datetime.now(UTC).date()),
    )
    calendar = load_calendar_file(settings.calendar_file or SHIPPED)
    people = [
        Person(8001, "fr"),  # follows the release in the chat below, no topic
        Person(8002, "en", topics=("prices",)),  # the topic's subscriber
        Person(8003, "en", topics=("prices",)),  # follows the release AND its topic: one message
        Person(8004, "en", opted_out=True),  # follows, then sent /stop: nothing
        Person(8005, "en", topics=("labour",)),  # another topic: nothing
        Person(8006, "en", blocked=True, topics=("prices",)),  # blocked the bot: nothing
    ]
    for person in people:
        server.user(person.user_id, language_code=person.language or "en")
    ids = await add_people(database, people)
    async with database.transaction() as connection:
        releases = ReleaseRepository(connection)
        for user_id in (8003, 8004):
            await releases.follow(ids[user_id], "cpi-next", datetime.now(UTC))
    async with running_bot(settings) as bot:
        assert bot.dispatcher is not None
        follower = server.user(8001)
        await follower.send_text_and_wait("/calendar")
        [listing] = await follower.press_and_wait("k:f:cpi-next")
        assert "🔔" in listing.text and "IPC, le mois prochain (Demoland)" in listing.text
        before = sends_per_chat(server)

        assert await publish(settings, calendar, "cpi-next", by="test") == 0
        async with database.transaction() as connection:
            publication = await ReleaseRepository(connection).publication("cpi-next")
        assert publication is not None and publication.broadcast_id is not None
        summary = await wait_until_finished(database, publication.broadcast_id)
        assert summary.count(SENT) == 3 and summary.count(SKIPPED) == 0 and summary.recipients == 3

        received = sends_per_chat(server) - before
        assert received == Counter({8001: 1, 8002: 1, 8003: 1})
        notice = server.user(8001).bot_messages[-1]
        assert notice.text.startswith("📢 Paru aujourd'hui : IPC, le mois prochain (Demoland)\n\n")
        assert "Les prix ont augmenté de 0,4 %." in notice.text
        assert notice.reply_markup is not None
        button = notice.reply_markup["inline_keyboard"][0][0]
        assert button == {
            "text": "Ouvrir la publication",
            "url": "https://stats.demoland.example/releases/cpi-next",
        }
        assert server.user(8002).bot_messages[-1].text.startswith("📢 Published today: CPI, next month")

        # Publishing again sends nothing and keeps the first publication.
        assert await publish(settings, calendar, "cpi-next", by="someone else") == 1
        await asyncio.sleep(0.3)  # give a (wrongly) created broadcast the chance to go out
        assert sends_per_chat(server) - before == received
    async with database.transaction() as connection:
        assert [s.id for s in await BroadcastRepository(connection).recent()] == [publication.broadcast_id]
        again = await ReleaseRepository(connection).publication("cpi-next")
        assert again is not None and again.published_by == "test"
        rows = await connection.execute(text("SELECT contact_id, notified_at FROM release_follows"))
        notified = {row.contact_id: row.notified_at for row in rows}
    assert set(notified) == {ids[8001], ids[8003], ids[8004]} and all(notified.values())


def test_cli_lists_the_calendar_and_publishes_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"

    async def setup() -> None:
        database = Database(await copy_migrated_sqlite(tmp_path / "db.sqlite"))
        await add_people(database, [Person(1, "fr", topics=("prices",)), Person(2, "en", topics=("labour",))])
        await database.dispose()

    asyncio.run(setup())
    calendar = demo_calendar(tmp_path, datetime.now(UTC).date())
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {{url: '{url}'}}\nsurveys: {{directory: {ROOT / 'office' / 'surveys'}}}\ncalendar: {{file: {calendar}}}\n"
    )
    base = ["--config", str(config), "calendar"]
    assert main([*base, "list"]) == 0
    out = capsys.readouterr().out
    assert "cpi-next" in out and "upcoming · CPI, next month (Demoland)" in out and "lfs-next" in out
    assert main([*base, "publish", "nothing-here"]) == 1
    assert "there is no release 'nothing-here'" in capsys.readouterr().err
    assert main([*base, "publish", "cpi-next", "--by", "Amina"]) == 0
    out = capsys.readouterr().out
    assert "'cpi-next' is published: topics prices or following release cpi-next" in out
    assert "broadcast 1: 1 message(s) stored" in out
    assert main([*base, "publish", "cpi-next"]) == 1
    assert "by Amina (broadcast 1): nothing sent" in capsys.readouterr().err
    assert main([*base, "list"]) == 0
    assert "published" in capsys.readouterr().out
    notice = tmp_path / "notice.yaml"
    notice.write_text("title: LFS out\ntext: {en: The labour force survey is out.}\naudience: {topics: [prices]}\n")
    assert main([*base, "publish", "lfs-next", "--notice", str(notice)]) == 0
    captured = capsys.readouterr()
    assert "the audience in" in captured.err and "broadcast 2: 1 message(s) stored" in captured.out
    broken = tmp_path / "broken.yaml"
    broken.write_text("releases:\n  - {id: x, topic: prices, date: soon, title: X}\n")
    config.write_text(f"database: {{url: '{url}'}}\ncalendar: {{file: {broken}}}\n")
    assert main([*base, "list"]) == 1
    assert f"{broken}:2: the date of the release 'x' must be a date" in capsys.readouterr().err


async def test_follows_and_publications_are_recorded_once(database: Database) -> None:
    ids = await add_people(database, [Person(9001), Person(9002)])
    now = datetime.now(UTC)
    async with database.transaction() as connection:
        releases = ReleaseRepository(connection)
        assert await releases.follow(ids[9001], "r1", now) and not await releases.follow(ids[9001], "r1", now)
        assert await releases.follow(ids[9002], "r1", now + timedelta(seconds=1))
        assert await releases.follow(ids[9001], "r2", now)
        assert await releases.followers("r1") == [ids[9001], ids[9002]] and await releases.follower_count("r1") == 2
        assert await releases.unfollow(ids[9002], "r1") and not await releases.unfollow(ids[9002], "r1")
        assert await releases.followed(ids[9001]) == {"r1", "r2"}
        assert await releases.publish("r1", "first", now) and not await releases.publish("r1", "second", now)
        assert await releases.mark_notified("r1", now) == 1 and await releases.mark_notified("r1", now) == 0
        publication = await releases.publication("r1")
        assert publication is not None and publication.published_by == "first" and publication.broadcast_id is None
        assert await releases.publications([]) == {} and set(await releases.publications()) == {"r1"}
        assert await releases.erase(ids[9001]) == 2


def test_a_release_audience_survives_storage_and_describes_itself() -> None:
    audience = Audience(topics=("prices",), followers_of="cpi-next")
    assert Audience.from_json(audience.to_json()) == audience
    assert Audience.from_json(Audience(topics=("prices",)).to_json()).followers_of is None
    assert audience.describe() == "topics prices or following release cpi-next"
    assert Audience(followers_of="cpi-next").describe() == "following release cpi-next"
