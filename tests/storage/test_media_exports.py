"""Media and geopoint answers in every export format, read back by their own readers: geopoints as
latitude/longitude/altitude/accuracy numbers (empty when absent), geotraces as one text column,
files as their stored names with the files themselves in ``attachments/`` (a folder or a zip);
and the codebook documents the new columns."""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from datetime import timedelta
from pathlib import Path

import openpyxl
import pyreadstat
import pytest

from storage.codebook import write_codebook
from storage.database import Database
from storage.exports import ExportOptions, Format, response_table, write_table
from storage.exports.attachments import media_names
from storage.exports.files import export_with_attachments
from storage.media import FolderMediaStore
from storage.repositories import Repositories
from testkit.media import PDF, VOICE_NOTE
from testkit.media_exports import NOW, PHOTO, SURVEY, add_response, seed

GEO = ["where_latitude", "where_longitude", "where_altitude", "where_accuracy"]


@pytest.fixture
def store(tmp_path: Path) -> FolderMediaStore:
    return FolderMediaStore(tmp_path / "media")


async def test_csv_and_json_lines_split_the_geopoint_and_name_the_files(
    database: Database, store: FolderMediaStore, tmp_path: Path
) -> None:
    names = await seed(database, store)
    table = await response_table(database, SURVEY, ExportOptions())
    assert await write_table(table, "csv", tmp_path / "out.csv") == 2
    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as source:
        reader = csv.DictReader(source)
        first, second = list(reader)
    assert reader.fieldnames is not None
    questions = [name for name in reader.fieldnames if name not in ("response_id", "respondent", "channel")]
    assert questions[4:14] == ["head", "house", "story", *GEO, "paper", "path", "size"]
    assert "where" not in reader.fieldnames, "the point is in its four columns"
    assert [first[name] for name in GEO] == ["-1.2921", "36.8219", "1661", "4.5"]
    assert [second[name] for name in GEO] == ["-1.3", "36.8", "", ""], "a typed point: no altitude nor accuracy"
    assert (first["house"], first["story"], first["paper"]) == (names.house, names.story, names.paper)
    assert first["path"] == "-1.2921 36.8219;-1.2925 36.823", "a geotrace stays one text column"
    assert (second["story"], second["paper"], second["path"]) == ("", "", "")

    table = await response_table(database, SURVEY, ExportOptions(include_anonymous=True))
    await write_table(table, "jsonl", tmp_path / "out.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [rows[0][name] for name in GEO] == [-1.2921, 36.8219, 1661, 4.5]
    assert [rows[1][name] for name in GEO] == [-1.3, 36.8, None, None]
    assert [rows[2][name] for name in GEO] == [None, None, None, None], "not answered: all empty"
    assert rows[0]["house"] == names.house


async def test_excel_holds_coordinates_as_numbers(database: Database, store: FolderMediaStore, tmp_path: Path) -> None:
    names = await seed(database, store)
    table = await response_table(database, SURVEY, ExportOptions())
    await write_table(table, "xlsx", tmp_path / "out.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx", read_only=True).active
    assert sheet is not None
    header, first, second = ([cell for cell in row] for row in sheet.iter_rows(values_only=True))
    one, two = dict(zip(header, first, strict=True)), dict(zip(header, second, strict=True))
    assert [one[name] for name in GEO] == [-1.2921, 36.8219, 1661, 4.5]
    assert [two[name] for name in GEO] == [-1.3, 36.8, None, None]
    assert one["house"] == names.house and two["story"] is None


@pytest.mark.parametrize("fmt", ["sav", "dta"])
async def test_spss_and_stata_hold_coordinates_as_labelled_numbers(
    database: Database, store: FolderMediaStore, tmp_path: Path, fmt: str
) -> None:
    names = await seed(database, store)
    table = await response_table(database, SURVEY, ExportOptions())
    path = tmp_path / f"out.{fmt}"
    assert await write_table(table, fmt, path) == 2  # type: ignore[arg-type]
    frame, meta = (pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta)(str(path))
    first, second = frame.to_dict("records")
    assert [first[name] for name in GEO] == [-1.2921, 36.8219, 1661, 4.5]
    assert [second[name] for name in GEO[:2]] == [-1.3, 36.8]
    assert math.isnan(second["where_altitude"]) and math.isnan(second["where_accuracy"])
    assert meta.readstat_variable_types["where_latitude"] == "double"
    assert meta.column_names_to_labels["where_latitude"] == "Where is the house: latitude (decimal degrees)"
    assert meta.column_names_to_labels["where_accuracy"] == "Where is the house: accuracy (metres)"
    assert (first["house"], first["paper"]) == (names.house, names.paper)
    assert first["path"] == "-1.2921 36.8219;-1.2925 36.823"
    if fmt == "sav":
        assert meta.variable_measure["where_longitude"] == "scale"


async def test_attachments_go_into_a_folder_beside_the_table(
    database: Database, store: FolderMediaStore, tmp_path: Path
) -> None:
    names = await seed(database, store)
    target = tmp_path / "export"
    exported = await export_with_attachments(database, SURVEY, ExportOptions(), "csv", target, store)
    assert exported.rows == 2 and exported.attachments == 3
    assert sorted(p.name for p in target.iterdir()) == ["attachments", "household.csv"]
    attachments = target / "attachments"
    assert sorted(p.name for p in attachments.iterdir()) == sorted([names.house, names.story, names.paper])
    assert (attachments / names.house).read_bytes() == PHOTO
    assert (attachments / names.story).read_bytes() == VOICE_NOTE
    assert any(names.lost in note and "not in the media store" in note for note in exported.notes), exported.notes
    rows = list(csv.DictReader(io.StringIO((target / "household.csv").read_text(encoding="utf-8"))))
    assert all((attachments / row["house"]).is_file() for row in rows if row["house"] != names.lost)

    # Again into the same folder, anonymous responses included: the files already there are kept.
    (attachments / names.house).write_bytes(b"kept")
    again = await export_with_attachments(database, SURVEY, ExportOptions(include_anonymous=True), "csv", target, store)
    assert again.attachments == 4 and (attachments / names.house).read_bytes() == b"kept"
    assert (attachments / names.anonymous).read_bytes() == PHOTO
    assert not list(attachments.glob(".*")), "no temporary file is left"


@pytest.mark.parametrize("fmt", ["xlsx", "sav"])
async def test_a_zip_holds_the_table_and_the_attachments(
    database: Database, store: FolderMediaStore, tmp_path: Path, fmt: Format
) -> None:
    names = await seed(database, store)
    target = tmp_path / "household.zip"
    exported = await export_with_attachments(database, SURVEY, ExportOptions(complete_only=True), fmt, target, store)
    assert exported.attachments == 3
    assert target.is_file() and not list(tmp_path.glob("*.part")), "no .part left"  # noqa: ASYNC240
    with zipfile.ZipFile(target) as archive:
        assert sorted(archive.namelist()) == sorted(
            [f"household.{fmt}", *(f"attachments/{name}" for name in (names.house, names.story, names.paper))]
        )
        assert archive.read(f"attachments/{names.paper}") == PDF
        archive.extract(f"household.{fmt}", tmp_path)
    if fmt == "sav":
        frame, _ = pyreadstat.read_sav(str(tmp_path / "household.sav"))
        assert list(frame["house"]) == [names.house, names.lost]
    else:
        sheet = openpyxl.load_workbook(tmp_path / "household.xlsx", read_only=True).active
        assert sheet is not None
        assert len(list(sheet.iter_rows())) == 3


async def test_answers_that_are_not_stored_names_are_never_paths(
    database: Database, store: FolderMediaStore, tmp_path: Path
) -> None:
    names = await seed(database, store)
    async with database.transaction() as connection:
        repos = Repositories(connection)
        await add_response(repos, 4, {"house": "../../etc/passwd", "story": "an older text answer"})
        # Keys of passes of a repeat the survey does not have, and look-alike names, are no answers.
        await add_response(repos, 5, {"room[2]/house": names.house, "room[1]/xhouse": "x.jpg", "xhouse": "y.jpg"})
    exported = await export_with_attachments(database, SURVEY, ExportOptions(), "csv", tmp_path / "out", store)
    assert exported.attachments == 3
    assert "attachments: 2 media answer(s) are not file names (older text answers): skipped" in exported.notes
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["attachments", "household.csv"]
    assert [name async for name in media_names(database, SURVEY, ExportOptions(since=NOW + timedelta(hours=4)))] == [
        "../../etc/passwd",
        "an older text answer",
    ]


async def test_the_codebook_documents_the_coordinate_and_file_columns(
    database: Database, store: FolderMediaStore, tmp_path: Path
) -> None:
    await seed(database, store)
    markdown = tmp_path / "codebook.md"
    await write_codebook(database, SURVEY, ExportOptions(), markdown)
    content = markdown.read_text(encoding="utf-8")
    where = content[content.index("### `where`") : content.index("### `paper`")]
    assert "- Columns: `where_latitude`, `where_longitude`, `where_altitude`, `where_accuracy`" in where
    assert "latitude and longitude in decimal degrees" in where and "Answered: 2 of 2" in where
    house = content[content.index("### `house`") : content.index("### `story`")]
    assert "`attachments/<name>`" in house
    path = content[content.index("### `path`") : content.index("### `size`")]
    assert "separated by `;`" in path

    table = tmp_path / "codebook.csv"
    await write_codebook(database, SURVEY, ExportOptions(), table)
    rows = {row["variable"]: row for row in csv.DictReader(io.StringIO(table.read_text(encoding="utf-8")))}
    assert rows["where_latitude"]["type"] == "geopoint latitude (decimal degrees)"
    assert rows["where_altitude"]["type"] == "geopoint altitude (metres)"
    assert rows["where_accuracy"]["question"] == "where" and rows["house"]["type"] == "image"
    assert "where" not in rows


def test_stata_shortens_a_long_geopoint_name_but_keeps_its_endings() -> None:
    from storage.exports.responses import geopoint_columns
    from storage.exports.stats import variable_names

    notes: list[str] = []
    columns = tuple(geopoint_columns("gps_location_of_the_household", "Where"))
    names = variable_names(columns, "dta", notes)
    assert names == [
        "gps_location_of_the_hou_latitude", "gps_location_of_the_ho_longitude",
        "gps_location_of_the_hou_altitude", "gps_location_of_the_hou_accuracy",
    ]  # fmt: skip
    assert all(len(name) <= 32 for name in names) and len(notes) == 4
    assert variable_names(columns, "sav", []) == [column.name for column in columns]
