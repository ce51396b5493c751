"""Onboarding then the shipped survey, through the real engine and database: the user group the
register holds answers the survey's own question (not asked again, exported all the same), and
the survey offers the same groups as onboarding."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.engine import Engine, load_pseudonymizer
from handlers.context import Community
from storage.database import Database
from surveys.loader import load_survey_directory, load_survey_file
from testkit.conversations import onboard
from testkit.exports import export_rows
from testkit.fakes.engine_user import EngineUser
from testkit.paths import FORMS, ROOT

ONBOARDING = ROOT / "office" / "onboarding.yaml"
KEY = "prefill-test-pseudonym-key-01234"


@pytest.fixture
async def engine(database: Database, tmp_path: Path) -> AsyncIterator[Engine]:
    community = Community(onboarding=load_survey_file(ONBOARDING))
    yield Engine(database, load_survey_directory(FORMS), await load_pseudonymizer(database, KEY), community=community)


def test_the_shipped_survey_offers_the_groups_of_onboarding() -> None:
    onboarding = load_survey_file(ONBOARDING).question("user_group")
    survey = load_survey_file(FORMS / "usat2026.yaml").question("user_group")
    assert [c.name for c in survey.choices] == [c.name for c in onboarding.choices]


async def test_after_onboarding_the_survey_does_not_ask_the_group_and_exports_it(engine: Engine) -> None:
    user = EngineUser(engine, "710000001")
    await onboard(user, group="Researcher or analyst")
    await user.say("/start")
    replies = await user.press("User satisfaction")
    asked = replies[-1].text
    assert "Which best describes you?" not in asked
    assert "How often do you use our statistics?" in asked
    await user.say("/cancel")
    (row,) = await export_rows(engine, engine.surveys["usat2026"])
    assert (row["user_group"], row["complete"]) == ("researcher", "false")


async def test_without_a_register_the_survey_asks_the_group(database: Database) -> None:
    pseudonymizer = await load_pseudonymizer(database, KEY)
    engine = Engine(database, load_survey_directory(FORMS), pseudonymizer, community=Community())
    replies = await EngineUser(engine, "710000002").say("/survey usat2026")
    assert "Which best describes you?" in replies[-1].text
