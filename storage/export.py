"""Exports of survey responses, streamed from the database.

One row per response with the metadata columns first, then one column per question in survey
order. Rows are read in batches from a server-side cursor, so memory does not grow with the
number of responses.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import TextIO

from sqlalchemy import select

from storage.database import Database
from storage.models import AnswerRow, ResponseRow
from storage.repositories import utc
from surveys.model import Survey

METADATA_COLUMNS = ("response_id", "respondent", "channel", "language", "started_at", "completed_at", "complete")
BATCH_SIZE = 2000


def iso_utc(moment: datetime | None) -> str:
    moment = utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def export_columns(survey: Survey) -> tuple[str, ...]:
    """Metadata, the quiz score (quizzes only), then every question's value in survey order."""
    score = ("score",) if survey.is_quiz else ()
    return (*METADATA_COLUMNS, *score, *(q.name for q in survey.data_questions))


async def response_rows(database: Database, survey: Survey) -> AsyncIterator[Sequence[str]]:
    """Yield one row of strings per response to ``survey``, oldest first."""
    questions = [q.name for q in survey.data_questions]
    statement = (
        select(
            ResponseRow.id,
            ResponseRow.respondent,
            ResponseRow.channel,
            ResponseRow.language,
            ResponseRow.started_at,
            ResponseRow.completed_at,
            ResponseRow.score,
            AnswerRow.question,
            AnswerRow.value,
        )
        .outerjoin(AnswerRow, AnswerRow.response_id == ResponseRow.id)
        .where(ResponseRow.survey_id == survey.id)
        .order_by(ResponseRow.started_at, ResponseRow.id)
        .execution_options(yield_per=BATCH_SIZE)
    )
    async with database.reading() as connection:
        result = await connection.stream(statement)
        current: list[str] | None = None
        current_id: str | None = None
        answers: dict[str, str] = {}
        async for response_id, respondent, channel, language, started, completed, score, question, value in result:
            if response_id != current_id:
                if current is not None:
                    yield [*current, *(answers.get(name, "") for name in questions)]
                current_id = response_id
                current = [
                    response_id,
                    respondent,
                    channel,
                    language,
                    iso_utc(started),
                    iso_utc(completed),
                    "true" if completed is not None else "false",
                    *([] if not survey.is_quiz else ["" if score is None else str(score)]),
                ]
                answers = {}
            if question is not None and value is not None:
                answers[question] = value
        if current is not None:
            yield [*current, *(answers.get(name, "") for name in questions)]


async def export_csv(database: Database, survey: Survey, out: TextIO) -> int:
    """Write the survey's responses as CSV to ``out``; returns the number of rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(export_columns(survey))
    count = 0
    async for row in response_rows(database, survey):
        writer.writerow(row)
        count += 1
    return count
