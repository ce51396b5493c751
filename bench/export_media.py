"""Media export benchmark: N responses (default 20,000) to a survey with a photo, a voice note, a
geopoint and a geotrace, exported by the same functions as ``baraza export``: the table alone
(CSV and SPSS, geopoint split into four columns), then with the files, into a folder and into a
zip. Prints seconds, rows or files per second, and the machine line.

    python -m bench.export_media [--responses N] [--file-kb K]

Every response has its photo (K KB, default 30) and its voice note (K/3 KB) in a folder media
store under /tmp; the database is SQLite. Run on a quiet machine: the figures are wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.machine import describe
from storage.database import Database, migrate_url
from storage.exports import ExportOptions
from storage.exports.files import export_responses, export_with_attachments
from storage.media import FolderMediaStore, new_name
from surveys.loader import load_survey_text
from testkit.media import HOUSEHOLD_MEDIA_YAML

SURVEY = load_survey_text(HOUSEHOLD_MEDIA_YAML, "household.yaml")
START = datetime(2026, 5, 1, tzinfo=UTC)


def fill(work: Path, count: int, file_kb: int) -> tuple[str, FolderMediaStore]:
    """An SQLite database of ``count`` complete responses and their files in a folder store."""
    path = work / "media-bench.db"
    asyncio.run(migrate_url(f"sqlite+aiosqlite:///{path}"))
    store = FolderMediaStore(work / "media")
    folder = store.directory / SURVEY.id
    folder.mkdir(parents=True)
    photo, voice = os.urandom(file_kb * 1024), os.urandom(file_kb * 1024 // 3)
    connection = sqlite3.connect(path)
    connection.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
    responses, answers = [], []
    for number in range(count):
        started = (START + timedelta(seconds=number)).strftime("%Y-%m-%d %H:%M:%S.%f")
        response_id = f"r{number:08d}"
        responses.append(
            (response_id, SURVEY.id, SURVEY.version, None, f"p{number}", "web", "en", started, started, None)
        )
        house, story = new_name("jpg"), new_name("ogg")
        (folder / house).write_bytes(photo)
        (folder / story).write_bytes(voice)
        lat, lon = -1.2 - number / 1e6, 36.8 + number / 1e6
        for question, value in (
            ("head", f"Head {number}"), ("house", house), ("story", story), ("where", f"{lat:.6f} {lon:.6f} 1661 4.5"),
            ("path", f"{lat:.6f} {lon:.6f};{lat + 0.001:.6f} {lon:.6f}"), ("size", str(number % 9 + 1)),
        ):  # fmt: skip
            answers.append((response_id, question, value, started))
    connection.executemany("INSERT INTO responses VALUES (?,?,?,?,?,?,?,?,?,?)", responses)
    connection.executemany("INSERT INTO answers (response_id, question, value, answered_at) VALUES (?,?,?,?)", answers)
    connection.commit()
    connection.close()
    return f"sqlite+aiosqlite:///{path}", store


async def run(url: str, store: FolderMediaStore, work: Path, count: int) -> None:
    database = Database(url)
    options = ExportOptions()
    try:
        for fmt in ("csv", "sav"):
            started = time.perf_counter()
            exported = await export_responses(database, SURVEY, options, fmt, work / f"table.{fmt}")
            seconds = time.perf_counter() - started
            print(f"| table alone, {fmt} | {seconds:.1f} | {exported.rows / seconds:,.0f} rows/s | - |")
        for label, target in (("folder", work / "out"), ("zip", work / "out.zip")):
            started = time.perf_counter()
            exported = await export_with_attachments(database, SURVEY, options, "csv", target, store)
            seconds = time.perf_counter() - started
            size = (
                target.stat().st_size
                if target.is_file()
                else sum(p.stat().st_size for p in (target / "attachments").iterdir())
            )
            print(
                f"| csv + attachments, {label} | {seconds:.1f} | {exported.attachments / seconds:,.0f} files/s"
                f" | {size / 1e6 / seconds:,.0f} MB/s |"
            )
            assert exported.rows == count and exported.attachments == 2 * count
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--responses", type=int, default=20_000)
    parser.add_argument("--file-kb", type=int, default=30)
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="baraza-bench-media-"))
    try:
        url, store = fill(work, arguments.responses, arguments.file_kb)
        print(describe())
        print(f"\n{arguments.responses:,} responses, each with a {arguments.file_kb} KB photo and a voice note, SQLite")
        print("| export | seconds | rate | throughput |\n|---|---|---|---|")
        asyncio.run(run(url, store, work, arguments.responses))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
