"""Survey responses as an export :class:`~storage.exports.table.Table`.

One row per response, the metadata columns first, then one column per question in survey
order (calculations included, groups flattened), then the questions that older versions of the
survey asked and the current one does not (the union of columns; ``survey_version`` says which
version each response answered). A ``select_multiple`` gives one space-separated column, one
0/1 column per choice named ``question/choice`` as ODK and KoBoToolbox do, or both.

A survey with repeats (``type: repeat``) is exported as KoBoToolbox and ODK do: the table above
holds the questions outside every repeat and ends with ``_index`` (the row's number); each repeat
is a table of its own (:func:`repeat_tables`) with one row per pass, linked to its parent row by
``_parent_index`` (and ``response_id``, ``respondent``), see :data:`REPEAT_LEADING`.

A survey with invitations (``baraza survey invite``) gets the fieldwork columns of
:data:`PARADATA` after the other metadata: the AAPOR final disposition and the paradata of the
invitation of the response's contact, as :mod:`handlers.invitations` computes them for
``baraza survey report --export`` (given as a :data:`ResponseParadata`). A response without an
invitation has them empty; invitees who never responded are not rows (they are in the report's export).

The answers (one database row per answer) are pivoted to one row per response by the database
(``MAX(CASE ...)`` grouped in the order of the responses index), and the result is read through
a server-side cursor in batches: memory does not grow with the number of responses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import orjson
from sqlalchemy import Integer, String, Text, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from storage.database import Database
from storage.exports.table import Column, Kind, Progress, Row, Table, no_progress
from storage.models import AnswerRow, ContactRow, ResponseRow
from storage.repositories import utc
from surveys import repeats
from surveys.arrangement import order_column, shown_orders
from surveys.model import Question, QuestionType, Repeat, Survey

BATCH_SIZE = 2000

Multiple = Literal["split", "joined", "both"]

#: The foundation layout, first (``score`` follows for a quiz).
LEADING: tuple[tuple[str, str, Kind], ...] = (
    ("response_id", "Response id", Kind.TEXT),
    ("respondent", "Respondent pseudonym (keyed hash; empty when anonymous)", Kind.TEXT),
    ("channel", "Channel", Kind.TEXT),
    ("language", "Language of the response", Kind.TEXT),
    ("started_at", "Started (UTC)", Kind.DATETIME),
    ("completed_at", "Completed (UTC)", Kind.DATETIME),
    ("complete", "Response complete", Kind.BOOLEAN),
)
#: After the questions, as KoBoToolbox puts its ``_id``, ``_submission_time``... ``user_group``
#: and ``region`` come from the contacts register, for consenting contacts only.
TRAILING: tuple[tuple[str, str, Kind], ...] = (
    ("survey_version", "Version of the survey answered", Kind.TEXT),
    ("duration_seconds", "Seconds from start to completion", Kind.INTEGER),
    ("user_group", "User group (contacts register, consenting contacts only)", Kind.TEXT),
    ("region", "Region (contacts register, consenting contacts only)", Kind.TEXT),
)
PROFILE_COLUMNS = ("user_group", "region")
#: The column of a survey with quotas, after :data:`TRAILING` (docs/fieldwork.md, "Quotas").
SCREENED_OUT = (
    "screened_out",
    "Screened out: the respondent's quota cell was full (thanked; the response ended, not completed)",
    Kind.BOOLEAN,
)
#: The columns of a wave of a panel, after :data:`TRAILING`: the same in every row, so that the
#: exports of the waves stack into one long file (the respondent pseudonym links the waves).
PANEL: tuple[tuple[str, str, Kind], ...] = (
    ("panel", "Panel the survey is a wave of", Kind.TEXT),
    ("wave", "Wave of the panel", Kind.INTEGER),
)
#: The fieldwork columns of a survey with invitations, after :data:`TRAILING` (before ``_index``):
#: the invitation of the response's contact (its latest wave), empty for a response without one.
PARADATA: tuple[tuple[str, str, Kind], ...] = (
    (
        "disposition",
        "AAPOR final disposition of the invitation (empty: no invitation; invitees who never responded"
        " are not rows, see baraza survey report --export)",
        Kind.TEXT,
    ),
    ("aapor_code", "AAPOR final disposition code", Kind.TEXT),
    ("invitation_wave", "Invitation wave", Kind.INTEGER),
    ("invited_at", "Invited (UTC, when the invitation was scheduled)", Kind.DATETIME),
    ("first_opened_at", "First opened the survey after the invitation (UTC)", Kind.DATETIME),
    ("invitation_channel", "Channel the invitation was sent on", Kind.TEXT),
    ("reminders_received", "Reminders that reached the invitee", Kind.INTEGER),
    ("fieldwork_duration_seconds", "Seconds from start to finish of the invitee's completed response", Kind.INTEGER),
    ("device_language", "Language the invitee answered in", Kind.TEXT),
)
#: The last column of the responses table of a survey with repeats: what ``_parent_index`` refers to.
INDEX = ("_index", "Row number (the repeat tables' _parent_index refers to it)", Kind.INTEGER)
#: The first columns of a repeat's table, as KoBoToolbox names them: the pass's row number, the
#: table and row of its parent (the responses table, or the repeat it is nested in), and the
#: response it belongs to.
REPEAT_LEADING: tuple[tuple[str, str, Kind], ...] = (
    ("_index", "Row number in this table (the _parent_index of repeats nested in this one refers to it)", Kind.INTEGER),
    ("_parent_table_name", "Table of the parent row: the survey's responses, or the repeat this one is in", Kind.TEXT),
    ("_parent_index", "_index of the parent row in that table", Kind.INTEGER),
    ("response_id", "Response id (as in the responses table)", Kind.TEXT),
    ("respondent", "Respondent pseudonym (as in the responses table)", Kind.TEXT),
)


@dataclass(frozen=True)
class Paradata:
    """The fieldwork record of one invitation, as exported beside its contact's responses
    (:data:`PARADATA`); made by ``handlers.invitations.response_paradata``."""

    disposition: str
    aapor_code: str
    wave: int
    invited_at: datetime
    first_opened_at: datetime | None
    channel: str
    reminders_received: int
    duration_seconds: int | None
    device_language: str

    def cells(self) -> tuple[str | None, ...]:
        return (
            self.disposition,
            self.aapor_code,
            str(self.wave),
            iso_utc(self.invited_at),
            iso_utc(self.first_opened_at),
            self.channel,
            str(self.reminders_received),
            None if self.duration_seconds is None else str(self.duration_seconds),
            self.device_language or None,
        )


#: The paradata of a survey's invitations by contact id (None: the survey has no invitations).
ResponseParadata = Mapping[int, Paradata]
NO_PARADATA: tuple[str | None, ...] = (None,) * len(PARADATA)


@dataclass(frozen=True)
class ExportOptions:
    """What to export and how (``baraza export`` options).

    ``since`` / ``until`` select responses by start time (``since`` included, ``until`` not).
    An *anonymous* response is one linked to nobody (empty ``respondent``): the answers of
    a respondent who used /delete_my_data. They are left out unless ``include_anonymous``;
    a survey declared ``anonymous`` has only such responses and always exports them all.
    ``labels`` writes choice labels in ``language`` instead of choice names (CSV, Excel, JSON
    Lines; SPSS and Stata always hold codes with value labels). ``raw`` leaves CSV cells that
    a spreadsheet would run as a formula as they are (see :mod:`common.csv_cells`).
    """

    labels: bool = False
    language: str | None = None
    multiple: Multiple = "both"
    since: datetime | None = None
    until: datetime | None = None
    complete_only: bool = False
    include_anonymous: bool = False
    #: CSV cells exactly as typed, formulas included (for analysts who read the file with code).
    raw: bool = False


def iso_utc(moment: datetime | None) -> str | None:
    moment = utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def label_language(survey: Survey, options: ExportOptions) -> str:
    return options.language if options.language in survey.languages else survey.default_language


def question_kind(question: Question) -> Kind:
    if question.type is QuestionType.SELECT_ONE:
        return Kind.CHOICE
    if question.type is QuestionType.SELECT_MULTIPLE:
        return Kind.CHOICES
    if question.type is QuestionType.INTEGER:
        return Kind.INTEGER
    if question.type is QuestionType.DECIMAL:
        return Kind.DECIMAL
    if question.type is QuestionType.RANGE:
        whole = all(value is None or value == value.to_integral_value() for value in (question.minimum, question.step))
        return Kind.INTEGER if whole else Kind.DECIMAL
    if question.type is QuestionType.DATE:
        return Kind.DATE
    return Kind.TEXT  # text and calculate: calculations may yield any text


def range_points(question: Question) -> tuple[str, ...]:
    """The values a range question can take, as the runner stores them."""
    if question.minimum is None or question.maximum is None or question.step is None:
        return ()
    points: list[str] = []
    value = question.minimum
    while value <= question.maximum:
        points.append(_plain(value))
        value += question.step
    return tuple(points)


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def question_columns(survey: Survey, question: Question, options: ExportOptions) -> list[Column]:
    language = label_language(survey, options)
    label = question.label.in_language(language, survey.default_language)
    kind = question_kind(question)
    choices = tuple(
        (choice.name, choice.label.in_language(language, survey.default_language)) for choice in question.choices
    )
    if question.type is QuestionType.RANGE:
        points = range_points(question)
        return [Column(question.name, label, kind, tuple((p, p) for p in points), question.name, measure="ordinal")]
    if question.type is QuestionType.SELECT_ONE:
        return [Column(question.name, label, kind, choices, question.name)]
    if question.type is QuestionType.SELECT_MULTIPLE:
        columns = []
        if options.multiple in ("joined", "both"):
            columns.append(Column(question.name, label, kind, choices, question.name))
        if options.multiple in ("split", "both"):
            columns.extend(
                Column(f"{question.name}/{name}", f"{label}: {text}", Kind.DUMMY, (), question.name, name)
                for name, text in choices
            )
        return columns
    if question.type is QuestionType.GEOPOINT:
        return geopoint_columns(question.name, label)
    measure = "scale" if kind.is_numeric or kind is Kind.DATE else "nominal"
    return [Column(question.name, label, kind, (), question.name, measure=measure)]


#: A geopoint's columns, as ODK Central and KoBoToolbox split ``"lat lon alt acc"``.
GEOPOINT_PARTS: tuple[tuple[str, str], ...] = (
    ("latitude", "latitude (decimal degrees)"),
    ("longitude", "longitude (decimal degrees)"),
    ("altitude", "altitude (metres)"),
    ("accuracy", "accuracy (metres)"),
)


def geopoint_columns(name: str, label: str) -> list[Column]:
    """``NAME_latitude``, ``NAME_longitude``, ``NAME_altitude``, ``NAME_accuracy``: numbers, empty
    when the point lacks them (a typed ``"lat lon"`` has no altitude nor accuracy)."""
    return [
        Column(f"{name}_{part}", f"{label}: {meaning}", Kind.DECIMAL, (), name, measure="scale", part=index)
        for index, (part, meaning) in enumerate(GEOPOINT_PARTS)
    ]


def response_columns(
    survey: Survey, options: ExportOptions, former: Sequence[str] = (), *, fieldwork: bool = False
) -> tuple[Column, ...]:
    """The columns of the export: the foundation metadata (and ``score`` for a quiz), the current
    questions, the ``former`` question names (answered under older versions only, exported as
    text), then the other metadata (with :data:`SCREENED_OUT` for a survey with quotas, then the
    :data:`PANEL` columns for a wave of a panel), and with ``fieldwork`` (the survey has
    invitations) the :data:`PARADATA` columns. A profile column whose name a question takes is
    called ``profile_NAME``, a quota column ``quota_NAME``, a fieldwork column ``fieldwork_NAME``,
    a panel column ``panel_NAME``."""
    names = {q.name for q in survey.data_questions} | set(former)
    leading = [Column(name, label, kind) for name, label, kind in LEADING]
    if survey.is_quiz:
        leading.append(Column("score", "Quiz score", Kind.INTEGER, measure="scale"))
    questions = table_question_columns(survey, survey.table_questions(None), options)
    old = [Column(name, f"{name} (asked by an earlier version of the survey)", Kind.TEXT, (), name) for name in former]
    trailing = [
        Column(f"profile_{name}" if name in PROFILE_COLUMNS and name in names else name, label, kind)
        for name, label, kind in TRAILING
    ]
    if survey.quotas:
        name, label, kind = SCREENED_OUT
        trailing.append(Column(f"quota_{name}" if name in names else name, label, kind))
    if survey.panel is not None:
        trailing += [Column(f"panel_{name}" if name in names else name, label, kind) for name, label, kind in PANEL]
    if fieldwork:
        trailing += [
            Column(f"fieldwork_{name}" if name in names else name, label, kind) for name, label, kind in PARADATA
        ]
    trailing += experiment_columns(survey, names)
    if survey.repeats:
        trailing.append(Column(*INDEX))
    return (*leading, *questions, *old, *trailing)


def experiment_columns(survey: Survey, names: Collection[str] = ()) -> list[Column]:
    """The columns of a survey's randomisation, after the other metadata: ``arm`` (a survey with
    an experiment: the arm the respondent was in) and ``order_GROUP`` per shuffled group (its
    question names in the order the respondent was shown them, space-separated)."""
    columns = []
    if survey.experiment is not None:
        name = "experiment_arm" if "arm" in names else "arm"
        columns.append(Column(name, f"Arm of the split-sample experiment '{survey.experiment.name}'", Kind.TEXT))
    for group in survey.shuffled_groups:
        columns.append(
            Column(order_column(group.name), f"Order group '{group.name}' was shown in (question names)", Kind.TEXT)
        )
    return columns


def table_question_columns(survey: Survey, questions: Sequence[Question], options: ExportOptions) -> list[Column]:
    """The columns of ``questions`` in one table, in order (each question's from :func:`question_columns`)."""
    return [column for question in questions for column in question_columns(survey, question, options)]


def repeat_columns(survey: Survey, repeat: Repeat, options: ExportOptions) -> tuple[Column, ...]:
    """The columns of the table of ``repeat``: the link columns, then its own questions."""
    links = [Column(name, label, kind) for name, label, kind in REPEAT_LEADING]
    return (*links, *table_question_columns(survey, survey.table_questions(repeat.name), options))


def _filters(survey: Survey, options: ExportOptions) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [ResponseRow.survey_id == survey.id]
    if options.since is not None:
        conditions.append(ResponseRow.started_at >= options.since)
    if options.until is not None:
        conditions.append(ResponseRow.started_at < options.until)
    if options.complete_only:
        conditions.append(ResponseRow.completed_at.is_not(None))
    if not (options.include_anonymous or survey.anonymous):
        conditions.append(ResponseRow.respondent != "")
    return conditions


async def former_questions(database: Database, survey: Survey) -> tuple[str, ...]:
    """Questions answered under older versions of the survey that the current one lacks, in the
    order they were first answered."""
    statement = (
        select(AnswerRow.question)
        .join(ResponseRow, ResponseRow.id == AnswerRow.response_id)
        .where(ResponseRow.survey_id == survey.id, ResponseRow.survey_version != survey.version)
        .group_by(AnswerRow.question)
        .order_by(func.min(AnswerRow.id))
    )
    current = {q.name for q in survey.questions}
    async with database.reading() as connection:
        names = (await connection.execute(statement)).scalars().all()
    # Answers in repeat passes (member[2]/age) belong to the repeat tables.
    return tuple(name for name in names if name not in current and not repeats.is_repeat_key(name))


async def count_responses(database: Database, survey: Survey, options: ExportOptions) -> int:
    async with database.reading() as connection:
        count = await connection.scalar(select(func.count()).select_from(ResponseRow).where(*_filters(survey, options)))
    return int(count or 0)


async def response_table(
    database: Database,
    survey: Survey,
    options: ExportOptions,
    *,
    progress: Progress = no_progress,
    paradata: ResponseParadata | None = None,
) -> Table:
    """The survey's responses as a table (the rows are read when iterated); with ``paradata``
    (a survey with invitations) the fieldwork columns too."""
    former = await former_questions(database, survey)
    columns = response_columns(survey, options, former, fieldwork=paradata is not None)
    total = await count_responses(database, survey, options)

    async def rows() -> AsyncIterator[Row]:
        async for row in _response_rows(database, survey, options, columns, progress, paradata):
            yield row

    return Table(title=survey.id, columns=columns, rows=rows, total=total)


def _times(database: Database) -> tuple[Any, Any, Any]:
    """``started_at``, ``completed_at`` and the duration in whole seconds between the two.

    SQLite stores times as text (``2026-05-04 10:31:00.000000``, UTC): it is read as text and
    reshaped, not parsed into datetimes and formatted again (a third of the export's time).
    The duration is that of the exported (whole-second) times on both databases."""
    started, completed = ResponseRow.started_at, ResponseRow.completed_at
    if database.is_sqlite:
        seconds = func.cast(func.strftime("%s", completed), Integer) - func.cast(func.strftime("%s", started), Integer)
        return (
            type_coerce(started, String).label("started_at"),
            type_coerce(completed, String).label("completed_at"),
            seconds.label("duration"),
        )
    seconds = func.extract("epoch", func.date_trunc("second", completed) - func.date_trunc("second", started))
    return started, completed, func.cast(seconds, Integer).label("duration")


def _iso(moment: str | datetime | None) -> str | None:
    """ISO 8601 UTC to the second, from a datetime or SQLite's text."""
    if moment is None:
        return None
    if isinstance(moment, str):
        return f"{moment[:10]}T{moment[11:19]}Z"
    return iso_utc(moment)


def _pivot_statement(database: Database, survey: Survey, options: ExportOptions) -> Any:
    """One row per response with its answers as one JSON object ``{question: value}``: the
    database pivots far faster this way than with one ``MAX(CASE ...)`` per question."""
    aggregate = func.json_group_object if database.is_sqlite else func.json_object_agg
    answers = aggregate(AnswerRow.question, AnswerRow.value).filter(AnswerRow.question.is_not(None))
    return (
        select(
            ResponseRow.id,
            ResponseRow.respondent,
            ResponseRow.channel,
            ResponseRow.language,
            *_times(database),
            ResponseRow.survey_version,
            ResponseRow.score,
            ResponseRow.contact_id,
            ResponseRow.screened_out_at,
            ResponseRow.arm,
            type_coerce(answers, Text).label("answers"),
        )
        .outerjoin(AnswerRow, AnswerRow.response_id == ResponseRow.id)
        .where(*_filters(survey, options))
        # Grouping in the order of the (survey_id, started_at, id) index lets both databases
        # stream the groups instead of sorting them.
        .group_by(ResponseRow.started_at, ResponseRow.id)
        .order_by(ResponseRow.started_at, ResponseRow.id)
        .execution_options(yield_per=BATCH_SIZE)
    )


async def _response_rows(
    database: Database,
    survey: Survey,
    options: ExportOptions,
    columns: Sequence[Column],
    progress: Progress,
    paradata: ResponseParadata | None = None,
) -> AsyncIterator[Row]:
    statement = _pivot_statement(database, survey, options)
    # What each question column holds: the answer to a question, for a 0/1 column whether
    # its choice was ticked, or for a geopoint's column one number of the point.
    plan = [(column.question, column.choice, column.part) for column in columns if column.question is not None]
    plain = [name for name, choice, part in plan if choice is None and part is None]
    split = sorted({name for name, choice, _ in plan if choice is not None})
    points = sorted({name for name, _, part in plan if part is not None})
    simple = not split and not points
    quiz = survey.is_quiz
    quotas = bool(survey.quotas)
    indexed = bool(survey.repeats)
    panel = panel_cells(survey)
    experiment = survey.experiment is not None
    shuffled = [group.name for group in survey.shuffled_groups]
    loads = orjson.loads  # several times faster than json.loads on a million rows
    written = 0
    number = 0  # the row's _index
    async with database.reading() as connection, database.reading() as lookups:
        result = await connection.stream(statement)
        async for batch in result.partitions(BATCH_SIZE):
            # The profile of a batch's consenting contacts, in one query: cheaper than joining
            # contacts into the grouped query, and memory holds one batch's worth.
            profiles = await _profiles(
                lookups, {record.contact_id for record in batch if record.contact_id is not None}
            )
            for record in batch:
                completed = record.completed_at
                duration = None if record.duration is None else str(record.duration)
                row: list[str | None] = [
                    record.id,
                    record.respondent or None,
                    record.channel,
                    record.language,
                    _iso(record.started_at),
                    _iso(completed),
                    "true" if completed is not None else "false",
                ]
                if quiz:
                    row.append(None if record.score is None else str(record.score))
                # SQLite gives the JSON text; asyncpg decodes PostgreSQL's json itself.
                answers: dict[str, str | None] = record.answers or {}
                if isinstance(answers, str):
                    answers = loads(answers)
                get = answers.get
                if simple:
                    row.extend([get(name) for name in plain])
                else:
                    ticked = {name: _ticked(get(name)) for name in split}
                    numbers = {name: _numbers(get(name)) for name in points}
                    row.extend(
                        [
                            _dummy(ticked[name], choice)
                            if choice is not None
                            else (get(name) if part is None else _number_at(numbers[name], part))
                            for name, choice, part in plan
                        ]
                    )
                profile = NO_PROFILE if record.contact_id is None else profiles.get(record.contact_id, NO_PROFILE)
                row += (record.survey_version, duration, *profile)
                if quotas:
                    row.append("true" if record.screened_out_at is not None else "false")
                row += panel
                if paradata is not None:
                    found = None if record.contact_id is None else paradata.get(record.contact_id)
                    row += found.cells() if found is not None else NO_PARADATA
                if experiment:
                    row.append(record.arm)
                if shuffled:
                    orders = shown_orders(survey, record.id)
                    row += [orders[name] for name in shuffled]
                if indexed:
                    number += 1
                    row.append(str(number))
                yield row
            written += len(batch)
            progress(written)


NO_PROFILE: tuple[str | None, str | None] = (None, None)


def panel_cells(survey: Survey) -> tuple[str, ...]:
    """The :data:`PANEL` cells of every row of ``survey`` (none outside a panel)."""
    return () if survey.panel is None else (survey.panel.id, str(survey.panel.wave))


async def _profiles(connection: AsyncConnection, ids: set[int]) -> dict[int, tuple[str | None, str | None]]:
    """``{contact id: (user_group, region)}`` of those of ``ids`` who consented."""
    if not ids:
        return {}
    rows = await connection.execute(
        select(ContactRow.id, ContactRow.user_group, ContactRow.region).where(
            ContactRow.id.in_(ids), ContactRow.consent_at.is_not(None)
        )
    )
    return {row.id: (row.user_group, row.region) for row in rows}


def _ticked(value: str | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value.split())


def _dummy(ticked: frozenset[str] | None, choice: str) -> str | None:
    if ticked is None:
        return None
    return "1" if choice in ticked else "0"


def _numbers(value: str | None) -> list[str]:
    return [] if value is None else value.split()


def _number_at(numbers: list[str], index: int) -> str | None:
    return numbers[index] if index < len(numbers) else None


def _cells(columns: Sequence[Column]) -> Callable[[Callable[[str], str | None]], list[str | None]]:
    """How a row's question cells are read from its answers (by question name): the answer, for
    a 0/1 column whether its choice was ticked, or for a geopoint's column one number of the point."""
    plan = [(column.question, column.choice, column.part) for column in columns if column.question is not None]

    def cells(get: Callable[[str], str | None]) -> list[str | None]:
        return [
            _dummy(_ticked(get(name)), choice)
            if choice is not None
            else (get(name) if part is None else _number_at(_numbers(get(name)), part))
            for name, choice, part in plan
        ]

    return cells


def _response_day(started: str | datetime | None) -> date:
    """The day a response was started: what ``today()`` meant when a repeat's passes were counted."""
    text = _iso(started)
    return date.fromisoformat(text[:10]) if text else date.today()


async def repeat_tables(database: Database, survey: Survey, options: ExportOptions) -> list[Table]:
    """One table per repeat of ``survey`` (none without repeats), in survey order: a row per pass
    of the responses ``options`` choose, in the order of the responses and of their passes.

    ``_index`` numbers a table's rows; ``_parent_index`` is the ``_index`` of the row the pass
    belongs to: the response's row in the responses table, or for a repeat nested in another the
    row of the outer pass. The passes are those :func:`surveys.repeats.instances` finds in the
    stored answers (passes dropped by a changed ``repeat_count`` or a "no" are left out)."""
    return [_repeat_table(database, survey, repeat, options) for repeat in survey.repeats]


async def response_passes(
    database: Database, survey: Survey, options: ExportOptions
) -> AsyncIterator[tuple[Any, list[repeats.Instance]]]:
    """Each response ``options`` choose (in export order), with the passes of its repeats that
    exist (:func:`surveys.repeats.instances`): what the repeat tables and the attachments follow."""
    statement = _pivot_statement(database, survey, options)
    async with database.reading() as connection:
        result = await connection.stream(statement)
        async for batch in result.partitions(BATCH_SIZE):
            for record in batch:
                answers: dict[str, str | None] = record.answers or {}
                if isinstance(answers, str):
                    answers = orjson.loads(answers)
                yield record, repeats.instances(survey, answers, _response_day(record.started_at))


def _repeat_table(database: Database, survey: Survey, repeat: Repeat, options: ExportOptions) -> Table:
    columns = repeat_columns(survey, repeat, options)
    cells = _cells(columns)
    parent_table = repeat.parent or survey.id

    async def rows() -> AsyncIterator[Row]:
        counters: dict[str, int] = {}
        parent_index = 0
        async for record, passes in response_passes(database, survey, options):
            parent_index += 1
            numbers: dict[repeats.PassPath, int] = {}
            for instance in passes:
                name = instance.repeat.name
                counters[name] = counters.get(name, 0) + 1
                numbers[instance.path] = counters[name]
                if name != repeat.name:
                    continue
                parent = numbers[instance.path[:-1]] if len(instance.path) > 1 else parent_index
                values = instance.values
                yield [
                    str(counters[name]),
                    parent_table,
                    str(parent),
                    record.id,
                    record.respondent or None,
                    *cells(values.get),
                ]

    return Table(title=repeat.name, columns=columns, rows=rows)
