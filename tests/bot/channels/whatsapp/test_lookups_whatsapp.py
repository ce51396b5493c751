"""Lookups end to end over WhatsApp: the real adapter, the fake Cloud API and a real database
(SQLite file, and PostgreSQL when reachable) holding the sample catalogue."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import pytest

from testkit.fakes.indicators import sample_catalogue_url
from testkit.fakes.whatsapp import FakeGraphServer
from testkit.whatsapp_harness import whatsapp_bot


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphServer]:
    async with FakeGraphServer() as fake:
        yield fake


@pytest.fixture
async def catalogue_url(database_url: str) -> str:
    """A migrated database of each backend with the sample catalogue as the active load."""
    return await sample_catalogue_url(database_url)


async def test_a_lookup_gets_the_figure_chart_csv_and_rating_over_whatsapp(
    graph: FakeGraphServer, catalogue_url: str
) -> None:
    async with whatsapp_bot(graph, catalogue_url):
        person = graph.user("254733000001")
        (reply,) = await person.send_text_and_wait("/data unemplyment rate womn northern")
        assert reply.text.split("\n")[:3] == ["Unemployment rate", "Northern · Female", "13.6 % in 2024 (estimated)"]
        assert "Open the release: http" in reply.text, "the link button is a line of the text"
        chart = (await person.press_label("📈 Chart"))[-1]
        assert chart.kind == "image" and chart.media is not None and chart.media.content.startswith(b"\x89PNG")
        assert chart.text == "Unemployment rate\nNorthern · Female"
        download = (await person.press_label("📥 Download (CSV)"))[-1]
        assert download.kind == "document" and download.raw["document"]["filename"] == "UNEMP_RATE_N_F.csv"
        assert download.media is not None
        rows = list(csv.DictReader(io.StringIO(download.media.content.decode("utf-8-sig"))))
        assert [(r["time_period"], r["obs_value"]) for r in rows][-1] == ("2024", "13.6")
        thanks = await person.press_label("👍 Useful")
        assert thanks[-1].text.startswith("Thank you")
    assert all(call.status == 200 for call in graph.calls_to("messages"))
