"""The README's five-minute tour, walked in headless Chromium against the real bot; its pictures.

The bot runs with the shipped ``config.yaml`` (the register's privacy notice and onboarding, the
fictional Demoland indicators, the glossary and the calendar), as ``make run`` starts it, on a
SQLite file of the test's own, with the fake Bot API standing in for Telegram so that a few
simulated people have answered the survey before the tour starts. A newcomer then:

- in the web chat, at phone width: reads the privacy notice and agrees, registers, opens the
  survey and sees a question with buttons, asks for a figure and gets it with its chart, and
  sends a question the bot cannot answer as a data request;
- in the dashboard, at desktop width (and the overview at phone width too): the overview, the
  survey's results, its fieldwork report (the invitations sent before the tour), the request
  inbox, a broadcast composed with its reach by channel and why people are left out, that
  broadcast's page once sent, and the audit trail of all this.

Every step asserts what the page shows before its picture is taken. The pictures go to the
test's temporary folder, or to ``$BARAZA_SCREENSHOTS`` (relative to the repository) when set:
``BARAZA_SCREENSHOTS=docs/screenshots`` (``make screenshots``) refreshes the README's pictures.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from bot.app import running_bot
from bot.config import load_settings
from handlers.invitations import QuietHours, invite
from handlers.texts import Texts
from storage.database import Database
from storage.repositories import Repositories
from storage.staff import StaffRepository
from surveys.model import Survey
from testkit import paths
from testkit.broadcasts import wait_until_finished
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, async_playwright_or_skip, save_screenshot, screenshot_folder
from testkit.fakes.survey_respondent import Respondent
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import NO_FLOOD_LIMIT, bot_environment

EN = Texts("en")
PASSWORD = "a long staff password"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
#: The README shows these pictures; each must stay small enough to keep the repository light.
MAX_PICTURE_BYTES = 200_000
#: Simulated people who answered before the tour: (user group, region, questions answered; None = all).
EARLIER_PEOPLE = (
    ("media", "capital", None),
    ("researcher", "north", None),
    ("policymaker", "capital", None),
    ("academic", "south", None),
    ("citizen", "east", 3),
)
EARLIER_REQUESTS = (
    "Monthly rainfall by district since 2015",
    "Number of registered businesses by sector, 2024",
)


async def picture(page: Any, folder: Path, name: str) -> Path:
    """Save what the page shows as ``folder/name``: a palette PNG (screenshots of pages need no
    more than 256 colours, and are then a fraction of the size), at most ``MAX_PICTURE_BYTES``."""
    path = folder / name
    shot = Image.open(io.BytesIO(await save_screenshot(page, path)))
    shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    size = path.stat().st_size
    assert size <= MAX_PICTURE_BYTES, f"{name} is {size} bytes"
    return path


async def register(database: Database, user_id: int, group: str, region: str) -> None:
    """What onboarding stores for a person who consented (onboarding is tested in test_register.py)."""
    async with database.transaction() as connection:
        contacts = Repositories(connection).contacts
        contact = await contacts.touch("telegram", str(user_id), str(user_id), "en", datetime.now(UTC))
        await contacts.give_consent(contact.id, datetime.now(UTC))
        await contacts.set_field(contact.id, "user_group", group)
        await contacts.set_field(contact.id, "region", region)


async def test_the_tour_of_the_readme_in_the_web_chat_and_the_dashboard(tmp_path: Path, usat: Survey) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    folder = screenshot_folder(tmp_path)
    async with FakeTelegramServer() as server:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'tour.db'}"
        environ = bot_environment(server, database_url)
        shipped = load_settings(paths.ROOT / "config.yaml", environ)
        unlimited = replace(
            shipped.telegram, messages_per_second=10_000.0, chat_messages_per_second=10_000.0, chat_burst=1000
        )
        settings = replace(shipped, telegram=unlimited, flood=NO_FLOOD_LIMIT)
        assert settings.register.onboarding is not None and settings.indicators.metadata is not None
        async with running_bot(settings) as bot:
            base = f"http://127.0.0.1:{bot.web_port}"
            async with bot.database.transaction() as connection:
                await StaffRepository(connection).add("amina", PASSWORD, "editor", datetime.now(UTC))
            for index, (group, region, answered) in enumerate(EARLIER_PEOPLE):
                user_id = 8000 + index
                user = server.user(user_id, first_name=f"P{index}")
                await register(bot.database, user_id, group, region)
                respondent = Respondent(user, index, usat)
                await respondent.open()
                await respondent.answer_until(questions_answered=answered)
                if index < len(EARLIER_REQUESTS):
                    await user.send_text_and_wait(f"/request {EARLIER_REQUESTS[index]}")
            # The survey's first wave of invitations, as `baraza survey invite usat2026` sends it.
            async with bot.database.transaction() as connection:
                wave = await invite(
                    connection, usat, quiet=QuietHours("UTC", None, None), created_by="amina", now=datetime.now(UTC)
                )
            assert wave.invited == len(EARLIER_PEOPLE)
            await wait_until_finished(bot.database, wave.broadcast_id)
            assert bot.indicators is not None
            await bot.indicators.first_attempt.wait()
            assert [outcome.error for outcome in bot.indicators.attempts] == [None]

            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    await walk_the_web_chat(browser, base, folder, expect)
                    await walk_the_dashboard(browser, base, folder, expect)
                finally:
                    await browser.close()


async def walk_the_web_chat(browser: Any, base: str, folder: Path, expect: Any) -> None:
    """A newcomer on a phone: consent, onboarding, a survey question, a figure, a data request."""
    context = await browser.new_context(viewport=PHONE, locale="en-GB")
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.goto(f"{base}/")
    log = page.get_by_role("log")
    bot = log.locator(".msg.bot")
    box = page.get_by_label("Your message")

    # 1. The first visit opens with the privacy notice: what is kept, why, and a choice.
    notice = bot.last
    await expect(notice.locator(".text")).to_contain_text("Before we start: your personal data")
    await expect(notice.get_by_role("button", name="Yes, I agree")).to_be_visible()
    await expect(notice.get_by_role("button", name="No, thank you")).to_be_visible()
    await picture(page, folder, "webchat-consent.png")

    # Agreeing, then the short profile of the register, one question at a time.
    await notice.get_by_role("button", name="Yes, I agree").click()
    for question, answer in (
        ("Which language should I use?", "English"),
        ("Which of these best describes you?", "Researcher or analyst"),
        ("Where are you based?", "North"),
    ):
        await expect(bot.last.locator(".text")).to_contain_text(question)
        await bot.last.get_by_role("button", name=answer, exact=True).click()
    await expect(bot.last.locator(".text")).to_contain_text("Which organisation do you work for?")
    await box.fill("University of Demoland")
    await box.press("Enter")
    await expect(bot.last.locator(".text")).to_contain_text("Which topics would you like news about?")
    await bot.last.get_by_role("button", name="Prices and inflation").click()
    await bot.last.get_by_role("button", name=EN("button_done")).click()

    # 2. The survey: its first question, with a button per choice and the progress.
    survey_button = log.get_by_role("button", name="User satisfaction survey 2026").last
    await expect(survey_button).to_be_visible()
    await survey_button.click()
    question = bot.last
    # The user group came from the register (onboarding asked it): the survey starts at question 2.
    await expect(question.locator(".text")).to_contain_text("2/12 · How often do you use our statistics?")
    await expect(bot.last.get_by_role("button")).not_to_have_count(0)
    await picture(page, folder, "webchat-survey.png")

    # 3. A figure by chat (the survey waits: /cancel keeps the answers given), then its chart.
    await box.fill("/cancel")
    await box.press("Enter")
    await expect(bot.last.locator(".text")).not_to_contain_text("How often")
    await box.fill("inflation rate")
    await box.press("Enter")
    # A dimension not given is asked with a button per value, the whole country first.
    await expect(bot.last.locator(".text")).to_contain_text("Choose: Region")
    await bot.last.get_by_role("button").first.click()
    answer = bot.last
    await expect(answer.locator(".text")).to_contain_text("Inflation")
    await expect(answer.locator(".text")).to_contain_text("%")
    await answer.get_by_role("button", name=EN("data_button_chart")).click()
    chart = log.get_by_role("img").last
    await expect(chart).to_be_visible()
    await page.wait_for_function("img => img.complete && img.naturalWidth > 200", arg=await chart.element_handle())
    await chart.evaluate("img => img.closest('.msg').scrollIntoView({block: 'end'})")
    await picture(page, folder, "webchat-lookup.png")

    # 4. What the catalogue does not hold goes to the team as a data request.
    await box.fill("bicycles per village")
    await box.press("Enter")
    await bot.last.get_by_role("button", name=EN("button_request_send")).click()
    await expect(bot.last.locator(".text")).to_contain_text("#")
    assert problems == []
    await context.close()


async def walk_the_dashboard(browser: Any, base: str, folder: Path, expect: Any) -> None:
    """The staff side of the same morning: overview, survey results and fieldwork, the request
    inbox, a broadcast (composed, then sent) and the audit trail."""
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    await page.goto(f"{base}/admin/")
    await page.get_by_label("User name").fill("amina")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()

    # 5. The overview: who the office reaches and how its survey is going.
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    await expect(page.locator("#contacts-total")).to_have_text("6")  # five on Telegram, one in the web chat
    row = page.locator("#surveys-table tbody tr", has_text="usat2026")
    await expect(row.locator("td.rate")).to_have_text("67%")  # four of six finished
    await picture(page, folder, "dashboard-overview.png")
    await page.set_viewport_size(PHONE)
    await expect(page.locator("#contacts-total")).to_be_in_viewport()
    await picture(page, folder, "dashboard-overview-phone.png")
    await page.set_viewport_size(DESKTOP)

    # 6. The survey's results: completion, then a chart per question.
    await row.get_by_role("link").click()
    await expect(page.locator("#started")).to_have_text("6")
    await expect(page.locator("#completion-rate")).to_have_text("67%")
    await expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
    await picture(page, folder, "dashboard-results.png")

    # 7. Its fieldwork: the invitations' dispositions and response rates (four of five finished).
    await page.locator("#fieldwork-link").click()
    await expect(page.get_by_role("heading", name="Fieldwork: User satisfaction survey 2026")).to_be_visible()
    overall = page.locator("#fieldwork-table tr", has_text="All invitations").locator("td")
    await expect(overall.nth(0)).to_have_text(str(len(EARLIER_PEOPLE)))
    await expect(overall.nth(1)).to_have_text("4")
    # All seventeen columns fit at desktop width (the table scrolls in its own box only when narrower).
    fits = await page.locator("#fieldwork-table").evaluate("t => t.scrollWidth <= t.clientWidth")
    assert fits, "the fieldwork table is wider than the page"
    await picture(page, folder, "dashboard-fieldwork.png")

    # 8. The request inbox: the web chat's request next to those sent on Telegram.
    await page.get_by_role("link", name="Requests").click()
    await expect(page.get_by_role("heading", name="Data requests", exact=True)).to_be_visible()
    for text in (*EARLIER_REQUESTS, "bicycles per village"):
        await expect(page.get_by_role("link", name=text)).to_be_visible()
    await picture(page, folder, "dashboard-requests.png")

    # 9. A broadcast: the composer counts the audience by channel and says who cannot be reached.
    await page.get_by_role("link", name="Broadcasts").click()
    await page.get_by_role("link", name="New broadcast").click()
    await page.get_by_label("Title (for staff; recipients do not see it)").fill("October inflation")
    await page.get_by_label("Text in English (en)").fill(
        "Inflation was 7.1% in October. Ask me 'inflation rate' for the figures by region."
    )
    await page.get_by_role("button", name="Preview").click()
    await expect(page.get_by_role("heading", name="Preview")).to_be_visible()
    reach = page.locator("#reach-list li")
    await expect(reach.filter(has_text="Telegram")).to_contain_text("5")
    await expect(reach.filter(has_text=re.compile("web chat", re.I))).to_contain_text(
        "1 web chat without notifications"
    )
    await page.locator("#reach").scroll_into_view_if_needed()
    await page.evaluate("document.querySelector('#audience').scrollIntoView({block: 'start'})")
    await picture(page, folder, "dashboard-broadcast-compose.png")

    # 10. Sent: its page follows the sending live until every message is handled.
    await page.locator("#send").click()
    await expect(page.locator("#progress-text")).to_contain_text("finished", timeout=30_000)
    # The five on Telegram; the web chat's newcomer turned no notifications on (the reach said so).
    await expect(page.locator("#recipients")).to_have_text("5")
    await picture(page, folder, "dashboard-broadcast.png")

    # 11. The audit trail: who signed in, sent, invited, newest first.
    await page.get_by_role("link", name="Audit").click()
    await expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    await expect(page.locator("main table")).to_contain_text("amina")
    await picture(page, folder, "dashboard-audit.png")
    await context.close()
