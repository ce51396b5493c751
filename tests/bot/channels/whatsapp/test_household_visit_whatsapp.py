"""The household visit of issue 16 end to end over WhatsApp: the real adapter behind the web
server receives the Cloud API's webhooks from the fake Graph API (typed answers, button replies,
an image, a voice note, a location message), fetches the files, and the export (CSV, Excel,
SPSS, Stata, with the attachments) holds the household, its three members and the point."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.database import Database
from storage.media import MediaSettings, open_media_store
from testkit.fakes.whatsapp import FakeGraphServer
from testkit.household_visit import (
    LATITUDE,
    LONGITUDE,
    WhatsAppVisitor,
    answer_visit,
    check_visit_export,
    household_visit_survey,
    write_household_visit,
)
from testkit.whatsapp_harness import whatsapp_bot


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphServer]:
    async with FakeGraphServer() as fake:
        yield fake


async def test_the_household_visit_over_whatsapp_is_exported_with_its_members_files_and_point(
    graph: FakeGraphServer, database_url: str, tmp_path: Path
) -> None:
    forms = tmp_path / "forms"
    forms.mkdir()
    write_household_visit(forms)
    media = MediaSettings(directory=tmp_path / "media")
    async with whatsapp_bot(graph, database_url, forms=forms, media=media):
        user = graph.user("254700001111", name="Amina Diallo")
        await answer_visit(WhatsAppVisitor(user))
    assert len(graph.downloads) == 2, "the photo and the voice note, each fetched once"

    database = Database(database_url)
    try:
        exported = await check_visit_export(
            database, open_media_store(media), household_visit_survey(forms), tmp_path,
            where=(str(LATITUDE), str(LONGITUDE), "", ""),
            photo_size=(640, 480),
        )  # fmt: skip
    finally:
        await database.dispose()
    assert "254700001111" not in exported.house + exported.story
