"""``baraza audit export`` and the command-line actions it shows: account changes, exports and
the audit export itself, each under ``cli:<os user>``, in files readable by their owner only
(both backends)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import stat
from pathlib import Path

import pytest

from bot.cli.main import main
from storage import audit
from storage.database import migrate_url
from testkit.paths import ROOT


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_command_line_actions_are_audited_and_exported(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(migrate_url(database_url))
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {{url: '{database_url}'}}\nsurveys: {{directory: {ROOT / 'office' / 'surveys'}}}\n"
        "privacy: {pseudonym_key: 'a-test-pseudonym-key-0123'}\n"
    )
    base = ["--config", str(config)]
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main([*base, "staff", "add", "amina", "--role", "editor", "--password-stdin"]) == 0
    assert main([*base, "staff", "role", "amina", "viewer"]) == 0
    assert main([*base, "staff", "remove", "nobody"]) == 1, "a refused change is not audited"
    responses = tmp_path / "usat.csv"
    since = ["--since", "2026-01-01", "--complete-only"]
    assert main([*base, "export", "usat2026", "--output", str(responses), *since]) == 0
    assert main([*base, "contacts", "export", "--output", str(tmp_path / "contacts.csv")]) == 0
    umask = os.umask(0o022)
    os.umask(umask)
    replies = tmp_path / "replies.csv"  # written straight, not through an export's .part file
    assert main([*base, "broadcast", "replies", "--output", str(replies)]) == 0
    assert os.umask(umask) == umask, "baraza gives its caller's umask back"
    capsys.readouterr()

    trail = tmp_path / "audit.csv"
    assert main([*base, "audit", "export", "--output", str(trail)]) == 0
    assert "exported 5 audit row(s)" in capsys.readouterr().err
    rows = _rows(trail.read_text(encoding="utf-8"))
    me = audit.cli_actor()
    assert [(row["actor"], row["action"], row["target"]) for row in rows] == [
        (me, audit.ACCOUNT_ADDED, "account:amina"),
        (me, audit.ROLE_CHANGED, "account:amina"),
        (me, audit.EXPORT, "survey:usat2026"),
        (me, audit.EXPORT, "contacts"),
        (me, audit.EXPORT, "feedback"),
    ]
    assert json.loads(rows[1]["details"]) == {"role": "viewer", "was": "editor"}
    survey_export = json.loads(rows[2]["details"])
    assert survey_export == {
        "what": "responses",
        "format": "csv",
        "rows": "0",
        "since": "2026-01-01T00:00:00+00:00",
        "complete_only": "True",
    }
    assert "password" not in trail.read_text(encoding="utf-8")

    # Only the exports, to standard output; the first audit export is one of them now.
    assert main([*base, "audit", "export", "--action", "export", "--output", "-"]) == 0
    exports = _rows(capsys.readouterr().out)
    assert [row["target"] for row in exports] == ["survey:usat2026", "contacts", "feedback", "audit"]
    assert json.loads(exports[3]["details"])["rows"] == "5"
    assert main([*base, "audit", "export", "--action", "sign_in", "--output", "-"]) == 0
    assert _rows(capsys.readouterr().out) == []

    for written in (responses, tmp_path / "contacts.csv", replies, trail):
        assert _mode(written) == 0o600, written.name
    if database_url.startswith("sqlite"):
        assert _mode(tmp_path / "baraza.db") == 0o600
