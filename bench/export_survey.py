"""A 30-question survey and a fast bulk filler of its responses, for the export benchmark.

The survey mixes what NSO questionnaires hold: 8 select_one, 4 select_multiple, 6 range
(1-5), 4 integer, 2 decimal, 2 date, 3 text and 1 calculate. Answers are random but seeded,
so two fills with the same count hold the same data.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from surveys.loader import load_survey_file
from surveys.model import Question, QuestionType, Survey

SURVEY_ID = "bench30"
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

WORDS = [
    "data",
    "prices",
    "census",
    "labour",
    "survey",
    "regional",
    "monthly",
    "release",
    "table",
    "chart",
    "open",
    "access",
    "quality",
]


def survey_yaml() -> str:
    lines = [
        f"id: {SURVEY_ID}",
        "title: {en: Export benchmark survey, fr: Enquête du banc d'essai}",
        "default_language: en",
        "languages: [en, fr]",
        "questions:",
    ]
    for n in range(1, 9):
        lines += [
            f"  - {{type: select_one, name: s{n}, label: {{en: 'Single choice {n}', fr: 'Choix unique {n}'}}, choices: list{n % 3}}}"
        ]
    for n in range(1, 5):
        relevant = ", relevant: \"${s1} != 'c1'\"" if n == 4 else ""
        lines += [
            f"  - {{type: select_multiple, name: m{n}, label: {{en: 'Multiple choice {n}', fr: 'Choix multiple {n}'}}, choices: topics{relevant}}}"
        ]
    for n in range(1, 7):
        lines += [f"  - {{type: range, name: r{n}, label: {{en: 'Rating {n}', fr: 'Note {n}'}}, start: 1, end: 5}}"]
    for n in range(1, 5):
        lines += [
            f"  - {{type: integer, name: i{n}, label: {{en: 'Count {n}', fr: 'Nombre {n}'}}, min: 0, max: 100000, constraint: '. >= 0'}}"
        ]
    for n in range(1, 3):
        lines += [f"  - {{type: decimal, name: d{n}, label: {{en: 'Amount {n}', fr: 'Montant {n}'}}}}"]
    for n in range(1, 3):
        lines += [f"  - {{type: date, name: dt{n}, label: {{en: 'Date {n}', fr: 'Date {n}'}}, required: false}}"]
    for n in range(1, 4):
        lines += [
            f"  - {{type: text, name: t{n}, label: {{en: 'Comment {n}', fr: 'Commentaire {n}'}}, required: false}}"
        ]
    lines += ["  - {type: calculate, name: c1, calculate: '${i1} + ${i2}'}"]
    lines += ["choices:"]
    for index, size in enumerate((5, 7, 9)):
        lines += [f"  list{index}:"]
        lines += [f"    - {{name: c{k}, label: {{en: 'Choice {k}', fr: 'Choix {k}'}}}}" for k in range(1, size + 1)]
    lines += ["  topics:"]
    lines += [f"    - {{name: {w}, label: {{en: '{w.title()}', fr: '{w.upper()}'}}}}" for w in WORDS[:6]]
    return "\n".join(lines) + "\n"


def write_survey(directory: Path) -> Survey:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{SURVEY_ID}.yaml"
    path.write_text(survey_yaml(), encoding="utf-8")
    return load_survey_file(path)


def _answer(question: Question, rng: random.Random) -> str | None:
    kind = question.type
    if kind is QuestionType.SELECT_ONE:
        return rng.choice(question.choices).name
    if kind is QuestionType.SELECT_MULTIPLE:
        picked = [c.name for c in question.choices if rng.random() < 0.35]
        return " ".join(picked) if picked else question.choices[0].name
    if kind is QuestionType.RANGE:
        return str(rng.randint(1, 5))
    if kind is QuestionType.INTEGER:
        return str(rng.randint(0, 5000))
    if kind is QuestionType.DECIMAL:
        return f"{rng.uniform(0, 10000):.2f}"
    if kind is QuestionType.DATE:
        return None if rng.random() < 0.2 else (date(2025, 1, 1) + timedelta(days=rng.randint(0, 450))).isoformat()
    if kind is QuestionType.TEXT:
        return None if rng.random() < 0.6 else " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
    return None


def responses(
    survey: Survey, count: int, seed: int = 7
) -> Iterator[tuple[tuple[object, ...], list[tuple[str, str | None]]]]:
    """Yield ``(response values, [(question, value), ...])``: 90% complete, 10% stopped halfway."""
    rng = random.Random(seed)
    questions = survey.data_questions
    for number in range(count):
        started = START + timedelta(seconds=number * 7)
        complete = rng.random() < 0.9
        completed = started + timedelta(seconds=rng.randint(60, 900)) if complete else None
        response_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        answers: dict[str, str | None] = {}
        asked = questions if complete else questions[: rng.randint(1, len(questions) - 1)]
        for question in asked:
            if question.type is QuestionType.CALCULATE:
                continue
            if question.name == "m4" and answers.get("s1") == "c1":
                continue
            answers[question.name] = _answer(question, rng)
        if "i1" in answers and "i2" in answers:
            answers["c1"] = str(int(answers["i1"] or 0) + int(answers["i2"] or 0))
        respondent = f"{rng.getrandbits(64):016x}"
        row = (
            response_id,
            survey.id,
            survey.version,
            None,
            respondent,
            "telegram",
            rng.choice(("en", "fr")),
            started,
            completed,
            None,
        )
        yield row, list(answers.items())
