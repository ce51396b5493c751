"""The household visit: ONE form that joins the parts of issue 16, answered the same way over
Telegram, WhatsApp and the web chat by the end-to-end tests, and the check of its export.

The form has a photo, a repeat of members ("Add another?") whose later labels carry the pass's
``${member_name}``, a count over the repeat shown in a later label, a voice note and a
geopoint. :data:`VISIT` is the conversation: three members, ``/back`` from the second pass to
the first, the photo, the voice note and the location; a channel's :class:`Visitor` plays each
step (typing, pressing, sending a file or a position) and checks the question that follows.
:func:`check_visit_export` then reads the export in CSV, Excel, SPSS and Stata.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import openpyxl
import pyreadstat

from storage.database import Database
from storage.exports import ExportOptions
from storage.exports.files import export_with_attachments
from storage.media import STORED_NAME, MediaStore
from surveys.loader import load_survey_file
from surveys.model import Survey
from testkit.fakes.telegram import FakeUser
from testkit.fakes.whatsapp import FakeWhatsAppUser
from testkit.media import VOICE_NOTE, picture, size_of

HOUSEHOLD_VISIT_YAML = """
id: visit
title: Household visit
questions:
  - {type: text, name: village, label: "Which village do you live in?"}
  - {type: image, name: house, label: "Photo of the house", max_pixels: 640}
  - type: repeat
    name: member
    label: household member
    questions:
      - {type: text, name: member_name, label: "Name of the member?"}
      - {type: integer, name: age, label: "How old is ${member_name}?", min: 0, max: 120}
      - type: select_one
        name: works
        label: "Does ${member_name} work?"
        relevant: "${age} >= 15"
        choices: [{name: "1", label: "Works"}, {name: "2", label: "Does not work"}]
  - {type: calculate, name: members, calculate: "count(${member})"}
  - {type: audio, name: story, label: "Tell us about the ${members} members of the household"}
  - {type: geopoint, name: where, label: "Where is the house?"}
  - {type: integer, name: rooms, label: "How many rooms does the house have?", min: 1, max: 50}
"""

#: The photo sent (larger than ``max_pixels``: the kept file is scaled to 640 x 480).
PHOTO = picture(1280, 960)
LATITUDE, LONGITUDE = -1.2921, 36.8219
DONE = "Send /start to see other surveys."


@dataclass(frozen=True)
class Step:
    """One thing the person does (``kind``: text, press, photo, voice, location) and a text the
    bot's last message then contains."""

    kind: str
    value: str
    expect: str


VISIT: tuple[Step, ...] = (
    Step("text", "/survey visit", "Which village do you live in?"),
    Step("text", "Kisumu", "Photo of the house"),
    Step("photo", "house", "household member 1 › Name of the member?"),
    Step("text", "Amina", "How old is Amina?"),
    Step("text", "42", "Does Amina work?"),
    Step("press", "Works", "Add another household member?"),
    Step("press", "Yes", "household member 2 › Name of the member?"),
    Step("text", "/back", "household member 1 › Does Amina work?"),  # across the pass
    Step("press", "Does not work", "household member 2 › Name of the member?"),
    Step("text", "Baraka", "How old is Baraka?"),
    Step("text", "9", "Add another household member?"),  # under 15: not asked whether he works
    Step("press", "Yes", "household member 3 › Name of the member?"),
    Step("text", "Chausiku", "How old is Chausiku?"),
    Step("text", "70", "Does Chausiku work?"),
    Step("press", "Works", "Add another household member?"),
    Step("press", "No", "Tell us about the 3 members of the household"),
    Step("voice", "story", "Where is the house?"),
    Step("location", f"{LATITUDE}, {LONGITUDE}", "How many rooms does the house have?"),
    Step("text", "4", DONE),
)


class Visitor(Protocol):
    """A person on one channel: plays a step and checks that the bot's last message then holds
    ``step.expect`` (raising AssertionError or a timeout otherwise)."""

    async def play(self, step: Step) -> None: ...


async def answer_visit(visitor: Visitor) -> None:
    """Answer the household visit, step by step."""
    for step in VISIT:
        await visitor.play(step)


def _point(step: Step) -> tuple[float, float]:
    latitude, longitude = (float(part) for part in step.value.split(","))
    return latitude, longitude


class TelegramVisitor:
    """A person in Telegram (the fake Bot API's user): the photo sent as a photo (its largest
    size fetched), a voice note, the location shared with its accuracy (``accuracy``)."""

    def __init__(self, user: FakeUser, *, accuracy: float | None = None) -> None:
        self.user = user
        self.accuracy = accuracy

    async def play(self, step: Step) -> None:
        user = self.user
        if step.kind == "text":
            replies = await user.send_text_and_wait(step.value)
        elif step.kind == "press":
            replies = await user.press_and_wait(step.value)
        else:
            if step.kind == "photo":
                await user.send_photo(PHOTO, *size_of(PHOTO))
            elif step.kind == "voice":
                await user.send_voice(VOICE_NOTE)
            else:
                await user.send_location(*_point(step), horizontal_accuracy=self.accuracy)
            replies = await user.wait_until_quiet()
        shown = [reply.text or "" for reply in replies]
        assert shown and step.expect in shown[-1], (step, shown)


class WhatsAppVisitor:
    """A person in WhatsApp (the fake Graph API's user): an image message, a voice note (audio
    with ``voice``), a location message; buttons pressed by their titles."""

    def __init__(self, user: FakeWhatsAppUser) -> None:
        self.user = user

    async def play(self, step: Step) -> None:
        user = self.user
        if step.kind == "text":
            await user.send_text(step.value)
        elif step.kind == "press":
            await user.press_label(step.value)
        elif step.kind == "photo":
            await user.send_media("image", PHOTO, "image/jpeg")
        elif step.kind == "voice":
            await user.send_media("audio", VOICE_NOTE, "audio/ogg; codecs=opus", voice=True)
        else:
            await user.send_location(*_point(step))
        shown = [reply.text for reply in user.replies]
        assert shown and step.expect in shown[-1], (step, shown)


class WebChatVisitor:
    """A person in the web chat in a browser (a Playwright ``Page``): answers typed in the box,
    buttons of the last message clicked, the photo and the voice note through the page's file
    pickers (files written to ``folder``), the location typed (``typed_location``, e.g. with
    altitude and accuracy) as the fallback to the browser's geolocation."""

    def __init__(self, page: Any, folder: Path, *, typed_location: str | None = None) -> None:
        self.page = page
        self.typed_location = typed_location
        self.photo = folder / "house.jpg"
        self.voice = folder / "story.ogg"
        self.photo.write_bytes(PHOTO)
        self.voice.write_bytes(VOICE_NOTE)

    async def play(self, step: Step) -> None:
        from playwright.async_api import expect

        page = self.page
        log = page.get_by_role("log")
        box = page.get_by_label("Your message")
        if step.kind == "press":
            await log.locator(".msg.bot").last.get_by_role("button", name=step.value, exact=True).click()
        elif step.kind == "photo":
            await page.get_by_label("🖼️ Choose a photo").set_input_files(str(self.photo))
        elif step.kind == "voice":
            await page.get_by_label("🎵 Choose a recording").set_input_files(str(self.voice))
        else:
            typed = self.typed_location if step.kind == "location" and self.typed_location else step.value
            await box.fill(typed)
            await box.press("Enter")
        await expect(log.locator(".msg.bot").last).to_contain_text(step.expect)


def household_visit_survey(directory: Path) -> Survey:
    return load_survey_file(directory / "visit.yaml")


def write_household_visit(directory: Path) -> Path:
    """The household visit as a file in the surveys folder ``directory``."""
    path = directory / "visit.yaml"
    path.write_text(HOUSEHOLD_VISIT_YAML, encoding="utf-8")
    return path


GEOPOINT = ("latitude", "longitude", "altitude", "accuracy")


@dataclass(frozen=True)
class Exported:
    """What the export checks found: the stored names of the photo and the voice note."""

    house: str
    story: str


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def check_visit_export(
    database: Database,
    store: MediaStore,
    survey: Survey,
    directory: Path,
    *,
    where: tuple[str, str, str, str],
    photo_size: tuple[int, int] = (640, 480),
) -> Exported:
    """Export the one answered visit in CSV (a folder and a zip), Excel, SPSS and Stata with its
    attachments and check: the parent table (one row, the geopoint's four columns ``where``,
    the count of members), the member table (three rows linked to it by ``_parent_index`` and
    ``response_id``), and the photo (scaled to ``photo_size``) and voice note in ``attachments/``."""
    options = ExportOptions(include_anonymous=True)
    tables: dict[str, tuple[list[str], list[list[object]]]] = {}
    for fmt in ("csv", "xlsx", "sav", "dta"):
        target = directory / f"export-{fmt}"
        exported = await export_with_attachments(database, survey, options, fmt, target, store)
        assert (exported.rows, exported.attachments) == (1, 2), exported
        assert [(name, rows) for name, rows, _ in exported.tables] == [("member", 3)]
        tables.update(_read_tables(fmt, target))
    zipped = await export_with_attachments(database, survey, options, "csv", directory / "export.zip", store)
    assert (zipped.rows, zipped.attachments) == (1, 2)

    parent_rows = _csv((directory / "export-csv" / "visit.csv").read_text(encoding="utf-8"))
    member_rows = _csv((directory / "export-csv" / "visit-member.csv").read_text(encoding="utf-8"))
    (household,) = parent_rows
    assert household["village"] == "Kisumu" and household["rooms"] == "4" and household["members"] == "3"
    assert "member_name" not in household and "member[1]?" not in household
    assert tuple(household[f"where_{part}"] for part in GEOPOINT) == where
    house, story = household["house"], household["story"]
    assert STORED_NAME.match(house) and house.endswith(".jpg"), house
    assert STORED_NAME.match(story) and story.endswith(".ogg"), story
    assert [(m["_index"], m["member_name"], m["age"], m["works"]) for m in member_rows] == [
        ("1", "Amina", "42", "2"),
        ("2", "Baraka", "9", ""),
        ("3", "Chausiku", "70", "1"),
    ]
    for member in member_rows:
        assert member["_parent_table_name"] == "visit" and member["_parent_index"] == household["_index"]
        assert member["response_id"] == household["response_id"] and member["respondent"] == household["respondent"]

    attachments = directory / "export-csv" / "attachments"
    assert sorted(path.name for path in attachments.iterdir()) == sorted([house, story])
    assert size_of((attachments / house).read_bytes()) == photo_size
    assert (attachments / story).read_bytes() == VOICE_NOTE
    with zipfile.ZipFile(directory / "export.zip") as archive:
        assert sorted(archive.namelist()) == sorted(
            ["visit.csv", "visit-member.csv", f"attachments/{house}", f"attachments/{story}"]
        )
        assert archive.read(f"attachments/{story}") == VOICE_NOTE

    # The same tables in every format: the same members, linked to the same parent row.
    for fmt in ("xlsx", "sav", "dta"):
        parent_header, (parent,) = tables[fmt]
        member_header, members = tables[f"{fmt}-member"]
        names = [str(row[member_header.index("member_name")]) for row in members]
        assert names == ["Amina", "Baraka", "Chausiku"], (fmt, names)
        index = "_index" if fmt == "xlsx" else "v_index"
        parent_index = "_parent_index" if fmt == "xlsx" else "v_parent_index"
        assert {_number(row[member_header.index(parent_index)]) for row in members} == {
            _number(parent[parent_header.index(index)])
        }
        assert {row[member_header.index("response_id")] for row in members} == {
            parent[parent_header.index("response_id")]
        }
        assert parent[parent_header.index("house")] == house and parent[parent_header.index("story")] == story
        got = [parent[parent_header.index(f"where_{part}")] for part in GEOPOINT]
        assert [_text(value) for value in got] == [_text(value) for value in where], (fmt, got)
        assert sorted(path.name for path in (directory / f"export-{fmt}" / "attachments").iterdir()) == sorted(
            [house, story]
        )
    return Exported(house, story)


def _number(value: object) -> float:
    return float(str(value))


def _text(value: object) -> str:
    """A cell as text for comparing across formats: numbers without a trailing ``.0``, empty for
    no value (a missing number is NaN in SPSS and Stata)."""
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return ""
    number = float(str(value))
    return f"{number:g}" if number != int(number) else str(int(number))


def _read_tables(fmt: str, target: Path) -> dict[str, tuple[list[str], list[list[object]]]]:
    """The tables of an export folder in ``fmt``: ``{fmt: parent, fmt-member: members}``."""
    if fmt == "csv":
        found = {}
        for key, name in ((fmt, "visit.csv"), (f"{fmt}-member", "visit-member.csv")):
            rows = list(csv.reader(io.StringIO((target / name).read_text(encoding="utf-8"))))
            found[key] = (rows[0], [list[object](row) for row in rows[1:]])
        return found
    if fmt == "xlsx":
        workbook = openpyxl.load_workbook(target / "visit.xlsx", read_only=True)
        assert workbook.sheetnames == ["visit", "member"], workbook.sheetnames
        found = {}
        for key, sheet in ((fmt, "visit"), (f"{fmt}-member", "member")):
            header, *rows = workbook[sheet].iter_rows(values_only=True)
            found[key] = ([str(cell) for cell in header], [list(row) for row in rows])
        workbook.close()
        return found
    read = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    found = {}
    for key, name in ((fmt, f"visit.{fmt}"), (f"{fmt}-member", f"visit-member.{fmt}")):
        frame, _ = read(str(target / name))
        found[key] = (list(frame.columns), frame.values.tolist())
    return found
