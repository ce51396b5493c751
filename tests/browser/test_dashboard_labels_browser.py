"""The dashboard on a first day, in headless Chromium at phone and desktop width: labels instead
of codes (``citizen``, ``national_accounts``), bar labels whole (their first letter is not cut
off), and a Telegram that cannot be reached shown as degraded (issue 17)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.app import running_bot
from bot.config import RegisterSettings, Settings, TelegramSettings, WebSettings
from storage.repositories import Repositories
from storage.staff import StaffRepository
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, async_playwright_or_skip
from testkit.telegram_harness import FORMS, NO_FLOOD_LIMIT, PSEUDONYM_KEY, ROOT, TOKEN, free_port

PASSWORD = "a long staff password"
PEOPLE = {1: "citizen", 2: "citizen", 3: "international_organisation", 4: "political_organisation", 5: None}


def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        surveys_directory=FORMS,
        pseudonym_key=PSEUDONYM_KEY,
        # Nobody listens on this port: Telegram is unreachable.
        telegram=TelegramSettings(token=TOKEN, base_url=f"http://127.0.0.1:{free_port()}/bot", max_retries=0),
        web=WebSettings(host="127.0.0.1", port=0),
        register=RegisterSettings(onboarding=ROOT / "office" / "onboarding.yaml"),
        flood=NO_FLOOD_LIMIT,
    )


@pytest.mark.parametrize("width", [390, 1280])
async def test_the_dashboard_shows_labels_whole_and_a_degraded_telegram(database_url: str, width: int) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    async with running_bot(settings(database_url)) as bot:
        now = datetime.now(UTC)
        async with bot.database.transaction() as connection:
            await StaffRepository(connection).add("amina", PASSWORD, "editor", now)
            repos = Repositories(connection)
            for key, group in PEOPLE.items():
                contact = await repos.contacts.touch("telegram", str(key), str(key), "fr", now)
                if group is not None:
                    await repos.contacts.give_consent(contact.id, now)
                    await repos.contacts.set_field(contact.id, "user_group", group)
        base = f"http://127.0.0.1:{bot.web_port}"
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = await browser.new_context(viewport={"width": width, "height": 844}, is_mobile=width < 600)
                page = await context.new_page()
                await page.goto(f"{base}/admin/")
                await page.get_by_label("User name").fill("amina")
                await page.get_by_label("Password").fill(PASSWORD)
                await page.get_by_label("Password").press("Enter")
                await expect(page.get_by_role("heading", name="Overview")).to_be_visible()

                status = page.locator("#channel-status")
                await expect(status).to_contain_text("Telegram is degraded: cannot connect to the Bot API")

                groups = page.locator('section:has(> h3:text-is("By user group")) svg')
                labels = await groups.locator("text.label").all_text_contents()
                assert "Member of the public" in labels and "International organisation or donor" in labels
                assert "citizen" not in labels and "not given" in labels
                languages = page.locator('section:has(> h3:text-is("By language")) svg')
                assert await languages.locator("text.label").all_text_contents() == ["Français"]
                # Every bar label lies whole inside its chart: no first letter cut off.
                for chart in await page.locator("svg.chart").all():
                    box = await chart.bounding_box()
                    assert box is not None
                    for text in await chart.locator("text").all():
                        inner = await text.bounding_box()
                        assert inner is not None
                        content = await text.text_content()
                        assert inner["x"] >= box["x"] - 1, f"{content!r} starts left of its chart: {inner} {box}"
                        assert inner["x"] + inner["width"] <= box["x"] + box["width"] + 1, f"{content!r} ends outside"
                        # Readable on the screen: at least 10 CSS pixels high.
                        assert inner["height"] >= 10, f"{content!r} is {inner['height']:.1f} pixels high"
                assert await page.evaluate("document.documentElement.scrollWidth") <= width

                await page.goto(f"{base}/admin/broadcasts/new")
                await expect(page.get_by_label("Member of the public")).to_have_count(1)
                await expect(page.get_by_label("National accounts and GDP")).to_have_count(1)
                await expect(page.get_by_label("national_accounts", exact=True)).to_have_count(0)
            finally:
                await browser.close()
