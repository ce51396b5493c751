"""Invitations from the dashboard in headless Chromium (1280 wide) against the real bot and the
fake Bot API: an editor opens a survey's fieldwork page, chooses a user group and a seeded sample
of two, runs the dry run (the reach by channel with the reasons people are left out), sends, and
exactly the two people drawn receive the invitation with its start button from ``baraza run``'s
durable sender; the audit trail names the editor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import running_bot
from bot.config import FieldworkSettings
from handlers.invitations import START_LABEL, QuietHours, draw_sample
from storage import audit
from storage.broadcasts import Audience
from storage.invitations import InvitationRepository, invitations
from storage.repositories import Repositories
from storage.staff import StaffRepository
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, async_playwright_or_skip, save_screenshot
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import bot_settings

PASSWORD = "a long staff password"
#: user id → (user group, consented): three in media (one of whom opted out), one academic.
PEOPLE = {
    9100: ("media", True),
    9101: ("media", True),
    9102: ("media", True),
    9103: ("media", False),
    9104: ("academic", True),
}


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as fake:
        yield fake


async def test_an_editor_dry_runs_then_sends_invitations_to_a_seeded_sample(
    server: FakeTelegramServer, database_url: str, tmp_path: Path
) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    users = {user_id: server.user(user_id, first_name=f"U{user_id}") for user_id in PEOPLE}
    settings = replace(
        bot_settings(server, database_url),
        fieldwork=FieldworkSettings(quiet=QuietHours("UTC", None, None), reminders_every_minutes=0),
    )
    async with running_bot(settings) as bot:
        now = datetime.now(UTC)
        contact_of: dict[int, int] = {}
        async with bot.database.transaction() as connection:
            await StaffRepository(connection).add("amina", PASSWORD, "editor", now)
            repos = Repositories(connection)
            for user_id, (group, consented) in PEOPLE.items():
                contact = await repos.contacts.touch("telegram", str(user_id), str(user_id), "en", now)
                contact_of[contact.id] = user_id
                await repos.contacts.set_field(contact.id, "user_group", group)
                if consented:
                    await repos.contacts.give_consent(contact.id, now)
        async with bot.database.reading() as connection:
            pool = await InvitationRepository(connection).candidates("usat2026", 1, Audience(user_groups=("media",)))
        drawn = {contact_of[c.contact_id] for c, _ in draw_sample(pool, 2, seed=5)}
        assert len(pool) == 3 and len(drawn) == 2

        base = f"http://127.0.0.1:{bot.web_port}"
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = await browser.new_context(viewport={"width": 1280, "height": 900})
                page = await context.new_page()
                await page.goto(f"{base}/admin/")
                await page.get_by_label("User name").fill("amina")
                await page.get_by_label("Password").fill(PASSWORD)
                await page.get_by_role("button", name="Sign in").click()
                await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
                await page.goto(f"{base}/admin/surveys/usat2026")
                await page.locator("#fieldwork-link").click()
                await expect(page.get_by_role("heading", name="Invite")).to_be_visible()

                invite = page.locator("#invite")
                await invite.get_by_label("Media", exact=True).check()
                await invite.get_by_label("Sample size").fill("2")
                await invite.get_by_label("Seed (the same seed").fill("5")
                await invite.get_by_role("button", name="Dry run").click()
                await expect(page.locator("#dry-run-count")).to_contain_text(
                    "2 would be invited, of 3 contact(s) not invited to wave 1 yet"
                )
                await expect(page.locator("#reach-list li")).to_have_text(
                    ["Telegram: 3 can receive it; left out: 1 no consent"]
                )
                await expect(page.locator("#invite").get_by_label("Media", exact=True)).to_be_checked()
                # Nothing spills out of a 1280-pixel window.
                width = await page.evaluate("document.documentElement.scrollWidth")
                wide = await page.evaluate(
                    "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 1280)"
                    ".slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className)"
                )
                assert width <= 1280, (width, wide)
                await save_screenshot(page, tmp_path / "fieldwork-dry-run.png", full_page=True)

                await page.get_by_role("button", name="Send 2 invitation(s)").click()
                await expect(page.locator("#invited")).to_contain_text("2 invitation(s) stored")
                await expect(page.locator("#fieldwork-table")).to_contain_text("All invitations")
            finally:
                await browser.close()

        for user_id in drawn:
            message = await users[user_id].wait_for_message(lambda m: m.find_button(START_LABEL["en"]) is not None)
            assert message.find_button(START_LABEL["en"]) is not None
        for user_id in set(PEOPLE) - drawn:
            assert not users[user_id].bot_messages, f"{user_id} was not drawn"
        async with bot.database.reading() as connection:
            stored = {contact_of[c] for c in await connection.scalars(select(invitations.c.contact_id))}
            (event,) = await audit.events(connection, audit.AuditFilter(action=audit.BROADCAST_STORED))
        assert stored == drawn
        assert event.actor == "amina" and event.details["invitation"] == "usat2026" and event.details["seed"] == "5"
