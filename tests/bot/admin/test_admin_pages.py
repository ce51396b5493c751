"""The dashboard's pages and actions over HTTP (an aiohttp test server, real databases):
empty installations, composing and scheduling broadcasts, downloads, the inbox and its errors."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pyreadstat
import pytest

from handlers.notices import Notice
from storage.broadcasts import SCHEDULED, Audience, BroadcastRepository
from storage.database import Database
from storage.exports import ExportOptions, response_table, write_table
from storage.repositories import Repositories
from storage.requests import REQUEST, UNMATCHED
from surveys.model import Survey
from testkit.admin import Client, admin_client, csrf_of


@pytest.fixture
async def client(database: Database, shipped_surveys: dict[str, Survey]) -> AsyncIterator[Client]:
    async with admin_client(database, shipped_surveys) as test_client:
        yield test_client


async def people(database: Database, groups: dict[str, str | None]) -> None:
    async with database.transaction() as connection:
        repos = Repositories(connection)
        for key, group in groups.items():
            contact = await repos.contacts.touch("telegram", key, key, "fr", datetime.now(UTC))
            if group is not None:
                await repos.contacts.give_consent(contact.id, datetime.now(UTC))
                await repos.contacts.set_field(contact.id, "user_group", group)
                await repos.contacts.set_field(contact.id, "region", "Coast")


async def test_every_page_renders_on_an_empty_installation(client: Client) -> None:
    for path, heading in (
        ("/admin/", "Overview"),
        ("/admin/surveys/usat2026", "User satisfaction survey 2026"),
        ("/admin/requests", "Data requests"),
        ("/admin/broadcasts", "Broadcasts"),
        ("/admin/broadcasts/new", "New broadcast"),
    ):
        response = await client.get(path)
        html = await response.text()
        assert response.status == 200, path
        assert f"<h1>{heading}</h1>" in html, path
        assert "Content-Security-Policy" in response.headers
    overview = await (await client.get("/admin/")).text()
    assert re.search(r'id="contacts-total">0<', overview)
    assert (await client.get("/admin/surveys/nope")).status == 404
    assert (await client.get("/admin/broadcasts/999")).status == 404
    assert (await client.get("/admin/requests/999")).status == 404


async def test_results_filters_report_a_wrong_date(client: Client) -> None:
    html = await (await client.get("/admin/surveys/usat2026?since=31/05/2026")).text()
    assert "&#39;From&#39; is not a date (use 2026-05-31)" in html


async def test_every_export_format_downloads_what_baraza_export_writes(
    client: Client, database: Database, usat: Survey, tmp_path: Path
) -> None:
    async with database.transaction() as connection:
        repos = Repositories(connection)
        for index, group in enumerate(("media", "academic")):
            contact = await repos.contacts.touch("telegram", str(index), str(index), "en", datetime.now(UTC))
            response = await repos.responses.create(
                survey_id=usat.id, survey_version=usat.version, contact=contact, respondent=f"r{index}",
                language="en", now=datetime(2026, 5, 1, tzinfo=UTC),
            )  # fmt: skip
            await repos.responses.record_answer(response, "user_group", group, datetime(2026, 5, 1, tzinfo=UTC))
    page = await (await client.get("/admin/surveys/usat2026")).text()
    for name in ("CSV", "Excel", "JSON Lines", "SPSS", "Stata", "Codebook"):
        assert f">Download {name}</a>" in page
    files = {}
    for key in ("csv", "xlsx", "jsonl", "sav", "dta", "codebook"):
        download = await client.get(f"/admin/surveys/usat2026/export.{key}")
        assert download.status == 200, key
        assert download.headers["Content-Disposition"].startswith('attachment; filename="usat2026-'), key
        files[key] = tmp_path / f"download.{key}"
        files[key].write_bytes(await download.read())
    expected = tmp_path / "expected.csv"
    await write_table(await response_table(database, usat, ExportOptions()), "csv", expected)
    assert files["csv"].read_bytes() == expected.read_bytes(), "the same file as baraza export"
    assert len(files["jsonl"].read_text().splitlines()) == 2
    sheet = openpyxl.load_workbook(files["xlsx"], read_only=True).worksheets[0]
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert "user_group" in header and sheet.max_row == 3
    for key, reader in (("sav", pyreadstat.read_sav), ("dta", pyreadstat.read_dta)):
        frame, meta = reader(str(files[key]))
        assert len(frame) == 2 and "user_group" in meta.column_names, key
    assert "user_group" in files["codebook"].read_text()
    assert (await client.get("/admin/surveys/usat2026/export.exe")).status == 404


async def test_compose_lists_problems_then_schedules_for_the_chosen_audience(
    client: Client, database: Database
) -> None:
    await people(database, {"1": "media", "2": "media", "3": "academic", "4": None})
    size = await client.get("/admin/broadcasts/audience?user_groups=media", headers={"Accept": "application/json"})
    assert await size.json() == {
        "size": 2, "description": "user groups media", "reach": ["Telegram: 2 can receive it"], "left_out": {},
    }  # fmt: skip
    everyone = await client.get("/admin/broadcasts/audience", headers={"Accept": "application/json"})
    assert (await everyone.json())["size"] == 3, "only those who consented"

    token = csrf_of(await (await client.get("/admin/broadcasts/new")).text())
    missing = await client.post(
        "/admin/broadcasts", data={"csrf": token, "title": "", "default_language": "en", "text_fr": "Bonjour"}
    )
    text = await missing.text()
    assert missing.status == 422
    assert "Give the broadcast a title" in text and "Write the text in the default language" in text
    too_long = await client.post(
        "/admin/broadcasts",
        data={"csrf": token, "title": "T", "default_language": "en", "text_en": "x" * 4097, "action": "send"},
    )
    assert too_long.status == 422 and "a chat message holds 4096" in await too_long.text()

    when = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    form = {
        "csrf": token, "title": "Survey invitation", "default_language": "en", "text_en": "Tell us what you think",
        "text_fr": "Donnez-nous votre avis", "user_groups": "media", "survey": "usat2026",
        "button_label": "Take the survey", "send_at": when.strftime("%Y-%m-%dT%H:%M"),
    }  # fmt: skip
    preview = await client.post("/admin/broadcasts", data={**form, "action": "preview"})
    html = await preview.text()
    assert preview.status == 200 and 'id="preview-size">2<' in html and "Schedule to 2 people" in html
    assert "Donnez-nous votre avis" in html and "Take the survey" in html
    async with database.reading() as connection:
        assert await BroadcastRepository(connection).recent() == [], "a preview stores nothing"

    sent = await client.post("/admin/broadcasts", data={**form, "action": "send"}, allow_redirects=False)
    assert sent.status == 303
    broadcast_id = int(sent.headers["Location"].rsplit("/", 1)[1])
    async with database.reading() as connection:
        repository = BroadcastRepository(connection)
        summary = await repository.summary(broadcast_id)
        record = await repository.notice(broadcast_id)
    assert summary is not None and record is not None
    assert (summary.status, summary.recipients, summary.send_at) == (SCHEDULED, 2, when)
    assert summary.created_by == "dashboard:editor1"
    notice = Notice.from_json(record.notice)
    assert dict(notice.texts) == {"en": "Tell us what you think", "fr": "Donnez-nous votre avis"}
    assert notice.buttons[0].survey == "usat2026"
    assert record.audience.user_groups == ("media",)

    page = await client.get(f"/admin/broadcasts/{broadcast_id}")
    assert 'data-status="pending">2<' in await page.text()
    progress = await (await client.get(f"/admin/broadcasts/{broadcast_id}/progress")).json()
    assert (progress["recipients"], progress["done"], progress["finished"]) == (2, 0, False)
    cancel = await client.post(f"/admin/broadcasts/{broadcast_id}/cancel", data={"csrf": token}, allow_redirects=False)
    assert cancel.status == 303
    progress = await (await client.get(f"/admin/broadcasts/{broadcast_id}/progress")).json()
    assert (progress["counts"]["cancelled"], progress["finished"]) == (2, True)


async def test_sending_to_an_empty_audience_stores_nothing(client: Client, database: Database) -> None:
    await people(database, {"1": "media"})
    token = csrf_of(await (await client.get("/admin/broadcasts/new")).text())
    response = await client.post(
        "/admin/broadcasts",
        data={"csrf": token, "title": "T", "default_language": "en", "text_en": "Hi", "user_groups": "academic",
              "action": "send"},
    )  # fmt: skip
    assert response.status == 422 and "Nobody is in this audience" in await response.text()
    async with database.reading() as connection:
        assert await BroadcastRepository(connection).recent() == []


async def test_inbox_filters_and_refuses_to_answer_a_closed_request(client: Client, database: Database) -> None:
    now = datetime.now(UTC)
    async with database.transaction() as connection:
        requests = Repositories(connection).requests
        asked = await requests.create(
            contact_id=None, channel="telegram", language="en", user_group="media", source=REQUEST,
            text="Inflation by region", now=now,
        )  # fmt: skip
        searched = await requests.create(
            contact_id=None, channel="telegram", language="fr", user_group="academic", source=UNMATCHED,
            text="Mortalité infantile", now=now,
        )  # fmt: skip
        await requests.close(searched.id, now)

    async def listed(query: str) -> set[str]:
        html = await (await client.get(f"/admin/requests{query}")).text()
        table = html.split('id="requests-table"', 1)[1].split("</table>", 1)[0]
        return {text for text in ("Inflation by region", "Mortalité infantile") if text in table}

    assert await listed("") == {"Inflation by region"}, "open and in progress by default"
    assert await listed("?status=closed") == {"Mortalité infantile"}
    assert await listed("?status=all") == {"Inflation by region", "Mortalité infantile"}
    assert await listed("?status=all&group=media") == {"Inflation by region"}
    assert await listed("?status=all&source=unmatched") == {"Mortalité infantile"}
    stats = await (await client.get("/admin/requests")).text()
    assert 'scope="row">Mortalité infantile</th><td>0</td><td>1</td><td>1</td>' in stats, "unmet demand"

    page = await client.get(f"/admin/requests/{searched.id}")
    token = csrf_of(await page.text())
    refused = await client.post(
        f"/admin/requests/{searched.id}", data={"csrf": token, "action": "answer", "answer": "Table 9"}
    )
    assert refused.status == 409 and "is closed; it cannot be answered" in await refused.text()
    done = await client.post(
        f"/admin/requests/{asked.id}",
        data={"csrf": token, "action": "answer", "answer": "See table 2", "close": "yes"},
        allow_redirects=False,
    )
    # Nobody to tell: the ticket's person is gone (contact_id None), and the page says so.
    assert done.headers["Location"] == f"/admin/requests/{asked.id}?done=answered_unsent"
    shown = await (await client.get(done.headers["Location"])).text()
    assert "Answer saved, but it cannot be sent" in shown
    async with database.reading() as connection:
        thread = await Repositories(connection).requests.thread(asked.id)
    assert thread.request.status == "closed" and thread.answers[0].staff == "editor1"


def test_charts_name_every_value_and_escape_labels() -> None:
    from bot.admin.charts import bar_chart, column_chart

    chart = str(bar_chart([("<b>Media</b>", 2), ("Academic", 1)], title="By group", total=4))
    assert 'aria-label="By group. &lt;b&gt;Media&lt;/b&gt;: 2 (50%); Academic: 1 (25%)"' in chart
    assert "<b>" not in chart and chart.count('class="bar"') == 2
    assert 'class="value">2 (50%)</text>' in chart
    assert "No answers yet" in str(bar_chart([], title="Empty"))
    columns = str(column_chart([("2026-06-01", 0), ("2026-06-02", 3)], title="New"))
    assert 'aria-label="New. 2026-06-02: 3"' in columns and columns.count("<rect") == 2


async def test_messages_are_listed_until_dealt_with_and_replies_show_on_their_broadcast(
    client: Client, database: Database
) -> None:
    from storage.feedback import BROADCAST_REPLY, MESSAGE, FeedbackRepository

    await people(database, {"1": "media"})
    now = datetime.now(UTC)
    async with database.transaction() as connection:
        broadcast_id, _ = await BroadcastRepository(connection).create(
            title="Census notice", notice=Notice("Census notice", {"en": "Out now"}, "en").to_json(),
            audience=Audience(), languages=("en",), default_language="en", created_by="test", now=now,
        )  # fmt: skip
        messages = FeedbackRepository(connection)
        comment = await messages.add(contact_id=1, channel="telegram", kind=MESSAGE, text="Great website", now=now)
        await messages.add(
            contact_id=1, channel="telegram", kind=BROADCAST_REPLY, text="Where is table 3?", now=now,
            broadcast_id=broadcast_id,
        )  # fmt: skip
    inbox = await (await client.get("/admin/requests")).text()
    listed = inbox.split('id="messages-table"', 1)[1].split("</table>", 1)[0]
    assert "Great website" in listed and "Where is table 3?" in listed
    assert f"reply to broadcast {broadcast_id}" in listed
    token = csrf_of(inbox)
    closed = await client.post(f"/admin/messages/{comment}/close", data={"csrf": token}, allow_redirects=False)
    assert closed.status == 303
    again = await (await client.get("/admin/requests")).text()
    assert "Great website" not in again and "Where is table 3?" in again
    assert (await client.post(f"/admin/messages/{comment}/close", data={"csrf": token})).status == 404

    page = await (await client.get(f"/admin/broadcasts/{broadcast_id}")).text()
    assert '<p id="reply-count">1 reply to this broadcast.' in page
    assert "Where is table 3?" in page and "Media" in page  # the user group as a label, not its code
