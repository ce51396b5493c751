"""``baraza report engagement --quarter 2027Q1 --out report.html``: one self-contained HTML file
with every section, figures matching the seeded quarter, and charts that are real PNGs."""

from __future__ import annotations

import asyncio
import base64
import re
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import pytest

from bot.cli.main import main
from storage.database import Database
from testkit.engagement import seed_engagement
from testkit.paths import FORMS

NOW = datetime(2027, 4, 20, 12, 0, tzinfo=UTC)  # the report's quarter (2027Q1) is over
START, END = datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)
CONFIG = """surveys: {{directory: {forms}}}
engagement:
  objectives:
    - {{id: registered, metric: registered_users, target: 40, by: 2027-12-31}}
    - {{id: request_time, metric: median_request_answer_working_days, target: 3}}
    - {{id: satisfaction, metric: satisfaction_good_share, target: 0.70, survey: usat2026, question: sat_overall, good: [4, 5]}}
"""
SECTIONS = ("reach", "registrations", "surveys", "requests", "satisfaction", "notices", "objectives")
PNG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"')


async def test_the_quarterly_report_has_every_section_and_decodable_charts(
    migrated_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_url = migrated_database_url
    database = Database(database_url)
    facts = await seed_engagement(database, NOW)
    await database.dispose()
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(forms=FORMS))
    monkeypatch.setenv("BARAZA_DATABASE_URL", database_url)
    monkeypatch.setattr("bot.cli.report.utc_now", lambda: NOW)
    out = tmp_path / "report.html"
    status = await asyncio.to_thread(
        main, ["--config", str(config), "report", "engagement", "--quarter", "2027Q1", "--out", str(out)]
    )
    assert status == 0
    html = out.read_text(encoding="utf-8")
    for name in SECTIONS:
        assert f'<section id="{name}">' in html, name
    assert "Engagement report 2027Q1" in html and "2027-01-01 to 2027-04-01" in html
    assert 'src="http' not in html and "<script" not in html and "<link" not in html, "self-contained"
    images = PNG.findall(html)
    assert len(images) >= 3 + 3, "registrations, surveys, answer times and one trend per objective"
    for data, alt in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n") and alt, alt[:60]
    # The figures of the quarter, computed here from the seeded facts.
    joined = [
        c
        for c in facts.contacts
        if c.consent_at is not None and START <= c.consent_at < END and not (c.declined_at and c.declined_at < END)
    ]
    total = re.search(r'<th scope="row">All</th><td class="n">([\d,]+)</td>', html)
    assert total is not None and int(total.group(1).replace(",", "")) == len(joined)
    started = [r for r in facts.ratings if START <= r.started_at < END]
    completed = [r for r in started if r.completed_at is not None]
    row = re.search(r"User satisfaction survey 2026</th><td class=\"n\">(\d+)</td><td class=\"n\">(\d+)</td>", html)
    assert row is not None and (int(row.group(1)), int(row.group(2))) == (len(started), len(completed))
    received = sum(START <= r.created_at < END for r in facts.requests)
    assert f"<strong>{received}</strong> data request(s) came in" in unescape(html)
    assert "2027-04:" not in html, "the trend ends with the quarter's last month"
    assert html.count('<td class="met">') + html.count('<td class="behind">') + html.count('<td class="on-track">') == 3


def test_a_quarter_written_wrongly_or_not_begun_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    forms = Path(__file__).resolve().parents[3] / "office" / "surveys"
    config.write_text(
        f"database: {{url: 'sqlite+aiosqlite:///{tmp_path / 'b.db'}'}}\nsurveys: {{directory: {forms}}}\n"
    )
    assert (
        main(
            ["--config", str(config), "report", "engagement", "--quarter", "2027-03", "--out", str(tmp_path / "r.html")]
        )
        == 2
    )
    assert "'2027-03' is not a quarter such as 2027Q1" in capsys.readouterr().err
    assert (
        main(
            ["--config", str(config), "report", "engagement", "--quarter", "2099Q1", "--out", str(tmp_path / "r.html")]
        )
        == 2
    )
    assert "2099Q1 has not begun" in capsys.readouterr().err
