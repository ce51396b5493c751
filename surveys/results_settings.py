"""A survey's ``results:`` block: whether its results are published, the smallest cell shown, the
population margins its respondents are weighted to, and the breakdowns shown.

```yaml
results:
  public: true            # a page at /results/SURVEY once staff publish it (default false)
  min_cell: 10            # no published figure rests on fewer respondents (default 10, at least 3)
  margins: margins.csv    # beside the survey file: dimension,category,population (optional)
  breakdowns: [user_group, region, language, channel]   # default: none
```

The margins file has the header ``dimension,category,population``; a dimension is a contact
field (:data:`RESPONDENT_FIELDS`) or the name of a ``select_one`` question of the survey (e.g. ``sex``),
a category one of its codes, the population a positive number. Problems are ``FILE:LINE``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from common.problems import FileProblem

#: The respondent's fields a breakdown or a margin may use (user group and region from the
#: register, language and channel of the response).
RESPONDENT_FIELDS = ("user_group", "region", "language", "channel")
DEFAULT_MIN_CELL = 10
#: A smaller threshold protects nobody (a cell of 1 or 2 identifies).
LOWEST_MIN_CELL = 3
MARGIN_COLUMNS = ("dimension", "category", "population")
MAX_MARGIN_ROWS = 10_000


@dataclass(frozen=True)
class Margin:
    """How many people of the population are in ``category`` of ``dimension``."""

    dimension: str
    category: str
    population: float


@dataclass(frozen=True)
class ResultsSettings:
    """What the survey's ``results:`` block says (see the module's description)."""

    public: bool = False
    min_cell: int = DEFAULT_MIN_CELL
    breakdowns: tuple[str, ...] = ()
    #: The margins file's name as written (beside the survey file), and its rows once read.
    margins_file: str | None = None
    margins: tuple[Margin, ...] = ()
    #: The line of ``margins:`` in the survey file (a missing file is reported there).
    margins_line: int = 0

    @property
    def weighted(self) -> bool:
        return bool(self.margins)

    def margin_dimensions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(margin.dimension for margin in self.margins))


def read_margins(text: str, file: str, dimensions: frozenset[str]) -> tuple[tuple[Margin, ...], list[FileProblem]]:
    """The rows of a margins file and its problems (``FILE:LINE``); ``dimensions``: those allowed."""
    problems: list[FileProblem] = []
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = next(reader, None)
    if header is None or tuple(cell.strip().lower() for cell in header) != MARGIN_COLUMNS:
        return (), [FileProblem(file, 1, f"the header must be {','.join(MARGIN_COLUMNS)}")]
    margins: list[Margin] = []
    seen: set[tuple[str, str]] = set()
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(margins) >= MAX_MARGIN_ROWS:
            problems.append(FileProblem(file, line, f"more than {MAX_MARGIN_ROWS:,} rows"))
            break
        if len(row) != len(MARGIN_COLUMNS):
            problems.append(
                FileProblem(file, line, f"expected 3 values (dimension,category,population), not {len(row)}")
            )
            continue
        dimension, category, population = (cell.strip() for cell in row)
        if dimension not in dimensions:
            known = ", ".join(sorted(dimensions))
            problems.append(FileProblem(file, line, f"dimension '{dimension}' is not one of {known}"))
            continue
        if not category:
            problems.append(FileProblem(file, line, "the category is empty"))
            continue
        try:
            value = float(population.replace(",", "").replace("_", ""))
        except ValueError:
            value = -1.0
        if not value > 0 or value == float("inf"):
            problems.append(FileProblem(file, line, f"population must be a positive number, not '{population}'"))
            continue
        if (dimension, category) in seen:
            problems.append(FileProblem(file, line, f"'{dimension}' '{category}' is given twice"))
            continue
        seen.add((dimension, category))
        margins.append(Margin(dimension, category, value))
    if not margins and not problems:
        problems.append(FileProblem(file, 1, "the file has no rows"))
    return tuple(margins), problems
