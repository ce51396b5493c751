"""A person answers a photo and two locations in headless Chromium at phone width, with the real
engine behind the web chat: the photo through the page's file picker, one position typed, one
shared through the browser's geolocation; then the stored answers, the file in the media store
and the export's columns and attachments."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.app import RunningBot
from storage.exports import ExportOptions
from storage.exports.files import export_with_attachments
from storage.media import STORED_NAME, MediaSettings, open_media_store
from surveys.loader import load_survey_file
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, async_playwright_or_skip
from testkit.media import picture
from testkit.webchat_harness import web_chat_bot

pytestmark = pytest.mark.browser

FIELD_VISIT = """
id: fieldvisit
title: Field visit
questions:
  - {type: image, name: stall, label: Photo of the market stall}
  - {type: geopoint, name: where, label: Where is the stall}
  - {type: geopoint, name: water, label: Where is the nearest water point}
  - {type: text, name: remark, label: Anything else}
"""
PHOTO = picture(320, 200, "PNG")
LIMIT = 200_000


@pytest.fixture
async def media_bot(database_url: str, tmp_path: Path) -> AsyncIterator[RunningBot]:
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "fieldvisit.yaml").write_text(FIELD_VISIT, encoding="utf-8")
    media = MediaSettings(directory=tmp_path / "media", max_bytes=LIMIT)
    async with web_chat_bot(database_url, surveys_directory=forms, media=media) as bot:
        yield bot


async def test_a_photo_a_typed_and_a_shared_location_in_a_phone_browser(media_bot: RunningBot, tmp_path: Path) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    (tmp_path / "stall.png").write_bytes(PHOTO)
    (tmp_path / "film.mp4").write_bytes(bytes(2 * LIMIT))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                viewport={"width": 390, "height": 844},
                geolocation={"latitude": -1.2833, "longitude": 36.8167, "accuracy": 8},
                permissions=["geolocation"],
            )
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            await page.goto(f"http://127.0.0.1:{media_bot.web_port}/")
            log = page.get_by_role("log")
            box = page.get_by_label("Your message")
            await box.fill("/survey fieldvisit")
            await box.press("Enter")
            await expect(log).to_contain_text("Photo of the market stall")

            # The photo question offers the camera and the gallery, as the phone's own pickers.
            camera = page.get_by_label("📷 Take a photo")
            gallery = page.get_by_label("🖼️ Choose a photo")
            assert (await camera.get_attribute("accept"), await camera.get_attribute("capture")) == (
                "image/*",
                "environment",
            )
            assert (await gallery.get_attribute("accept"), await gallery.get_attribute("capture")) == ("image/*", None)
            await expect(page.locator("label.file-choice").first).to_be_visible()
            await page.screenshot(path=str(tmp_path / "photo-question.png"))

            # A file over the limit is refused in the page, before it is sent.
            await gallery.set_input_files(str(tmp_path / "film.mp4"))
            await expect(log.locator(".msg.notice")).to_contain_text("too large (391 KB; at most 195 KB)")
            await gallery.set_input_files(str(tmp_path / "stall.png"))
            await expect(log.locator(".msg.user img")).to_have_count(1)
            await expect(log.locator(".msg.user").last).to_contain_text("stall.png")
            await expect(log).to_contain_text("Where is the stall")
            await expect(page.locator("label.file-choice")).to_have_count(0)  # only the current question's

            # The location question: the share button, and the box asks for latitude, longitude.
            await expect(page.get_by_role("button", name="📍 Send my location")).to_be_visible()
            await expect(box).to_have_attribute("placeholder", "Latitude, longitude")
            await box.fill("-1.2921, 36.8219")
            await box.press("Enter")
            await expect(log).to_contain_text("Where is the nearest water point")
            await page.screenshot(path=str(tmp_path / "location-question.png"))
            await page.get_by_role("button", name="📍 Send my location").click()
            await expect(log.locator(".msg.user").last).to_contain_text("📍 -1.283300, 36.816700 (±8 m)")
            await expect(log).to_contain_text("Anything else")
            await expect(box).to_have_attribute("placeholder", "Type your answer")
            await box.fill("Busy on Mondays")
            await box.press("Enter")
            await expect(log).to_contain_text("Send /start to see other surveys.")
            assert problems == []
        finally:
            await browser.close()

    async with media_bot.database.transaction() as connection:
        rows = (await connection.execute(text("SELECT question, value FROM answers"))).all()
    answers: dict[str, str | None] = {question: value for question, value in rows}
    stall = str(answers["stall"])
    assert STORED_NAME.match(stall) and stall.endswith(".png")
    assert answers["where"] == "-1.2921 36.8219"
    assert answers["water"] is not None and answers["water"].split()[:2] == ["-1.2833", "36.8167"]
    stored = tmp_path / "media" / "fieldvisit" / stall
    assert stored.read_bytes() == PHOTO, "the picture is kept as sent (no max_pixels)"

    survey = load_survey_file(tmp_path / "forms" / "fieldvisit.yaml")
    store = open_media_store(media_bot.settings.media)
    exported = await export_with_attachments(
        media_bot.database, survey, ExportOptions(), "csv", tmp_path / "export", store
    )
    assert (exported.rows, exported.attachments) == (1, 1)
    (row,) = csv.DictReader(io.StringIO((tmp_path / "export" / "fieldvisit.csv").read_text(encoding="utf-8")))
    assert [row[f"where_{part}"] for part in ("latitude", "longitude", "altitude", "accuracy")] == [
        "-1.2921", "36.8219", "", "",
    ]  # fmt: skip
    assert (row["water_latitude"], row["water_longitude"], row["water_accuracy"]) == ("-1.2833", "36.8167", "8")
    assert row["stall"] == stall and row["complete"] == "true"
    assert (tmp_path / "export" / "attachments" / stall).read_bytes() == PHOTO
