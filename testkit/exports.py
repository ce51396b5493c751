"""The survey export the tests read, as rows: CSV of every response (anonymous ones included), with
a ``select_multiple`` as one space-separated column, the layout of the first release; and the
check that it holds exactly what simulated respondents answered."""

from __future__ import annotations

import csv
import io

from bot.core.engine import Engine
from storage.database import Database
from storage.exports import ExportOptions
from storage.exports.files import export_responses
from surveys.model import Survey
from testkit.fakes.survey_respondent import Respondent

#: Every response, ``select_multiple`` joined, cells as typed: what tests compare answers against.
EVERY_RESPONSE_JOINED = ExportOptions(multiple="joined", include_anonymous=True, raw=True)


async def export_rows(source: str | Engine, survey: Survey) -> list[dict[str, str]]:
    """The CSV export of ``survey`` as one dict per row, from a database URL (opened and closed
    here) or from the database of a running engine."""
    out = io.StringIO()
    if isinstance(source, Engine):
        await export_responses(source.database, survey, EVERY_RESPONSE_JOINED, "csv", out)
    else:
        database = Database(source)
        try:
            await export_responses(database, survey, EVERY_RESPONSE_JOINED, "csv", out)
        finally:
            await database.dispose()
    return list(csv.DictReader(io.StringIO(out.getvalue())))


# Columns that differ between two runs by nature: who (pseudonyms), where, and when.
VOLATILE = {"respondent", "channel", "started_at", "completed_at", "response_id", "submitted_at", "duration_seconds"}


def comparable(rows: list[dict[str, str]]) -> list[tuple[tuple[str, str], ...]]:
    """The rows of two runs (two channels) as they must be equal: without :data:`VOLATILE` columns, sorted."""
    return sorted(tuple(sorted((k, v) for k, v in row.items() if k not in VOLATILE)) for row in rows)


def assert_export_matches(rows: list[dict[str, str]], respondents: list[Respondent], survey: Survey) -> None:
    """Exactly one complete row per respondent, holding exactly the planned answers."""
    assert len(rows) == len(respondents)
    questions = [q.name for q in survey.data_questions]
    got = sorted(tuple(row[name] for name in questions) for row in rows)
    expected = sorted(tuple(r.expected[name] for name in questions) for r in respondents)
    assert got == expected
    assert all(row["complete"] == "true" and row["channel"] == "telegram" for row in rows)
    respondent_ids = {row["respondent"] for row in rows}
    assert len(respondent_ids) == len(respondents)
    telegram_ids = {str(r.user.id) for r in respondents}
    assert not respondent_ids & telegram_ids, "exports never show Telegram ids"
