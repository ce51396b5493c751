"""Conversations for tests: driven through the engine (``testkit.fakes.engine_user``), or stored
directly where a test is about storage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.database import Database
from storage.records import Contact, Conversation
from storage.repositories import Repositories
from surveys.model import Survey
from testkit.fakes.engine_user import EngineUser


async def new_response(repos: Repositories, usat: Survey, now: datetime) -> tuple[Contact, str]:
    """Telegram user "42" (touched at ``now``) and the id of a new response of theirs to ``usat``."""
    contact = await repos.contacts.touch("telegram", "42", "42", "en", now)
    response_id = await repos.responses.create(
        survey_id=usat.id, survey_version=usat.version, contact=contact, respondent="p", language="en", now=now
    )
    return contact, response_id


async def stored_at_age(database: Database, usat: Survey, now: datetime) -> Conversation:
    """Telegram user "42" in a new response to ``usat`` (the shipped usat2026), stored at its
    "age" question with "sector" answered."""
    async with database.transaction() as connection:
        repos = Repositories(connection)
        contact, response_id = await new_response(repos, usat, now)
        conversation = Conversation(contact.id, "survey", usat.id, response_id, "age", (), 1)
        await repos.conversations.save(conversation, now, (("sector", "public"),))
    return conversation


async def onboard(
    user: EngineUser,
    *,
    group: str = "Journalist or media",
    region: str = "North",
    organisation: str = "Daily News",
    topics: tuple[str, ...] = ("Prices and inflation", "Health"),
    start: str = "/start",
) -> list[Any]:
    """Say yes to the privacy notice and answer the profile questions in English."""
    await user.say(start)
    await user.press("Yes, I agree")
    await user.press("English")
    await user.press(group)
    await user.press(region)
    await user.say(organisation)
    for topic in topics:
        await user.press(topic)
    return await user.press("Done")


async def answer_usat(user: EngineUser) -> None:
    """Answer the shipped survey with buttons and typed answers, from the survey list on."""
    await user.say("/start")
    opened = await user.press("User satisfaction")
    if "Which best describes you?" in opened[-1].text:  # else the register gave it (onboarding)
        await user.press("Media")
    await user.say("2")  # frequency by number: Weekly
    await user.press("Research")
    await user.press("News")
    await user.press("Done")
    await user.say("prices, 3")  # topics typed: a label and a number
    for score in ("4", "3", "5", "2"):
        await user.press(score)
    await user.say("4")
    await user.say("7")
    await user.say("31/03/2026")
    replies = await user.say("More regional data, please.")
    assert "Thank you" in replies[-1].text


async def answer_household(user: EngineUser) -> None:
    """Answer the household survey of ``testkit.household``: three members (the second under 15,
    so not asked whether they work), a ``/back`` from the second pass to the first, "No" to a
    fourth member, two children, four rooms."""
    await user.say("/survey household")
    await user.say("Kisumu")
    for name, age, works in (("Amina", "42", "Works"), ("Baraka", "9", None), ("Chausiku", "70", "Works")):
        if name == "Baraka":
            await user.say("/back")  # from pass 2's first question to pass 1's last
            await user.press("Does not work")
        await user.say(name)
        await user.say(age)
        if works is not None:
            await user.press(works)
        await user.press("Yes" if name != "Chausiku" else "No")
    await user.say("2")
    await user.say("Uhuru Primary")
    await user.say("Jomo Secondary")
    replies = await user.say("4")
    assert replies[-1].text == "Send /start to see other surveys.", "the survey is complete"
