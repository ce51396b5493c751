"""How long the dashboard's pages take to compute on a large installation.

    .venv/bin/python -m bench.dashboard_queries [--contacts 100000] [--responses 20000]
                                                [--backend sqlite|postgresql]

Fills a new database with ``--contacts`` contacts (register filled for half of them) and
``--responses`` responses to the shipped survey (office/surveys/usat2026.yaml; four in five complete,
the others stopped at a random question), then times what the overview (engagement, survey
activity, request statistics) and the survey results page (distributions, funnel; unfiltered
and filtered by one user group) ask of the database. Prints the best of three runs of each.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.database import BACKENDS, bench_database
from bench.machine import describe
from storage.dashboard import DashboardQueries, ResultFilter, answers, contacts, responses
from storage.database import Database
from storage.requests import RequestRepository
from surveys.loader import load_survey_file
from surveys.model import QuestionType, Survey
from testkit import paths

ROOT = paths.ROOT
GROUPS = ("media", "academic", "policymaker", "citizen", "private_sector")
REGIONS = ("North", "South", "East", "West", "Capital")
BATCH = 5000


def _value(question: Any, rng: random.Random) -> str | None:
    if question.type is QuestionType.SELECT_ONE:
        return str(rng.choice(question.choices).name)
    if question.type is QuestionType.SELECT_MULTIPLE:
        chosen = rng.sample(question.choices, k=rng.randint(1, min(3, len(question.choices))))
        return " ".join(choice.name for choice in chosen)
    if question.type in (QuestionType.RANGE, QuestionType.INTEGER):
        return str(rng.randint(1, 5))
    if question.type is QuestionType.DATE:
        return f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
    return rng.choice((None, "More regional data", "Faster releases", "Thank you"))


async def fill(database: Database, survey: Survey, contact_count: int, response_count: int) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    asked = [question for question in survey.data_questions if question.is_asked]
    async with database.transaction() as connection:
        rows = []
        for index in range(contact_count):
            seen = now - timedelta(days=rng.randint(0, 120), minutes=rng.randint(0, 1440))
            registered = index % 2 == 0
            rows.append(
                {
                    "channel": "telegram", "user_key": str(index), "chat_key": str(index),
                    "language": rng.choice(("en", "fr", "pt", "ar")), "first_seen_at": seen, "last_seen_at": seen,
                    "consent_at": seen if registered else None, "declined_at": None,
                    "user_group": rng.choice(GROUPS) if registered else None,
                    "region": rng.choice(REGIONS) if registered else None, "organisation": None,
                    "opted_out_at": None, "blocked_at": None,
                }
            )  # fmt: skip
            if len(rows) == BATCH:
                await connection.execute(contacts.insert(), rows)
                rows = []
        if rows:
            await connection.execute(contacts.insert(), rows)
    async with database.transaction() as connection:
        response_rows: list[dict[str, Any]] = []
        answer_rows: list[dict[str, Any]] = []
        for index in range(response_count):
            started = now - timedelta(days=rng.randint(0, 60), minutes=rng.randint(0, 1440))
            complete = rng.random() < 0.8
            reached = len(asked) if complete else rng.randint(0, len(asked) - 1)
            response_id = str(uuid.uuid4())
            response_rows.append(
                {
                    "id": response_id, "survey_id": survey.id, "survey_version": survey.version,
                    "contact_id": rng.randint(1, contact_count), "respondent": f"r{index}", "channel": "telegram",
                    "language": "en", "started_at": started,
                    "completed_at": started + timedelta(seconds=rng.randint(60, 900)) if complete else None,
                    "score": None,
                }
            )  # fmt: skip
            for position, question in enumerate(asked[:reached]):
                answer_rows.append(
                    {
                        "response_id": response_id,
                        "question": question.name,
                        "value": _value(question, rng),
                        "answered_at": started + timedelta(seconds=20 * position),
                    }
                )
            if len(response_rows) == BATCH:
                await connection.execute(responses.insert(), response_rows)
                await connection.execute(answers.insert(), answer_rows)
                response_rows, answer_rows = [], []
        if response_rows:
            await connection.execute(responses.insert(), response_rows)
            await connection.execute(answers.insert(), answer_rows)


async def best_of_three(database: Database, work: Callable[[DashboardQueries], Awaitable[object]]) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        async with database.reading() as connection:
            await work(DashboardQueries(connection))
        times.append(time.perf_counter() - started)
    return min(times)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--responses", type=int, default=20_000)
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    arguments = parser.parse_args()
    print(describe())
    survey = load_survey_file(ROOT / "office" / "surveys" / "usat2026.yaml")
    async with bench_database(arguments.backend) as database:
        started = time.perf_counter()
        await fill(database, survey, arguments.contacts, arguments.responses)
        print(
            f"{arguments.backend}: {arguments.contacts:,} contacts, {arguments.responses:,} responses "
            f"filled in {time.perf_counter() - started:.1f} s"
        )
        now = datetime.now(UTC)

        async def overview(queries: DashboardQueries) -> object:
            await queries.engagement(now)
            await queries.survey_activity()
            return await RequestRepository(queries.connection).stats(top=5)

        figures = {
            "overview (engagement, surveys, requests)": await best_of_three(database, overview),
            "survey results, all responses": await best_of_three(database, lambda q: q.results(survey)),
            "survey results, one user group": await best_of_three(
                database, lambda q: q.results(survey, ResultFilter(user_group="media"))
            ),
        }
        for name, seconds in figures.items():
            print(f"  {name:<42} {seconds * 1000:8.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())
