"""The dashboard in headless Chromium against the real bot (``running_bot``) and the fake Bot API.

A staff member who has never seen the dashboard: signs in, finds the completion rate of the
shipped survey after simulated Telegram users answered it, answers a data request (the person
receives the answer in the chat through the outbox), and sends a notice to one user group with
the live audience count (exactly the members of that group receive it). Screenshots, if any,
go to the test's temporary directory, never into the repository.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from handlers.texts import Texts
from storage.database import Database
from storage.repositories import Repositories
from storage.staff import StaffRepository
from surveys.model import Survey
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, async_playwright_or_skip, save_screenshot
from testkit.fakes.survey_respondent import Respondent
from testkit.fakes.telegram import FakeTelegramServer, FakeUser
from testkit.telegram_harness import bot_in_process

EN = Texts("en")
PASSWORD = "a long staff password"
GROUPS = {7000: "media", 7001: "media", 7002: "academic", 7003: None}


async def metric(base: str, name: str, labels: str) -> float:
    """One sample of ``/metrics`` (0 when the series does not exist yet)."""
    async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as response:
        text = await response.text()
    found = re.search(rf"^{re.escape(name)}{{{re.escape(labels)}}} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def register(database: Database, user_id: int, group: str | None) -> None:
    """What onboarding stores for a person who consented and gave a user group (onboarding
    itself is tested in test_register.py)."""
    async with database.transaction() as connection:
        repos = Repositories(connection)
        contact = await repos.contacts.touch("telegram", str(user_id), str(user_id), "en", datetime.now(UTC))
        if group is not None:
            await repos.contacts.give_consent(contact.id, datetime.now(UTC))
            await repos.contacts.set_field(contact.id, "user_group", group)


async def test_a_new_staff_member_reads_results_answers_a_request_and_sends_a_targeted_notice(
    server: FakeTelegramServer, database_url: str, usat: Survey, tmp_path: Path
) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    users: dict[int, FakeUser] = {user_id: server.user(user_id, first_name=f"U{user_id}") for user_id in GROUPS}
    async with bot_in_process(server, database_url) as bot:
        base = f"http://127.0.0.1:{bot.web_port}"
        received_before = await metric(base, "baraza_messages_in_total", 'channel="telegram"')
        broadcast_before = await metric(base, "baraza_messages_out_total", 'channel="telegram",kind="broadcast"')
        async with bot.database.transaction() as connection:
            await StaffRepository(connection).add("amina", PASSWORD, "editor", datetime.now(UTC))
        # Three people complete the survey, a fourth stops after three questions: 75% completion.
        respondents = [Respondent(users[user_id], index, usat) for index, user_id in enumerate(GROUPS)]
        for respondent in respondents[:3]:
            await respondent.open()
            await respondent.answer_until()
        await respondents[3].open()
        await respondents[3].answer_until(questions_answered=3)
        assert [r.finished for r in respondents] == [True, True, True, False]
        for user_id, group in GROUPS.items():
            await register(bot.database, user_id, group)
        asker = users[7002]
        created = await asker.send_text_and_wait("/request Population by district, census 2019")
        number = int((created[-1].text or "").split("#", 1)[1].split(".", 1)[0])
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()

                # Without a session the dashboard shows only the sign-in form.
                await page.goto(f"{base}/admin/requests")
                await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
                await page.get_by_label("User name").fill("amina")
                await page.get_by_label("Password").fill("not the password")
                await page.get_by_role("button", name="Sign in").click()
                await expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password.")
                await page.get_by_label("Password").fill(PASSWORD)
                await page.get_by_role("button", name="Sign in").click()
                await expect(page.get_by_role("heading", name="Data requests", exact=True)).to_be_visible()

                # Overview: the survey's completion rate, then its results page.
                await page.get_by_role("link", name="Overview").click()
                row = page.locator("#surveys-table tbody tr", has_text="usat2026")
                await expect(row.locator("td.rate")).to_have_text("75%")
                await expect(page.locator("#contacts-total")).to_have_text("4")
                await save_screenshot(page, tmp_path / "overview.png", full_page=True)
                await row.get_by_role("link").click()
                await expect(page.locator("#completion-rate")).to_have_text("75%")
                await expect(page.locator("#started")).to_have_text("4")
                await save_screenshot(page, tmp_path / "results.png", full_page=True)
                await expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
                funnel = page.locator("#funnel tbody tr", has_text="Which topics do you use?")
                await expect(funnel.locator("td").nth(2)).to_have_text("1")  # the fourth person stopped there
                await page.get_by_label("User group").select_option("media")
                await page.get_by_role("button", name="Apply filters").click()
                await expect(page.locator("#started")).to_have_text("2")

                # The request inbox: open the ticket, answer it.
                await page.get_by_role("link", name="Requests").click()
                await page.get_by_role("link", name="Population by district, census 2019").click()
                answer = "Table P4 of the 2019 census report: https://stats.example.org/census/p4"
                await page.get_by_label("Your answer").fill(answer)
                await page.get_by_role("button", name="Send answer").click()
                await expect(page.get_by_role("status")).to_contain_text("Answer saved")
                await expect(page.locator("#ticket-status")).to_have_text("answered")
                received = await asker.wait_for_message(
                    lambda m: m.text == EN("request_answer_notice", number=str(number), answer=answer)
                )
                assert received.from_bot

                # A notice to the media group: the live count, a preview, then sending.
                await page.get_by_role("link", name="Broadcasts").click()
                await page.get_by_role("link", name="New broadcast").click()
                await page.get_by_label("Title (for staff").fill("Media briefing on the census")
                notice = "Census 2019 results: press briefing on Monday at 10:00."
                await page.get_by_label("Text in English (en)").fill(notice)
                await expect(page.locator("#audience-count")).to_have_text("3")  # everyone who consented
                await page.locator("#audience").get_by_label("Media", exact=True).check()
                await expect(page.locator("#audience-count")).to_have_text("2")
                await page.get_by_role("button", name="Preview").click()
                await expect(page.locator("#preview-size")).to_have_text("2")
                await expect(page.locator(".preview .bubble .text")).to_have_text(notice)
                await page.get_by_role("button", name="Send now to 2 people").click()
                await expect(page.get_by_role("heading", name="Media briefing on the census")).to_be_visible()
                await expect(page.locator("#progress-text")).to_have_text("2 of 2: finished", timeout=20_000)
                await expect(page.locator('td[data-status="sent"]')).to_have_text("2")
                await expect(page.get_by_role("button", name="Cancel")).to_be_hidden()
                await save_screenshot(page, tmp_path / "broadcast.png", full_page=True)
            finally:
                await browser.close()

        for user_id in (7000, 7001):
            await users[user_id].wait_for_message(lambda m: m.text == notice)
        await asyncio.sleep(0.5)  # a wrongly targeted message would have arrived by now
        for user_id in (7002, 7003):
            assert all(m.text != notice for m in users[user_id].bot_messages), f"user {user_id} got the notice"
        # The operations view of the same work.
        assert await metric(base, "baraza_messages_in_total", 'channel="telegram"') - received_before > 40
        sent = await metric(base, "baraza_messages_out_total", 'channel="telegram",kind="broadcast"')
        assert sent - broadcast_before == 2
        async with aiohttp.ClientSession() as session, session.get(f"{base}/healthz") as response:
            assert await response.json() == {
                "status": "ok", "database": "ok", "channels": {"web": "connected", "telegram": "connected"},
            }  # fmt: skip


async def test_the_dashboard_on_a_phone_with_the_keyboard_only(server: FakeTelegramServer, database_url: str) -> None:
    """Signing in with Tab and Enter, a skip link, and no page wider than a phone's screen."""
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    async with bot_in_process(server, database_url) as bot:
        async with bot.database.transaction() as connection:
            await StaffRepository(connection).add("amina", PASSWORD, "viewer", datetime.now(UTC))
        for user_id, group in GROUPS.items():
            await register(bot.database, user_id, group)
        base = f"http://127.0.0.1:{bot.web_port}"
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
                page = await context.new_page()
                await page.goto(f"{base}/admin/")
                await expect(page.get_by_label("User name")).to_be_focused()
                await page.keyboard.type("amina")
                await page.keyboard.press("Tab")
                await expect(page.get_by_label("Password")).to_be_focused()
                await page.keyboard.type(PASSWORD)
                await page.keyboard.press("Enter")
                await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
                await page.keyboard.press("Tab")
                skip = page.get_by_role("link", name="Skip to content")
                await expect(skip).to_be_focused()
                await page.keyboard.press("Enter")
                await expect(page.locator("main")).to_be_focused()
                for path in ("/admin/", "/admin/surveys/usat2026", "/admin/requests", "/admin/broadcasts"):
                    await page.goto(base + path)
                    width = await page.evaluate("document.documentElement.scrollWidth")
                    assert width <= 390, f"{path} is {width} pixels wide on a 390-pixel screen"
                # A viewer sees no way to change anything.
                await page.goto(f"{base}/admin/broadcasts")
                await expect(page.get_by_role("link", name="New broadcast")).to_have_count(0)
            finally:
                await browser.close()
