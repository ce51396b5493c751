"""What every export writer works on: a table of typed columns and a stream of text rows.

Rows hold the values as Baraza stores them (text, or None when empty); each column's
:class:`Kind` tells a writer how to turn that text into the value its format wants (a number,
a date, a list, a coded category). Rows arrive as an async iterator, one at a time, so no
writer ever needs the whole table in memory (except SPSS/Stata, see ``storage.exports.stats``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

Row = Sequence[str | None]


class Kind(StrEnum):
    """How a column's text values are typed."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"  # YYYY-MM-DD
    DATETIME = "datetime"  # ISO 8601 UTC, YYYY-MM-DDTHH:MM:SSZ
    BOOLEAN = "boolean"  # "true" / "false"
    CHOICE = "choice"  # one choice name (select_one)
    CHOICES = "choices"  # choice names separated by single spaces (select_multiple, joined)
    DUMMY = "dummy"  # "1" / "0": one choice of a select_multiple ticked or not

    @property
    def is_numeric(self) -> bool:
        return self in (Kind.INTEGER, Kind.DECIMAL, Kind.BOOLEAN, Kind.DUMMY)


@dataclass(frozen=True)
class Column:
    """One exported column.

    ``label`` is the variable label (a question's text in the export language).
    ``value_labels`` maps stored values to their labels, in order: the choices of a
    ``select_one`` / ``select_multiple``, or the points of a ``range`` question.
    ``question`` names the survey question the column comes from, if any; ``choice`` the
    choice a :attr:`Kind.DUMMY` column stands for; ``part`` which of the space-separated numbers
    of the answer the column holds (a geopoint's latitude 0, longitude 1, altitude 2, accuracy 3).
    """

    name: str
    label: str
    kind: Kind
    value_labels: tuple[tuple[str, str], ...] = ()
    question: str | None = None
    choice: str | None = None
    measure: str = "nominal"  # SPSS measurement level: nominal, ordinal or scale
    part: int | None = None


Progress = Callable[[int], None]
"""Called with the number of rows written so far, every few thousand rows and at the end."""


@dataclass
class Table:
    """Columns, their rows (streamed) and, when known beforehand, how many rows there are.

    ``notes`` collects what a writer had to change for its format (names shortened, labels
    truncated, values outside the known choices); the command line prints them.
    """

    title: str
    columns: tuple[Column, ...]
    rows: Callable[[], AsyncIterator[Row]]
    total: int | None = None
    notes: list[str] = field(default_factory=list)


def no_progress(_written: int) -> None:
    """A :data:`Progress` that shows nothing."""
