"""People answer photos, voice notes and locations in headless Chromium at phone width, with the
real engine behind the web chat: files through the page's file pickers, positions typed or shared
through the browser's geolocation; then the stored answers, the files in the media store and the
export's columns and attachments."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import RunningBot
from storage.exports import ExportOptions
from storage.exports.files import export_with_attachments
from storage.media import STORED_NAME, MediaSettings, open_media_store
from surveys.loader import load_survey_file
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, async_playwright_or_skip, save_screenshot
from testkit.household_visit import (
    WebChatVisitor,
    answer_visit,
    check_visit_export,
    household_visit_survey,
    write_household_visit,
)
from testkit.media import HOUSEHOLD_MEDIA_YAML, VOICE_NOTE, picture, stored_answers
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
GEOPOINT = ("latitude", "longitude", "altitude", "accuracy")


@pytest.fixture
async def media_bot(database_url: str, tmp_path: Path) -> AsyncIterator[RunningBot]:
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "fieldvisit.yaml").write_text(FIELD_VISIT, encoding="utf-8")
    (forms / "household.yaml").write_text(HOUSEHOLD_MEDIA_YAML, encoding="utf-8")
    write_household_visit(forms)
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
            await save_screenshot(page, tmp_path / "photo-question.png")

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
            await save_screenshot(page, tmp_path / "location-question.png")
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

    answers = await stored_answers(media_bot.database)
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
    assert [row[f"where_{part}"] for part in GEOPOINT] == [
        "-1.2921", "36.8219", "", "",
    ]  # fmt: skip
    assert (row["water_latitude"], row["water_longitude"], row["water_accuracy"]) == ("-1.2833", "36.8167", "8")
    assert row["stall"] == stall and row["complete"] == "true"
    assert (tmp_path / "export" / "attachments" / stall).read_bytes() == PHOTO


def noisy_png(width: int, height: int) -> bytes:
    """A PNG that does not compress (random pixels): larger than the web server's 64 KB body limit."""
    from PIL import Image

    output = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(output, format="PNG")
    return output.getvalue()


async def test_the_household_form_with_a_photo_a_voice_note_and_typed_points(
    media_bot: RunningBot, tmp_path: Path
) -> None:
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    photo = noisy_png(200, 200)
    assert 64 * 1024 < len(photo) < LIMIT, "more than the server reads for a message, within the upload limit"
    (tmp_path / "house.png").write_bytes(photo)
    (tmp_path / "story.ogg").write_bytes(VOICE_NOTE)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            await page.goto(f"http://127.0.0.1:{media_bot.web_port}/")
            log = page.get_by_role("log")
            box = page.get_by_label("Your message")
            await page.get_by_role("button", name="Household", exact=True).click()
            await expect(log).to_contain_text("Name of the household head")
            await box.fill("Amina")
            await box.press("Enter")
            await expect(log).to_contain_text("Photo of the house")
            await page.get_by_label("🖼️ Choose a photo").set_input_files(str(tmp_path / "house.png"))
            await expect(log).to_contain_text("Tell us about the household")
            recorder = page.get_by_label("🎙️ Record audio")
            assert (await recorder.get_attribute("accept"), await recorder.get_attribute("capture")) == (
                "audio/*",
                "user",
            )
            await page.get_by_label("🎵 Choose a recording").set_input_files(str(tmp_path / "story.ogg"))
            await expect(log).to_contain_text("Where is the house")
            # This browser may not give the position: the page says so and asks for it typed.
            await page.get_by_role("button", name="📍 Send my location").click()
            await expect(log.locator(".msg.notice").last).to_contain_text(
                "Your location was not shared (permission denied). Or type it as latitude, longitude"
            )
            await expect(box).to_be_focused()
            await box.fill("-1.2921, 36.8219, 1661, 5")
            await box.press("Enter")
            await expect(log).to_contain_text("The household's certificate")
            await expect(page.get_by_label("📎 Choose a file")).to_have_attribute("type", "file")
            await log.locator(".msg.bot").last.get_by_role("button", name="Skip ⏭").click()
            await expect(log).to_contain_text("The path to the water point")
            for count, point in enumerate(("-1.2921 36.8219", "-1.2925, 36.8230"), start=1):
                await box.fill(point)
                await box.press("Enter")
                await expect(log).to_contain_text(f"Points so far: {count}.")
            await log.locator(".msg.bot").last.get_by_role("button", name="Done ✔").click()
            await expect(log).to_contain_text("How many people live here")
            await box.fill("5")
            await box.press("Enter")
            await expect(log).to_contain_text("Send /start to see other surveys.")
            assert problems == []
        finally:
            await browser.close()

    survey = load_survey_file(tmp_path / "forms" / "household.yaml")
    store = open_media_store(media_bot.settings.media)
    exported = await export_with_attachments(
        media_bot.database, survey, ExportOptions(), "csv", tmp_path / "export", store
    )
    assert (exported.rows, exported.attachments) == (1, 2)
    (row,) = csv.DictReader(io.StringIO((tmp_path / "export" / "household.csv").read_text(encoding="utf-8")))
    assert [row[f"where_{part}"] for part in GEOPOINT] == ["-1.2921", "36.8219", "1661", "5"]
    assert row["path"] == "-1.2921 36.8219;-1.2925 36.823" and row["paper"] == "" and row["size"] == "5"
    attachments = tmp_path / "export" / "attachments"
    assert row["house"].endswith(".png") and (attachments / row["house"]).read_bytes() == photo
    assert row["story"].endswith(".ogg") and (attachments / row["story"]).read_bytes() == VOICE_NOTE


async def test_the_household_visit_with_members_a_photo_a_voice_note_and_a_typed_point(
    media_bot: RunningBot, tmp_path: Path
) -> None:
    """The form the Telegram and WhatsApp end-to-end tests answer (testkit.household_visit), in
    the browser: three members with /back across a pass, the photo and the voice note through
    the file pickers, the location typed with its altitude and accuracy; then the export."""
    async_playwright = async_playwright_or_skip()
    from playwright.async_api import expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            await page.goto(f"http://127.0.0.1:{media_bot.web_port}/")
            await answer_visit(WebChatVisitor(page, tmp_path, typed_location="-1.2921, 36.8219, 1661, 5"))
            # The photo shown as the person's own message; the voice note as its file name.
            await expect(page.get_by_role("log").locator(".msg.user img")).to_have_count(1)
            assert problems == []
        finally:
            await browser.close()

    await check_visit_export(
        media_bot.database,
        open_media_store(media_bot.settings.media),
        household_visit_survey(tmp_path / "forms"),
        tmp_path,
        where=("-1.2921", "36.8219", "1661", "5"),
    )
