"""Public XLSForms (../shared/xlsforms, skipped when absent) answered over USSD through the real
bot: every screen the core's replies make, whatever the question type, group, hint, note or
problem, fits 182 characters on every page."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.channels.ussd.rendering import SCREEN_LIMIT
from surveys.loader import load_survey_text
from surveys.xlsform import XlsformError, convert_xlsform
from testkit.databases import copy_migrated_sqlite
from testkit.fakes.ussd import FakePhone, UssdScreen
from testkit.paths import SHARED
from testkit.ussd_harness import ussd_bot, ussd_settings
from testkit.ussd_respondent import View

CORPUS = SHARED / "xlsforms"
FORMS = (
    "getodk-sample-forms/all-question-types-v2024091201-3.xlsx",
    "pyxform/xlsform_spec_test.xlsx",
)
#: What a walker types when a screen takes a typed answer, until the question changes.
TYPED = ("skip", "1", "2024-03-31", "-1.2921 36.8219", "12:30", "yes", "a")
MAX_POSTS = 250

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} is absent")


async def read(phone: FakePhone) -> tuple[View, int]:
    """Every page of the screen; the phone ends on the last (its index is returned)."""
    pages = [phone.screen]
    while not pages[-1].ended and "9 More" in pages[-1].lines:
        pages.append(await phone.reply("9"))
    return View(pages), len(pages) - 1


async def walk(phone: FakePhone) -> list[UssdScreen]:
    """Answer whatever is shown (the last choice, the first tick then Done, a typed value that
    fits) until the survey ends or the posts run out; the screens seen."""
    await phone.dial()
    tries = 0
    while not phone.screen.ended and len(phone.screens) < MAX_POSTS:
        view, page = await read(phone)
        if view.pages[-1].ended:
            break
        items = view.items
        ticks = [item for item in items if item.label.startswith("[ ] ")]
        done = [item for item in items if item.label == "Done"]
        choices = [item for item in items if item.label not in ("Skip", "Done")]
        # The last choice: "No" to "Skip to the end?", the highest of a scale, the last option.
        wanted = (ticks[:1] if ticks and not any(i.label.startswith("[x] ") for i in items) else done) or choices[-1:]
        wanted = wanted or items[:1]
        if wanted:
            for _ in range(page - wanted[0].page):
                await phone.reply("0")
            await phone.reply(wanted[0].number)
        else:
            await phone.reply(TYPED[tries % len(TYPED)])
            tries += 1
    return phone.screens


@pytest.mark.parametrize("name", FORMS)
async def test_every_screen_of_a_public_form_fits(tmp_path: Path, name: str) -> None:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    try:
        conversion = convert_xlsform(path, drop_unsupported=True)
    except XlsformError:
        pytest.skip(f"{name} does not import")
    survey = load_survey_text(conversion.yaml_text, "form.yaml")
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "form.yaml").write_text(conversion.yaml_text, encoding="utf-8")
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    async with ussd_bot(url, forms=forms, ussd=ussd_settings(survey=survey.id)) as (_, gateway):
        screens = await walk(gateway.phone("+254712000020"))
    longest = max(screens, key=lambda screen: len(screen.text))
    assert len(longest.text) <= SCREEN_LIMIT, longest.text
    questions = {line.split(" - ", 1)[0] for s in screens for line in s.lines if " - " in line[:9]}
    assert len(questions) >= 5, f"the walk reached only {sorted(questions)}"
