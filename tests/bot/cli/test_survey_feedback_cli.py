"""``baraza survey feedback``: the reach without a summary, a summary file's problems as
FILE:LINE, an unknown survey, and nobody to send to (nothing stored)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli.main import main
from testkit.paths import FORMS


async def test_the_feedback_command_counts_checks_and_refuses(
    migrated_database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database_url = migrated_database_url
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {{url: '{database_url}'}}\nsurveys: {{directory: {FORMS}}}\n")
    summary = tmp_path / "summary.yaml"
    summary.write_text("title: T\ntext: {en: We did it.}\naudience: {topics: [prices]}\n")

    async def run(*words: str) -> int:
        return await asyncio.to_thread(main, ["--config", str(config), "survey", "feedback", *words])

    assert await run("usat2026") == 0
    out = capsys.readouterr()
    assert "0 respondent(s) asked to hear what is done with the results (0 said no); 0 can receive it" in out.out
    assert "does not ask its respondents (offer_feedback: true is not set)" in out.err
    assert await run("usat2026", "--summary", str(summary)) == 1
    assert (
        f"{summary}:3: this file goes to the survey's respondents who asked for it: remove 'audience'"
        in capsys.readouterr().err
    )
    summary.write_text("title: T\ntext: {en: We did it.}\n")
    assert await run("usat2026", "--summary", str(summary), "--yes") == 1
    assert "nobody to send to: nothing stored" in capsys.readouterr().err
    assert await run("nosuch") == 1
    assert "there is no survey 'nosuch'" in capsys.readouterr().out
