"""``baraza export SURVEY --output DIR/`` and ``--output FILE.zip``: the table with the files of
media answers in ``attachments/``, read from the configured media store, as separate processes."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
import zipfile
from pathlib import Path

import pyreadstat
import pytest

from storage.database import Database
from storage.media import FolderMediaStore
from testkit.media import HOUSEHOLD_MEDIA_YAML, PDF
from testkit.media_exports import PHOTO, seed
from testkit.telegram_harness import ROOT

pytestmark = pytest.mark.slow  # each command is a new Python process


async def baraza(config: Path, *arguments: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli.main", "--config", str(config), "export", "household", *arguments,
        cwd=ROOT,
        env={**os.environ, "BARAZA_LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_export_writes_a_folder_or_a_zip_with_the_attachments(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    names = await seed(database, FolderMediaStore(media))
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "household.yaml").write_text(HOUSEHOLD_MEDIA_YAML, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {{url: '{database_url}'}}\nsurveys: {{directory: '{forms}'}}\nmedia: {{directory: '{media}'}}\n",
        encoding="utf-8",
    )

    code, output = await baraza(config, "--output", f"{tmp_path / 'out'}/")
    assert code == 0, output
    assert "exported 2 response(s) of 'household'" in output and "3 attachment(s) in" in output
    assert f"not in the media store: {names.lost}" in output, "the lost file is reported"
    folder = tmp_path / "out"
    rows = list(csv.DictReader(io.StringIO((folder / "household.csv").read_text(encoding="utf-8"))))
    assert [row["where_latitude"] for row in rows] == ["-1.2921", "-1.3"]
    assert (folder / "attachments" / rows[0]["house"]).read_bytes() == PHOTO
    assert (folder / "attachments" / rows[0]["paper"]).read_bytes() == PDF

    code, output = await baraza(config, "--format", "dta", "--output", str(tmp_path / "household.zip"))
    assert code == 0, output
    with zipfile.ZipFile(tmp_path / "household.zip") as archive:
        assert "household.dta" in archive.namelist()
        assert archive.read(f"attachments/{names.house}") == PHOTO
        archive.extract("household.dta", tmp_path)
    frame, _ = pyreadstat.read_dta(str(tmp_path / "household.dta"))
    assert list(frame["where_longitude"]) == [36.8219, 36.8]

    # A plain file output stays one table, without attachments.
    code, output = await baraza(config, "--output", str(tmp_path / "plain.csv"))
    assert code == 0 and "attachment" not in output, output
