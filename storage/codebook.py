"""The codebook of a survey export: every variable with its question text in each language, its
type, its choices (SPSS/Stata code, name, labels), its relevance and constraint, and how many of
the exported responses answered it (and chose each choice).

Written as Markdown (``.md``, for people) or CSV (``.csv``, one row per variable and one per
choice, for programs). Counts use the same selection as the export (``--since``, ``--until``,
``--complete-only``, ``--include-anonymous``).

A survey with repeats has a section per repeat table (Markdown) or rows whose ``table`` is the
repeat's name (CSV): its link columns (``_index``, ``_parent_index``...) and its questions, whose
counts are of the passes answered.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from common.csv_cells import neutralised_row
from storage.database import Database
from storage.exports.responses import (
    GEOPOINT_PARTS,
    ExportOptions,
    _filters,
    count_responses,
    former_questions,
    question_columns,
    range_points,
    repeat_columns,
    response_columns,
)
from storage.exports.table import Column
from storage.models import AnswerRow, ResponseRow
from surveys.model import GEO_TYPES, MEDIA_TYPES, Question, QuestionType, Repeat, Survey
from surveys.repeats import is_repeat_key, parse_key

COUNTED_TYPES = (QuestionType.SELECT_ONE, QuestionType.SELECT_MULTIPLE, QuestionType.RANGE)


@dataclass(frozen=True)
class Counts:
    """How many exported responses there are, answered each question, and chose each value."""

    responses: int
    answered: dict[str, int]
    values: dict[str, Counter[str]]


async def answer_counts(database: Database, survey: Survey, options: ExportOptions) -> Counts:
    filters = _filters(survey, options)
    answered_statement = (
        select(AnswerRow.question, func.count(AnswerRow.value))
        .join(ResponseRow, ResponseRow.id == AnswerRow.response_id)
        .where(*filters)
        .group_by(AnswerRow.question)
    )
    counted = [q.name for q in survey.data_questions if q.type in COUNTED_TYPES]
    chosen: ColumnElement[bool] = AnswerRow.question.in_(counted)
    if survey.repeats:
        chosen = or_(chosen, AnswerRow.question.like("%]/%"))  # in a repeat pass: member[2]/works
    values_statement = (
        select(AnswerRow.question, AnswerRow.value, func.count())
        .join(ResponseRow, ResponseRow.id == AnswerRow.response_id)
        .where(*filters, chosen, AnswerRow.value.is_not(None))
        .group_by(AnswerRow.question, AnswerRow.value)
    )
    async with database.reading() as connection:
        answered: Counter[str] = Counter()
        for key, n in (await connection.execute(answered_statement)).all():
            answered[_question_name(key)] += int(n)
        rows = (await connection.execute(values_statement)).all() if counted else []
    values: dict[str, Counter[str]] = {name: Counter() for name in counted}
    for key, value, n in rows:
        name = _question_name(key)
        if name not in values:
            continue
        if survey.question(name).type is QuestionType.SELECT_MULTIPLE:
            for choice in str(value).split():
                values[name][choice] += int(n)
        else:
            values[name][str(value)] += int(n)
    return Counts(await count_responses(database, survey, options), dict(answered), values)


def _question_name(key: str) -> str:
    """The question an answer key is of (``member[2]/age`` -> ``age``); "Add another?" answers
    and malformed keys stay as they are (no question has their name)."""
    if not is_repeat_key(key):
        return key
    parsed = parse_key(key)
    return parsed.name if parsed is not None and not parsed.another else key


def _codes(question: Question, columns: Sequence[Column]) -> list[str]:
    """The code each choice (or range point) has in SPSS/Stata, or its 0/1 column name."""
    if question.type is QuestionType.SELECT_ONE:
        from storage.exports.stats import choice_codes

        codes = choice_codes(columns[0])
        return [str(codes[choice.name]) for choice in question.choices]
    if question.type is QuestionType.SELECT_MULTIPLE:
        return [f"{question.name}/{choice.name}" for choice in question.choices]
    return list(range_points(question))


def _choice_rows(survey: Survey, question: Question) -> list[tuple[str, dict[str, str]]]:
    """(value, {language: label}) for each choice or range point."""
    if question.type is QuestionType.RANGE:
        return [(point, {}) for point in range_points(question)]
    return [
        (c.name, {lang: c.label.in_language(lang, survey.default_language) for lang in survey.languages})
        for c in question.choices
    ]


def _type_text(question: Question) -> str:
    """The question type with its bounds: ``range 1 to 5 step 1``, ``integer (min 0, max 1000)``."""
    if question.type is QuestionType.RANGE:
        return f"range {question.minimum} to {question.maximum} step {question.step}"
    bounds = [
        f"{word} {value}" for word, value in (("min", question.minimum), ("max", question.maximum)) if value is not None
    ]
    return f"{question.type.value} ({', '.join(bounds)})" if bounds else question.type.value


def _column_type(question: Question, column: Column) -> str:
    """The type of one export column of ``question``: ``geopoint latitude (decimal degrees)``."""
    if column.part is not None:
        return f"{_type_text(question)} {GEOPOINT_PARTS[column.part][1]}"
    return _type_text(question)


def values_note(question: Question) -> str | None:
    """What the exported values of a media or location question are, for the reader."""
    if question.type in MEDIA_TYPES:
        return (
            "the stored file's name (`<random hex>.<extension>`, never the name the person sent); "
            "an export with attachments holds the file as `attachments/<name>`"
        )
    if question.type is QuestionType.GEOPOINT:
        return (
            "one number per column: latitude and longitude in decimal degrees, altitude and accuracy "
            "in metres; empty when the point lacks them (a typed point has latitude and longitude only)"
        )
    if question.type in GEO_TYPES:
        return "the points as text, `latitude longitude altitude accuracy` each, separated by `;` (as ODK stores them)"
    if question.type is QuestionType.RANK:
        return "every choice name, first to last, separated by single spaces (as ODK stores a rank)"
    if question.type is QuestionType.OSM:
        keys = ", ".join(tag.key for tag in question.osm_tags)
        return (
            "the map feature as text: `latitude longitude` (altitude and accuracy when shared), then "
            f"`;key=value` per tag given ({keys or 'no tags'}), in that order"
        )
    return None


def _label(survey: Survey, question: Question, language: str) -> str:
    return question.label.translations.get(language, "")


#: What the codebook says of the fieldwork columns of a survey with invitations.
FIELDWORK_NOTE = (
    "The fieldwork columns (disposition to device_language) describe the invitation of the response's "
    "contact (its latest wave), as `baraza survey report SURVEY --export` computes them; they are empty "
    "for a response without an invitation. Invitees who never responded are not rows of this table: "
    "they are in the report's export, one row per invitation."
)


async def write_codebook(
    database: Database,
    survey: Survey,
    options: ExportOptions,
    path: Path,
    *,
    as_csv: bool | None = None,
    fieldwork: bool = False,
) -> None:
    """Write the codebook of ``survey`` to ``path``: CSV if ``as_csv`` (by default: if the name
    ends in ``.csv``), else Markdown; ``fieldwork``: the export has the fieldwork columns."""
    counts = await answer_counts(database, survey, options)
    former = await former_questions(database, survey)
    if as_csv if as_csv is not None else path.suffix.lower() == ".csv":
        _write_csv(survey, options, counts, former, path, fieldwork)
    else:
        _write_markdown(survey, options, counts, former, path, fieldwork)


def _write_csv(
    survey: Survey, options: ExportOptions, counts: Counts, former: Sequence[str], path: Path, fieldwork: bool = False
) -> None:
    languages = survey.languages
    header = [
        "variable", "question", "type", *(f"label_{lang}" for lang in languages), "relevant", "constraint",
        "required", "calculation", "choice_code", "choice_name", *(f"choice_label_{lang}" for lang in languages),
        "count", "table",
    ]  # fmt: skip
    tables: list[tuple[str, tuple[Column, ...], tuple[Question, ...]]] = [
        (
            survey.id,
            _metadata(response_columns(survey, options, former, fieldwork=fieldwork)),
            survey.table_questions(None),
        )
    ]
    tables += [
        (r.name, _metadata(repeat_columns(survey, r, options)), survey.table_questions(r.name)) for r in survey.repeats
    ]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")

        def write(row: Sequence[object]) -> None:
            # Labels and expressions may come from an XLSForm made anywhere.
            writer.writerow(row if options.raw else neutralised_row(row))

        write(header)
        for table, metadata, questions in tables:
            _write_csv_table(write, survey, options, counts, table, metadata, questions)
        for name in former:
            count = counts.answered.get(name, 0)
            write([*_csv_row(languages, name, name, "text (earlier version)", (), count), survey.id])


def _write_csv_table(
    write: Callable[[Sequence[object]], None],
    survey: Survey,
    options: ExportOptions,
    counts: Counts,
    table: str,
    metadata: Sequence[Column],
    questions: Sequence[Question],
) -> None:
    """The CSV codebook's rows of one table: its metadata (or link) columns, then its questions."""
    languages = survey.languages
    for column in metadata:
        write([*_csv_row(languages, column.name, "", column.kind.value, (column.label,), counts.responses), table])
    for question in questions:
        columns = question_columns(survey, question, options)
        kind = _type_text(question)
        labels = tuple(_label(survey, question, lang) for lang in languages)
        rules = (
            " and ".join(f"({e.source})" for e in question.relevant)
            if len(question.relevant) > 1
            else (question.relevant[0].source if question.relevant else ""),
            question.constraint.source if question.constraint else "",
            "yes" if question.required else "no",
            question.calculation.source if question.calculation else "",
        )
        for column in columns:
            if column.choice is None:
                count = counts.answered.get(question.name, 0)
                column_kind = _column_type(question, column)
                row = _csv_row(languages, column.name, question.name, column_kind, labels, count, rules)
                write([*row, table])
        if question.type in COUNTED_TYPES:
            codes = _codes(question, columns) if columns else []
            variable = columns[0].name if columns else question.name
            for code, (value, choice_labels) in zip(codes, _choice_rows(survey, question), strict=True):
                count = counts.values[question.name].get(value, 0)
                choice = (code, value, *(choice_labels.get(lang, "") for lang in languages))
                row = _csv_row(languages, variable, question.name, kind, labels, count, rules, choice)
                write([*row, table])


def _csv_row(
    languages: Sequence[str],
    variable: str,
    question: str,
    kind: str,
    labels: Sequence[str],
    count: int,
    rules: Sequence[str] = ("", "", "", ""),
    choice: Sequence[str] = (),
) -> list[str | int]:
    """One row of the CSV codebook; missing labels, rules and choice cells are left empty.

    ``rules``: relevant, constraint, required, calculation; ``choice``: code, name, then one
    label per language."""

    def filled(cells: Sequence[str], width: int) -> list[str]:
        return [*cells, *[""] * (width - len(cells))]

    return [
        variable,
        question,
        kind,
        *filled(labels, len(languages)),
        *rules,
        *filled(choice, 2 + len(languages)),
        count,
    ]


def _metadata(columns: Sequence[Column]) -> tuple[Column, ...]:
    """The columns that come from no question: the metadata of a table (or a repeat's links)."""
    return tuple(column for column in columns if column.question is None)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _write_markdown(
    survey: Survey, options: ExportOptions, counts: Counts, former: Sequence[str], path: Path, fieldwork: bool = False
) -> None:
    languages = survey.languages
    title = survey.title.in_language(survey.default_language, survey.default_language)
    lines = [
        f"# Codebook: {_md(title)} (`{survey.id}`)",
        "",
        f"Survey version `{survey.version}`; languages: {', '.join(languages)}; "
        f"{counts.responses} response(s) in the export.",
        "",
        "## Metadata columns",
        "",
        "| variable | type | meaning |",
        "|---|---|---|",
    ]
    for column in _metadata(response_columns(survey, options, former, fieldwork=fieldwork)):
        lines.append(f"| `{column.name}` | {column.kind.value} | {_md(column.label)} |")
    if fieldwork:
        lines += ["", FIELDWORK_NOTE]
    lines += ["", "## Questions", ""]
    lines += _question_sections(survey, options, counts, survey.table_questions(None))
    for repeat in survey.repeats:
        lines += _repeat_section(survey, options, counts, repeat)
    if former:
        lines += ["## Questions of earlier versions", ""]
        lines += [f"- `{name}` (text): answered {counts.answered.get(name, 0)} time(s)" for name in former]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def _repeat_section(survey: Survey, options: ExportOptions, counts: Counts, repeat: Repeat) -> list[str]:
    """The Markdown of one repeat table: what a row is, its link columns, its questions."""
    label = repeat.label.in_language(survey.default_language, survey.default_language)
    lines = [f"## Repeat `{repeat.name}`: {_md(label)}", ""]
    if repeat.repeat_count is not None:
        lines.append(f"One row per pass; `{_md(repeat.repeat_count.source)}` passes (repeat_count).")
    else:
        lines.append(f'One row per pass; the respondent is asked "Add another {_md(label)}?" after each.')
    parent = f"the repeat table `{repeat.parent}`" if repeat.parent else "the responses table"
    lines.append(f"A row belongs to the row of {parent} whose `_index` is its `_parent_index`.")
    for expression in repeat.relevant:
        lines.append(f"- Relevant: `{_md(expression.source)}`")
    lines += ["", "| variable | type | meaning |", "|---|---|---|"]
    for column in _metadata(repeat_columns(survey, repeat, options)):
        lines.append(f"| `{column.name}` | {column.kind.value} | {_md(column.label)} |")
    lines.append("")
    return lines + _question_sections(survey, options, counts, survey.table_questions(repeat.name))


def _question_sections(
    survey: Survey, options: ExportOptions, counts: Counts, questions: Sequence[Question]
) -> list[str]:
    """The Markdown of each of ``questions``: texts, rules, columns, counts, choices."""
    languages = survey.languages
    lines: list[str] = []
    for question in questions:
        columns = question_columns(survey, question, options)
        answered = counts.answered.get(question.name, 0)
        lines += [f"### `{question.name}` ({_type_text(question)})", ""]
        for lang in languages:
            if lang in question.label.translations:
                lines.append(f"- **{lang}**: {_md(question.label.translations[lang])}")
        if question.groups:
            lines.append(f"- Group: {' / '.join(question.groups)}")
        lines.append(f"- Required: {'yes' if question.required else 'no'}")
        for expression in question.relevant:
            lines.append(f"- Relevant: `{_md(expression.source)}`")
        if question.constraint is not None:
            lines.append(f"- Constraint: `{_md(question.constraint.source)}`")
        if question.calculation is not None:
            lines.append(f"- Calculation: `{_md(question.calculation.source)}`")
        lines.append(f"- Columns: {', '.join(f'`{c.name}`' for c in columns)}")
        note = values_note(question)
        if note is not None:
            lines.append(f"- Values: {note}")
        lines.append(f"- Answered: {answered} of {counts.responses}")
        if question.type in COUNTED_TYPES:
            heading = "column" if question.type is QuestionType.SELECT_MULTIPLE else "code"
            lines += [
                "",
                f"| {heading} | value | {' | '.join(f'label ({lang})' for lang in languages)} | count |",
                f"|---|---|{'---|' * len(languages)}---|",
            ]
            codes = _codes(question, columns)
            for code, (value, labels) in zip(codes, _choice_rows(survey, question), strict=True):
                texts = " | ".join(_md(labels.get(lang, "")) for lang in languages)
                lines.append(f"| {code} | `{value}` | {texts} | {counts.values[question.name].get(value, 0)} |")
        lines.append("")
    return lines
