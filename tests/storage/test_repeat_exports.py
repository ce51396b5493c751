"""Exports of surveys with repeats: a table per repeat linked to its parent row (nested repeats
to the outer repeat's row), passes that no longer exist left out, the codebook's repeat tables."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.dashboard import DashboardQueries
from storage.database import Database
from storage.exports import ExportOptions
from storage.exports.attachments import media_names
from storage.exports.files import export_codebook, export_responses, export_with_attachments
from storage.media import FolderMediaStore, new_name
from storage.repositories import Repositories
from surveys.loader import load_survey_text
from surveys.model import Survey

NOW = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
EVERYTHING = ExportOptions(multiple="both", include_anonymous=True)

FARMS = load_survey_text(
    """
id: farms
title: Farms
questions:
  - {type: text, name: farmer, label: "Farmer?"}
  - type: repeat
    name: plot
    label: plot
    questions:
      - {type: decimal, name: area, label: "Area of the plot?"}
      - type: repeat
        name: crop
        label: crop
        questions:
          - type: select_multiple
            name: seasons
            label: "Seasons?"
            choices: [{name: long, label: Long rains}, {name: short, label: Short rains}]
""",
    "farms.yaml",
)


async def _response(database: Database, survey: Survey, answers: dict[str, str | None], now: datetime = NOW) -> str:
    async with database.transaction() as connection:
        responses = Repositories(connection).responses
        response_id = await responses.create(
            survey_id=survey.id,
            survey_version=survey.version,
            contact=None,
            respondent="",
            language="en",
            now=now,
            channel="telegram",
        )
        for key, value in answers.items():
            await responses.record_answer(response_id, key, value, now)
        await responses.complete(response_id, now)
    return response_id


async def test_nested_repeats_link_to_the_outer_pass_and_dropped_passes_are_left_out(
    database: Database, tmp_path: Path
) -> None:
    first = await _response(
        database,
        FARMS,
        {
            "farmer": "Wanjiru",
            "plot[1]/area": "1.5",
            "plot[1]/crop[1]/seasons": "long short",
            "plot[1]/crop[1]?": "yes",
            "plot[1]/crop[2]/seasons": "short",
            "plot[1]/crop[2]?": "no",
            "plot[1]?": "yes",
            "plot[2]/area": "0.5",
            "plot[2]/crop[1]/seasons": "long",
            "plot[2]/crop[1]?": "no",
            "plot[2]?": "no",
            "plot[3]/area": "9",  # answered before a /back and a "no": the pass no longer exists
        },
    )
    later = NOW + timedelta(minutes=5)
    second = await _response(
        database, FARMS, {"farmer": "Otieno", "plot[1]/area": "2", "plot[1]/crop[1]?": "no"}, later
    )
    exported = await export_responses(database, FARMS, EVERYTHING, "csv", tmp_path / "farms.csv")
    assert exported.rows == 2 and [(t, n) for t, n, _ in exported.tables] == [("plot", 3), ("crop", 4)]

    def rows(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO((tmp_path / name).read_text(encoding="utf-8"))))

    farms, plots, crops = rows("farms.csv"), rows("farms-plot.csv"), rows("farms-crop.csv")
    assert [(f["_index"], f["response_id"]) for f in farms] == [("1", first), ("2", second)]
    assert "plot[3]/area" not in farms[0] and "area" not in farms[0], "pass answers stay out of the parent"
    assert [(p["_index"], p["_parent_table_name"], p["_parent_index"], p["area"]) for p in plots] == [
        ("1", "farms", "1", "1.5"),
        ("2", "farms", "1", "0.5"),
        ("3", "farms", "2", "2"),
    ]
    assert [(c["_parent_table_name"], c["_parent_index"], c["response_id"]) for c in crops] == [
        ("plot", "1", first),
        ("plot", "1", first),
        ("plot", "2", first),
        ("plot", "3", second),
    ]
    assert [(c["seasons"], c["seasons/long"], c["seasons/short"]) for c in crops] == [
        ("long short", "1", "1"),
        ("short", "0", "1"),
        ("long", "1", "0"),
        ("", "", ""),
    ]

    out = io.StringIO()
    streamed = await export_responses(database, FARMS, EVERYTHING, "jsonl", out)
    assert [json.loads(line)["farmer"] for line in out.getvalue().splitlines()] == ["Wanjiru", "Otieno"]
    assert any("only to a file" in note for note in streamed.notes)


async def test_the_codebook_describes_each_repeat_table(database: Database, tmp_path: Path) -> None:
    await _response(database, FARMS, {"farmer": "Wanjiru", "plot[1]/area": "1.5", "plot[1]/crop[1]/seasons": "long"})
    markdown, table = tmp_path / "codebook.md", tmp_path / "codebook.csv"
    await export_codebook(database, FARMS, EVERYTHING, markdown, as_csv=False)
    await export_codebook(database, FARMS, EVERYTHING, table, as_csv=True)
    text = markdown.read_text(encoding="utf-8")
    assert "## Repeat `plot`: plot" in text and "## Repeat `crop`: crop" in text
    assert "whose `_index` is its `_parent_index`" in text and "the repeat table `plot`" in text
    assert text.index("### `area`") > text.index("## Repeat `plot`")
    rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"))))
    by_variable = {(row["table"], row["variable"]): row for row in rows if not row["choice_name"]}
    assert by_variable[("plot", "area")]["count"] == "1"
    assert by_variable[("crop", "_parent_index")]["question"] == ""
    assert by_variable[("farms", "_index")]["type"] == "integer"
    long_rains = next(row for row in rows if row["choice_name"] == "long")
    assert long_rains["table"] == "crop" and long_rains["count"] == "1"


ROOMS = load_survey_text(
    """
id: rooms
title: Rooms
questions:
  - {type: image, name: front, label: "Photo of the front?"}
  - type: repeat
    name: room
    label: room
    questions:
      - {type: image, name: photo, label: "Photo of the room?"}
      - {type: integer, name: beds, label: "Beds in the room?"}
""",
    "rooms.yaml",
)


async def test_attachments_follow_the_exported_passes(database: Database, tmp_path: Path) -> None:
    store = FolderMediaStore(tmp_path / "media")
    front, kept, second, dropped = (new_name("jpg") for _ in range(4))
    for name in (front, kept, second, dropped):
        await store.put(ROOMS.id, name, b"\xff\xd8 a picture " + name.encode())
    # Three passes answered, then "no" after the second (after /back): the third is dropped.
    await _response(
        database, ROOMS,
        {"front": front,
         "room[1]/photo": kept, "room[1]/beds": "2", "room[1]?": "yes",
         "room[2]/photo": second, "room[2]/beds": "1", "room[2]?": "no",
         "room[3]/photo": dropped, "room[3]/beds": "4", "room[3]?": "no"},
    )  # fmt: skip
    later = NOW + timedelta(minutes=5)
    await _response(
        database, ROOMS, {"front": None, "room[1]/photo": kept, "room[1]?": "no", "room[2]/photo": dropped}, later
    )

    exported = await export_with_attachments(database, ROOMS, EVERYTHING, "csv", tmp_path / "out", store)
    assert exported.tables[0][:2] == ("room", 3)
    with (tmp_path / "out" / "rooms-room.csv").open(encoding="utf-8", newline="") as file:
        assert [row["photo"] for row in csv.DictReader(file)] == [kept, second, kept]
    assert exported.attachments == 3 and not exported.notes
    assert sorted(p.name for p in (tmp_path / "out" / "attachments").iterdir()) == sorted([front, kept, second])
    assert [name async for name in media_names(database, ROOMS, EVERYTHING)] == [kept, second, kept, front]

    zipped = await export_with_attachments(database, ROOMS, EVERYTHING, "csv", tmp_path / "out.zip", store)
    assert zipped.tables == (("room", 3, tmp_path / "out.zip"),) and zipped.attachments == 3


async def test_the_dashboard_counts_a_repeat_question_over_its_passes(database: Database) -> None:
    await _response(
        database, ROOMS,
        {"front": new_name("jpg"), "room[1]/photo": new_name("jpg"), "room[1]/beds": "2", "room[1]?": "yes",
         "room[2]/photo": None, "room[2]/beds": "1", "room[2]?": "no"},
    )  # fmt: skip
    await _response(database, ROOMS, {"front": None, "room[1]/photo": new_name("jpg"), "room[1]/beds": "5"})
    async with database.reading() as connection:
        results = await DashboardQueries(connection).results(ROOMS)
    by_name = {result.question.name: result for result in results.questions}
    assert (by_name["photo"].answered, by_name["photo"].skipped) == (2, 1)
    numbers = by_name["beds"].numbers
    assert by_name["beds"].answered == 3 and numbers is not None and numbers.median == 2
    assert (by_name["front"].answered, by_name["front"].skipped) == (1, 1)
    funnel = {step.question.name: step for step in results.funnel}
    # Responses with an answer (a skip included), not answer rows: never more than reached.
    assert [(funnel[name].reached, funnel[name].answered) for name in ("front", "photo", "beds")] == [
        (2, 2), (2, 2), (2, 2),
    ]  # fmt: skip
