"""From import to live without a restart: ``baraza run`` runs as a child process against the fake
Bot API; ``baraza survey import FORM.xlsx`` (the real command, default output: the configured
surveys folder) writes a new survey, which a Telegram user can answer within 10 seconds. A broken
edit of the file then keeps the version in service answering, and the bot logs the file's
``FILE:LINE`` problem once."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path

from testkit.fakes.telegram import FakeTelegramServer
from testkit.fakes.telegram.user import FakeUser
from testkit.make_forms import write_xlsform
from testkit.telegram_harness import ROOT, BotProcess

FIRST_QUESTION = "1/2 · Your first name?"


def import_form(config: Path, form: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "--config", str(config), "survey", "import", str(form)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def first_question_within(user: FakeUser, survey_id: str, seconds: float) -> float:
    """Ask for the survey until it is served; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        replies = await user.send_text_and_wait(f"/survey {survey_id}")
        if replies and replies[-1].text == FIRST_QUESTION:
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise AssertionError(f"survey {survey_id} not served within {seconds} s")


def log_lines(log: Path, pattern: str) -> list[str]:
    return [line for line in log.read_text().splitlines() if re.search(pattern, line)]


async def log_line_within(log: Path, pattern: str, seconds: float) -> list[str]:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        found = log_lines(log, pattern)
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"no log line matching {pattern!r} within {seconds} s")


async def test_an_imported_form_is_answerable_within_10_s_and_a_broken_edit_keeps_it(tmp_path: Path) -> None:
    forms = tmp_path / "surveys"
    forms.mkdir()
    workbook = write_xlsform(
        tmp_path / "livecheck.xlsx",
        [
            ["type", "name", "label", "constraint", "constraint_message"],
            ["text", "first_name", "Your first name?", None, None],
            ["integer", "age", "How old is **${first_name}**?", ". < 120", "${first_name} cannot be that old"],
        ],
        settings=[["form_title", "form_id", "version"], ["Live check", "livecheck", "1"]],
    )
    async with FakeTelegramServer() as server:
        bot = BotProcess(server, f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", tmp_path, forms=forms)
        await bot.start()
        try:
            user = server.user(9100)
            replies = await user.send_text_and_wait("/survey livecheck")
            assert "livecheck" in (replies[-1].text or ""), "not served before the import"

            imported = import_form(bot.config, workbook)
            assert imported.returncode == 0, imported.stderr
            written = forms / "livecheck.yaml"
            assert written.is_file(), imported.stderr
            took = await first_question_within(user, "livecheck", 10)
            print(f"imported form answerable after {took:.1f} s")
            await user.send_text_and_wait("Amina")

            # A broken edit: the bot keeps the version in service and says what is wrong, once.
            written.write_text(written.read_text().replace(". < 120", ". <"))
            problem = rf"{re.escape(str(written))}:\d+: "
            await log_line_within(bot.log, problem, 10)
            replies = await user.send_text_and_wait("150")
            assert replies[0].text == "Amina cannot be that old"
            replies = await user.send_text_and_wait("30")
            assert replies[-1].text is not None and "/start" in replies[-1].text  # finished

            other = server.user(9101)
            await first_question_within(other, "livecheck", 5)
            await asyncio.sleep(5)  # two more looks at the folder: the same broken file says nothing new
            problems = log_lines(bot.log, problem)
            assert len(problems) == 1, problems
            assert log_lines(bot.log, "stays in service")
        finally:
            await bot.stop()
