"""The dashboard's read queries and the staff accounts on both backends, with exact numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from storage.dashboard import DashboardQueries, ResultFilter
from storage.database import Database
from storage.repositories import Repositories
from storage.staff import LOCKOUT, MAX_FAILED_ATTEMPTS, StaffError, StaffRepository
from surveys.model import Survey
from testkit.passwords import cheap_password_hashes

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


async def _person(
    repos: Repositories, key: str, *, group: str | None, region: str | None, language: str, seen: datetime
) -> int:
    contact = await repos.contacts.touch("telegram", key, key, language, seen)
    if group is not None or region is not None:
        await repos.contacts.give_consent(contact.id, seen)
        await repos.contacts.set_field(contact.id, "user_group", group)
        await repos.contacts.set_field(contact.id, "region", region)
    return contact.id


async def _respond(
    repos: Repositories,
    survey: Survey,
    contact_id: int,
    answers: dict[str, str | None],
    *,
    started: datetime,
    minutes: int | None,
) -> None:
    """A response with ``answers`` in order, one a minute; completed after ``minutes`` (None: not completed)."""
    contact = await repos.contacts.get(contact_id)
    response = await repos.responses.create(
        survey_id=survey.id, survey_version=survey.version, contact=contact, respondent=f"r{contact_id}",
        language="en", now=started,
    )  # fmt: skip
    for offset, (question, value) in enumerate(answers.items()):
        await repos.responses.record_answer(response, question, value, started + timedelta(minutes=offset))
    if minutes is not None:
        await repos.responses.complete(response, started + timedelta(minutes=minutes))


FULL: dict[str, str | None] = {
    "user_group": "media",
    "frequency": "weekly",
    "purposes": "policy research",
    "topics": "prices",
    "sat_relevance": "4",
    "sat_timeliness": "3",
    "sat_accessibility": "5",
    "sat_clarity": "4",
    "sat_overall": "4",
    "releases_used": "10",
    "last_use": "2026-06-01",
    "comments": "More district tables please",
}


async def _fill(database: Database, usat: Survey) -> None:
    async with database.transaction() as connection:
        repos = Repositories(connection)
        a = await _person(repos, "1", group="media", region="North", language="en", seen=NOW - timedelta(days=1))
        b = await _person(repos, "2", group="academic", region="South", language="fr", seen=NOW - timedelta(days=10))
        c = await _person(repos, "3", group="media", region="South", language="en", seen=NOW - timedelta(days=40))
        d = await _person(repos, "4", group=None, region=None, language="fr", seen=NOW - timedelta(days=2))
        # a: complete in 10 minutes; b: complete in 20 minutes, other answers; c: stopped after
        # "frequency"; d: started, answered nothing.
        await _respond(repos, usat, a, FULL, started=NOW - timedelta(days=1), minutes=10)
        other = {
            **FULL, "user_group": "academic", "frequency": "daily", "purposes": "research", "sat_relevance": "2",
            "releases_used": "4", "comments": None, "last_use": "2026-05-01",
        }  # fmt: skip
        await _respond(repos, usat, b, other, started=NOW - timedelta(days=10), minutes=20)
        partial = {"user_group": "media", "frequency": "weekly"}
        await _respond(repos, usat, c, partial, started=NOW - timedelta(days=40), minutes=None)
        await _respond(repos, usat, d, {}, started=NOW - timedelta(days=2), minutes=None)


async def test_engagement_counts_contacts_active_users_and_the_register(database: Database, usat: Survey) -> None:
    await _fill(database, usat)
    async with database.reading() as connection:
        engagement = await DashboardQueries(connection).engagement(NOW, days=30)
    assert (engagement.contacts, engagement.consenting) == (4, 3)
    assert (engagement.active_7_days, engagement.active_30_days) == (2, 3)
    assert engagement.by_user_group == {"media": 2, "academic": 1, None: 1}
    assert engagement.by_language == {"en": 2, "fr": 2}
    assert engagement.by_region == {"South": 2, "North": 1, None: 1}
    assert engagement.by_channel == {"telegram": 4}
    assert len(engagement.over_time) == 30 and engagement.over_time[-1].day == date(2026, 6, 30)
    # One contact first seen before the window (40 days ago), three inside it.
    assert engagement.over_time[0].total == 1
    assert [(d.day, d.new) for d in engagement.over_time if d.new] == [
        (date(2026, 6, 20), 1),
        (date(2026, 6, 28), 1),
        (date(2026, 6, 29), 1),
    ]
    assert engagement.over_time[-1].total == 4


async def test_survey_activity_gives_completion_rate_and_median_duration(database: Database, usat: Survey) -> None:
    await _fill(database, usat)
    async with database.reading() as connection:
        activity = (await DashboardQueries(connection).survey_activity())["usat2026"]
    assert (activity.started, activity.completed) == (4, 2)
    assert activity.completion_rate == 0.5
    assert activity.median_seconds == 15 * 60  # the mean of 10 and 20 minutes


async def test_results_count_choices_ranges_numbers_and_latest_texts(database: Database, usat: Survey) -> None:
    await _fill(database, usat)
    async with database.reading() as connection:
        results = await DashboardQueries(connection).results(usat)
    by_name = {result.question.name: result for result in results.questions}
    group = dict(by_name["user_group"].counts)
    assert (group["media"], group["academic"], group["citizen"]) == (2, 1, 0)
    assert list(group)[:3] == ["policymaker", "parliamentarian", "political_organisation"], "in the survey's order"
    purposes = dict(by_name["purposes"].counts)
    assert (purposes["policy"], purposes["research"], purposes["business"]) == (1, 2, 0)
    relevance = by_name["sat_relevance"]
    assert relevance.counts == (("1", 0), ("2", 1), ("3", 0), ("4", 1), ("5", 0))
    numbers = by_name["releases_used"].numbers
    assert numbers is not None
    assert (numbers.count, numbers.minimum, numbers.maximum, numbers.mean, numbers.median) == (
        2, Decimal(4), Decimal(10), Decimal(7), Decimal(7),
    )  # fmt: skip
    comments = by_name["comments"]
    assert (comments.answered, comments.skipped) == (1, 1)
    assert [t.value for t in comments.latest] == ["More district tables please"]
    dates = by_name["last_use"]
    assert (dates.earliest_date, dates.latest_date) == ("2026-05-01", "2026-06-01")


async def test_funnel_shows_where_people_stopped(database: Database, usat: Survey) -> None:
    await _fill(database, usat)
    async with database.reading() as connection:
        funnel = (await DashboardQueries(connection).results(usat)).funnel
    steps = {step.question.name: step for step in funnel}
    assert (steps["user_group"].reached, steps["user_group"].answered, steps["user_group"].stopped) == (3, 3, 1)
    assert (steps["frequency"].reached, steps["frequency"].stopped) == (3, 0)
    assert (steps["purposes"].reached, steps["purposes"].answered, steps["purposes"].stopped) == (2, 2, 1)
    assert steps["comments"].reached == 2 and steps["comments"].answered == 2
    assert funnel[0].question.name == "user_group"


async def test_filters_by_user_group_region_and_date(database: Database, usat: Survey) -> None:
    await _fill(database, usat)
    async with database.reading() as connection:
        queries = DashboardQueries(connection)
        media = await queries.results(usat, ResultFilter(user_group="media"))
        south = await queries.results(usat, ResultFilter(region="South"))
        recent = await queries.results(usat, ResultFilter(since=NOW - timedelta(days=5)))
        window = await queries.results(
            usat, ResultFilter(since=NOW - timedelta(days=50), until=NOW - timedelta(days=5))
        )
    assert (media.activity.started, media.activity.completed) == (2, 1)
    assert dict(media.questions[0].counts)["media"] == 2
    assert (south.activity.started, south.activity.completed) == (2, 1)
    assert south.activity.median_seconds == 20 * 60
    assert (recent.activity.started, recent.activity.completed) == (2, 1)
    assert recent.funnel[0].stopped == 1  # d, who answered nothing
    assert (window.activity.started, window.activity.completed) == (2, 1)


@pytest.mark.usefixtures(cheap_password_hashes.__name__)  # ten checks: locks, not the hash's cost
async def test_staff_accounts_lock_after_repeated_failures(database: Database) -> None:
    async with database.transaction() as connection:
        staff = StaffRepository(connection)
        await staff.add("amina", "correct horse battery", "editor", NOW)
        with pytest.raises(StaffError, match="already"):
            await staff.add("amina", "another password", "viewer", NOW)
        with pytest.raises(StaffError, match="at least"):
            await staff.add("bob", "short", "viewer", NOW)
        for _attempt in range(MAX_FAILED_ATTEMPTS - 1):
            assert (await staff.login("amina", "wrong password", NOW)).account is None
        ok = await staff.login("amina", "correct horse battery", NOW)
        assert ok.account is not None and ok.account.can_edit, "a success resets the count"
        for _attempt in range(MAX_FAILED_ATTEMPTS):
            result = await staff.login("amina", "wrong password", NOW)
        assert result.locked_until == NOW + LOCKOUT
        locked = await staff.login("amina", "correct horse battery", NOW + timedelta(minutes=1))
        assert locked.account is None and locked.locked_until == NOW + LOCKOUT
        later = await staff.login("amina", "correct horse battery", NOW + LOCKOUT + timedelta(seconds=1))
        assert later.account is not None
        assert (await staff.login("nobody", "correct horse battery", NOW)).account is None


async def test_sessions_end_with_sign_out_password_change_and_removal(database: Database) -> None:
    async with database.transaction() as connection:
        staff = StaffRepository(connection)
        await staff.add("amina", "correct horse battery", "viewer", NOW)
        token = await staff.open_session("amina", NOW)
        session = await staff.session(token, NOW)
        assert session is not None and session.username == "amina" and not session.can_edit
        assert await staff.session(token + "x", NOW) is None
        assert await staff.session(token, NOW + timedelta(days=1)) is None, "expired"
        await staff.set_role("amina", "editor")
        assert (await staff.session(token, NOW)).can_edit  # type: ignore[union-attr]
        await staff.set_password("amina", "a new long password")
        assert await staff.session(token, NOW) is None
        second = await staff.open_session("amina", NOW)
        await staff.close_session(second)
        assert await staff.session(second, NOW) is None
        third = await staff.open_session("amina", NOW)
        await staff.remove("amina")
        assert await staff.session(third, NOW) is None
        with pytest.raises(StaffError):
            await staff.remove("amina")
