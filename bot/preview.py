"""``baraza survey preview FORM``: a survey's conversation in the terminal, as a respondent sees it.

The preview runs the real thing, not a copy: the engine, the router, the survey flow and the
pure runner, on a throw-away SQLite database in a temporary folder (nothing of the office's data
is read or written). Each line typed is one message: a button's label (``Yes``, ``Done``,
``Skip``; ticks and marks may be left out) presses that button, anything else is typed text (a number or a
label answers a choice question, ``/back`` goes back). The bot's replies are printed with their
buttons as ``[label]``; bold and italic show as terminal styles when the output is a terminal.

Without a terminal (``--script answers.txt``, or lines on standard input) the answers are
echoed after ``> `` so that the output reads as the whole conversation (the preview test uses
it). The preview ends with the survey, at the end of the input, or with ``/quit``.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from bot.core.engine import Engine
from common.clock import utc_now
from handlers.context import Community
from handlers.messages import Inbound, Outbound
from storage.database import Database
from storage.pseudonyms import Pseudonymizer
from storage.repositories import Repositories
from surveys.markup import Span
from surveys.model import Survey

CHANNEL = "web"
USER = "preview"
#: Ticks and marks around a button's words (``✅ Swahili``, ``Done ✔``), left out when matching.
_MARKS = re.compile(r"^\W+|\W+$")
QUIT = "/quit"


def _styled(span: Span, terminal: bool) -> str:
    text = span.text
    if span.link is not None and span.link not in text:
        text = f"{text} ({span.link})"
    if not terminal or not (span.bold or span.italic):
        return text
    codes = ("1;" if span.bold else "") + ("3" if span.italic else "")
    return "\n".join(f"\033[{codes.rstrip(';')}m{line}\033[0m" if line else line for line in text.split("\n"))


def shown(reply: Outbound, terminal: bool = False) -> str:
    """One reply as the terminal shows it: its text (styled on a terminal), then its buttons."""
    text = "".join(_styled(span, terminal) for span in reply.rich) if reply.rich else reply.text
    lines = [text] if text else []
    for row in reply.buttons:
        lines.append("  ".join(f"[{button.label}]" for button in row))
    return "\n".join(lines)


def _bare(label: str) -> str:
    return _MARKS.sub("", label.strip()).casefold()


def _button_payload(replies: list[Outbound], typed: str) -> str | None:
    """The payload of the last replies' button whose label (ticks and marks left out) is ``typed``."""
    wanted = _bare(typed)
    if not wanted:
        return None
    for reply in reversed(replies):
        for button in reply.flat_buttons:
            if button.url is None and _bare(button.label) == wanted:
                return button.payload
    return None


async def preview(
    survey: Survey,
    answers: Iterable[str],
    out: TextIO,
    *,
    echo: bool,
    terminal: bool = False,
    language: str | None = None,
) -> bool:
    """Run ``survey`` with ``answers`` (lines typed), printing the conversation to ``out``.

    ``echo`` prints each answer after ``> `` (when it was not typed on a terminal). Returns True
    when the survey was finished.
    """
    with tempfile.TemporaryDirectory(prefix="baraza-preview-") as folder:
        database = Database(f"sqlite+aiosqlite:///{Path(folder) / 'preview.db'}")
        try:
            await database.migrate()
            engine = Engine(
                database, {survey.id: survey}, Pseudonymizer("baraza-survey-preview"), community=Community()
            )
            return await _converse(engine, database, survey, iter(answers), out, echo, terminal, language)
        finally:
            with contextlib.suppress(Exception):
                await database.dispose()


async def _converse(
    engine: Engine,
    database: Database,
    survey: Survey,
    answers: Iterator[str],
    out: TextIO,
    echo: bool,
    terminal: bool,
    language: str | None,
) -> bool:
    hint = language or survey.default_language
    async with database.transaction() as connection:
        contact = await Repositories(connection).contacts.touch(CHANNEL, USER, USER, hint, utc_now())
    count = 0

    async def send(text: str | None = None, payload: str | None = None) -> list[Outbound]:
        nonlocal count
        count += 1
        inbound = Inbound(CHANNEL, USER, USER, str(count), text=text, payload=payload, language_hint=hint)
        replies = await engine.handle(inbound)
        for reply in replies:
            print(shown(reply, terminal), file=out)
            print(file=out)
        out.flush()
        return replies

    replies = await send(text=f"/survey {survey.id}")
    while not await _finished(database, contact.id, survey.id):
        try:
            line = next(answers).rstrip("\r\n")
        except StopIteration:
            return False
        if echo:
            print(f"> {line}", file=out)
        if line.strip() == QUIT:
            return False
        if not line.strip():
            continue
        payload = _button_payload(replies, line)
        replies = await (send(payload=payload) if payload is not None else send(text=line))
    return True


async def _finished(database: Database, contact_id: int, survey_id: str) -> bool:
    async with database.reading() as connection:
        latest = await Repositories(connection).responses.latest_for(contact_id, survey_id)
    return latest is not None and latest.complete
