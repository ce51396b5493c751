"""``baraza requests``: the inbox of tickets and messages, staff actions and their errors, statistics."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table

from bot.cli.main import main
from storage.database import Database
from storage.feedback import BROADCAST_REPLY, MESSAGE, FeedbackRepository
from storage.models import IndicatorQueryRow
from storage.repositories import Repositories
from storage.requests import REQUEST, UNMATCHED
from testkit.databases import copy_migrated_sqlite
from testkit.paths import ROOT

indicator_queries = cast(Table, IndicatorQueryRow.__table__)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"

    async def setup() -> None:
        database = Database(await copy_migrated_sqlite(tmp_path / "db.sqlite"))
        now = datetime.now(UTC)
        async with database.transaction() as connection:
            repos = Repositories(connection)
            amina = await repos.contacts.touch("telegram", "1", "1", "fr", now)
            web = await repos.contacts.touch("web", "w", "w", "en", now)
            await repos.requests.create(
                contact_id=amina.id, channel="telegram", language="fr", user_group="media",
                source=REQUEST, text="Prix du riz par marché", now=now - timedelta(hours=3),
            )  # fmt: skip
            await repos.requests.create(
                contact_id=web.id, channel="web", language="en", user_group=None,
                source=UNMATCHED, text="Rice prices by market?", now=now - timedelta(hours=2),
            )  # fmt: skip
            messages = FeedbackRepository(connection)
            await messages.add(
                contact_id=amina.id,
                channel="telegram",
                kind=MESSAGE,
                text="Le site est lent",
                now=now - timedelta(hours=1),
            )
            await messages.add(contact_id=web.id, channel="web", kind=BROADCAST_REPLY, text="Merci pour l'IPC", now=now)
            await connection.execute(
                indicator_queries.insert(),
                [
                    {
                        "contact_id": None,
                        "language": "en",
                        "text": "rice prices, by market",
                        "matched": 0,
                        "asked_at": now,
                    }
                ]
                * 3,
            )
        await database.dispose()

    asyncio.run(setup())
    path = tmp_path / "config.yaml"
    path.write_text(
        f"database: {{url: '{url}'}}\nsurveys: {{directory: {ROOT / 'office' / 'surveys'}}}\n"
        f"privacy: {{key_file: '{tmp_path / 'baraza.keys'}'}}\n"
    )
    return path


def ids_in(output: str) -> list[str]:
    return [line.split()[0] for line in output.splitlines()[1:] if line[:1] in ("#", "m")]


def lines_with(output: str, *needles: str) -> list[str]:
    return [line for line in output.splitlines() if all(needle in line for needle in needles)]


def test_the_inbox_lists_tickets_and_messages_newest_first_and_closing_removes_them(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--config", str(config), "requests"]
    assert main([*base, "list"]) == 0
    out = capsys.readouterr().out
    assert ids_in(out) == ["m2", "m1", "#2", "#1"]
    assert lines_with(out, "#1", "request", "open", "media", "fr", "Prix du riz par marché")
    assert lines_with(out, "m2", "broadcast_reply", "new", "Merci pour l'IPC")
    assert main([*base, "list", "--kind", "messages"]) == 0
    assert ids_in(capsys.readouterr().out) == ["m2", "m1"]
    assert main([*base, "list", "--kind", UNMATCHED]) == 0
    assert ids_in(capsys.readouterr().out) == ["#2"]

    assert main([*base, "close", "m1"]) == 0
    assert "message m1: closed" in capsys.readouterr().out
    assert main([*base, "close", "2"]) == 0
    capsys.readouterr()
    assert main([*base, "list"]) == 0
    assert ids_in(capsys.readouterr().out) == ["m2", "#1"]
    assert main([*base, "list", "--status", "closed"]) == 0
    out = capsys.readouterr().out
    assert ids_in(out) == ["m1", "#2"] and lines_with(out, "m1", "closed") and lines_with(out, "#2", "closed")
    assert main([*base, "show", "m2"]) == 0
    assert "Message m2 (broadcast_reply)" in capsys.readouterr().out


def test_staff_actions_say_what_went_wrong(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--config", str(config), "requests"]
    assert main([*base, "reply", "99", "An answer"]) == 1
    assert "baraza: there is no data request #99" in capsys.readouterr().err
    assert main([*base, "reply", "abc", "An answer"]) == 1
    assert "'abc' is not a ticket number" in capsys.readouterr().err
    assert main([*base, "reply", "2", "See the trade yearbook.", "--close", "--staff", "joao"]) == 0
    out = capsys.readouterr().out
    assert "data request #2: answered by joao, now closed" in out
    assert "they see it with /my_requests" in out, "a web-chat user cannot be written to first"
    assert main([*base, "reply", "2", "Again"]) == 1
    assert "data request #2 is closed; it cannot be answered" in capsys.readouterr().err
    assert main([*base, "progress", "1", "--staff", "amina"]) == 0
    out = capsys.readouterr().out
    assert "data request #1: in progress, assigned to amina" in out and "told in the chat" in out
    assert main([*base, "assign", "1", "joao"]) == 0
    assert "assigned to joao (in_progress)" in capsys.readouterr().out
    assert main([*base, "show", "#2"]) == 0
    out = capsys.readouterr().out
    assert "status      closed" in out and "staff (joao):" in out and "See the trade yearbook." in out
    assert main([*base, "show", "x7"]) == 1
    assert "neither a ticket number" in capsys.readouterr().err


def test_stats_show_the_most_requested_missing_data_and_answer_times(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--config", str(config), "requests"]
    assert main([*base, "reply", "1", "Tableau 7."]) == 0
    capsys.readouterr()
    assert main([*base, "stats"]) == 0
    out = capsys.readouterr().out
    assert "Data requests, all time: 2" in out
    assert "by status      open 1 · in progress 0 · answered 1 · closed 0" in out
    assert "by user group  media 1 · not given 1" in out
    assert "time to first answer (1 answered): median 3.0 h · 90th percentile 3.0 h" in out
    demand = out.split("Most requested data that was not found")[1].splitlines()[2:]
    assert [line.split(maxsplit=2) for line in demand] == [
        ["3", "1", "rice prices, by market"],  # three lookups and one request worded alike
        ["0", "1", "Prix du riz par marché"],
    ]


def test_broadcast_replies_are_exported_with_the_senders_register_entry(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "broadcast", "replies"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["id", "broadcast_id", "received_at", "respondent", "user_group", "region", "language", "text"]
    assert [row[4:] for row in rows[1:]] == [["", "", "en", "Merci pour l'IPC"]], "the web user gave no group"
    assert rows[1][3] not in ("", "w"), "a pseudonym, never the platform id"
