"""The public results page read in French on a phone in headless Chromium: the browser's language
chooses French, the office's labels (the onboarding's user groups and regions) and the survey's
choices in French, the chart named in words, withheld figures said as such, nothing wider than
the screen; ``make screenshots`` keeps its picture as docs/screenshots/results-fr-phone.png."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from babel.numbers import format_percent

from bot.app import running_bot
from bot.config import RegisterSettings, Settings, WebSettings
from handlers.results import publish_results
from storage.database import Database
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, async_playwright_or_skip, save_screenshot, screenshot_folder
from testkit.results import reference_share, reference_weights, store_respondents, synthetic_respondents, write_survey
from testkit.telegram_harness import NO_FLOOD_LIMIT, PSEUDONYM_KEY, ROOT

DATA_DATE = datetime(2027, 3, 31, 12, 0, tzinfo=UTC)


async def test_the_results_page_reads_in_french_on_a_phone(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    survey = write_survey(tmp_path / "forms")
    await store_respondents(database, survey, synthetic_respondents(300), DATA_DATE)
    await publish_results(database, survey, actor="editor1", now=DATA_DATE + timedelta(days=1))
    settings = Settings(
        database_url=database_url,
        surveys_directory=tmp_path / "forms",
        pseudonym_key=PSEUDONYM_KEY,
        web=WebSettings(host="127.0.0.1", port=0),
        register=RegisterSettings(onboarding=ROOT / "office" / "onboarding.yaml"),
        flood=NO_FLOOD_LIMIT,
    )
    people = synthetic_respondents(300)
    good = np.array([p.answers["satisfaction"] == "good" for p in people])
    share, low, high = reference_share(good, reference_weights())
    async with running_bot(settings) as bot, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="fr-FR")
            page = await context.new_page()
            await page.goto(f"http://127.0.0.1:{bot.web_port}/results/feedback2027")
            assert await page.locator("html").get_attribute("lang") == "fr"
            await expect(page.get_by_role("heading", level=1)).to_have_text("Résultats : Nos statistiques et vous")
            await expect(page.locator("#respondents")).to_contain_text(
                "300 personnes ont répondu. Données au 31 mars 2027."
            )
            await expect(page.locator("#weighting")).to_contain_text("pondérés")

            table = page.locator("#q-satisfaction-table")
            row = table.locator('tr[data-choice="good"]')
            await expect(row.locator("th")).to_have_text("Bien")
            await expect(row.locator(".share")).to_have_text(format_percent(share, locale="fr"))
            interval = f"de {format_percent(low, locale='fr')} à {format_percent(high, locale='fr')}"
            await expect(row.locator(".interval")).to_have_text(interval)
            await expect(table.locator('tr[data-choice="unsure"] td')).to_have_text("non publié (trop peu de réponses)")
            chart = page.get_by_role("img", name="Êtes-vous satisfait de nos statistiques ?", exact=False).first
            await expect(chart).to_be_visible()
            by_group = page.locator('#q-satisfaction table[data-dimension="user_group"]')
            await expect(by_group.locator("th[scope=row]").first).to_have_text("Citoyen ou grand public")
            by_region = page.locator('#q-satisfaction table[data-dimension="region"] th[scope=row]')
            assert await by_region.all_text_contents() == ["Nord", "Sud", "Est", "Ouest", "Non renseigné"]
            await expect(page.get_by_text("Autre chose ?")).to_have_count(0)
            # Nothing wider than the phone: the tables scroll inside their own box.
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            await expect(page.get_by_role("link", name="Télécharger les chiffres (CSV)")).to_be_visible()
            await save_screenshot(page, screenshot_folder(tmp_path) / "results-fr-phone.png")
        finally:
            await browser.close()
