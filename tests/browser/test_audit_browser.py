"""The audit trail in headless Chromium against the real bot: an editor gets a password wrong,
signs in, schedules a notice and cancels it, downloads survey results, then finds each of those
actions on the audit page under their own name, filters it, and downloads it as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from storage.repositories import Repositories
from storage.staff import StaffRepository
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, async_playwright_or_skip, save_screenshot
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import bot_in_process

PASSWORD = "a long staff password"


async def test_an_editor_finds_what_they_did_on_the_audit_page_and_downloads_it(
    server: FakeTelegramServer, database_url: str, tmp_path: Path
) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    async with bot_in_process(server, database_url) as bot:
        now = datetime.now(UTC)
        async with bot.database.transaction() as connection:
            await StaffRepository(connection).add("amina", PASSWORD, "editor", now)
            repos = Repositories(connection)
            for user_id in (8000, 8001):
                contact = await repos.contacts.touch("telegram", str(user_id), str(user_id), "en", now)
                await repos.contacts.give_consent(contact.id, now)
        base = f"http://127.0.0.1:{bot.web_port}"
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = await browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
                page = await context.new_page()
                await page.goto(f"{base}/admin/")
                await page.get_by_label("User name").fill("amina")
                await page.get_by_label("Password").fill("not the password")
                await page.get_by_role("button", name="Sign in").click()
                await expect(page.get_by_role("alert")).to_be_visible()
                await page.get_by_label("Password").fill(PASSWORD)
                await page.get_by_role("button", name="Sign in").click()
                await expect(page.get_by_role("heading", name="Overview")).to_be_visible()

                # A notice scheduled for next year, then cancelled.
                await page.get_by_role("link", name="Broadcasts").click()
                await page.get_by_role("link", name="New broadcast").click()
                await page.get_by_label("Title (for staff").fill("Budget briefing")
                await page.get_by_label("Text in English (en)").fill("The budget briefing is on Friday.")
                await page.get_by_label("Send at (UTC").fill(f"{now.year + 1}-01-15T10:00")
                await page.get_by_role("button", name="Preview").click()
                await page.get_by_role("button", name="Schedule to 2 people").click()
                await expect(page.get_by_role("heading", name="Budget briefing")).to_be_visible()
                broadcast_id = page.url.rsplit("/", 1)[1]
                await page.get_by_role("button", name="Cancel").click()
                await expect(page.get_by_role("status")).to_contain_text("Cancelled: 2 message(s)")

                # Survey results downloaded as CSV.
                await page.goto(f"{base}/admin/surveys/usat2026")
                async with page.expect_download() as results:
                    await page.get_by_role("link", name="Download CSV").click()
                await (await results.value).save_as(tmp_path / "usat.csv")

                # The audit page: newest first, each under amina's name.
                await page.get_by_role("link", name="Audit").click()
                await expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
                rows = page.locator("#audit-table tbody tr")
                expected = [
                    ("amina", "export", "survey:usat2026"),
                    ("amina", "broadcast cancelled", f"broadcast:{broadcast_id}"),
                    ("amina", "broadcast stored", f"broadcast:{broadcast_id}"),
                    ("amina", "sign in", "–"),
                    ("amina", "sign in failed", "–"),
                ]
                await expect(rows).to_have_count(len(expected))
                for index, (who, what, target) in enumerate(expected):
                    cells = rows.nth(index).locator("td")
                    await expect(cells.nth(1)).to_have_text(who)
                    await expect(cells.nth(2)).to_have_text(what)
                    await expect(cells.nth(3)).to_have_text(target)
                await expect(rows.nth(2).locator("td").nth(4)).to_contain_text("recipients: 2")
                await save_screenshot(page, tmp_path / "audit.png", full_page=True)

                # Only the broadcasts' cancellations, then the CSV of that view.
                await page.get_by_label("What").select_option("broadcast_cancelled")
                await page.get_by_role("button", name="Show").click()
                await expect(rows).to_have_count(1)
                await expect(rows.first.locator("td").nth(2)).to_have_text("broadcast cancelled")
                async with page.expect_download() as trail:
                    await page.get_by_role("link", name="Download CSV").click()
                saved = tmp_path / "audit.csv"
                await (await trail.value).save_as(saved)
            finally:
                await browser.close()

        exported = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
        assert [(row["actor"], row["action"], row["target"]) for row in exported] == [
            ("amina", "broadcast_cancelled", f"broadcast:{broadcast_id}")
        ]
        assert '"unsent": "2"' in exported[0]["details"]
