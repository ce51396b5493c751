"""A survey with a ``results:`` block and 300 synthetic respondents, for the results tests and the
results page's browser test: profiles skewed away from the population margins (so weighting
matters), a small region and a small channel (so cells are suppressed), and the answers stored
through the repositories the bot writes with."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
from sqlalchemy.ext.asyncio import AsyncConnection

from results.report import Respondent
from storage.database import Database
from storage.models import AnswerRow, ContactRow, ResponseRow
from surveys.loader import load_survey_file
from surveys.model import Survey

SURVEY_ID = "feedback2027"
SURVEY_YAML = """\
id: feedback2027
title: {en: Our statistics and you, fr: Nos statistiques et vous}
default_language: en
languages: [en, fr]
results:
  public: true
  min_cell: 10
  margins: margins.csv
  breakdowns: [user_group, region, language, channel]
questions:
  - type: select_one
    name: satisfaction
    label:
      en: How satisfied are you with our statistics?
      fr: Êtes-vous satisfait de nos statistiques ?
    choices:
      - {name: very_good, label: {en: Very good, fr: Très bien}}
      - {name: good, label: {en: Good, fr: Bien}}
      - {name: poor, label: {en: Poor, fr: Médiocre}}
      - {name: very_poor, label: {en: Very poor, fr: Très médiocre}}
      - {name: unsure, label: {en: Not sure, fr: Je ne sais pas}}
  - type: select_multiple
    name: uses
    label:
      en: What do you use them for?
      fr: À quoi vous servent-elles ?
    choices:
      - {name: work, label: {en: Work, fr: Travail}}
      - {name: study, label: {en: Study, fr: Études}}
      - {name: news, label: {en: News, fr: Actualité}}
  - type: integer
    name: visits
    label:
      en: How many times did you visit our website last month?
      fr: Combien de fois avez-vous visité notre site le mois dernier ?
    min: 0
    max: 100
  - type: text
    name: comment
    label:
      en: Anything else?
      fr: Autre chose ?
    required: false
"""
MARGINS_CSV = """\
dimension,category,population
region,north,400000
region,south,350000
region,east,200000
region,west,50000
user_group,citizen,900000
user_group,media,20000
user_group,researcher,80000
"""
SECRET_COMMENT = "my neighbour Alice Mwangi at 12 Baobab Road"

REGIONS = (("north", 0.2), ("south", 0.45), ("east", 0.33), ("west", 0.02))
GROUPS = (("citizen", 0.5), ("media", 0.2), ("researcher", 0.3))
CHANNELS = (("web", 0.55), ("telegram", 0.42), ("whatsapp", 0.03))
LANGUAGES = (("en", 0.6), ("fr", 0.4))
SATISFACTION = (("very_good", 0.2), ("good", 0.45), ("poor", 0.25), ("very_poor", 0.08), ("unsure", 0.02))


def write_survey(directory: Path) -> Survey:
    """The survey file and its margins in ``directory``, loaded."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{SURVEY_ID}.yaml").write_text(SURVEY_YAML, encoding="utf-8")
    (directory / "margins.csv").write_text(MARGINS_CSV, encoding="utf-8")
    return load_survey_file(directory / f"{SURVEY_ID}.yaml")


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([name for name, _ in table], weights=[share for _, share in table])[0]


def synthetic_respondents(count: int = 300, seed: int = 20) -> list[Respondent]:
    """``count`` respondents; satisfaction depends on the user group (so weighting moves it)."""
    rng = random.Random(seed)
    people = []
    for _ in range(count):
        group = _pick(rng, GROUPS)
        satisfaction = _pick(rng, SATISFACTION)
        if group == "citizen" and satisfaction == "very_good" and rng.random() < 0.5:
            satisfaction = "poor"
        uses = [use for use, chance in (("work", 0.5), ("study", 0.2), ("news", 0.6)) if rng.random() < chance]
        answers: dict[str, str | None] = {
            "satisfaction": satisfaction,
            "uses": " ".join(uses) or "news",
            "visits": str(rng.randint(0, 12) + (10 if group == "researcher" else 0)),
            "comment": SECRET_COMMENT if rng.random() < 0.1 else None,
        }
        profile: dict[str, str | None] = {
            "user_group": group,
            "region": None if rng.random() < 0.04 else _pick(rng, REGIONS),
            "language": _pick(rng, LANGUAGES),
            "channel": _pick(rng, CHANNELS),
        }
        people.append(Respondent(profile, answers))
    return people


async def store_respondents(
    database: Database, survey: Survey, respondents: list[Respondent], completed: datetime, *, incomplete: int = 0
) -> None:
    """Each respondent as a contact with a completed response (one minute apart, the last at
    ``completed``), and ``incomplete`` started responses that never finish (left out of results)."""
    async with database.transaction() as connection:
        for index, person in enumerate(respondents):
            profile = person.profile
            at = completed - timedelta(minutes=len(respondents) - 1 - index)
            contact = await connection.execute(
                ContactRow.__table__.insert().values(  # type: ignore[attr-defined]
                    channel=profile["channel"],
                    user_key=f"results-{uuid.uuid4()}",
                    chat_key=f"results-chat-{index}",
                    language=profile["language"],
                    first_seen_at=at,
                    last_seen_at=at,
                    consent_at=at,
                    user_group=profile["user_group"],
                    region=profile["region"],
                )
            )
            contact_id = cast(Any, contact).inserted_primary_key[0]
            await _response(connection, survey, contact_id, profile, person.answers, at, at)
        for _ in range(incomplete):
            profile = {"channel": "web", "language": "en"}
            await _response(connection, survey, None, profile, {"satisfaction": "poor"}, completed, None)


async def _response(
    connection: AsyncConnection,
    survey: Survey,
    contact_id: int | None,
    profile: Mapping[str, str | None],
    answers: Mapping[str, str | None],
    at: datetime,
    completed: datetime | None,
) -> None:
    response_id = str(uuid.uuid4())
    await connection.execute(
        ResponseRow.__table__.insert().values(  # type: ignore[attr-defined]
            id=response_id,
            survey_id=survey.id,
            survey_version=survey.version,
            contact_id=contact_id,
            respondent=response_id[:16],
            channel=profile["channel"],
            language=profile["language"],
            started_at=at - timedelta(minutes=3),
            completed_at=completed,
        )
    )
    rows = [
        {"response_id": response_id, "question": name, "value": value, "answered_at": at}
        for name, value in answers.items()
    ]
    if rows:
        await connection.execute(AnswerRow.__table__.insert(), rows)  # type: ignore[attr-defined]


Z95 = 1.959963984540054


def reference_weights() -> np.ndarray:
    """The weights of :func:`synthetic_respondents` (300) computed independently of :mod:`results`, for
    the tests to check against. Raking by hand: scale each dimension's categories to the population shares in turn."""
    people = synthetic_respondents(300)
    rows = [line.split(",") for line in MARGINS_CSV.strip().splitlines()[1:]]
    weights = np.ones(len(people))
    for _ in range(500):
        before = weights.copy()
        for dimension in ("region", "user_group"):
            population = {c: float(p) for d, c, p in rows if d == dimension}
            values = np.array([person.profile[dimension] or "" for person in people])
            known = np.isin(values, list(population))
            matched = known.sum()
            for category, size in population.items():
                mask = values == category
                target = matched * size / sum(population.values())
                weights[mask] *= target / weights[mask].sum()
            # Respondents without a category keep their count on this dimension.
            if (~known).any():
                weights[~known] *= (~known).sum() / weights[~known].sum()
        if np.abs(weights - before).max() < 1e-12:
            break
    scaled: np.ndarray = weights * len(people) / weights.sum()
    return scaled


def reference_share(chosen: np.ndarray, weights: np.ndarray) -> tuple[float, float, float]:
    """The weighted share of ``chosen`` and its Wilson interval at Kish's effective size, by hand."""
    share = weights[chosen].sum() / weights.sum()
    n = weights.sum() ** 2 / (weights**2).sum()
    centre = (share + Z95 * Z95 / (2 * n)) / (1 + Z95 * Z95 / n)
    half = Z95 * math.sqrt(share * (1 - share) / n + Z95 * Z95 / (4 * n * n)) / (1 + Z95 * Z95 / n)
    return share, centre - half, centre + half
