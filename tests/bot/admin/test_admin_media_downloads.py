"""The results page of a survey with media questions offers each format as a zip holding the
table and ``attachments/``, written by the same function as ``baraza export --output FILE.zip``."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pyreadstat
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.admin.routes import add_admin_routes
from handlers.context import Community
from storage.database import Database
from storage.media import FolderMediaStore, MediaStore
from storage.staff import StaffRepository
from testkit.admin import PASSWORD, sign_in
from testkit.media_exports import PHOTO, SURVEY, seed
from testkit.passwords import cheap_password_hashes

# The pages are tested here, not the hash's cost (tests/bot/admin/test_admin_auth.py signs in with it).
pytestmark = pytest.mark.usefixtures(cheap_password_hashes.__name__)


async def _client(database: Database, media: MediaStore | None) -> TestClient[web.Request, web.Application]:
    app = web.Application()
    add_admin_routes(app, database, surveys={SURVEY.id: SURVEY}, community=Community(), media=media)
    client = TestClient(TestServer(app))
    await client.start_server()
    assert (await sign_in(client, "editor1")).status == 303
    return client


async def test_zips_of_the_table_and_its_files_download_from_the_results_page(
    database: Database, tmp_path: Path
) -> None:
    async with database.transaction() as connection:
        await StaffRepository(connection).add("editor1", PASSWORD, "editor", datetime.now(UTC))
    store = FolderMediaStore(tmp_path / "media")
    names = await seed(database, store)
    client = await _client(database, store)
    try:
        page = await (await client.get("/admin/surveys/household")).text()
        for key, name in (("csv", "CSV"), ("xlsx", "Excel"), ("sav", "SPSS"), ("dta", "Stata")):
            assert f'export.{key}.zip" download>{name} + files (ZIP)</a>' in page
        download = await client.get("/admin/surveys/household/export.csv.zip")
        assert download.status == 200
        assert download.headers["Content-Type"] == "application/zip"
        assert download.headers["Content-Disposition"].endswith('.csv.zip"')
        with zipfile.ZipFile(io.BytesIO(await download.read())) as archive:
            assert sorted(archive.namelist()) == sorted(
                ["household.csv", *(f"attachments/{n}" for n in (names.house, names.story, names.paper))]
            )
            rows = list(csv.DictReader(io.StringIO(archive.read("household.csv").decode())))
            assert archive.read(f"attachments/{rows[0]['house']}") == PHOTO
        assert [row["where_accuracy"] for row in rows] == ["4.5", ""]

        download = await client.get("/admin/surveys/household/export.sav.zip")
        (tmp_path / "sav.zip").write_bytes(await download.read())
        with zipfile.ZipFile(tmp_path / "sav.zip") as archive:
            archive.extract("household.sav", tmp_path)
        frame, _ = pyreadstat.read_sav(str(tmp_path / "household.sav"))
        assert list(frame["where_latitude"]) == [-1.2921, -1.3]
        assert (await client.get("/admin/surveys/household/export.exe.zip")).status == 404
    finally:
        await client.close()

    # Without a media store (or for a survey without media questions) there is no such download.
    client = await _client(database, None)
    try:
        assert "+ files (ZIP)" not in await (await client.get("/admin/surveys/household")).text()
        assert (await client.get("/admin/surveys/household/export.csv.zip")).status == 404
        assert (await client.get("/admin/surveys/household/export.csv")).status == 200
    finally:
        await client.close()
