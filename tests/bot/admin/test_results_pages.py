"""The results pages over HTTP on real databases: the staff preview, publishing and withdrawing
(audited), the public page and its CSV as a snapshot, in English and French, with the figures of
an independent raking and no figure resting on fewer than 10 respondents."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from babel.numbers import format_percent

from storage import audit
from storage.database import Database
from surveys.loader import load_survey_file
from surveys.model import Survey
from testkit.admin import Client, admin_client, csrf_of
from testkit.results import (
    MARGINS_CSV,
    SECRET_COMMENT,
    SURVEY_YAML,
    reference_share,
    reference_weights,
    store_respondents,
    synthetic_respondents,
    write_survey,
)

DATA_DATE = datetime(2027, 3, 31, 12, 0, tzinfo=UTC)


@pytest.fixture
async def survey(tmp_path: Path) -> Survey:
    return write_survey(tmp_path / "forms")


@pytest.fixture
async def client(database: Database, survey: Survey) -> AsyncIterator[Client]:
    await store_respondents(database, survey, synthetic_respondents(300), DATA_DATE, incomplete=3)
    async with admin_client(database, {survey.id: survey}) as test_client:
        yield test_client


async def publish(client: Client, action: str = "publish") -> int:
    page = await (await client.get("/admin/surveys/feedback2027/results")).text()
    response = await client.post(
        f"/admin/surveys/feedback2027/results/{action}", data={"csrf": csrf_of(page)}, allow_redirects=False
    )
    return response.status


def overall_shares(html: str, question: str = "satisfaction") -> dict[str, tuple[str, str] | None]:
    """The overall table of ``question``: each choice's share and interval as written (None: hidden)."""
    table = html.split(f'id="q-{question}-table"')[1].split("</table>")[0]
    shares: dict[str, tuple[str, str] | None] = {}
    for choice, body in re.findall(r'<tr data-choice="(\w+)">(.*?)</tr>', table, re.S):
        found = re.search(r'class="share">([^<]+)</td><td class="interval">([^<]+)</td>', body)
        shares[choice] = (found.group(1), found.group(2)) if found else None
    return shares


async def test_published_page_shows_the_snapshot_with_independently_computed_figures(
    client: Client, database: Database, survey: Survey
) -> None:
    assert (await client.get("/results/feedback2027")).status == 404, "not published yet"
    preview = await (await client.get("/admin/surveys/feedback2027/results")).text()
    assert "Not published" in preview and "300 people responded." in preview
    assert "Unweighted count" in preview and "<td>132</td>" in preview, "staff see the unweighted counts"
    assert await publish(client) == 303

    page = await client.get("/results/feedback2027", headers={"Cookie": ""})
    html = await page.text()
    assert page.status == 200 and '<html lang="en" dir="ltr">' in html
    assert "300 people responded." in html and "Data as of March 31, 2027." in html
    assert "weighted to the population (by region, user group)" in html
    assert "<small>n=" not in html and "Unweighted" not in html, "the public sees no unweighted counts"
    assert SECRET_COMMENT not in html and "Anything else?" not in html, "free text is never published"

    people = synthetic_respondents(300)
    weights = reference_weights()
    satisfaction = np.array([p.answers["satisfaction"] for p in people])
    shown = overall_shares(html)
    assert list(shown) == ["very_good", "good", "poor", "very_poor", "unsure"], "the survey's order"
    for choice, written in shown.items():
        if written is None:
            continue
        share, low, high = reference_share(satisfaction == choice, weights)
        assert written == (
            format_percent(share, locale="en"),
            f"{format_percent(low, locale='en')} to {format_percent(high, locale='en')}",
        )
    assert shown["unsure"] is None, "6 respondents: suppressed"
    assert 'role="img" aria-label="How satisfied are you with our statistics?. Very good: 10%' in html

    # A snapshot: responses after publication change the preview, not the public page.
    await store_respondents(database, survey, synthetic_respondents(12, seed=7), DATA_DATE.replace(day=30, month=4))
    assert "300 people responded." in await (await client.get("/results/feedback2027")).text()
    assert "312 people responded." in await (await client.get("/admin/surveys/feedback2027/results")).text()

    async with database.reading() as connection:
        events = await audit.events(connection)
    assert [(e.action, e.target, e.actor) for e in events][:1] == [(audit.RESULTS_PUBLISHED, "feedback2027", "editor1")]
    assert events[0].details["respondents"] == "300"

    assert await publish(client, "withdraw") == 303
    assert (await client.get("/results/feedback2027")).status == 404
    async with database.reading() as connection:
        assert (await audit.events(connection))[0].action == audit.RESULTS_WITHDRAWN


async def test_the_page_and_csv_in_french_by_query_or_accept_language(client: Client) -> None:
    assert await publish(client) == 303
    by_query = await (await client.get("/results/feedback2027?lang=fr")).text()
    by_header = await (
        await client.get("/results/feedback2027", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    ).text()
    for html in (by_query, by_header):
        assert '<html lang="fr" dir="ltr">' in html
        assert "Êtes-vous satisfait de nos statistiques ?" in html and "Très bien" in html
        assert "300 personnes ont répondu." in html and "Données au 31 mars 2027." in html
        assert "Par région" in html and "Non renseigné" in html
    english = await (await client.get("/results/feedback2027", headers={"Accept-Language": "de, en;q=0.8"})).text()
    assert '<html lang="en"' in english

    response = await client.get("/results/feedback2027/figures.csv?lang=fr")
    assert response.status == 200 and response.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    overall = {r["choice"]: r for r in rows if r["question"] == "satisfaction" and r["breakdown"] == ""}
    assert overall["good"]["choice_label"] == "Bien" and overall["good"]["group_label"] == "Ensemble"
    weights = reference_weights()
    people = synthetic_respondents(300)
    good = np.array([p.answers["satisfaction"] == "good" for p in people])
    assert float(overall["good"]["share"]) == pytest.approx(reference_share(good, weights)[0], abs=1e-4)
    assert overall["unsure"]["shown"] == "no" and overall["unsure"]["share"] == ""
    assert "comment" not in {r["question"] for r in rows}
    for row in rows:
        if row["respondents"]:
            assert int(row["respondents"]) >= 10, row
    page = await (await client.get("/results/feedback2027?lang=fr")).text()
    shown = overall_shares(page)
    assert {choice for choice, written in shown.items() if written is None} == {
        r["choice"] for r in overall.values() if r["shown"] == "no"
    }, "the page and the CSV hide the same figures"


async def test_a_survey_that_is_not_public_has_no_page_and_cannot_be_published(
    database: Database, tmp_path: Path
) -> None:
    forms = tmp_path / "private"
    forms.mkdir()
    (forms / "private.yaml").write_text(
        "id: private\ntitle: Private\nquestions:\n  - {type: select_one, name: a, label: A, choices: [{name: x, label: X}]}\n"
    )
    from surveys.loader import load_survey_file

    private = load_survey_file(forms / "private.yaml")
    async with admin_client(database, {"private": private}) as client:
        page = await (await client.get("/admin/surveys/private/results")).text()
        assert "does not make its results public" in page and 'id="publish"' not in page
        response = await client.post("/admin/surveys/private/results/publish", data={"csrf": csrf_of(page)})
        assert response.status == 409
        assert (await client.get("/results/private")).status == 404
        assert (await client.get("/results/nope")).status == 404


async def test_viewers_preview_but_cannot_publish(database: Database, survey: Survey) -> None:
    async with admin_client(database, {survey.id: survey}, username="viewer1", role="viewer") as client:
        page = await (await client.get("/admin/surveys/feedback2027/results")).text()
        assert 'id="publish"' not in page
        response = await client.post("/admin/surveys/feedback2027/results/publish", data={"csrf": csrf_of(page)})
        assert response.status == 403


async def test_a_published_question_the_survey_file_no_longer_has_is_shown_by_its_name_not_a_500(
    client: Client, database: Database, tmp_path: Path
) -> None:
    # The snapshot keeps the questions of the day it was published; the survey file may change since.
    assert await publish(client) == 303
    edited = tmp_path / "edited"
    edited.mkdir()
    (edited / "feedback2027.yaml").write_text(
        SURVEY_YAML.replace("name: satisfaction", "name: contentment").replace("name: work", "name: job"),
        encoding="utf-8",
    )
    (edited / "margins.csv").write_text(MARGINS_CSV, encoding="utf-8")
    changed = load_survey_file(edited / "feedback2027.yaml")
    async with admin_client(database, {changed.id: changed}, username="editor2") as later:
        page = await later.get("/results/feedback2027")
        html = await page.text()
        assert page.status == 200 and 'id="q-satisfaction-h">satisfaction</h2>' in html
        assert "What do you use them for?" in html and ">job<" not in html
        figures = await later.get("/results/feedback2027/figures.csv")
        rows = list(csv.DictReader(io.StringIO(await figures.text())))
        assert figures.status == 200 and {"satisfaction", "uses", "visits"} <= {r["question"] for r in rows}
        assert {r["choice_label"] for r in rows if r["question"] == "uses"} == {"work", "Study", "News"}
